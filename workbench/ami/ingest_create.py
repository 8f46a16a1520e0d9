"""A new interval cube for an ingest: its period, rows (service points), coordinates and empty arrays."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from workbench.ami.cube_reactive import reactive_variables
from workbench.ami.cube_schema import METER_COORDS, QUALITY_ATTRS, validate_cube
from workbench.ami.cube_store import quiet_zarr
from workbench.ami.ingest_store import CubeLayout, fast_codec
from workbench.ami.registry import MeterRegistry
from workbench.errors import IntervalDataError

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")


def parse_period(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``2025-01:2025-12`` (calendar months, inclusive), ``2025-03`` or ``2025`` -> ((y, m), (y, m))."""
    parts = str(text).split(":")
    if len(parts) == 1 and _YEAR.match(parts[0]):
        year = int(parts[0])
        return (year, 1), (year, 12)
    if len(parts) == 1:
        parts = parts * 2
    months = []
    for p in parts if len(parts) == 2 else ():
        m = _MONTH.match(p)
        if not m or not 1 <= int(m.group(2)) <= 12:
            break
        months.append((int(m.group(1)), int(m.group(2))))
    if len(months) != 2:
        raise IntervalDataError(
            f"period {text!r}: expected calendar months like 2025-01:2025-12, one month like 2025-03, or a year"
        )
    if months[1] < months[0]:
        raise IntervalDataError(f"period {text!r}: the last month is before the first")
    return months[0], months[1]


def _next_month(y: int, m: int) -> tuple[int, int]:
    return (y + 1, 1) if m == 12 else (y, m + 1)


