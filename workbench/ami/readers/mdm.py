"""MDM long-format exports (one row per meter × channel × interval) as CSV or Parquet, with pyarrow.

Columns (names matched case-insensitively, spaces/underscores/dashes ignored; override with ``columns=``):

- meter: ``meter``, ``meter_id``, ``meter_number``, ``meterid``, ``service_point``, ``sdp_id``, ``device_id``
- time: ``interval_start``/``start``/``start_time`` (start) or ``interval_end``/``end``/``end_time`` (end) or
  ``timestamp``/``read_time``/``datetime`` (then say ``timestamp="start"|"end"``)
- ``channel`` (delivered | received, or the usual synonyms: forward/reverse, import/export, del/rec, 1/19)
- ``value`` (also ``reading``, ``usage``, ``consumption``, ``energy``, ``kwh``)
- ``unit`` (kWh, Wh, MWh; anything else is rejected) — without a unit column say ``unit="kWh"``
- optional ``quality`` (A/ACTUAL/R/blank = actual; E/EST/ESTIMATED/S/8/9 = estimated)
- optional ``interval_seconds`` / ``interval_minutes`` / ``duration``; else ``interval_seconds=`` or inferred
  from the first batch (the most common step between consecutive reads of one meter and channel)

All work is vectorized with pyarrow/numpy per batch (no Python per row), so memory is bounded by
``batch_rows`` and Parquet reads run at tens of millions of rows per second.

This module reads the file (CSV or Parquet) batch by batch; the column roles and code tables are in
``mdm_columns.py``, the per-batch conversion to the common schema in ``mdm_convert.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.ami.readers._result import (
    DEFAULT_BATCH_ROWS,
    ReadStream,
    Tally,
    collect,
)
from workbench.ami.readers._text import (
    MAX_LINE_CHARS,
    check_delimiter,
    header_line,
    long_line_error,
    sniff_delimiter,
)
from workbench.ami.readers.mdm_columns import CHANNEL_NAMES, UNIT_FACTORS, _map_columns
from workbench.ami.readers.mdm_convert import _Converter
from workbench.errors import IntervalDataError

_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}


def _sniff_kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    return "parquet" if head == b"PAR1" else "csv"


def _parquet_batches(
    path: Path, tally: Tally, *, columns, timestamp, unit, interval_seconds, timezone, batch_rows
):
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise IntervalDataError(f"{path}: not a readable Parquet file: {e}") from None
    names = pf.schema_arrow.names
    cols = _map_columns(path, names, columns, timestamp)
    wanted = [
        cols[r]
        for r in ("meter", "time", "channel", "value", "unit", "quality", "seconds", "minutes")
        if r in cols
    ]
    string_cols = [c for c in (cols.get(r) for r in ("meter", "channel", "unit", "quality")) if c]
    string_cols = [
        c
        for c in string_cols
        if pa.types.is_string(pf.schema_arrow.field(c).type)
        or pa.types.is_large_string(pf.schema_arrow.field(c).type)
    ]
    pf = pq.ParquetFile(path, read_dictionary=string_cols)
    conv = _Converter(
        path, tally, cols, unit=unit, interval_seconds=interval_seconds, timezone=timezone, first_row=1
    )
    try:
        # one row group at a time: iter_batches over the whole file reads ahead and its peak memory grows
        # with the file; per row group the peak is one row group plus one batch
        for group in range(pf.num_row_groups):
            for batch in pf.iter_batches(
                batch_size=batch_rows, row_groups=[group], columns=list(dict.fromkeys(wanted))
            ):
                out = conv.convert(batch)
                if out is not None:
                    yield out
    except (pa.ArrowInvalid, OSError) as e:
        raise IntervalDataError(f"{path}: the Parquet file is damaged: {e}") from None


def _csv_batches(
    path: Path,
    tally: Tally,
    *,
    columns,
    timestamp,
    unit,
    interval_seconds,
    timezone,
    batch_rows,
    delimiter=None,
):
    line = header_line(path)
    delimiter = check_delimiter(delimiter) if delimiter else sniff_delimiter(path, line)
    header = next(csv.reader([line], delimiter=delimiter), None)
    if not header or not any(h.strip() for h in header):
        raise IntervalDataError(f"{path}: the file is empty (no header line)")
    tally.metadata["delimiter"] = delimiter
    cols = _map_columns(path, header, columns, timestamp)
    dict_type = pa.dictionary(pa.int32(), pa.string())
    types = {name: pa.string() for name in header}
    for role in ("meter", "channel", "unit", "quality"):
        if role in cols:
            types[cols[role]] = dict_type
    conv = _Converter(
        path, tally, cols, unit=unit, interval_seconds=interval_seconds, timezone=timezone, first_row=2
    )  # line 1 is the header
    # ~100 bytes per row: a block of batch_rows rows
    block = int(min(max(batch_rows * 64, 1 << 20), 1 << 28))
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=block, encoding="utf8"),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=True,
                null_values=[""],
                include_columns=list(
                    dict.fromkeys(
                        cols[r]
                        for r in (
                            "meter",
                            "time",
                            "channel",
                            "value",
                            "unit",
                            "quality",
                            "seconds",
                            "minutes",
                        )
                        if r in cols
                    )
                ),
            ),
        )
        for batch in reader:
            _check_field_lengths(path, batch, conv.next_row)
            for start in range(0, batch.num_rows, batch_rows):
                out = conv.convert(batch.slice(start, batch_rows))
                if out is not None:
                    yield out
    except pa.ArrowInvalid as e:
        if "straddl" in str(e):
            raise long_line_error(path, conv.next_row) from None
        if "UTF8" in str(e) or "utf8" in str(e).lower():
            raise IntervalDataError(
                f"{path}: near row {conv.next_row}: not UTF-8 text; the file must be saved as UTF-8"
            ) from None
        raise IntervalDataError(
            f"{path}: the CSV cannot be read near row {conv.next_row}: {e}. Every row must have as many fields "
            f"as the header, separated by {_DELIMITER_NAMES.get(delimiter, repr(delimiter))} like the header "
            "(workbench ingest --delimiter names another separator)."
        ) from None


def _check_field_lengths(path, batch: pa.RecordBatch, first_row: int) -> None:
    """Refuse a field longer than any line may be (the CSV reader's blocks hold it; the line cap applies)."""
    for col in batch.columns:
        values = col.dictionary if pa.types.is_dictionary(col.type) else col
        lengths = pc.binary_length(values)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > MAX_LINE_CHARS:
            if pa.types.is_dictionary(col.type):
                bad = int(np.argmax(lengths.to_numpy(zero_copy_only=False)))
                at = int(np.flatnonzero(col.indices.to_numpy(zero_copy_only=False) == bad)[0])
            else:
                at = int(np.argmax(lengths.fill_null(0).to_numpy(zero_copy_only=False)))
            raise long_line_error(path, first_row + at)


def stream_mdm(
    path,
    *,
    kind: str | None = None,
    columns: dict | None = None,
    timestamp: str | None = None,
    unit: str | None = None,
    interval_seconds: int | None = None,
    timezone: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    delimiter: str | None = None,
) -> ReadStream:
    """Stream an MDM long-format export (CSV or Parquet) as batches of interval reads.

    Parameters
    ----------
    path : the export.
    kind : 'csv' or 'parquet' (sniffed from the first bytes when None).
    columns : role -> column name overrides (roles: meter, start, end, timestamp, channel, value, unit,
        quality, seconds, minutes).
    timestamp : 'start' or 'end': what the time column marks (needed when its name does not say).
    unit : unit of every value when the file has no unit column ('kWh', 'Wh', 'MWh').
    interval_seconds : interval length [s] when the file has no length column (else inferred).
    timezone : IANA zone for times written without UTC offset ('UTC' if they are UTC).
    batch_rows : rows per batch [rows].
    delimiter : field separator of a CSV/TSV export (one character, or 'tab'); default: sniffed from the
        header line among ``,`` ``;`` tab ``|``.
    """
    path = Path(path)
    if not path.exists():
        raise IntervalDataError(f"{path}: file not found")
    kind = kind or _sniff_kind(path)
    gen = _parquet_batches if kind == "parquet" else _csv_batches
    opts = dict(
        columns=columns,
        timestamp=timestamp,
        unit=unit,
        interval_seconds=interval_seconds,
        timezone=timezone,
        batch_rows=batch_rows,
    )
    if kind != "parquet":
        opts["delimiter"] = delimiter
    return ReadStream(path, f"mdm_{kind}", lambda tally: gen(path, tally, **opts))


def read_mdm(path, **kwargs):
    """Read a whole MDM export into a :class:`ReadResult` (see :func:`stream_mdm`)."""
    return collect(stream_mdm(path, **kwargs))


__all__ = ["read_mdm", "stream_mdm", "UNIT_FACTORS", "CHANNEL_NAMES"]
