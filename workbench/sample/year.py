"""The sample utility's year: its 15-minute time axis, holidays, bill-cycle read dates and weather.

:func:`utility_time_axis` gives the UTC interval starts of a local calendar year, :func:`us_holidays` the
federal holidays, :func:`cycle_read_dates` the meter-read dates of the 20 bill cycles. ``_year_features``
maps the TMY3 weather of Greensboro, NC (shipped with ``pvlib``) onto the year's intervals: temperature, day
types and the AC output of a kW of PV per orientation; ``_span`` cuts those features to a span of months and
:func:`parse_months` reads such a span (``"2025-10:2025-11"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.calendar import holiday_dates

TIMEZONE = "America/New_York"
STEP_MINUTES = 15
N_CYCLES = 20
TMY_FILE = "723170TYA.CSV"
#: PV orientations: (tilt, azimuth, share)
PV_ORIENTATIONS = ((25.0, 180.0, 0.50), (25.0, 135.0, 0.15), (25.0, 225.0, 0.20), (20.0, 270.0, 0.15))


@dataclass(frozen=True)
class _Year:
    year: int
    time: np.ndarray  # (T,) datetime64[ns], naive UTC interval starts
    key: np.ndarray  # (T,) intp: day type * 96 + local interval of day
    day: np.ndarray  # (T,) intp: local day index
    n_days: int
    daytype: np.ndarray  # (n_days,) 0 weekday, 1 Saturday, 2 Sunday or holiday
    season: np.ndarray  # (n_days,) float32 residential lighting factor (higher in winter)
    temp: np.ndarray  # (T,) float32 dry-bulb temperature [°C]
    pv_per_kw: np.ndarray  # (n_orient, T) float32 AC kWh per interval per kW DC
    #: for a span of months (see :func:`_span`): the whole year, and the span's first interval and day in it
    full: _Year | None = None
    t0: int = 0
    day0: int = 0


def utility_time_axis(year: int, tz: str = TIMEZONE, step_minutes: int = STEP_MINUTES) -> np.ndarray:
    """UTC interval starts (naive datetime64[ns]) from local 1 Jan ``year`` 00:00 to local 1 Jan ``year+1``."""
    start = pd.Timestamp(year=year, month=1, day=1, tz=tz).tz_convert("UTC").tz_localize(None)
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz=tz).tz_convert("UTC").tz_localize(None)
    step = np.timedelta64(step_minutes, "m")
    s = np.datetime64(start.to_datetime64(), "ns")
    e = np.datetime64(end.to_datetime64(), "ns")
    n = int((e - s) // step)
    return s + np.arange(n) * step.astype("timedelta64[ns]")


def us_holidays(years) -> set[date]:
    """US federal holidays (observed dates): the tariffs' ``US`` calendar (:func:`workbench.calendar.holiday_dates`),
    so the sample's load shapes and the bills agree on which days are holidays."""
    return {day for year in years for day in holiday_dates("US", int(year))}


def _tmy_path() -> Path:
    import pvlib

    return Path(pvlib.__file__).parent / "data" / TMY_FILE


@lru_cache(maxsize=1)
def _read_tmy():
    import pvlib

    data, meta = pvlib.iotools.read_tmy3(_tmy_path(), map_variables=True)
    cols = {k: data[k].to_numpy(dtype=np.float64) for k in ("temp_air", "ghi", "dni", "dhi")}
    if len(cols["ghi"]) != 8760:
        raise RuntimeError(f"{_tmy_path()}: expected 8760 hourly rows, found {len(cols['ghi'])}")
    return cols, meta


