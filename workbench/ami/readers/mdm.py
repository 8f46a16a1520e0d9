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
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.ami.readers._result import (
    DEFAULT_BATCH_ROWS,
    READ_SCHEMA,
    ReadStream,
    Tally,
    collect,
    dict_const,
)
from workbench.ami.readers._text import MAX_LINE_CHARS, header_line, long_line_error, sniff_delimiter
from workbench.errors import IntervalDataError

_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
UNIT_FACTORS = {"kwh": 1.0, "wh": 1e-3, "mwh": 1e3}
CHANNEL_NAMES = {
    "delivered": "delivered",
    "del": "delivered",
    "forward": "delivered",
    "fwd": "delivered",
    "import": "delivered",
    "imported": "delivered",
    "consumption": "delivered",
    "in": "delivered",
    "kwh_del": "delivered",
    "kwhdel": "delivered",
    "d": "delivered",
    "1": "delivered",
    "received": "received",
    "rec": "received",
    "rcvd": "received",
    "reverse": "received",
    "rev": "received",
    "export": "received",
    "exported": "received",
    "generation": "received",
    "out": "received",
    "kwh_rec": "received",
    "kwhrec": "received",
    "r": "received",
    "19": "received",
}
ESTIMATED_CODES = {"e", "est", "estimated", "s", "substituted", "8", "9", "1", "interpolated", "edited"}

_ALIASES = {
    "meter": (
        "meter",
        "meterid",
        "meternumber",
        "meterno",
        "servicepoint",
        "servicepointid",
        "sdpid",
        "deviceid",
        "usagepoint",
    ),
    "start": ("intervalstart", "start", "starttime", "startdatetime", "intervalstarttime", "periodstart"),
    "end": ("intervalend", "end", "endtime", "enddatetime", "intervalendtime", "periodend"),
    "timestamp": ("timestamp", "readtime", "datetime", "time", "readingtime", "intervaltime"),
    "channel": ("channel", "direction", "flowdirection", "channelname"),
    "value": ("value", "reading", "usage", "consumption", "energy", "kwh", "readvalue", "quantity"),
    "unit": ("unit", "units", "uom", "unitofmeasure"),
    "quality": ("quality", "qualitycode", "flag", "status", "readquality"),
    "seconds": ("intervalseconds", "seconds", "durationseconds", "duration", "intervallength"),
    "minutes": ("intervalminutes", "minutes", "durationminutes"),
}

_NUMBER = r"(?i)^\s*[-+]?((\d+\.?\d*|\.\d+)(e[-+]?\d+)?|nan|inf|infinity)\s*$"
_HAS_OFFSET = r"(Z|z|[+-]\d\d:?\d\d)\s*$"


def _elementwise(func, arr: np.ndarray) -> np.ndarray:
    """``func(arr)``, computed once when ``arr`` is one value broadcast over the batch."""
    if arr.ndim == 1 and arr.strides == (0,) and len(arr):
        return np.broadcast_to(func(arr[:1])[0], arr.shape)
    return func(arr)


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", name.strip().lower())


