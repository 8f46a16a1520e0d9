"""Class allocators of a cost-of-service study, computed from every meter's intervals in the cube.

One streamed pass over the cube's meter chunks (bounded memory: one chunk of two channels, plus per-class
series of the test year) adds each meter's load into its class's series; everything else is arithmetic on
those few series. Definitions (docs/cost-of-service.md):

- an interval's load [kW] = (delivered - received) [kWh] × 60 / interval minutes; a missing interval counts 0;
- class load = the sum over the class's meters; system load = the sum over all meters (or a given series);
- the test year = the 12 calendar months of year ``YYYY`` in the cube's local time (all of it must be there);
- ``cp1_kw`` = class load at the interval of the year's system maximum; ``cp12_kw`` = the mean over the 12
  months of the class load at each month's system maximum; ``cp4_kw`` = the same over June to September;
- ``ncp_kw`` = the class's own annual maximum (of the class load);
- ``sum_max_kw`` = the sum over the class's meters of each meter's annual maximum delivered kW;
- ``customers`` = meters in the class; ``weighted_customers`` = customers × the class's weight (default 1);
- ``kwh`` = delivered kWh in the test year; ``kwh_<period>`` = the same by a tariff's ToU period.

Ties between equal system maxima go to the earliest interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.ami.cube_calendar import cube_time
from workbench.ami.cube_chunks import check_chunks_present, open_zarr_group
from workbench.billing.cube_source import open_run_cube
from workbench.calendar import local_wall_times
from workbench.calendar.timestamps import parse_timestamps
from workbench.engine.determinants import schedule_arrays
from workbench.errors import WorkbenchError
from workbench.kernels.allocators import accumulate_class_loads, accumulate_class_loads_numpy

#: the allocator columns of allocators.csv (after ``class``), in order
ALLOCATORS = ("customers", "weighted_customers", "kwh", "cp1_kw", "cp4_kw", "cp12_kw", "ncp_kw", "sum_max_kw")
SUMMER_CP_MONTHS = (6, 7, 8, 9)


class AllocatorError(WorkbenchError):
    """The allocators cannot be computed as asked (a test year the cube does not cover, a bad load series)."""


@dataclass
class TestYear:
    """The intervals of the test year on the cube's axis: ``start:stop``, their UTC starts and local months."""

    year: int
    start: int
    stop: int
    utc: np.ndarray  # (T,) datetime64[m] UTC interval starts
    month: np.ndarray  # (T,) local calendar month 1..12
    step: int  # [minutes]
    timezone: str


def find_test_year(utc, step: int, timezone: str, year: int, source: str = "the cube") -> TestYear:
    """The 12 local calendar months of ``year`` on the UTC axis ``utc``; an error if any interval is absent."""
    utc = np.asarray(utc).astype("datetime64[m]")
    wall = local_wall_times(utc, timezone)
    years = wall.astype("datetime64[Y]").astype(int) + 1970
    inside = np.flatnonzero(years == int(year))
    days = (np.datetime64(f"{int(year) + 1}-01-01") - np.datetime64(f"{int(year)}-01-01")).astype(int)
    expected = int(days) * 1440 // step
    if len(inside) != expected:
        have = f"{wall[0]} to {wall[-1] + np.timedelta64(step, 'm')}" if len(wall) else "nothing"
        raise AllocatorError(f"{source}: test year {year} needs all 12 months in local time ({timezone}), "
                             f"{expected} intervals of {step} minutes; the cube covers {have} local "
                             f"({len(inside)} intervals of {year})")
    start, stop = int(inside[0]), int(inside[-1]) + 1
    month = (wall[start:stop].astype("datetime64[M]").astype(int) % 12 + 1).astype(np.int8)
    return TestYear(int(year), start, stop, utc[start:stop], month, int(step), timezone)


@dataclass
class ClassLoads:
    """Per-class series of the test year and per-class sums, from one pass over the cube."""

    classes: list[str]
    year: TestYear
    net_kw: np.ndarray  # (C, T) class load [kW]
    delivered_kwh: np.ndarray  # (C, T) class delivered energy [kWh]
    customers: np.ndarray  # (C,) meters
    kwh: np.ndarray  # (C,) delivered in the year [kWh]
    sum_max_kw: np.ndarray  # (C,) sum of the meters' annual maximum delivered kW [kW]
    seconds: float = 0.0
    bytes_read: int = 0


