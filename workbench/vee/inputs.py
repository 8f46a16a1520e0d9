"""Checks on reads before they reach the cube (duplicates, interval length) and the register-read sum check.

The cube holds one value per (meter, time), so duplicates and reads of the wrong length can only be seen in
the reads themselves: the ingest calls :func:`classify_duplicates` / :func:`input_exceptions` on each batch
and reports the counts; :func:`register_check` compares interval sums with register (dial) reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.vee.config import VeeConfig, load_config
from workbench.vee.rules import RULES, VeeError
from workbench.vee.tables import EXCEPTIONS_SCHEMA

UNIQUE, IDENTICAL, CONFLICTING = 0, 1, 2
DUPLICATE_KINDS = ("unique", "identical_duplicate", "conflicting_duplicate")


def _codes(values) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.DictionaryArray):
        return np.asarray(values.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    if isinstance(values, pa.Array):
        values = values.to_numpy(zero_copy_only=False)
    codes, _ = pd.factorize(np.asarray(values), use_na_sentinel=False)
    return codes.astype(np.int64)


def _as_float(values) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)


def _as_time(values) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = pd.Series(values.to_pandas())
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.to_numpy().astype("datetime64[ns]").astype(np.int64)


def classify_duplicates(meter, time, value, *, channel=None, tolerance_kwh: float = 0.0) -> np.ndarray:
    """Classify each read of a batch as unique, identical duplicate or conflicting duplicate.

    Reads are keyed by (meter, channel, time). The first read of a key (in batch order) is ``UNIQUE``; each
    later read of the same key is ``IDENTICAL`` when its value is within ``tolerance_kwh`` of that first read's
    (NaN matches NaN), else ``CONFLICTING``.

    Parameters
    ----------
    meter, time, value : sequences of equal length (numpy, pandas or pyarrow; time tz-aware or naive UTC)
    channel : optional sequence (e.g. delivered / received)

    Returns
    -------
    (N,) uint8 array of UNIQUE (0), IDENTICAL (1), CONFLICTING (2)
    """
    m = _codes(meter)
    t = _as_time(time)
    v = _as_float(value)
    n = len(m)
    if not (len(t) == len(v) == n) or (channel is not None and len(channel) != n):
        raise VeeError(f"classify_duplicates: meter, time, value (and channel) must have the same length, got "
                       f"{n}, {len(t)}, {len(v)}")
    c = _codes(channel) if channel is not None else np.zeros(n, np.int64)
    kind = np.zeros(n, np.uint8)
    if n < 2:
        return kind
    order = np.lexsort((np.arange(n), t, c, m))  # stable: batch order within a key
    ms, cs, ts = m[order], c[order], t[order]
    same_key = (ms[1:] == ms[:-1]) & (cs[1:] == cs[:-1]) & (ts[1:] == ts[:-1])
    if not same_key.any():
        return kind
    # index (in sorted order) of the first read of each key
    new_key = np.r_[True, ~same_key]
    first = np.maximum.accumulate(np.where(new_key, np.arange(n), 0))
    vs = v[order]
    vf = vs[first]
    equal = (np.abs(vs - vf) <= tolerance_kwh) | (np.isnan(vs) & np.isnan(vf))
    sorted_kind = np.where(new_key, UNIQUE, np.where(equal, IDENTICAL, CONFLICTING)).astype(np.uint8)
    kind[order] = sorted_kind
    return kind


def wrong_interval_length(seconds, step_minutes: int, tolerance_seconds: int = 0) -> np.ndarray:
    """(N,) bool: reads whose interval length [s] differs from the cube's step by more than the tolerance."""
    s = _as_float(seconds)
    return ~(np.abs(s - step_minutes * 60) <= tolerance_seconds)


def input_exceptions(reads, step_minutes: int, timezone: str, config: VeeConfig | None = None):
    """Classify a batch of reads and summarise it as exceptions per meter, rule and local day.

    ``reads``: a pyarrow Table / RecordBatch or DataFrame with columns ``meter``, ``start`` (interval start),
    ``kwh`` and optionally ``channel`` and ``seconds`` (the readers' long format, docs/readers.md).

    Returns ``(kind, wrong_length, exceptions)``: the :func:`classify_duplicates` codes, the
    :func:`wrong_interval_length` mask, and a table in the exceptions layout (DUPLICATE_IDENTICAL,
    DUPLICATE_CONFLICT, INTERVAL_LENGTH).
    """
    config = config or load_config()
    if isinstance(reads, pa.RecordBatch):
        reads = pa.Table.from_batches([reads])
    cols = reads.column_names if isinstance(reads, pa.Table) else list(reads.columns)
    for need in ("meter", "start", "kwh"):
        if need not in cols:
            raise VeeError(f"input_exceptions: the reads have no '{need}' column (columns: {cols})")

    def col(name):
        x = reads.column(name) if isinstance(reads, pa.Table) else reads[name]
        return x

    kind = classify_duplicates(col("meter"), col("start"), col("kwh"),
                               channel=col("channel") if "channel" in cols else None,
                               tolerance_kwh=config.validation.duplicates.tolerance_kwh)
    wrong = (wrong_interval_length(col("seconds"), step_minutes, config.validation.interval_length.tolerance_seconds)
             if "seconds" in cols else np.zeros(len(kind), bool))
    meter = col("meter")
    meter = (meter.to_pandas() if isinstance(meter, pa.ChunkedArray | pa.Array) else pd.Series(meter)).astype(str)
    t = _as_time(col("start")).astype("datetime64[ns]")
    day = pd.DatetimeIndex(t).tz_localize("UTC").tz_convert(timezone).tz_localize(None).normalize()
    frame = pd.DataFrame({"meter": meter.to_numpy(), "day": day.date})
    parts = []
    for rule, mask, text in (("DUPLICATE_IDENTICAL", kind == IDENTICAL, " repeated read(s) with the same value"),
                             ("DUPLICATE_CONFLICT", kind == CONFLICTING,
                              " read(s) of an interval already read with a different value"),
                             ("INTERVAL_LENGTH", wrong, f" read(s) whose interval is not {step_minutes} minutes")):
        if mask.any():
            g = frame[mask].groupby(["meter", "day"], sort=True).size().reset_index(name="count")
            g["rule"] = rule
            g["detail"] = g["count"].astype(str) + text
            parts.append(g)
    if not parts:
        return kind, wrong, EXCEPTIONS_SCHEMA.empty_table()
    table = pd.concat(parts, ignore_index=True)[["meter", "rule", "day", "count", "detail"]]
    return kind, wrong, pa.Table.from_pandas(table, schema=EXCEPTIONS_SCHEMA, preserve_index=False)