def _map_columns(path, names: list[str], columns: dict | None, timestamp: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    by_norm = {_norm(n): n for n in names}
    for role, aliases in _ALIASES.items():
        for a in aliases:
            if a in by_norm and by_norm[a] not in found.values():
                found[role] = by_norm[a]
                break
    for role, name in (columns or {}).items():
        if name not in names:
            raise IntervalDataError(
                f"{path}: column {name!r} (given for {role}) is not in the file; columns: {names}"
            )
        found[role] = name
    if "meter" not in found or "value" not in found:
        missing = [r for r in ("meter", "value") if r not in found]
        raise IntervalDataError(
            f"{path}: no {' or '.join(missing)} column found among {names}: name the columns meter_id and value "
            f"(in Python: columns={{'{missing[0]}': '<column>'}})."
        )
    time_roles = [r for r in ("start", "end", "timestamp") if r in found]
    if not time_roles:
        raise IntervalDataError(
            f"{path}: no interval time column (interval_start / interval_end / timestamp) in {names}"
        )
    if timestamp not in (None, "start", "end"):
        raise IntervalDataError(f"{path}: timestamp={timestamp!r}: say 'start' or 'end'")
    role = time_roles[0]
    if timestamp is None and role == "timestamp":
        raise IntervalDataError(
            f"{path}: column {found['timestamp']!r} does not say whether it is the interval start or end: "
            "name it interval_start or interval_end (in Python: timestamp='start' or timestamp='end')"
        )
    found["time"] = found[role]
    found["time_is"] = timestamp or role
    return found


class _Converter:
    """Per-batch vectorized conversion to READ_SCHEMA, shared by the CSV and Parquet paths."""

    def __init__(self, path: Path, tally: Tally, cols: dict, *, unit, interval_seconds, timezone, first_row):
        self.path, self.tally, self.cols = path, tally, cols
        self.unit, self.timezone = unit, timezone
        self.seconds = interval_seconds
        self.next_row = first_row
        self.source = str(path)
        if "unit" not in cols and unit is None:
            raise IntervalDataError(
                f"{path}: no unit column: add one (kWh, Wh or MWh), or give the meter registry a unit column "
                "(workbench ingest); in Python: unit='kWh'")
        if unit is not None and _norm(unit) not in UNIT_FACTORS:
            raise IntervalDataError(f"{path}: unit={unit!r} is not energy: use kWh, Wh or MWh")
        tally.metadata.update(
            {"columns": {k: v for k, v in cols.items() if k != "time_is"}, "timestamp": cols["time_is"]}
        )

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _dict(arr):
        if not pa.types.is_dictionary(arr.type):
            arr = pc.dictionary_encode(arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr)
        return arr

    @staticmethod
    def _lookup(darr, mapper, dtype, missing):
        """Map a dictionary array's distinct values through ``mapper`` and take by index (nulls -> missing)."""
        labels = darr.dictionary.to_pylist()
        table = np.array([mapper(v) for v in labels] + [missing], dtype=dtype)
        if darr.null_count == 0 and len(labels) and (table[:-1] == table[0]).all():
            return np.broadcast_to(table[0], len(darr))  # one value for every row: no gather
        indices = darr.indices
        if indices.null_count:
            indices = indices.fill_null(len(labels))
        return table[indices.to_numpy(zero_copy_only=False)]

    def _values(self, arr, bad_value):
        if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type):
            v = arr.cast(pa.float64())
        else:
            s = arr.cast(pa.string())
            try:
                v = pc.cast(pc.utf8_trim_whitespace(s), pa.float64())
            except pa.ArrowInvalid:
                ok = pc.fill_null(pc.match_substring_regex(s, _NUMBER), False)
                v = pc.cast(
                    pc.utf8_trim_whitespace(pc.if_else(ok, s, pa.scalar(None, pa.string()))), pa.float64()
                )
        out = v.to_numpy(zero_copy_only=False)
        if out.dtype != np.float64:
            out = out.astype(np.float64)
        if v.null_count:  # missing or not a number; NaN and inf are numbers the boundary screen rejects as such
            bad_value |= v.is_null().to_numpy(zero_copy_only=False)
        return out

    def _times(self, arr, bad_time, first_row):
        """Interval times as int64 µs since the epoch (UTC)."""
        typ = arr.type
        if pa.types.is_timestamp(typ):
            if typ.tz is None:
                arr = self._localize(arr, bad_time, first_row)
            us = (
                arr.cast(pa.timestamp("us", tz="UTC"))
                if arr.type.unit != "us" or arr.type.tz != "UTC"
                else arr
            )
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ):
            s = arr.cast(pa.string())
            s = pc.utf8_trim_whitespace(s)
            aware = pc.fill_null(pc.match_substring_regex(s, _HAS_OFFSET), False)
            n_aware = pc.sum(aware).as_py() or 0
            n_valid = len(s) - s.null_count
            if n_aware == n_valid:
                us = self._cast_each(s, pa.timestamp("us", tz="UTC"), bad_time)
            else:
                naive = self._cast_each(
                    pc.if_else(aware, pa.scalar(None, pa.string()), s),
                    pa.timestamp("us"),
                    np.zeros(len(s), bool),
                )
                local = self._localize(naive, bad_time, first_row, strings=s, aware=aware)
                utc = self._cast_each(
                    pc.if_else(aware, s, pa.scalar(None, pa.string())),
                    pa.timestamp("us", tz="UTC"),
                    np.zeros(len(s), bool),
                )
                us = pc.if_else(aware, utc, local)
        else:
            raise IntervalDataError(
                f"{self.path}: column {self.cols['time']!r} has type {typ}, not a timestamp"
            )
        out = us.cast(pa.int64()).to_numpy(zero_copy_only=False)
        nulls = us.is_null().to_numpy(zero_copy_only=False)
        bad_time |= nulls
        return np.where(nulls, 0, out).astype(np.int64)

    @staticmethod
    def _cast_each(s, typ, bad):
        try:
            return s.cast(typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out = []
            for i, v in enumerate(s.to_pylist()):  # rare: only when some rows are not timestamps
                try:
                    out.append(pa.array([v], pa.string()).cast(typ)[0].as_py() if v is not None else None)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    out.append(None)
                    bad[i] = True
            return pa.array(out, typ)

    def _localize(self, naive, bad_time, first_row, strings=None, aware=None):
        valid = naive.is_null().to_numpy(zero_copy_only=False) == 0
        if self.timezone is None:
            first = int(np.flatnonzero(valid)[0]) if valid.any() else 0
            raise IntervalDataError(
                f"{self.path}: row {first_row + first}: time {naive[first]} has no UTC offset and no time zone "
                "was given: say the zone the export was written in (workbench ingest --timezone America/Los_Angeles, "
                "or UTC; in Python: timezone='America/Los_Angeles')"
            )
        if self.timezone.upper() == "UTC":
            return naive.cast(pa.timestamp("us", tz="UTC"))
        naive = naive.cast(pa.timestamp("us"))
        early = pc.assume_timezone(naive, self.timezone, ambiguous="earliest", nonexistent="earliest")
        late = pc.assume_timezone(naive, self.timezone, ambiguous="latest", nonexistent="latest")
        unclear = pc.fill_null(pc.not_equal(early, late), False).to_numpy(zero_copy_only=False)
        self._ambiguous = unclear
        bad_time |= unclear
        return early.cast(pa.timestamp("us", tz="UTC"))

    # -- one batch ---------------------------------------------------------------------------------
    def convert(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        n = batch.num_rows
        if n == 0:
            return None
        cols, tally = self.cols, self.tally
        rows = np.arange(self.next_row, self.next_row + n, dtype=np.int64)
        self.next_row += n
        tally.read += n
        self._ambiguous = None

        meter = self._dict(batch.column(cols["meter"]))
        meter_bad = self._lookup(meter, lambda v: v is None or not str(v).strip(), bool, True)

        if "channel" in cols:
            channel_raw = self._dict(batch.column(cols["channel"]))
            labels = ["delivered", "received"]
            ch_code = self._lookup(
                channel_raw,
                lambda v: (
                    labels.index(CHANNEL_NAMES[_norm(str(v))])
                    if v is not None and _norm(str(v)) in CHANNEL_NAMES
                    else -1
                ),
                np.int32,
                -1,
            )
        else:
            ch_code = np.zeros(n, dtype=np.int32)

        if "unit" in cols:
            unit_raw = self._dict(batch.column(cols["unit"]))
            factor = self._lookup(
                unit_raw,
                lambda v: UNIT_FACTORS.get(_norm(str(v)), np.nan) if v is not None else np.nan,
                np.float64,
                np.nan,
            )
        else:
            factor = np.full(n, UNIT_FACTORS[_norm(self.unit)])

        bad_value = np.zeros(n, dtype=bool)
        values = self._values(batch.column(cols["value"]), bad_value)
        bad_time = np.zeros(n, dtype=bool)
        times = self._times(batch.column(cols["time"]), bad_time, rows[0])

        if "seconds" in cols or "minutes" in cols:
            scale = 1 if "seconds" in cols else 60
            secs = (
                self._values(batch.column(cols.get("seconds") or cols["minutes"]), np.zeros(n, bool)) * scale
            )
            secs = np.where(np.isfinite(secs), secs, -1).astype(np.int64)
        else:
            if self.seconds is None:
                self.seconds = self._infer_seconds(meter, ch_code, times, ~(bad_time | meter_bad))
            secs = np.broadcast_to(np.int64(self.seconds), n)
        bad_secs = _elementwise(lambda x: (x <= 0) | (x > 86400 * 31), secs)

        # first failing check wins; order = order of _MESSAGES
        checks = [
            meter_bad,
            bad_time,
            bad_value,
            _elementwise(np.isnan, factor),
            _elementwise(lambda c: c < 0, ch_code),
            bad_secs,
        ]
        bad = np.zeros(n, dtype=bool)
        for check in checks:
            if check.ndim == 0 or check.strides == (0,):
                if check.flat[0]:
                    bad[:] = True
            else:
                bad |= check
        if bad.any():
            reasons = np.zeros(n, dtype=np.int8)
            for code in range(len(checks), 0, -1):
                reasons[np.broadcast_to(checks[code - 1], n)] = code
            if self._ambiguous is not None:
                reasons[(reasons == 2) & self._ambiguous] = 7
        if cols["time_is"] == "end":
            times = times - secs * 1_000_000

        quality = np.zeros(n, dtype=np.uint8)
        sq = None
        if "quality" in cols:
            qd = self._dict(batch.column(cols["quality"]))
            quality = self._lookup(
                qd, lambda v: v is not None and _norm(str(v)) in ESTIMATED_CODES, np.uint8, 0
            )
            sq = (
                pc.fill_null(qd.cast(pa.string()), "").dictionary_encode()
                if qd.null_count
                else qd.cast(pa.dictionary(pa.int32(), pa.string()))
            )

        if bad.any():
            self._reject(batch, rows, bad, reasons)
            keep = pa.array(~bad)
            sel = np.flatnonzero(~bad)
            meter = meter.filter(keep)
            sq = sq.filter(keep) if sq is not None else None
            ch_code, times, secs, values, factor, quality, rows = (
                a[sel] for a in (ch_code, times, secs, values, factor, quality, rows)
            )
        m = len(rows)
        if m == 0:
            return None
        channel = pa.DictionaryArray.from_arrays(
            pa.array(ch_code, pa.int32()), pa.array(["delivered", "received"])
        )
        if meter.type != READ_SCHEMA.field("meter").type:
            meter = meter.cast(READ_SCHEMA.field("meter").type)
        return pa.RecordBatch.from_arrays(
            [
                meter,
                channel,
                pa.array(times, pa.int64()).view(pa.timestamp("us", tz="UTC")),
                pa.array(secs.astype(np.int32)),
                pa.array(values * factor if factor.strides != (0,) or factor[0] != 1.0 else values),
                pa.array(quality),
                sq if sq is not None else dict_const("", m),
                dict_const(self.source, m),
                pa.array(rows),
            ],
            schema=READ_SCHEMA,
        )

    _MESSAGES = {
        1: "meter id is empty",
        2: "interval time is missing or not a timestamp",
        3: "value is missing or not a number",
        4: "unit is not energy (kWh, Wh or MWh)",
        5: "channel is neither delivered nor received",
        6: "interval length is not a positive number of seconds",
        7: "local time is ambiguous or does not exist (DST change): export with UTC offsets",
    }

    def _reject(self, batch, rows, bad, reasons):
        idx = np.flatnonzero(bad)
        sub = batch.take(pa.array(idx))
        parts = []
        for name in sub.schema.names:
            col = sub.column(name)
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            parts.append(pc.fill_null(col.cast(pa.string()), ""))
        raw = pc.binary_join_element_wise(*parts, ",") if parts else pa.array([""] * len(idx))
        msgs = []
        unit_col = self.cols.get("unit")
        ch_col = self.cols.get("channel")
        for j, code in enumerate(reasons[idx]):
            msg = self._MESSAGES[int(code)]
            if code == 4 and unit_col:
                msg = f"unit {sub.column(unit_col)[j].as_py()!r} is not energy (kWh, Wh or MWh)"
            elif code == 5 and ch_col:
                msg = f"channel {sub.column(ch_col)[j].as_py()!r} is neither delivered nor received"
            msgs.append(msg)
        meters = sub.column(self.cols["meter"])
        if pa.types.is_dictionary(meters.type):
            meters = meters.cast(meters.type.value_type)
        self.tally.reject_many(rows[idx], meters.cast(pa.string()), msgs, raw)

    def _infer_seconds(self, meter, ch_code, times, ok):
        sel = np.flatnonzero(ok)[:100_000]
        if len(sel) >= 2:
            m = meter.indices.to_numpy(zero_copy_only=False)[sel].astype(np.int64)
            order = np.lexsort((times[sel], ch_code[sel], m))
            t = times[sel][order]
            same = (np.diff(m[order]) == 0) & (np.diff(ch_code[sel][order]) == 0)
            steps = np.diff(t)[same]
            steps = steps[steps > 0]
            if len(steps):
                vals, counts = np.unique(steps, return_counts=True)
                seconds = int(vals[np.argmax(counts)] // 1_000_000)
                if seconds > 0:
                    self.tally.metadata["interval_seconds_inferred"] = seconds
                    return seconds
        raise IntervalDataError(
            f"{self.path}: the interval length cannot be inferred (no meter has two consecutive reads in the "
            "first batch): add an interval_seconds column (in Python: interval_seconds=900)"
        )


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
):
    line = header_line(path)
    delimiter = sniff_delimiter(path, line)
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
            f"as the header, separated by {_DELIMITER_NAMES[delimiter]} like the header."
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
    return ReadStream(path, f"mdm_{kind}", lambda tally: gen(path, tally, **opts))


def read_mdm(path, **kwargs):
    """Read a whole MDM export into a :class:`ReadResult` (see :func:`stream_mdm`)."""
    return collect(stream_mdm(path, **kwargs))


__all__ = ["read_mdm", "stream_mdm", "UNIT_FACTORS", "CHANNEL_NAMES"]
