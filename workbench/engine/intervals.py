"""One customer's interval file: the CSV that ``workbench bill --intervals`` reads.

Columns: ``timestamp`` (ISO 8601 interval start with an offset or ``Z``), ``delivered_kwh`` and optionally
``received_kwh`` [kWh per interval]. Every problem is reported with the file, the row (1 = header) and
what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from workbench.ami.readers import read_file
from workbench.calendar.timestamps import parse_timestamps
from workbench.errors import IntervalDataError

__all__ = ["IntervalSeries", "check_series", "parse_timestamps", "read_interval_csv", "read_meter_file"]



@dataclass
class IntervalSeries:
    """A uniform series of interval reads for one meter."""

    utc: np.ndarray  # datetime64[m], interval starts
    offsets_minutes: np.ndarray  # int64, each timestamp's own UTC offset as written
    delivered_kwh: np.ndarray  # float64
    received_kwh: np.ndarray  # float64
    step_minutes: int
    source: str = ""


def read_interval_csv(path) -> IntervalSeries:
    """Read and check a one-meter interval CSV."""
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
    return check_series(utc, offsets, delivered, received, str(file))


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
    return IntervalSeries(utc, offsets, np.asarray(delivered, float), np.asarray(received, float), step, source)


def is_simple_csv(path) -> bool:
    """True for the one-meter CSV above: its header starts with ``timestamp`` (then ``delivered_kwh``...)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline().strip().lower().replace(" ", "")
    except OSError:
        return False
    return header.split(",")[0] == "timestamp" or "delivered_kwh" in header.split(",")


def read_meter_file(path, meter: str | None = None) -> IntervalSeries:
    """One meter's series from any interval file: the CSV above, or any AMI format the readers know
    (Green Button XML/CSV, MDM CSV/Parquet, CMEP): delivered and received channels by interval start.

    A file with several meters needs ``meter``; a file with rejected records is refused (bill from the cube
    after ``workbench ingest`` to keep the good ones), so a bill never silently misses reads.
    """
    if is_simple_csv(path):
        return read_interval_csv(path)
    file = Path(path)
    if not file.exists():
        raise IntervalDataError(f"{file}: interval file not found")
    result = read_file(file)
    if result.rejects.num_rows:
        first = result.rejects.slice(0, 1).to_pylist()[0]
        raise IntervalDataError(
            f"{file}: {result.rejects.num_rows} record(s) could not be read (first: row {first['row']}: "
            f"{first['reason']}); fix the file, or ingest it (workbench ingest) to bill the rest")
    table = result.table.to_pandas()
    table["meter"] = table["meter"].astype(str)
    meters = sorted(table["meter"].unique())
    if meter is None and len(meters) > 1:
        raise IntervalDataError(f"{file}: holds {len(meters)} meters ({', '.join(meters[:5])}"
                                f"{', ...' if len(meters) > 5 else ''}); pass --meter to pick one")
    if meter is not None:
        if meter not in meters:
            raise IntervalDataError(f"{file}: meter {meter!r} is not in the file (meters: {', '.join(meters[:10])})")
        table = table[table["meter"] == meter]
    if table.empty:
        raise IntervalDataError(f"{file}: no interval reads")
    table["channel"] = table["channel"].astype(str)
    wide = table.pivot_table(index="start", columns="channel", values="kwh", aggfunc="sum").sort_index()
    utc = wide.index.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[m]")
    delivered = wide["delivered"].to_numpy(float) if "delivered" in wide else np.zeros(len(wide))
    received = wide["received"].fillna(0.0).to_numpy(float) if "received" in wide else np.zeros(len(wide))
    if np.isnan(delivered).any():
        at = utc[int(np.argmax(np.isnan(delivered)))]
        raise IntervalDataError(f"{file}: interval {at}Z has a received read but no delivered read")
    return check_series(utc, np.zeros(len(utc), dtype=np.int64), delivered, received, str(file))
