"""Modelled rooftop PV for the studies: PVWatts in pvlib on real TMY weather, per kW DC, on the cube's clock.

The weather and the site come from the user (:class:`Weather`): a TMY3 CSV (``pvlib.iotools.read_tmy3``) or an
EnergyPlus EPW file (``pvlib.iotools.read_epw``), both 8760 hourly rows labelled at the hour's end in the
site's local standard time, with the site's latitude, longitude, altitude and UTC offset in their header.
Latitude and longitude given with the file override its header (the sun is computed there; the weather is the
file's). With no file, the TMY3 of Greensboro NC shipped with pvlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError

TMY_FILE = "723170TYA.CSV"  # Greensboro NC, shipped in pvlib/data
WEATHER_COLUMNS = ("ghi", "dni", "dhi", "temp_air", "wind_speed")


class WeatherError(WorkbenchError):
    """A weather file or site cannot be used (not TMY3/EPW, not 8760 hours, a coordinate out of range)."""


@dataclass(frozen=True)
class Weather:
    """Where the PV is and the typical year it sees.

    path : a TMY3 CSV or an EPW file (``.epw``); None = pvlib's Greensboro NC TMY3
    latitude, longitude : [degrees] the site, overriding the file's (north and east positive)
    """

    path: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def file(self) -> Path:
        return Path(self.path) if self.path else tmy_path()


def read_weather(weather: Weather = Weather()) -> tuple[dict, dict]:  # noqa: B008 (frozen)
    """(hourly arrays by name ``WEATHER_COLUMNS`` (8760,), site: latitude, longitude, altitude, TZ, name)."""
    import pvlib

    path = weather.file
    if not path.is_file():
        raise WeatherError(f"{path}: no weather file here (a TMY3 CSV or an EPW file)")
    epw = path.suffix.lower() == ".epw"
    try:
        data, meta = pvlib.iotools.read_epw(path) if epw else pvlib.iotools.read_tmy3(path, map_variables=True)
    except Exception as exc:  # pvlib's readers raise many kinds of errors on a malformed file
        kind = "EPW" if epw else "TMY3 CSV (an .epw file is read as EPW)"
        raise WeatherError(f"{path}: not a readable {kind} weather file ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    missing = [c for c in WEATHER_COLUMNS if c not in data.columns]
    if missing:
        raise WeatherError(f"{path}: no {missing[0]} column in the weather data")
    if len(data) != 8760:
        raise WeatherError(f"{path}: expected 8760 hourly rows of a typical year, found {len(data)}")
    hourly = {k: data[k].to_numpy(dtype=float) for k in WEATHER_COLUMNS}
    for name, values in hourly.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise WeatherError(f"{path}: hour {bad[0] + 1}: {name} is missing or not a number")
    site = {"latitude": float(meta["latitude"]), "longitude": float(meta["longitude"]),
            "altitude": float(meta.get("altitude") or 0.0), "TZ": float(meta["TZ"]),
            "name": str(meta.get("Name") or meta.get("city") or path.name)}
    for key, value, limit in (("latitude", weather.latitude, 90), ("longitude", weather.longitude, 180)):
        if value is not None:
            if not math.isfinite(value) or abs(value) > limit:
                raise WeatherError(f"{key} {value}: expected degrees between -{limit} and {limit}")
            site[key] = float(value)
    if not -12 <= site["TZ"] <= 14:
        raise WeatherError(f"{path}: UTC offset {site['TZ']} in the header is not a time zone offset in hours")
    return hourly, site



@dataclass(frozen=True)
class PVSystem:
    """A rooftop PV system per kW DC (PVWatts model in pvlib)."""

    tilt: float = 25.0  # [degrees]
    azimuth: float = 180.0  # [degrees], 180 = south
    dc_ac_ratio: float = 1.15  # [-]
    gamma_pdc: float = -0.0037  # [1/°C] power temperature coefficient
    losses_percent: float = 14.08  # [%] PVWatts default system losses
    albedo: float = 0.2  # [-]


def tmy_path() -> Path:
    import pvlib

    return Path(pvlib.__file__).parent / "data" / TMY_FILE


@lru_cache(maxsize=8)
def _pv_cached(first: np.datetime64, n: int, step_minutes: int, system: PVSystem, weather: Weather,
               stamp: int) -> np.ndarray:  # stamp: the weather file's mtime, so an edited file is read again
    import pvlib

    hourly, meta = read_weather(weather)
    step = np.timedelta64(step_minutes, "m")
    utc = first + np.arange(n) * step
    # TMY hours are labelled in local standard time at the hour's end; map each interval's midpoint onto
    # the TMY year (by day of year and hour; 29 February repeats 28 February)
    centre = (utc + step // 2).astype("datetime64[s]")
    lst = pd.DatetimeIndex(centre + np.timedelta64(int(round(meta["TZ"] * 3600)), "s"))
    doy = lst.day_of_year.to_numpy() - 1
    doy = np.where(lst.is_leap_year & (doy >= 59), doy - 1, doy)
    position = doy * 24 + lst.hour.to_numpy() + lst.minute.to_numpy() / 60 + lst.second.to_numpy() / 3600
    hours = np.arange(8760, dtype=float)
    irr = {k: np.interp(position - 0.5, hours, hourly[k], period=8760) for k in ("ghi", "dni", "dhi")}
    temp = np.interp(position - 1.0, hours, hourly["temp_air"], period=8760)
    wind = np.interp(position - 1.0, hours, hourly["wind_speed"], period=8760)
    solpos = pvlib.solarposition.get_solarposition(pd.DatetimeIndex(centre).tz_localize("UTC"), meta["latitude"],
                                                   meta["longitude"], altitude=meta["altitude"], temperature=temp)
    zenith = solpos["apparent_zenith"].to_numpy()
    poa = pvlib.irradiance.get_total_irradiance(
        system.tilt, system.azimuth, zenith, solpos["azimuth"].to_numpy(), irr["dni"], irr["ghi"], irr["dhi"],
        albedo=system.albedo, model="isotropic",
    )["poa_global"]
    poa = np.where(zenith < 90.0, np.clip(np.nan_to_num(np.asarray(poa, dtype=float)), 0.0, 1300.0), 0.0)
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"]
    t_cell = pvlib.temperature.sapm_cell(poa, temp, wind, **params)
    dc_kw = pvlib.pvsystem.pvwatts_dc(poa, t_cell, 1.0, system.gamma_pdc) * (1.0 - system.losses_percent / 100)
    eta = 0.96
    ac_kw = pvlib.inverter.pvwatts(dc_kw, 1.0 / system.dc_ac_ratio / eta, eta_inv_nom=eta)
    return np.clip(np.nan_to_num(np.asarray(ac_kw, dtype=float)), 0.0, None) * step_minutes / 60.0


def pv_kwh_per_kw(utc, step_minutes: int, system: PVSystem = PVSystem(),  # noqa: B008 (frozen)
                  weather: Weather = Weather()) -> np.ndarray:  # noqa: B008 (frozen)
    """(T,) AC energy of 1 kW DC of rooftop PV in each interval [kWh/kW], on a UTC time axis.

    ``utc``: interval starts (naive UTC datetime64, uniform step of ``step_minutes``). Weather: ``weather``'s
    typical year (default: the TMY3 file of Greensboro NC shipped with pvlib), mapped onto the axis by day of
    year and hour of the site's local standard time.
    """
    utc = np.asarray(utc).astype("datetime64[m]")
    file = weather.file
    stamp = file.stat().st_mtime_ns if file.is_file() else 0
    return _pv_cached(utc[0], len(utc), int(step_minutes), system, weather, stamp).copy()


def add_pv(load_kwh: np.ndarray, pv_kwh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Meter channels of a load behind PV, per interval: delivered = max(load - pv, 0), received = max(pv - load, 0).

    ``load_kwh`` (M, T) or (T,) [kWh], ``pv_kwh`` broadcastable to it [kWh]; returns (delivered, received).
    """
    net = load_kwh - pv_kwh
    return np.maximum(net, 0).astype(load_kwh.dtype), np.maximum(-net, 0).astype(load_kwh.dtype)


# ---------------------------------------------------------------------------------------------------------
# export values and tariff what-ifs