def months_axis(first: tuple[int, int], last: tuple[int, int], tz: str, step_minutes: int) -> np.ndarray:
    """UTC interval starts (naive datetime64[ns]) from local midnight of ``first``'s 1st to after ``last``."""
    start = pd.Timestamp(year=first[0], month=first[1], day=1, tz=tz).tz_convert("UTC").tz_localize(None)
    ny, nm = _next_month(*last)
    end = pd.Timestamp(year=ny, month=nm, day=1, tz=tz).tz_convert("UTC").tz_localize(None)
    step = np.timedelta64(step_minutes, "m").astype("timedelta64[ns]")
    s = np.datetime64(start.to_datetime64(), "ns")
    n = int((np.datetime64(end.to_datetime64(), "ns") - s) // step)
    return s + np.arange(n) * step


def months_of(lo_us: int, hi_us: int, tz: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The local calendar months of the first and last interval start (µs UTC)."""
    lo = pd.Timestamp(lo_us, unit="us", tz="UTC").tz_convert(tz)
    hi = pd.Timestamp(hi_us, unit="us", tz="UTC").tz_convert(tz)
    return (lo.year, lo.month), (hi.year, hi.month)


def read_dates_table(cycles: list[int], first: tuple[int, int], last: tuple[int, int], read_dates=None):
    """Read dates per cycle (cycle_id, read) as naive local dates, NaT-padded.

    Default: every cycle reads on the 1st of each month (calendar-month bills), from ``first`` through the
    month after ``last``. ``read_dates``: {cycle: [dates]} or a CSV file with columns cycle, read_date.
    """
    if read_dates is None:
        dates, (y, m) = [], first
        while (y, m) <= _next_month(*last):
            dates.append(np.datetime64(f"{y:04d}-{m:02d}-01", "D"))
            y, m = _next_month(y, m)
        per = {c: dates for c in cycles}
    else:
        per = _load_read_dates(read_dates)
        missing = sorted(set(cycles) - set(per))
        if missing:
            raise IntervalDataError(f"read dates: no read dates for bill cycle(s) {missing} of the registry")
    width = max(len(v) for v in per.values())
    ids = sorted(per)
    out = np.full((len(ids), width), np.datetime64("NaT"), dtype="datetime64[ns]")
    for i, c in enumerate(ids):
        d = np.sort(np.array(per[c], dtype="datetime64[D]"))
        out[i, : len(d)] = d.astype("datetime64[ns]")
    return np.array(ids, dtype=np.int16), out


def _load_read_dates(read_dates) -> dict[int, list]:
    if isinstance(read_dates, dict):
        return {int(k): [np.datetime64(str(d), "D") for d in v] for k, v in read_dates.items()}
    path = Path(read_dates)
    try:
        frame = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as e:
        raise IntervalDataError(f"{path}: cannot read the read-date file: {e}") from None
    cols = {c.strip().lower(): c for c in frame.columns}
    if "cycle" not in cols or "read_date" not in cols:
        raise IntervalDataError(f"{path}: expected columns cycle, read_date; found {list(frame.columns)}")
    out: dict[int, list] = {}
    for i, (c, d) in enumerate(zip(frame[cols["cycle"]], frame[cols["read_date"]], strict=True), start=2):
        try:
            out.setdefault(int(c), []).append(np.datetime64(dt.date.fromisoformat(str(d).strip()), "D"))
        except ValueError:
            raise IntervalDataError(f"{path}: line {i}: {c!r}, {d!r} is not a cycle number and a date") from None
    return out


def cube_rows(registry: MeterRegistry, tz: str, time: np.ndarray, step_minutes: int):
    """Service points with a meter installed during the period, their coordinates, received-zero windows.

    Returns (service points, coords dict, received_zero [(row, t0, t1)]): received energy is 0 (not unread)
    where the installed meter records no received channel.
    """
    lo_p = time[0].astype("datetime64[us]")
    hi_p = (time[-1] + np.timedelta64(step_minutes, "m")).astype("datetime64[us]")
    step_us = step_minutes * 60_000_000
    t0_us = int(lo_p.astype(np.int64))
    points, coords, zero = [], {k: [] for k in METER_COORDS}, []
    for sp in registry.service_points():
        meters = registry.meters_of(sp)
        windows = []
        for m in meters:
            lo, hi = m.window_utc(tz)
            lo = lo_p if lo is None else max(lo, lo_p)
            hi = hi_p if hi is None else min(hi, hi_p)
            if lo < hi:
                windows.append((m, lo, hi))
        if not windows:
            continue
        row = len(points)
        points.append(sp)
        latest = meters[-1]
        for k in ("account", "customer_class", "rate_code", "cycle", "nem_program"):
            coords[k].append(getattr(latest, k))
        coords["multiplier"].append(latest.multiplier)
        if all("received" not in m.channels for m in meters):
            zero.append((row, 0, len(time)))
            continue
        for m, lo, hi in windows:
            if "received" not in m.channels:
                t0 = -(-(int(lo.astype(np.int64)) - t0_us) // step_us)
                t1 = -(-(int(hi.astype(np.int64)) - t0_us) // step_us)
                zero.append((row, t0, t1))
    return points, coords, zero


def write_template(staging: Path, layout: CubeLayout, coords: dict, cycle_ids, read_date, attrs: dict) -> None:
    """Write the new cube's metadata and coordinates (interval chunks are written by the ingest)."""
    n, t, mc = layout.n_rows, layout.n_time, layout.rows_per_chunk
    zeros = {
        name: da.zeros((n, t), dtype=dtype, chunks=(mc, t))
        for name, dtype in (("delivered_kwh", np.float32), ("received_kwh", np.float32), ("quality", np.uint8))
    }
    ds = xr.Dataset(
        {
            "delivered_kwh": (("meter", "time"), zeros["delivered_kwh"],
                              {"units": "kWh", "long_name": "energy delivered to the customer"}),
            "received_kwh": (("meter", "time"), zeros["received_kwh"],
                             {"units": "kWh", "long_name": "energy received from the customer"}),
            "quality": (("meter", "time"), zeros["quality"],
                        dict(QUALITY_ATTRS)),
            "read_date": (("cycle_id", "read"), read_date),
        },
        coords={
            "time": layout.time,
            "meter": np.array(layout.meters, dtype=object),
            "account": ("meter", np.array(coords["account"], dtype=object)),
            "customer_class": ("meter", np.array(coords["customer_class"], dtype=object)),
            "rate_code": ("meter", np.array(coords["rate_code"], dtype=object)),
            "multiplier": ("meter", np.array(coords["multiplier"], dtype=np.float32)),
            "cycle": ("meter", np.array(coords["cycle"], dtype=np.int16)),
            "nem_program": ("meter", np.array(coords["nem_program"], dtype=object)),
            "cycle_id": cycle_ids,
        },
        attrs=attrs,
    )
    data_vars, reactive_coords, reactive_encoding = reactive_variables(n, t, mc)  # empty: chunks come with reads
    ds = ds.assign(data_vars).assign_coords(reactive_coords)
    validate_cube(ds, check_chunks=False)
    encoding = {name: {"chunks": (mc, t), "compressors": (fast_codec(),)}
                for name in ("delivered_kwh", "received_kwh", "quality")}
    encoding.update(reactive_encoding)
    for name in (*METER_COORDS, "meter"):
        encoding[name] = {"chunks": (n,)}
    with quiet_zarr():
        ds.to_zarr(staging, mode="w-", compute=False, consolidated=True, encoding=encoding)
