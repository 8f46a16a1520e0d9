"""A seeded, synthetic sample utility: one calendar year of 15-minute interval data for N meters.

Everything here is **synthetic** (made up by a model), except the weather: the typical meteorological year
(TMY3) of Greensboro, NC (station 723170) that ships with ``pvlib``. The model:

- time: 15-minute intervals in UTC covering local 1 January 00:00 to the next 1 January 00:00 in
  ``America/New_York`` (35,040 intervals in a 365-day year, 35,136 in a leap year);
- classes: about 85 % residential (``RES``), 12 % small commercial (``SGS``), 3 % large C&I (``LGS``);
- load = (daily shape by day type + cooling + heating driven by the TMY temperature) × day factor (day-to-day
  variation, vacations, plant shutdowns) × interval noise, scaled to each customer's kWh/day target;
- about 5 % of residential customers have rooftop PV (modelled with pvlib from TMY irradiance); their meters
  record net flow per interval: delivered = max(load − PV, 0), received = max(PV − load, 0);
- large C&I meters are CT/PT metered: the meter records secondary Wh, the cube holds kWh × multiplier;
- 20 bill cycles: cycle 1 reads on the 1st of each month, cycle k ≥ 2 on the (k−1)-th business day after
  the 1st.

Determinism: every meter's parameters and noise come from its own random stream, seeded by
``(seed, meter index)``, so the data do not depend on ``meter_chunk``, the number of threads or even
``n_meters`` (meter ``M000123`` is the same in a 200-meter and a 100,000-meter sample).

Memory is bounded by the chunk: meters are generated and written ``meter_chunk`` at a time.

``months=(first, last)`` writes only some months of the year (e.g. a bill run's two months at 500,000
meters, for the scaling benchmark); see :func:`generate_sample_utility`.
"""

from __future__ import annotations

import math
import os
import time as _time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import dask.array as da
import holidays
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import ndtri

from workbench.ami.cube import METER_COORDS, quiet_zarr
from workbench.outputs.guard import staged_output
from workbench.sample.output import SAMPLE_KIND, check_sample_out

UTILITY_NAME = "Piedmont Sample Electric Cooperative (synthetic)"
TIMEZONE = "America/New_York"
STEP_MINUTES = 15
N_CYCLES = 20
TMY_FILE = "723170TYA.CSV"
#: (class, share of meters)
CLASS_SHARES = (("RES", 0.85), ("SGS", 0.12), ("LGS", 0.03))
#: share of residential customers with rooftop PV (all on NEM2 and RES-TOU)
SOLAR_SHARE = 0.05
#: residential rate codes and their shares (non-solar customers)
RES_RATES = (("RES-FLAT", 0.30), ("RES-TIER", 0.40), ("RES-TOU", 0.30))
#: large C&I rate codes and their shares
LGS_RATES = (("LGS-TOU", 0.80), ("RTP", 0.20))
#: CT ratio × PT ratio of large C&I meters, paired by size quartile
LGS_MULTIPLIERS = ((40, 80), (80, 120), (120, 200), (200, 400))
#: PV orientations: (tilt, azimuth, share)
PV_ORIENTATIONS = ((25.0, 180.0, 0.50), (25.0, 135.0, 0.15), (25.0, 225.0, 0.20), (20.0, 270.0, 0.15))

_CLASS_CODES = {"RES": 0, "SGS": 1, "LGS": 2}
_N_UNIFORMS = 32  # parameter draws per meter (fixed, so streams never shift)
_SUB_BLOCK = 64  # meters generated at a time inside a chunk (bounds the temporaries)
_MAX_WORKERS = 4  # chunks generated and written in parallel (each holds ~2 x meter_chunk x 140 kB)
_MAX_METERS = 999_999


# ---------------------------------------------------------------------------------------------------------
# the year: time axis, calendar, weather


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
    """US federal holidays (observed dates) from the ``holidays`` package."""
    return set(holidays.country_holidays("US", years=list(years)).keys())


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


# ---------------------------------------------------------------------------------------------------------
# bill cycles


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


# ---------------------------------------------------------------------------------------------------------
# meters: attributes


def _uniforms(seed: int, start: int, stop: int) -> np.ndarray:
    out = np.empty((stop - start, _N_UNIFORMS), dtype=np.float64)
    for r, i in enumerate(range(start, stop)):
        out[r] = np.random.default_rng([seed, i, 0]).random(_N_UNIFORMS)
    return np.clip(out, 1e-9, 1 - 1e-9)