@lru_cache(maxsize=4)
def _year_features(year: int) -> _Year:
    import pvlib

    times = utility_time_axis(year)
    n_t = times.size
    utc = pd.DatetimeIndex(times).tz_localize("UTC")
    local = utc.tz_convert(TIMEZONE)
    jan1 = np.datetime64(f"{year:04d}-01-01", "D")
    local_naive = local.tz_localize(None).to_numpy()
    day = (local_naive.astype("datetime64[D]") - jan1).astype(np.intp)
    iod = (local.hour.to_numpy() * 4 + local.minute.to_numpy() // 15).astype(np.intp)

    days = np.arange(jan1, np.datetime64(f"{year + 1:04d}-01-01", "D"))
    n_days = days.size
    dow = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    hol = us_holidays([year])
    is_hol = np.array([d.item() in hol for d in days])
    daytype = np.where((dow == 6) | is_hol, 2, np.where(dow == 5, 1, 0)).astype(np.intp)
    doy = np.arange(n_days)
    season = (1.0 + 0.06 * np.cos(2 * np.pi * (doy + 10) / 365.25)).astype(np.float32)
    key = daytype[day] * 96 + iod

    # --- weather: TMY hours (local standard time, hour ending) mapped onto this year's intervals ---
    tmy, meta = _read_tmy()
    lst_offset = np.timedelta64(int(round(meta["TZ"] * 3600)), "s")
    centre = times + np.timedelta64(450, "s")  # interval midpoints, UTC
    lst = pd.DatetimeIndex(centre + lst_offset)
    doy0 = lst.day_of_year.to_numpy() - 1
    if lst.is_leap_year.any():  # 29 February repeats 28 February
        doy0 = np.where(lst.is_leap_year & (doy0 >= 59), doy0 - 1, doy0)
    hour_pos = doy0 * 24 + (lst.hour.to_numpy() + lst.minute.to_numpy() / 60 + lst.second.to_numpy() / 3600)
    hrs = np.arange(8760, dtype=np.float64)
    # irradiance: hour-ending averages, centred half an hour before the label; temperature at the label
    ghi = np.interp(hour_pos - 0.5, hrs, tmy["ghi"], period=8760)
    dni = np.interp(hour_pos - 0.5, hrs, tmy["dni"], period=8760)
    dhi = np.interp(hour_pos - 0.5, hrs, tmy["dhi"], period=8760)
    temp = np.interp(hour_pos - 1.0, hrs, tmy["temp_air"], period=8760)

    sp = pvlib.solarposition.get_solarposition(
        pd.DatetimeIndex(centre).tz_localize("UTC"),
        meta["latitude"],
        meta["longitude"],
        altitude=meta["altitude"],
        temperature=temp,
    )
    zen = sp["apparent_zenith"].to_numpy()
    azi = sp["azimuth"].to_numpy()
    up = zen < 90.0
    pv = np.zeros((len(PV_ORIENTATIONS), n_t), dtype=np.float32)
    for j, (tilt, az, _) in enumerate(PV_ORIENTATIONS):
        irr = pvlib.irradiance.get_total_irradiance(
            surface_tilt=tilt,
            surface_azimuth=az,
            solar_zenith=zen,
            solar_azimuth=azi,
            dni=dni,
            ghi=ghi,
            dhi=dhi,
            albedo=0.2,
            model="isotropic",
        )
        poa = np.nan_to_num(np.asarray(irr["poa_global"], dtype=np.float64))
        poa = np.where(up, np.clip(poa, 0.0, 1200.0), 0.0)
        t_cell = temp + poa * (45.0 - 20.0) / 800.0
        p_dc = poa / 1000.0 * (1.0 - 0.0037 * (t_cell - 25.0))  # kW per kW DC
        p_ac = np.minimum(p_dc * 0.86, 1.0 / 1.15)  # losses, inverter clipping (DC/AC 1.15)
        pv[j] = (p_ac * STEP_MINUTES / 60.0).astype(np.float32)

    return _Year(
        year=year,
        time=times,
        key=key,
        day=day,
        n_days=n_days,
        daytype=daytype,
        season=season,
        temp=temp.astype(np.float32),
        pv_per_kw=pv,
    )


def cycle_read_dates(year: int, n_cycles: int = N_CYCLES) -> np.ndarray:
    """Meter-read dates per cycle, shape (n_cycles, n_reads), datetime64[ns] local midnights, NaT-padded.

    Cycle 1 reads on the 1st of every month (calendar-month bills); cycle k >= 2 reads on the (k-1)-th
    business day (Monday-Friday, not a US federal holiday) after the 1st, or on the month's last business
    day if the month has fewer. Per cycle, from the last read on or before 1 January ``year`` through the
    first read on or after 1 January ``year + 1``.
    """
    hol = us_holidays([year - 1, year, year + 1])
    months = [(year - 1, 12)] + [(year, m) for m in range(1, 13)] + [(year + 1, 1)]
    per_cycle: list[list[np.datetime64]] = [[] for _ in range(n_cycles)]
    for y, m in months:
        first = np.datetime64(f"{y:04d}-{m:02d}-01", "D")
        nxt = np.datetime64(f"{y + (m == 12):04d}-{m % 12 + 1:02d}-01", "D")
        days = np.arange(first + 1, nxt)
        dow = (days.astype(np.int64) + 3) % 7
        biz = [d for d, w in zip(days, dow, strict=True) if w < 5 and d.item() not in hol]
        per_cycle[0].append(first)
        for k in range(2, n_cycles + 1):
            per_cycle[k - 1].append(biz[min(k - 2, len(biz) - 1)])
    lo = np.datetime64(f"{year:04d}-01-01", "D")
    hi = np.datetime64(f"{year + 1:04d}-01-01", "D")
    rows = []
    for dates in per_cycle:
        d = np.array(dates, dtype="datetime64[D]")
        i0 = int(np.flatnonzero(d <= lo)[-1])
        i1 = int(np.flatnonzero(d >= hi)[0])
        rows.append(d[i0 : i1 + 1])
    width = max(len(r) for r in rows)
    out = np.full((n_cycles, width), np.datetime64("NaT"), dtype="datetime64[ns]")
    for i, r in enumerate(rows):
        out[i, : len(r)] = r.astype("datetime64[ns]")
    return out


def _span(year: int, first_month: int, last_month: int) -> _Year:
    """The year's features restricted to local months ``first_month``..``last_month`` (inclusive)."""
    full = _year_features(year)
    if (first_month, last_month) == (1, 12):
        return full
    lo = pd.Timestamp(year=year, month=first_month, day=1, tz=TIMEZONE).tz_convert("UTC").tz_localize(None)
    hi_month = pd.Timestamp(year=year, month=last_month, day=1) + pd.offsets.MonthBegin(1)
    hi = hi_month.tz_localize(TIMEZONE).tz_convert("UTC").tz_localize(None)
    t0, t1 = np.searchsorted(full.time, [lo.to_datetime64(), hi.to_datetime64()])
    day0 = int(full.day[t0])
    n_days = int(full.day[t1 - 1]) + 1 - day0
    return _Year(
        year=year,
        time=full.time[t0:t1],
        key=full.key[t0:t1],
        day=full.day[t0:t1] - day0,
        n_days=n_days,
        daytype=full.daytype[day0 : day0 + n_days],
        season=full.season[day0 : day0 + n_days],
        temp=full.temp[t0:t1],
        pv_per_kw=full.pv_per_kw[:, t0:t1],
        full=full,
        t0=int(t0),
        day0=day0,
    )


def parse_months(text: str, year: int | None = None) -> tuple[int, int, int]:
    """``"2025-10:2025-11"``, ``"2025-10"`` or ``"10:11"`` (with ``year``) -> (year, first month, last month)."""
    parts = [p.strip() for p in str(text).split(":")]
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"months {text!r}: expected a span like 2025-10:2025-11")
    got = []
    for part in parts:
        y, _, m = part.rpartition("-")
        try:
            got.append((int(y) if y else year, int(m)))
        except ValueError:
            raise ValueError(f"months {text!r}: {part!r} is not a month like 2025-10") from None
    if len(got) == 1:
        got.append(got[0])
    (y0, m0), (y1, m1) = got
    if y0 is None or y1 is None:
        raise ValueError(f"months {text!r}: give the year, e.g. {year or 2025}-10:{year or 2025}-11")
    if y0 != y1:
        raise ValueError(f"months {text!r}: the span must lie in one calendar year (the sample is per year)")
    if not (1 <= m0 <= m1 <= 12):
        raise ValueError(f"months {text!r}: expected months 1..12, first <= last")
    return y0, m0, m1
