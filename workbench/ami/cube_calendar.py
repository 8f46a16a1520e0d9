"""The interval cube's calendar: UTC interval starts, local days and every meter's bill periods.

Below VEE and the engine: the bill-ready verdict and the cycle both ask which intervals fall in which bill
period, from the cube's read dates, and neither should have to reach up into the other for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.calendar import local_time, local_wall_times
from workbench.calendar.periods import BillPeriods, periods_from_rows, read_date_periods
from workbench.errors import CubeError

if TYPE_CHECKING:
    import xarray as xr


def cube_time(ds: xr.Dataset) -> tuple[np.ndarray, int]:
    """UTC interval starts (datetime64[m]) and the step in minutes."""
    utc = ds["time"].values.astype("datetime64[m]")
    step = int(ds.attrs.get("step_minutes") or (utc[1] - utc[0]).astype(int))
    return utc, step


def cube_local_days(ds: xr.Dataset) -> np.ndarray:
    """Local date (days since epoch) of every interval, in the utility's time zone."""
    tz = ds.attrs.get("timezone")
    if not tz:
        raise CubeError("the cube has no 'timezone' attribute (the utility's IANA time zone)")
    utc, _ = cube_time(ds)
    return local_time(local_wall_times(utc, tz)).day


def cube_periods(ds: xr.Dataset, local_day: np.ndarray | None = None) -> BillPeriods:
    """Bill periods of every meter of ``ds`` from its cycle's read dates, clipped to the cube's days."""
    day = cube_local_days(ds) if local_day is None else local_day
    first = np.datetime64(int(day[0]), "D")
    end = np.datetime64(int(day[-1]), "D") + 1
    reads = ds["read_date"].values.astype("datetime64[D]")
    cycle_ids = list(ds["cycle_id"].values.astype(int))
    by_cycle = {}
    rows = []
    for cycle in ds["cycle"].values.astype(int):
        if cycle not in by_cycle:
            if cycle not in cycle_ids:
                raise CubeError(f"meter cycle {cycle} has no read dates in the cube (cycle_id {cycle_ids})")
            by_cycle[cycle] = read_date_periods(reads[cycle_ids.index(cycle)], first, end, f"cycle {cycle} read dates")
        rows.append(by_cycle[cycle])
    return periods_from_rows(rows, day)