def _classes(seed: int, idx: np.ndarray) -> np.ndarray:
    """Class codes by a golden-ratio (Weyl) sequence: exact shares for any prefix of meters."""
    offset = (seed * 0.7548776662466927) % 1.0
    u = (idx * 0.6180339887498949 + offset) % 1.0
    bounds = np.cumsum([s for _, s in CLASS_SHARES])
    return np.searchsorted(bounds, u, side="right").clip(0, 2).astype(np.int8)


def _pick(u: np.ndarray, table) -> np.ndarray:
    bounds = np.cumsum([s for *_, s in table])
    return np.searchsorted(bounds / bounds[-1], u, side="right").clip(0, len(table) - 1)


@dataclass
class _Meters:
    idx: np.ndarray  # (n,) meter index
    U: np.ndarray  # (n, _N_UNIFORMS)
    cls: np.ndarray  # (n,) int8 0 RES, 1 SGS, 2 LGS
    cycle: np.ndarray  # int16
    kwh_day: np.ndarray  # float64 target kWh/day (load)
    multiplier: np.ndarray  # float32
    solar_kw: np.ndarray  # float64 kW DC (0 = none)
    orient: np.ndarray  # intp
    shade: np.ndarray  # float64
    rate_code: np.ndarray  # str
    nem_program: np.ndarray  # str

    def take(self, sl: slice) -> _Meters:
        return _Meters(**{k: v[sl] for k, v in self.__dict__.items()})


def _meters(seed: int, n: int) -> _Meters:
    idx = np.arange(n, dtype=np.int64)
    U = _uniforms(seed, 0, n)
    cls = _classes(seed, idx)
    res, sgs, lgs = cls == 0, cls == 1, cls == 2
    cycle = (1 + np.floor(U[:, 0] * N_CYCLES)).astype(np.int16)

    kwh_day = np.where(
        res,
        np.clip(np.exp(np.log(24.0) + 0.35 * ndtri(U[:, 3])), 10.0, 42.0),
        np.where(sgs, 20.0 * 15.0 ** U[:, 3], 2000.0 * 15.0 ** U[:, 3]),
    )
    quart = np.minimum((U[:, 3] * 4).astype(np.intp), 3)
    mult_lgs = np.array(LGS_MULTIPLIERS, dtype=np.float32)[quart, (U[:, 18] >= 0.5).astype(np.intp)]
    multiplier = np.where(lgs, mult_lgs, np.float32(1.0)).astype(np.float32)

    solar = res & (U[:, 1] < SOLAR_SHARE)
    size = np.clip((0.6 + 0.5 * U[:, 21]) * kwh_day * 365.0 / 1350.0, 3.0, 12.0)
    solar_kw = np.where(solar, np.round(size, 1), 0.0)
    orient = _pick(U[:, 22], PV_ORIENTATIONS)
    shade = 0.85 + 0.15 * U[:, 23]

    res_codes = np.array([c for c, _ in RES_RATES], dtype=object)[_pick(U[:, 2], RES_RATES)]
    lgs_codes = np.array([c for c, _ in LGS_RATES], dtype=object)[_pick(U[:, 2], LGS_RATES)]
    rate_code = np.where(
        res, np.where(solar, "RES-TOU", res_codes), np.where(sgs, "GS-TOU-DEMAND", lgs_codes)
    )
    nem = np.where(solar, "NEM2", "")
    return _Meters(
        idx=idx,
        U=U,
        cls=cls,
        cycle=cycle,
        kwh_day=kwh_day,
        multiplier=multiplier,
        solar_kw=solar_kw,
        orient=orient,
        shade=shade,
        rate_code=rate_code.astype(str),
        nem_program=nem.astype(str),
    )


def meter_ids(n: int) -> np.ndarray:
    return np.array([f"M{i + 1:06d}" for i in range(n)], dtype=object)


def account_ids(n: int) -> np.ndarray:
    """``A`` + 7 digits; a fixed permutation of 1,000,000..9,999,999 (unique for any n <= 9,000,000)."""
    i = np.arange(n, dtype=np.int64)
    return np.array([f"A{1_000_000 + v}" for v in (i * 3_456_791 + 271_828) % 9_000_000], dtype=object)


# ---------------------------------------------------------------------------------------------------------
# meters: load shapes