def class_loads(cube, year: int, *, engine: str = "numba", chunk_meters: int | None = None) -> ClassLoads:
    """Stream the cube's meter chunks once into :class:`ClassLoads` for test year ``year``.

    ``engine``: ``"numba"`` (default) or ``"numpy"`` (the reference; same results up to float reassociation).
    ``chunk_meters``: meters read at once (default: the cube's Zarr chunk); memory ≈ 2 × chunk × T × 4 bytes.
    """
    started = time.perf_counter()
    ds = open_run_cube(cube)
    utc, step = cube_time(ds)
    ty = find_test_year(utc, step, ds.attrs["timezone"], year, str(cube))
    klass = ds["customer_class"].values.astype(str)
    classes = sorted(set(klass.tolist()))
    code = np.searchsorted(np.array(classes), klass).astype(np.int64)
    n_meter, n_time = len(klass), ty.stop - ty.start
    net = np.zeros((len(classes), n_time))
    delivered_c = np.zeros((len(classes), n_time))
    meter_max = np.zeros(n_meter)
    meter_kwh = np.zeros(n_meter)
    kernel = {"numba": accumulate_class_loads, "numpy": accumulate_class_loads_numpy}.get(engine)
    if kernel is None:
        raise AllocatorError(f"engine {engine!r}: expected 'numba' or 'numpy'")
    group = open_zarr_group(cube)
    chunk = int(chunk_meters or group["delivered_kwh"].chunks[0])
    meters = ds["meter"].values
    read = 0
    for lo in range(0, n_meter, chunk):
        hi = min(lo + chunk, n_meter)
        check_chunks_present(group, lo, hi, cube, meters[lo:hi])  # a chunk missing on disk is not 0 kWh
        d = group["delivered_kwh"][lo:hi, ty.start:ty.stop]
        r = group["received_kwh"][lo:hi, ty.start:ty.stop]
        read += d.nbytes + r.nbytes
        kernel(d, r, code[lo:hi], 60.0 / step, net, delivered_c, meter_max[lo:hi], meter_kwh[lo:hi])
    customers = np.bincount(code, minlength=len(classes))
    kwh = np.bincount(code, weights=meter_kwh, minlength=len(classes))
    sum_max = np.bincount(code, weights=meter_max, minlength=len(classes))
    return ClassLoads(classes, ty, net, delivered_c, customers, kwh, sum_max, time.perf_counter() - started, read)