# ---------------------------------------------------------------------------------------------------------
# register reads


def _reads_frame(register_reads) -> pd.DataFrame:
    frame = register_reads.to_pandas() if isinstance(register_reads, pa.Table) else pd.DataFrame(register_reads)
    need = ("meter", "start", "end", "start_kwh", "end_kwh")
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise VeeError(f"register reads: missing column(s) {missing}; expected {list(need)} (register values "
                       "in kWh with the meter multiplier applied; start/end are the read times)")
    return frame


def register_check(ds, register_reads, config: VeeConfig | None = None, *, flags=None, day_counts=None,
                   calendar=None) -> pa.Table:
    """Compare, per register read pair, the delivered interval sum with the register's advance.

    ``register_reads``: DataFrame / pyarrow table with columns ``meter``, ``start``, ``end`` (read times:
    tz-aware, or naive local time of the utility; intervals starting in [start, end) are summed),
    ``start_kwh``, ``end_kwh`` (register values [kWh], multiplier applied). A pair fails when
    ``|sum - (end_kwh - start_kwh)| > max(tolerance_kwh, tolerance_share x (end_kwh - start_kwh))``.

    Returns exceptions (rule REGISTER_MISMATCH, day = local date of the end read). When ``flags`` (M, T) is
    given, REGISTER_MISMATCH is set on the intervals of each failing pair (and counted in ``day_counts``).
    A read pair for a meter not in ``ds`` or outside its time range raises :class:`VeeError`.
    """
    config = config or load_config()
    rule = config.validation.register_reads
    tz = ds.attrs["timezone"]
    frame = _reads_frame(register_reads)
    meters = {m: i for i, m in enumerate(np.asarray(ds["meter"].values).astype(str))}
    time = np.asarray(ds["time"].values).astype("datetime64[ns]")
    step = np.timedelta64(int(ds.attrs.get("step_minutes", 15)), "m")
    delivered = np.asarray(ds["delivered_kwh"].values)
    bit = np.uint32(1 << RULES["REGISTER_MISMATCH"][0])
    rows = []
    for n, rec in enumerate(frame.itertuples(index=False), start=1):
        meter = str(rec.meter)
        if meter not in meters:
            raise VeeError(f"register reads row {n}: meter {meter} is not in the cube")
        bounds = []
        for what in ("start", "end"):
            stamp = pd.Timestamp(getattr(rec, what))
            if stamp.tzinfo is None:
                stamp = stamp.tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
            bounds.append(np.datetime64(stamp.tz_convert("UTC").tz_localize(None).to_datetime64(), "ns"))
        lo, hi = (int(np.searchsorted(time, b, "left")) for b in bounds)
        if bounds[0] < time[0] or bounds[1] > time[-1] + step or hi <= lo:
            raise VeeError(f"register reads row {n}: meter {meter}: read period {rec.start} to {rec.end} is not "
                           f"inside the interval data ({time[0]} to {time[-1] + step} UTC)")
        i = meters[meter]
        total = float(np.nansum(delivered[i, lo:hi], dtype=np.float64))
        advance = float(rec.end_kwh) - float(rec.start_kwh)
        limit = max(rule.tolerance_kwh, rule.tolerance_share * abs(advance))
        if abs(total - advance) > limit:
            day = pd.Timestamp(bounds[1]).tz_localize("UTC").tz_convert(tz).date()
            rows.append({"meter": meter, "rule": "REGISTER_MISMATCH", "day": day, "count": hi - lo,
                         "detail": f"interval sum {total:,.3f} kWh vs register advance {advance:,.3f} kWh "
                                   f"({rec.start_kwh} to {rec.end_kwh}) from {rec.start} to {rec.end}: "
                                   f"differs by {total - advance:+,.3f} kWh (tolerance {limit:,.3f})"})
            if flags is not None:
                newly = (flags[i, lo:hi] & bit) == 0
                flags[i, lo:hi] |= bit
                if day_counts is not None and calendar is not None:
                    np.add.at(day_counts[RULES["REGISTER_MISMATCH"][0], i], calendar.day_of[lo:hi][newly], 1)
    if not rows:
        return EXCEPTIONS_SCHEMA.empty_table()
    return pa.Table.from_pandas(pd.DataFrame(rows), schema=EXCEPTIONS_SCHEMA, preserve_index=False)