def _bump(h: np.ndarray, mu, sigma) -> np.ndarray:
    """Circular Gaussian bump on the 24-hour clock; h (96,), mu and sigma (n,) or scalars -> (n, 96)."""
    mu = np.asarray(mu, dtype=np.float64).reshape(-1, 1)
    d = (h[None, :] - mu + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / np.asarray(sigma, dtype=np.float64).reshape(-1, 1)) ** 2)


def _occ(h: np.ndarray, o, c) -> np.ndarray:
    """Occupancy (0..1) between opening hour o and closing hour c with smooth ramps -> (n, 96)."""
    o = np.asarray(o, dtype=np.float64).reshape(-1, 1)
    c = np.asarray(c, dtype=np.float64).reshape(-1, 1)
    return 1.0 / (1.0 + np.exp(-(h - o) / 0.35)) / (1.0 + np.exp(-(c - h) / 0.35))


_HOURS = (np.arange(96) + 0.5) / 4.0  # interval centres, local clock hours


@dataclass
class _Shapes:
    shape: np.ndarray  # (n, 288) base load by day type and interval of day
    cool: np.ndarray  # (n, 288) cooling coefficient per °C above Tc
    heat: np.ndarray  # (n, 288) heating coefficient per °C below Th
    tc: np.ndarray  # (n,)
    th: np.ndarray  # (n,)
    sig_i: np.ndarray  # interval noise
    sig_h: np.ndarray  # hourly noise
    sig_d: np.ndarray  # day-to-day noise


def _res_shapes(U: np.ndarray) -> _Shapes:
    h = _HOURS
    n = U.shape[0]
    b = 0.25 + 0.35 * U[:, 4]
    am = 0.3 + 0.6 * U[:, 5]
    ad = 0.1 + 0.3 * U[:, 6]
    ae = 0.8 + 1.0 * U[:, 7]
    sm = np.clip(0.8 * ndtri(U[:, 8]), -2.0, 2.0)
    se = np.clip(0.8 * ndtri(U[:, 9]), -2.0, 2.0)
    ev = np.where(U[:, 10] < 0.04, 1.5 + 1.5 * U[:, 11], 0.0)[:, None] * _bump(h, 0.5 + 1.5 * U[:, 12], 1.2)
    col = lambda x: x[:, None]  # noqa: E731
    wd = (
        col(b)
        + col(am) * _bump(h, 7 + sm, 1.0)
        + col(ad) * _bump(h, 13, 3.0)
        + col(ae) * _bump(h, 19 + se, 2.0)
    )
    we = (
        col(b)
        + 0.8 * col(am) * _bump(h, 9 + sm, 1.5)
        + 2.5 * col(ad) * _bump(h, 13, 3.0)
        + col(ae) * _bump(h, 19 + se, 2.2)
    )
    shape = np.concatenate([wd + ev, we + ev, we + ev], axis=1)
    heat_type = U[:, 13]
    hc = np.where(
        heat_type < 0.55,
        0.05 + 0.05 * U[:, 14],
        np.where(heat_type < 0.65, 0.10 + 0.08 * U[:, 14], 0.005 + 0.01 * U[:, 14]),
    )
    cc = 0.04 + 0.08 * U[:, 16]
    cool_wd = col(cc) * (0.5 + 0.8 * _bump(h, np.full(n, 17.0), 4.0))
    cool_we = col(cc) * (0.7 + 0.6 * _bump(h, np.full(n, 15.0), 5.0))
    heat_d = col(hc) * (0.8 + 0.4 * _bump(h, 7 + sm, 2.0) + 0.2 * _bump(h, np.full(n, 20.0), 3.0))
    return _Shapes(
        shape=shape,
        cool=np.concatenate([cool_wd, cool_we, cool_we], axis=1),
        heat=np.concatenate([heat_d, heat_d, heat_d], axis=1),
        tc=19.0 + 4.0 * U[:, 17],
        th=13.0 + 4.0 * U[:, 15],
        sig_i=0.22 + 0.15 * U[:, 18],
        sig_h=0.12 + 0.10 * U[:, 19],
        sig_d=0.10 + 0.06 * U[:, 20],
    )


