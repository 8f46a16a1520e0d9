"""Modelled rooftop PV for the studies: PVWatts in pvlib on real TMY weather, per kW DC, on the cube's clock."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

TMY_FILE = "723170TYA.CSV"  # Greensboro NC, shipped in pvlib/data




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
def _pv_cached(first: np.datetime64, n: int, step_minutes: int, system: PVSystem) -> np.ndarray:
    import pvlib

    data, meta = pvlib.iotools.read_tmy3(tmy_path(), map_variables=True)
    hourly = {k: data[k].to_numpy(dtype=float) for k in ("ghi", "dni", "dhi", "temp_air", "wind_speed")}
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


def pv_kwh_per_kw(utc, step_minutes: int, system: PVSystem = PVSystem()) -> np.ndarray:
    """(T,) AC energy of 1 kW DC of rooftop PV in each interval [kWh/kW], on a UTC time axis.

    ``utc``: interval starts (naive UTC datetime64, uniform step of ``step_minutes``). Weather: the TMY3 file
    of Greensboro NC shipped with pvlib (its typical year mapped onto the axis by day of year and hour).
    """
    utc = np.asarray(utc).astype("datetime64[m]")
    return _pv_cached(utc[0], len(utc), int(step_minutes), system).copy()


def add_pv(load_kwh: np.ndarray, pv_kwh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Meter channels of a load behind PV, per interval: delivered = max(load - pv, 0), received = max(pv - load, 0).

    ``load_kwh`` (M, T) or (T,) [kWh], ``pv_kwh`` broadcastable to it [kWh]; returns (delivered, received).
    """
    net = load_kwh - pv_kwh
    return np.maximum(net, 0).astype(load_kwh.dtype), np.maximum(-net, 0).astype(load_kwh.dtype)


# ---------------------------------------------------------------------------------------------------------
# export values and tariff what-ifs