def read_system_load(path, ty: TestYear) -> tuple[np.ndarray, int]:
    """A system load series (CSV ``time,kw``) over the test year: (values [kW], cube intervals per row).

    ``time`` is each interval's start in ISO 8601 with its UTC offset; the step is the cube's or a multiple of
    it (hourly series for a 15-minute cube), one row per interval of the whole test year, in order.
    """
    try:
        table = pd.read_csv(path, dtype={"time": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AllocatorError(f"{path}: not a CSV with columns time,kw ({exc})") from None
    missing = [c for c in ("time", "kw") if c not in table.columns]
    if missing:
        raise AllocatorError(f"{path}: no column {missing[0]!r}; expected columns time,kw (found {list(table.columns)})")
    utc, _ = parse_timestamps(table["time"], str(path))
    kw = pd.to_numeric(table["kw"], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(kw))
    if len(bad):
        raise AllocatorError(f"{path}: row {bad[0] + 2}: field kw {table['kw'].iloc[bad[0]]!r} is not a number [kW]")
    if len(utc) < 2:
        raise AllocatorError(f"{path}: expected one row per interval of test year {ty.year}, found {len(utc)} rows")
    series_step = int((utc[1] - utc[0]).astype(int))
    if series_step <= 0 or series_step % ty.step or 1440 % series_step:
        raise AllocatorError(f"{path}: rows 2-3: the series' step of {series_step} minutes must be the cube's "
                             f"{ty.step} minutes or a multiple of it that divides a day")
    k = series_step // ty.step
    expected = ty.utc[::k]
    if len(utc) != len(expected) or (utc != expected).any():
        at = int(np.argmax(utc[: len(expected)] != expected[: len(utc)])) if min(len(utc), len(expected)) else 0
        raise AllocatorError(f"{path}: row {at + 2}: expected one row every {series_step} minutes from "
                             f"{expected[0]}Z to {expected[-1]}Z (UTC) covering test year {ty.year}, "
                             f"{len(expected)} rows; found {len(utc)} rows"
                             + (f", row {at + 2} at {utc[at]}Z" if at < len(utc) else ""))
    return kw, k


@dataclass
class Peaks:
    """The system maxima: the year's and each month's (indices on the series' axis)."""

    system_kw: np.ndarray  # (S,) [kW]
    year: int  # index of the year's maximum
    months: np.ndarray  # (12,) index of each month's maximum
    per_row: int  # cube intervals per series row


def find_peaks(system_kw: np.ndarray, month: np.ndarray, per_row: int = 1) -> Peaks:
    """The earliest interval of the maximum, for the year and for each local month 1..12."""
    month = month[::per_row]
    months = np.empty(12, dtype=np.int64)
    for m in range(1, 13):
        rows = np.flatnonzero(month == m)
        months[m - 1] = rows[int(np.argmax(system_kw[rows]))]
    return Peaks(system_kw, int(np.argmax(system_kw)), months, per_row)


def allocator_table(loads: ClassLoads, system_load: tuple[np.ndarray, int] | None = None,
                    weights: dict[str, float] | None = None, tou_tariff=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(allocators, peaks): one row per class with :data:`ALLOCATORS` (and ``kwh_<period>``), and the peaks.

    ``system_load``: :func:`read_system_load`'s result (default: the sum of the class loads). ``weights``:
    class -> customer weight (default 1). ``tou_tariff``: a compiled tariff whose ToU periods split ``kwh``.
    """
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(loads.classes))
    if unknown:
        raise AllocatorError(f"customer weight for class {unknown[0]!r}: no such class in the cube "
                             f"(classes {loads.classes})")
    system_kw, per_row = system_load if system_load is not None else (loads.net_kw.sum(axis=0), 1)
    n_rows = loads.net_kw.shape[1] // per_row
    # a coarser system series: the class's mean load over each of its rows (the class's demand in that hour)
    class_kw = loads.net_kw[:, : n_rows * per_row].reshape(len(loads.classes), n_rows, per_row).mean(axis=2)
    peaks = find_peaks(system_kw, loads.year.month, per_row)
    summer = peaks.months[np.array(SUMMER_CP_MONTHS) - 1]
    table = pd.DataFrame({
        "class": loads.classes,
        "customers": loads.customers,
        "weighted_customers": loads.customers * np.array([float(weights.get(c, 1.0)) for c in loads.classes]),
        "kwh": loads.kwh,
        "cp1_kw": class_kw[:, peaks.year],
        "cp4_kw": class_kw[:, summer].mean(axis=1),
        "cp12_kw": class_kw[:, peaks.months].mean(axis=1),
        "ncp_kw": loads.net_kw.max(axis=1),
        "sum_max_kw": loads.sum_max_kw,
    })
    if tou_tariff is not None:
        for name, kwh in tou_energy(loads, tou_tariff).items():
            table[f"kwh_{name}"] = kwh
    return table, peak_table(loads, peaks, class_kw)


def tou_energy(loads: ClassLoads, tariff) -> dict[str, np.ndarray]:
    """Delivered kWh of each class by the tariff's ToU period (seasons summed): period -> (C,) [kWh]."""
    ty = loads.year
    schedule = schedule_arrays(tariff, ty.utc, ty.step, timezone=tariff.timezone or ty.timezone)
    period = schedule.energy_bucket.astype(np.int64) % len(tariff.tou_names)
    return {name: loads.delivered_kwh[:, period == p].sum(axis=1) for p, name in enumerate(tariff.tou_names)}


def peak_table(loads: ClassLoads, peaks: Peaks, class_kw: np.ndarray) -> pd.DataFrame:
    """The year's and each month's system maximum: when (UTC and local) and each class's load then."""
    ty = loads.year
    which = ["year"] + [f"{m:02d}" for m in range(1, 13)]
    rows = np.concatenate([[peaks.year], peaks.months])
    start = ty.utc[rows * peaks.per_row]
    local = local_wall_times(start, ty.timezone)
    out = pd.DataFrame({"peak": which, "interval_start_utc": pd.to_datetime(start).strftime("%Y-%m-%dT%H:%MZ"),
                        "interval_start_local": pd.to_datetime(local).strftime("%Y-%m-%dT%H:%M"),
                        "minutes": ty.step * peaks.per_row, "system_kw": peaks.system_kw[rows]})
    for c, name in enumerate(loads.classes):
        out[f"{name}_kw"] = class_kw[c, rows]
    return out