def _sgs_shapes(U: np.ndarray) -> _Shapes:
    h = _HOURS
    o = 6.0 + 3.5 * U[:, 4]
    c = np.minimum(o + 8.0 + 5.0 * U[:, 5], 23.0)
    b = 0.15 + 0.30 * U[:, 6]
    wk = U[:, 7]  # < 0.5 closed weekends, < 0.8 open Saturday, else open every day
    lunch = 1.0 + (0.15 * U[:, 8])[:, None] * _bump(h, np.full(len(o), 12.5), 1.5)
    occ_wd = _occ(h, o, c)
    occ_sat = np.where((wk >= 0.5)[:, None], 0.7 * _occ(h, o + 1.0, c - 2.0), 0.0)
    occ_sun = np.where((wk >= 0.8)[:, None], 0.6 * _occ(h, o + 2.0, c - 2.0), 0.0)
    occ = np.concatenate([occ_wd, occ_sat, occ_sun], axis=1)
    lunch3 = np.concatenate([lunch, lunch, lunch], axis=1)
    cc = (0.03 + 0.05 * U[:, 9])[:, None]
    hc = (0.01 + 0.04 * U[:, 11])[:, None]
    return _Shapes(
        shape=b[:, None] + occ * lunch3,
        cool=cc * (0.25 + 0.75 * occ),
        heat=hc * (0.4 + 0.6 * occ),
        tc=16.0 + 4.0 * U[:, 10],
        th=10.0 + 4.0 * U[:, 12],
        sig_i=0.06 + 0.06 * U[:, 13],
        sig_h=0.04 + 0.04 * U[:, 14],
        sig_d=0.05 + 0.04 * U[:, 15],
    )


def _lgs_kind(U: np.ndarray) -> np.ndarray:
    """0 one-shift plant, 1 two-shift plant, 2 continuous process, 3 office / campus."""
    return np.searchsorted([0.30, 0.55, 0.75], U[:, 4], side="right")


def _lgs_shapes(U: np.ndarray) -> _Shapes:
    h = _HOURS
    n = U.shape[0]
    kind = _lgs_kind(U)
    o = np.select(
        [kind == 0, kind == 1, kind == 3],
        [6.0 + 1.5 * U[:, 5], 5.5 + 1.5 * U[:, 5], 7.0 + 1.5 * U[:, 5]],
        0.0,
    )
    c = np.select(
        [kind == 0, kind == 1, kind == 3], [o + 9.0 + U[:, 6], o + 16.0 + U[:, 6], 18.0 + 2.0 * U[:, 6]], 24.0
    )
    b = np.select(
        [kind == 2, kind == 3], [0.70 + 0.20 * U[:, 7], 0.25 + 0.25 * U[:, 7]], 0.35 + 0.25 * U[:, 7]
    )
    occ_wd = _occ(h, o, np.minimum(c, 23.9))
    cont = 1.0 - 0.08 * (
        _bump(h, np.full(n, 7.0), 0.5) + _bump(h, np.full(n, 15.0), 0.5) + _bump(h, np.full(n, 23.0), 0.5)
    )
    occ_wd = np.where((kind == 2)[:, None], cont, occ_wd)
    sat_open = ((kind <= 1) & (U[:, 8] >= 0.6))[:, None]
    occ_sat = np.where((kind == 2)[:, None], 0.95 * cont, np.where(sat_open, 0.6 * occ_wd, 0.0))
    occ_sun = np.where((kind == 2)[:, None], 0.95 * cont, 0.0)
    occ = np.concatenate([occ_wd, occ_sat, occ_sun], axis=1)
    cc = (0.02 + 0.03 * U[:, 9])[:, None]
    hc = (0.005 + 0.015 * U[:, 11])[:, None]
    return _Shapes(
        shape=b[:, None] + (1.0 - b[:, None]) * occ,
        cool=cc * (0.3 + 0.7 * occ),
        heat=hc * (0.5 + 0.5 * occ),
        tc=15.0 + 4.0 * U[:, 10],
        th=10.0 + 4.0 * U[:, 12],
        sig_i=0.03 + 0.03 * U[:, 13],
        sig_h=0.02 + 0.02 * U[:, 14],
        sig_d=0.03 + 0.03 * U[:, 15],
    )


def _shapes(m: _Meters) -> _Shapes:
    n = m.cls.size
    out = _Shapes(
        shape=np.empty((n, 288)),
        cool=np.empty((n, 288)),
        heat=np.empty((n, 288)),
        tc=np.empty(n),
        th=np.empty(n),
        sig_i=np.empty(n),
        sig_h=np.empty(n),
        sig_d=np.empty(n),
    )
    for code, fn in ((0, _res_shapes), (1, _sgs_shapes), (2, _lgs_shapes)):
        sel = m.cls == code
        if sel.any():
            part = fn(m.U[sel])
            for k, v in part.__dict__.items():
                getattr(out, k)[sel] = v
    return out


