"""MDM long-format exports: the vectorized per-batch conversion of raw columns to READ_SCHEMA.

:class:`_Converter` turns one Arrow batch of an MDM export (CSV or Parquet, as read by ``mdm.py``) into the
common schema with pyarrow/numpy (no Python per row): meter ids, channel and unit codes, values, interval
times in UTC (with the export's time zone for times without offset), interval lengths (given or inferred),
quality flags; rows that fail a check are counted as rejects with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.ami.readers._result import READ_SCHEMA, Tally, dict_const, leading_reactive
from workbench.ami.readers.mdm_columns import (
    CHANNEL_NAMES,
    ESTIMATED_CODES,
    REACTIVE_FACTORS,
    UNIT_FACTORS,
    _norm,
)
from workbench.errors import IntervalDataError

_NUMBER = r"(?i)^\s*[-+]?((\d+\.?\d*|\.\d+)(e[-+]?\d+)?|nan|inf|infinity)\s*$"
_HAS_OFFSET = r"(Z|z|[+-]\d\d:?\d\d)\s*$"


def _elementwise(func, arr: np.ndarray) -> np.ndarray:
    """``func(arr)``, computed once when ``arr`` is one value broadcast over the batch."""
    if arr.ndim == 1 and arr.strides == (0,) and len(arr):
        return np.broadcast_to(func(arr[:1])[0], arr.shape)
    return func(arr)


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
        if unit is not None and _norm(unit) not in UNIT_FACTORS and _norm(unit) not in REACTIVE_FACTORS:
            raise IntervalDataError(f"{path}: unit={unit!r} is not energy: use kWh, Wh or MWh (or kVARh)")
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
                "was given: say the zone the export was written in (--timezone America/Los_Angeles of workbench ingest or bill, "
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
            reactive = self._lookup(unit_raw, lambda v: v is not None and _norm(str(v)) in REACTIVE_FACTORS, bool,
                                    False)
        else:
            reactive = np.broadcast_to(_norm(self.unit) in REACTIVE_FACTORS, n)
            factor = np.full(n, {**UNIT_FACTORS, **REACTIVE_FACTORS}[_norm(self.unit)])
        if reactive.any():
            # kVARh reads: the 'reactive' channel (2) when delivered (lagging); leading (received) kVARh: -2
            rfactor = np.full(n, np.nan) if "unit" not in cols else self._lookup(
                unit_raw, lambda v: REACTIVE_FACTORS.get(_norm(str(v)), np.nan) if v is not None else np.nan,
                np.float64, np.nan)
            factor = np.where(reactive, rfactor if "unit" in cols else factor, factor)
            ch_code = np.where(reactive, np.where(ch_code == 0, 2, np.where(ch_code == 1, -2, ch_code)), ch_code)

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
            self._reject(batch, rows, bad, reasons, ch_code)
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
            pa.array(ch_code, pa.int32()), pa.array(["delivered", "received", "reactive"])
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

    def _reject(self, batch, rows, bad, reasons, ch_code_all=None):
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
            elif code == 5 and ch_code_all is not None and np.broadcast_to(ch_code_all, bad.shape)[idx[j]] == -2:
                msg = leading_reactive()
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
