"""One customer's interval file: the CSV that ``workbench bill --intervals`` reads, or any AMI file.

CSV columns: ``timestamp`` (ISO 8601 interval start with an offset or ``Z``), ``delivered_kwh`` and optionally
``received_kwh`` [kWh per interval] and ``reactive_kvarh`` (or ``kvarh``) [lagging kVARh per interval; an empty
cell is no read] for tariffs with kVA demand, $/kVAR or power-factor charges (docs/reactive-power.md). Every problem is reported with the file, the row (1 = header) and
what was expected. :func:`read_meter_reads` returns one meter's readings as the file holds them
(:class:`Reads`), unchecked: ``workbench.billing.repair`` checks the whole feed and repairs it on request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from workbench.ami.readers import read_file
from workbench.ami.readers._result import check_interval_kwh
from workbench.calendar.timestamps import parse_timestamps
from workbench.errors import IntervalDataError

__all__ = ["IntervalSeries", "check_series", "parse_timestamps", "read_interval_csv", "read_meter_reads"]



@dataclass
class IntervalSeries:
    """A uniform series of interval reads for one meter."""

    utc: np.ndarray  # datetime64[m], interval starts
    offsets_minutes: np.ndarray  # int64, each timestamp's own UTC offset as written
    delivered_kwh: np.ndarray  # float64
    received_kwh: np.ndarray  # float64
    step_minutes: int
    source: str = ""
    quality: np.ndarray | None = None  # uint8 per interval: 0 actual, 1 estimated (None: all actual)
    reactive_kvarh: np.ndarray | None = None  # float64 lagging kVARh per interval, NaN = no read (None: no channel)


@dataclass
class Reads:
    """One meter's reads as the file holds them, before any check: one row per reading and channel.

    start : datetime64[s] UTC interval starts; seconds : int64 lengths (the CSV's: its step); received : bool
    channel; kwh; quality : uint8 (1 = estimated by the source); row : the source's row or element ordinal;
    offsets_minutes : the UTC offset each CSV timestamp was written with (None for AMI files, in UTC);
    zero_length : [(row, start, raw)] records of no length; unreadable : [(row, reason)] other rejected records;
    local_time : the feed's LocalTimeParameters (Green Button), or None.
    """

    start: np.ndarray
    seconds: np.ndarray
    received: np.ndarray
    kwh: np.ndarray
    quality: np.ndarray
    row: np.ndarray
    source: str
    offsets_minutes: np.ndarray | None = None
    zero_length: list = None
    unreadable: list = None
    local_time: dict | None = None
    has_received: bool = False
    # lagging kVARh reads, beside the energy channels: interval starts (datetime64[s] UTC) and values
    reactive_start: np.ndarray | None = None
    reactive_kvarh: np.ndarray | None = None
    # leading (received) kVARh reads the reader rejected: no bill uses them, so they do not stop one
    leading_kvarh: int = 0


def _read_csv_columns(path):
    file = Path(path)
    if not file.exists():
        raise IntervalDataError(f"{file}: interval file not found")
    try:
        # only an empty cell is "no value": pyarrow's default null spellings ("n/a", "NULL", "-nan"...) would turn
        # text that is not a number into a silent gap, which must instead be reported as what it is
        options = pacsv.ConvertOptions(column_types={"timestamp": pa.string()}, null_values=[""], strings_can_be_null=True)
        table = pacsv.read_csv(file, convert_options=options)
    except pa.ArrowInvalid as exc:
        raise IntervalDataError(f"{file}: cannot read as CSV: {exc}") from None
    columns = table.column_names
    for required in ("timestamp", "delivered_kwh"):
        if required not in columns:
            raise IntervalDataError(
                f"{file}: missing column {required!r}; found {columns}; expected timestamp, delivered_kwh[, received_kwh]"
            )
    if table.num_rows == 0:
        raise IntervalDataError(f"{file}: no interval rows")
    utc, offsets = parse_timestamps(table.column("timestamp").to_pylist(), str(file))
    delivered = _numbers(table, "delivered_kwh", file)
    received = _numbers(table, "received_kwh", file) if "received_kwh" in columns else np.zeros(len(delivered))
    reactive = None
    for name in REACTIVE_COLUMNS:
        if name in columns:
            reactive = _reactive_numbers(table.column(name), name, file)
            break
    return utc, offsets, delivered, received, "received_kwh" in columns, reactive


#: the optional reactive column of the one-meter CSV, by the names it may have
REACTIVE_COLUMNS = ("reactive_kvarh", "kvarh")


def _reactive_numbers(col, name, file) -> np.ndarray:
    """A kVARh column: numbers >= 0, an empty cell NaN (no read)."""
    raw = col.to_pylist()
    values = pd.to_numeric(pd.Series(raw, dtype="object"), errors="coerce").to_numpy(float)
    empty = np.array([v is None for v in raw])
    bad = (np.isnan(values) & ~empty) | np.isinf(values) | (values < 0)
    if bad.any():
        row = int(np.argmax(bad))
        raise IntervalDataError(f"{file}: row {row + 2}: {name} is {raw[row]!r}; expected a number of kVARh "
                                "(lagging reactive energy, 0 or more) or an empty cell for no read")
    return values


def check_reactive(values, n: int, source: str) -> np.ndarray:
    """One meter's kVARh array: length ``n``, each value >= 0 and finite, or NaN (no read)."""
    values = np.asarray(values, dtype=float)
    if values.shape != (n,):
        raise IntervalDataError(f"{source}: {values.shape[0] if values.ndim else 0} kVARh values for {n} intervals")
    bad = np.isinf(values) | (values < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise IntervalDataError(f"{source}: interval {i}: kVARh {values[i]!r}; expected 0 or more (lagging)")
    return values


def attach_reactive(series: IntervalSeries, reads: Reads) -> IntervalSeries:
    """Put ``reads``' kVARh on ``series``' time axis (an interval without a read: NaN); no reads: unchanged."""
    if reads.reactive_start is None or not len(reads.reactive_start):
        return series
    start = np.asarray(reads.reactive_start, "datetime64[m]").astype(np.int64)
    axis = np.asarray(series.utc, "datetime64[m]").astype(np.int64)
    out = np.full(len(axis), np.nan)
    pos = np.searchsorted(axis, start)
    hit = (pos < len(axis)) & (axis[np.minimum(pos, len(axis) - 1)] == start)
    out[pos[hit]] = np.asarray(reads.reactive_kvarh, float)[hit]
    series.reactive_kvarh = check_reactive(out, len(axis), series.source)
    return series


def read_interval_csv(path) -> IntervalSeries:
    """Read and check a one-meter interval CSV (uniform step, no gaps, no duplicates)."""
    utc, offsets, delivered, received, _, reactive = _read_csv_columns(path)
    series = check_series(utc, offsets, delivered, received, str(Path(path)))
    series.reactive_kvarh = reactive
    return series


def read_csv_reads(path) -> Reads:
    """The one-meter CSV's rows as :class:`Reads` (each row one interval of the file's usual step)."""
    utc, offsets, delivered, received, has_received, reactive = _read_csv_columns(path)
    ticks = utc.astype("int64")
    if len(ticks) > 1:
        back = np.flatnonzero(np.diff(ticks) < 0)
        if len(back):
            raise IntervalDataError(f"{path}: row {back[0] + 3}: timestamp goes back in time; sort the file by timestamp")
        steps = np.diff(ticks)
        steps = steps[steps > 0]
        step = int(np.median(steps)) if len(steps) else 60
    else:
        step = 60
    if step <= 0 or 1440 % step:
        raise IntervalDataError(f"{path}: step of {step} minutes does not divide a day")
    check_interval_kwh(delivered, received, step * 60, str(path))
    n = len(utc)
    rows = np.arange(2, n + 2, dtype=np.int64)
    start = utc.astype("datetime64[s]")
    channels = [(False, delivered)] + ([(True, received)] if has_received else [])
    return Reads(
        start=np.concatenate([start] * len(channels)), seconds=np.full(n * len(channels), step * 60, np.int64),
        received=np.concatenate([np.full(n, flag) for flag, _ in channels]),
        kwh=np.concatenate([np.asarray(v, float) for _, v in channels]), quality=np.zeros(n * len(channels), np.uint8),
        row=np.concatenate([rows] * len(channels)), source=str(path),
        offsets_minutes=np.concatenate([offsets] * len(channels)), zero_length=[], unreadable=[],
        has_received=has_received, reactive_start=None if reactive is None else start,
        reactive_kvarh=reactive)


def _numbers(table, column, file) -> np.ndarray:
    col = table.column(column)
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        values = col.to_numpy(zero_copy_only=False).astype(float)
        if np.isnan(values).any():
            row = int(np.argmax(np.isnan(values))) + 2
            raise IntervalDataError(f"{file}: row {row}: {column} is empty; expected a number of kWh")
        if not np.isfinite(values).all():
            row = int(np.argmax(~np.isfinite(values))) + 2
            raise IntervalDataError(f"{file}: row {row}: {column} is {values[row - 2]}; expected a finite number of kWh")
        return values
    values = pd.to_numeric(pd.Series(col.to_pylist(), dtype="object"), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    row = int(np.argmax(bad))
    raise IntervalDataError(
        f"{file}: row {row + 2}: {column} is {col[row].as_py()!r}; expected a number of kWh"
    )


def check_series(utc, offsets, delivered, received, source: str) -> IntervalSeries:
    """Sorted, unique, uniform-step interval starts, or an error naming the row."""
    ticks = utc.astype("int64")
    if len(ticks) > 1:
        steps = np.diff(ticks)
        dup = np.flatnonzero(steps == 0)
        if len(dup):
            raise IntervalDataError(
                f"{source}: row {dup[0] + 3}: duplicate timestamp {utc[dup[0]]}Z (also on row {dup[0] + 2}); "
                "each interval must appear once"
            )
        back = np.flatnonzero(steps < 0)
        if len(back):
            raise IntervalDataError(f"{source}: row {back[0] + 3}: timestamp goes back in time; sort the file by timestamp")
        step = int(np.median(steps))
        odd = np.flatnonzero(steps != step)
        if len(odd):
            i = odd[0]
            raise IntervalDataError(
                f"{source}: row {i + 3}: interval starts {utc[i + 1]}Z, {steps[i]} minutes after the previous one; "
                f"expected a uniform step of {step} minutes (missing or extra intervals)"
            )
    else:
        step = 60
    if step <= 0 or 1440 % step:
        raise IntervalDataError(f"{source}: step of {step} minutes does not divide a day")
    # arrays (bill_series): NaN is a missing read, counted as such by the scan; inf and absurd values are refused
    delivered, received = np.asarray(delivered, float), np.asarray(received, float)
    check_interval_kwh(np.where(np.isnan(delivered), 0.0, delivered), np.where(np.isnan(received), 0.0, received),
                       step * 60, source)
    return IntervalSeries(utc, offsets, np.asarray(delivered, float), np.asarray(received, float), step, source)


def is_simple_csv(path) -> bool:
    """True for the one-meter CSV above: its header starts with ``timestamp`` (then ``delivered_kwh``...)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline(1 << 20).strip().lower().replace(" ", "")
    except OSError:
        return False
    return header.split(",")[0] == "timestamp" or "delivered_kwh" in header.split(",")


_ZERO = re.compile(r"duration 0 s is not a positive length")
_RAW_START = re.compile(r"start=(-?\d+)")


def read_meter_reads(path, meter: str | None = None, timezone: str | None = None) -> Reads:
    """One meter's reads from any interval file: the CSV above, or any AMI format the readers know
    (Green Button XML/CSV, MDM CSV/Parquet, CMEP), unchecked: :mod:`workbench.billing.repair` checks them.

    ``timezone``: the zone of a format whose times carry no UTC offset (CMEP, Green Button CSV, an MDM export
    of local times); such a file without it is an error saying to pass ``--timezone``.

    A file with several meters needs ``meter``. Records the reader rejected are kept: zero-length records
    (a repair drops them) and the others (``unreadable``: they stop the bill, naming their rows).
    """
    if is_simple_csv(path):
        return read_csv_reads(path)
    file = Path(path)
    if not file.exists():
        raise IntervalDataError(f"{file}: interval file not found")
    result = read_file(file, timezone=timezone)
    table = result.table.to_pandas()
    table["meter"] = table["meter"].astype(str)
    rejects = result.rejects.to_pandas() if result.rejects.num_rows else pd.DataFrame(
        columns=["row", "meter", "reason", "raw"])
    meters = sorted(set(table["meter"].unique()) | {m for m in rejects["meter"].astype(str) if m})
    if meter is None and len(meters) > 1:
        raise IntervalDataError(f"{file}: holds {len(meters)} meters ({', '.join(meters[:5])}"
                                f"{', ...' if len(meters) > 5 else ''}); pass --meter to pick one")
    if meter is not None:
        if meter not in meters:
            raise IntervalDataError(f"{file}: meter {meter!r} is not in the file (meters: {', '.join(meters[:10])})")
        table = table[table["meter"] == meter]
        rejects = rejects[rejects["meter"].astype(str).isin([meter, ""])]
    if table.empty and rejects.empty:
        raise IntervalDataError(f"{file}: no interval reads")
    zero, unreadable = [], []
    leading = rejects["reason"].astype(str).str.startswith("leading (received)")
    rejects = rejects[~leading]
    for rec in rejects.itertuples():
        if _ZERO.search(str(rec.reason)):
            found = _RAW_START.search(str(rec.raw))
            at = np.datetime64(int(found.group(1)), "s") if found else None
            zero.append((int(rec.row), at, str(rec.raw)))
        else:
            unreadable.append((int(rec.row), str(rec.reason)))
    start = table["start"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    channel = table["channel"].astype(str).to_numpy()
    kvar = channel == "reactive"
    reactive_start, reactive_kvarh = (start[kvar], table["kwh"].to_numpy(float)[kvar]) if kvar.any() else (None, None)
    table, start = table[~kvar], start[~kvar]
    received = (table["channel"].astype(str) == "received").to_numpy()
    up = result.metadata.get("usage_points", {}) if isinstance(result.metadata, dict) else {}
    used = meter or (meters[0] if meters else None)
    local = (up.get(used) or {}).get("local_time_parameters") or None
    if local is None and isinstance(result.metadata, dict) and len(result.metadata.get("local_time_parameters") or {}) == 1:
        local = next(iter(result.metadata["local_time_parameters"].values()))
    return Reads(start=start, seconds=table["seconds"].to_numpy(np.int64), received=received,
                 kwh=table["kwh"].to_numpy(float), quality=table["quality"].to_numpy(np.uint8),
                 row=table["row"].to_numpy(np.int64), source=str(file), zero_length=zero, unreadable=unreadable,
                 local_time=local, has_received=bool(received.any()), reactive_start=reactive_start,
                 reactive_kvarh=reactive_kvarh, leading_kvarh=int(leading.sum()))
