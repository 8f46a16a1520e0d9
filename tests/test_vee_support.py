"""Helpers for the VEE tests (no tests here): small hand-made cubes and a slow reference estimator.

The reference is written from docs/vee.md only (plain Python loops, ``zoneinfo`` for local days and the
``holidays`` package for holidays), not from workbench/kernels/vee.py.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import numpy as np
import pandas as pd
import xarray as xr


def utc_axis(start_local: str, n: int, tz: str = "America/New_York", step: int = 15) -> np.ndarray:
    """``n`` naive-UTC interval starts from local time ``start_local``."""
    first = pd.Timestamp(start_local).tz_localize(tz).tz_convert("UTC").tz_localize(None)
    return (np.datetime64(first.to_datetime64(), "ns") + np.arange(n) * np.timedelta64(step, "m")).astype(
        "datetime64[ns]")


def make_cube(delivered, *, start="2025-04-01T00:00", tz="America/New_York", step=15, received=None, quality=None,
              nem=None, meters=None, time=None) -> xr.Dataset:
    """A valid interval cube (docs/cube.md) holding ``delivered`` (M, T) [kWh]."""
    d = np.atleast_2d(np.asarray(delivered, dtype=np.float32))
    n_m, n_t = d.shape
    r = np.zeros_like(d) if received is None else np.atleast_2d(np.asarray(received, dtype=np.float32))
    q = np.where(np.isnan(d), 2, 0).astype(np.uint8) if quality is None else np.atleast_2d(
        np.asarray(quality, dtype=np.uint8))
    t = utc_axis(start, n_t, tz, step) if time is None else time
    ids = [f"M{i + 1:06d}" for i in range(n_m)] if meters is None else list(meters)
    return xr.Dataset(
        {
            "delivered_kwh": (("meter", "time"), d),
            "received_kwh": (("meter", "time"), r),
            "quality": (("meter", "time"), q),
            "read_date": (("cycle_id", "read"), np.array([["2025-01-01", "2026-01-01"]], dtype="datetime64[ns]")),
        },
        coords={
            "time": t,
            "meter": np.array(ids),
            "account": ("meter", np.array([f"A{i}" for i in range(n_m)])),
            "customer_class": ("meter", np.array(["RES"] * n_m)),
            "rate_code": ("meter", np.array(["RES-FLAT"] * n_m)),
            "multiplier": ("meter", np.ones(n_m, np.float32)),
            "cycle": ("meter", np.ones(n_m, np.int16)),
            "nem_program": ("meter", np.array(nem if nem is not None else [""] * n_m)),
            "cycle_id": np.array([1], np.int16),
        },
        attrs={"timezone": tz, "step_minutes": step, "utility": "test", "synthetic": True},
    )


def local_days(time: np.ndarray, tz: str) -> list[dt.date]:
    zone = ZoneInfo(tz)
    return [pd.Timestamp(t).tz_localize("UTC").to_pydatetime().astimezone(zone).date() for t in time]


@functools.cache
def _us_holidays(year: int):
    return holidays_lib.US(years=year, observed=True)


@functools.cache
def day_kind(day: dt.date, calendar: str = "US") -> int:
    """0 weekday, 1 Saturday, 2 Sunday or US federal holiday (observed), as docs/vee.md says."""
    if calendar == "US" and day in _us_holidays(day.year):
        return 2
    return {5: 1, 6: 2}.get(day.weekday(), 0)


def reference_estimate(values, time, tz="UTC", step=15, linear_max=8, like_days=3, like_min=1, lookback_days=42):
    """Estimates of the NaN intervals of one channel of one meter, straight from docs/vee.md.

    Gaps (runs of NaN) of at most ``linear_max`` intervals: linear between the valid neighbours, or the one
    valid neighbour repeated; otherwise each interval is the mean of the same local clock time on the most
    recent ``like_days`` earlier days of the same kind (within ``lookback_days``) that have a read there.
    Returns (values with estimates, method per interval: 0 none, 1 linear, 2 like-day, 3 flat fill).
    """
    v = [float(x) for x in values]
    n = len(v)
    out = list(v)
    method = [0] * n
    zone = ZoneInfo(tz)
    local = [pd.Timestamp(t).tz_localize("UTC").to_pydatetime().astimezone(zone) for t in time]
    by_day_clock = {}
    for i, lt in enumerate(local):
        by_day_clock.setdefault((lt.date(), lt.hour, lt.minute), i)
    i = 0
    while i < n:
        if not np.isnan(v[i]):
            i += 1
            continue
        j = i
        while j < n and np.isnan(v[j]):
            j += 1
        left = i - 1 if i > 0 else None
        right = j if j < n else None
        length = j - i
        for k in range(i, j):
            if length <= linear_max and left is not None and right is not None:
                out[k] = v[left] + (v[right] - v[left]) * (k - left) / (length + 1)
                method[k] = 1
            elif length <= linear_max and (left is not None or right is not None):
                out[k] = v[left] if left is not None else v[right]
                method[k] = 3
            else:
                day = local[k].date()
                found = []
                for back in range(1, lookback_days + 1):
                    other = day - dt.timedelta(days=back)
                    if day_kind(other) != day_kind(day):
                        continue
                    p = by_day_clock.get((other, local[k].hour, local[k].minute))
                    if p is not None and not np.isnan(v[p]):
                        found.append(v[p])
                    if len(found) == like_days:
                        break
                if len(found) >= like_min:
                    out[k] = sum(found) / len(found)
                    method[k] = 2
        i = j
    return out, method