# ---------------------------------------------------------------------------------------------------------
# meters: interval data


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


def _day_factors(yr: _Year, cls: int, U: np.ndarray, sig_d: float, rng: np.random.Generator) -> np.ndarray:
    # always drawn for the whole year (the same draws for a span as for the year), then cut to the span
    span, yr = yr, (yr.full or yr)
    n_days = yr.n_days
    f = np.exp(sig_d * rng.standard_normal(n_days) - 0.5 * sig_d * sig_d)
    if cls == 0:
        f *= yr.season
        for _ in range(int(rng.integers(0, 4))):  # vacations: 0-3 trips of 2-10 days
            start = int(rng.integers(0, n_days))
            f[start : start + int(rng.integers(2, 11))] *= 0.35
    elif cls == 2 and _lgs_kind(U[None, :])[0] <= 1:
        if U[16] < 0.5:  # year-end plant shutdown
            f[n_days - 8 :] *= 0.45
        if U[17] < 0.3:  # Independence Day week shutdown
            f[181:188] *= 0.5
    if span.full is not None:
        f = f[span.day0 : span.day0 + span.n_days]
    return f.astype(np.float32)


def _block(yr: _Year, m: _Meters, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Delivered and received kWh (n, T) float32 for the meters in ``m``."""
    n = m.cls.size
    n_t = yr.time.size
    sh = _shapes(m)
    f32 = np.float32
    temp = yr.temp

    load = np.take(sh.shape.astype(f32), yr.key, axis=1)
    w = np.take(sh.cool.astype(f32), yr.key, axis=1)
    d = temp[None, :] - sh.tc.astype(f32)[:, None]
    np.maximum(d, 0, out=d)
    w *= d
    load += w
    np.take(sh.heat.astype(f32), yr.key, axis=1, out=w)
    np.subtract(sh.th.astype(f32)[:, None], temp[None, :], out=d)
    np.maximum(d, 0, out=d)
    w *= d
    load += w

    days = np.empty((n, yr.n_days), dtype=f32)
    z = d  # reuse: interval noise
    zh = np.empty((n, n_t // 4), dtype=f32)
    spikes = []
    for r in range(n):
        rng = np.random.default_rng([seed, int(m.idx[r]), 1])
        cls = int(m.cls[r])
        days[r] = _day_factors(yr, cls, m.U[r], float(sh.sig_d[r]), rng)
        if cls > 0:  # short demand peaks (motor starts, process loads)
            k = int(rng.integers(20, 61)) if cls == 1 else int(rng.integers(40, 121))
            where = rng.integers(0, n_t if yr.full is None else yr.full.time.size, k)
            amp = rng.uniform(0.10, 0.40, k).astype(f32)
            if yr.full is not None:  # the year's peaks that fall in the span
                inside = (where >= yr.t0) & (where < yr.t0 + n_t)
                where, amp = where[inside] - yr.t0, amp[inside]
            spikes.append((r, where, amp))
        rng.standard_normal(dtype=f32, out=z[r])
        rng.standard_normal(dtype=f32, out=zh[r])
    load *= np.take(days, yr.day, axis=1)
    z *= sh.sig_i.astype(f32)[:, None]
    zh *= sh.sig_h.astype(f32)[:, None]
    z.reshape(n, n_t // 4, 4)[...] += zh[:, :, None]
    z -= (0.5 * (sh.sig_i**2 + sh.sig_h**2)).astype(f32)[:, None]
    np.exp(z, out=z)
    load *= z
    for r, where, amp in spikes:
        load[r, where] *= 1 + amp

    # scale to each customer's kWh/day (row by row: the result must not depend on the block)
    total = np.array([load[r].sum(dtype=np.float64) for r in range(n)])
    load *= (m.kwh_day * yr.n_days / total).astype(f32)[:, None]

    received = np.zeros((n, n_t), dtype=f32)
    for r in np.flatnonzero(m.solar_kw > 0):
        pv = yr.pv_per_kw[m.orient[r]] * f32(m.solar_kw[r] * m.shade[r])
        net = load[r] - pv
        np.maximum(net, 0, out=load[r])
        np.maximum(-net, 0, out=received[r])

    # the meter counts secondary Wh; the cube holds kWh x multiplier
    for arr in (load, received):
        arr *= (1000.0 / m.multiplier).astype(f32)[:, None]
        np.rint(arr, out=arr)
        arr *= m.multiplier[:, None]
        arr /= f32(1000.0)
    return load, received


# ---------------------------------------------------------------------------------------------------------
# the generator


def generate_sample_utility(
    path: str | os.PathLike,
    n_meters: int = 2000,
    year: int = 2025,
    seed: int = 42,
    meter_chunk: int = 1000,
    progress: bool = True,
    months: tuple[int, int] | None = None,
) -> dict:
    """Generate the synthetic sample utility and write it as an interval cube (Zarr) at ``path``.

    One calendar ``year`` of 15-minute data for ``n_meters`` meters, deterministic for a given ``seed``
    (independent of ``meter_chunk``), written ``meter_chunk`` meters at a time (memory is bounded by the
    chunk) into a staging folder that replaces ``path`` only when complete. ``path`` must be new, empty or an
    earlier sample cube (:mod:`workbench.sample.output`); it is locked while written. Returns a summary dict.

    ``months=(first, last)`` writes only local months ``first``..``last`` (inclusive) of ``year``, e.g.
    ``(10, 11)`` for a November bill run whose cycles start in October (:func:`parse_months` reads
    ``"2025-10:2025-11"``). Generation time and size scale with the span. A span is its own model: the
    meters, their day factors and demand peaks are those of the year, the interval noise is drawn for the
    span only and each meter is scaled to its kWh/day over the span, so its values differ from the same
    days of a full-year sample.
    """
    n_meters, year, seed, meter_chunk = int(n_meters), int(year), int(seed), int(meter_chunk)
    if not 1 <= n_meters <= _MAX_METERS:
        raise ValueError(f"n_meters must be between 1 and {_MAX_METERS:,}, got {n_meters:,}")
    if meter_chunk < 1:
        raise ValueError(f"meter_chunk must be >= 1, got {meter_chunk}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if not 1901 <= year <= 2099:
        raise ValueError(f"year must be between 1901 and 2099, got {year}")
    check_sample_out(path)  # before any work: a folder that is not ours is refused at once
    t0 = _time.perf_counter()
    meter_chunk = min(meter_chunk, n_meters)

    if months is not None:
        first_month, last_month = (int(v) for v in months)
        if not 1 <= first_month <= last_month <= 12:
            raise ValueError(f"months must be (first, last) with 1 <= first <= last <= 12, got {months}")
        yr = _span(year, first_month, last_month)
    else:
        yr = _year_features(year)
    n_t = yr.time.size
    meters = _meters(seed, n_meters)
    classes = np.array([c for c, _ in CLASS_SHARES])[meters.cls]
    read_date = cycle_read_dates(year)

    template = xr.Dataset(
        {
            "delivered_kwh": (
                ("meter", "time"),
                da.zeros((n_meters, n_t), dtype=np.float32, chunks=(meter_chunk, n_t)),
            ),
            "received_kwh": (
                ("meter", "time"),
                da.zeros((n_meters, n_t), dtype=np.float32, chunks=(meter_chunk, n_t)),
            ),
            "quality": (
                ("meter", "time"),
                da.zeros((n_meters, n_t), dtype=np.uint8, chunks=(meter_chunk, n_t)),
            ),
            "read_date": (("cycle_id", "read"), read_date),
        },
        coords={
            "time": yr.time,
            "meter": meter_ids(n_meters),
            "account": ("meter", account_ids(n_meters)),
            "customer_class": ("meter", classes.astype(object)),
            "rate_code": ("meter", meters.rate_code.astype(object)),
            "multiplier": ("meter", meters.multiplier),
            "cycle": ("meter", meters.cycle),
            "nem_program": ("meter", meters.nem_program.astype(object)),
            "cycle_id": np.arange(1, N_CYCLES + 1, dtype=np.int16),
        },
        attrs={
            "timezone": TIMEZONE,
            "step_minutes": STEP_MINUTES,
            "utility": UTILITY_NAME,
            "synthetic": True,
            "generator": (
                f"workbench.sample.generate_sample_utility(n_meters={n_meters}, year={year}, seed={seed}"
                f"{'' if yr.full is None else f', months={months}'}); "
                f"synthetic loads driven by TMY3 weather {TMY_FILE} (Greensboro NC, shipped with pvlib)"
            ),
            "seed": seed,
            "year": year,
        },
    )
    if yr.full is not None:
        template.attrs["months"] = f"{year}-{first_month:02d}:{year}-{last_month:02d}"
    template["delivered_kwh"].attrs = {"units": "kWh", "long_name": "energy delivered to the customer"}
    template["received_kwh"].attrs = {"units": "kWh", "long_name": "energy received from the customer"}
    template["quality"].attrs = {"flag_values": "0 1 2", "flag_meanings": "actual estimated missing"}
    encoding = {name: {"chunks": (meter_chunk, n_t)} for name in ("delivered_kwh", "received_kwh", "quality")}
    for name in (*METER_COORDS, "meter"):
        encoding[name] = {"chunks": (n_meters,)}

    delivered_per_meter = np.zeros(n_meters, dtype=np.float64)
    received_per_meter = np.zeros(n_meters, dtype=np.float64)
    # each worker generates and writes whole chunks; at most n_workers chunks are in memory at once
    n_workers = max(1, min(os.cpu_count() or 1, _MAX_WORKERS))
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    bar = tqdm(total=n_meters, unit="meter", desc="Sample utility", disable=not progress) if tqdm else None

    import zarr

    with staged_output(path, SAMPLE_KIND, check_sample_out) as tmp, quiet_zarr():
        template.to_zarr(tmp, mode="w-", compute=False, consolidated=True, encoding=encoding)
        group = zarr.open_group(tmp, mode="r+", use_consolidated=False)
        arr_d, arr_r = group["delivered_kwh"], group["received_kwh"]

        def chunk_job(a: int, b: int) -> int:
            out_d = np.empty((b - a, n_t), dtype=np.float32)
            out_r = np.empty((b - a, n_t), dtype=np.float32)
            for s in range(a, b, _SUB_BLOCK):
                e = min(s + _SUB_BLOCK, b)
                out_d[s - a : e - a], out_r[s - a : e - a] = _block(yr, meters.take(slice(s, e)), seed)
            delivered_per_meter[a:b] = [row.sum(dtype=np.float64) for row in out_d]
            received_per_meter[a:b] = [row.sum(dtype=np.float64) for row in out_r]
            arr_d[a:b, :] = out_d
            arr_r[a:b, :] = out_r  # always: an unwritten float chunk would read as NaN (the fill value)
            return b - a

        with ThreadPoolExecutor(n_workers) as pool:
            pending: deque = deque()
            for a in range(0, n_meters, meter_chunk):
                if len(pending) >= n_workers:
                    done = pending.popleft().result()
                    if bar is not None:
                        bar.update(done)
                pending.append(pool.submit(chunk_job, a, min(a + meter_chunk, n_meters)))
            while pending:
                done = pending.popleft().result()
                if bar is not None:
                    bar.update(done)
    if bar is not None:
        bar.close()

    sums = {c: float(delivered_per_meter[classes == c].sum()) for c, _ in CLASS_SHARES}
    received_total = float(received_per_meter.sum())
    elapsed = _time.perf_counter() - t0
    class_counts = Counter(classes.tolist())
    return {
        "path": str(Path(path)),
        "utility": UTILITY_NAME,
        "synthetic": True,
        "n_meters": n_meters,
        "year": year,
        **({} if yr.full is None else {"months": template.attrs["months"]}),
        "seed": seed,
        "timezone": TIMEZONE,
        "n_intervals": int(n_t),
        "start_utc": str(yr.time[0]),
        "end_utc": str(yr.time[-1] + np.timedelta64(STEP_MINUTES, "m")),
        "meter_chunk": meter_chunk,
        "meters_by_class": {c: int(class_counts.get(c, 0)) for c, _ in CLASS_SHARES},
        "meters_by_rate_code": dict(sorted(Counter(meters.rate_code.tolist()).items())),
        "solar_meters": int((meters.solar_kw > 0).sum()),
        "delivered_mwh_by_class": {c: round(v / 1000.0, 3) for c, v in sums.items()},
        "received_mwh": round(received_total / 1000.0, 3),
        "weather": f"TMY3 {TMY_FILE} (Greensboro NC) from pvlib",
        "seconds": round(elapsed, 2),
        "meters_per_second": round(n_meters / elapsed, 1) if elapsed > 0 else math.inf,
    }
