"""The VEE output tables: edits (the audit trail of every estimated value) and exceptions (per meter-day)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workbench.kernels import vee_codes as k
from workbench.kernels.vee_counts import gather_nonzero
from workbench.vee.config import VeeConfig
from workbench.vee.rules import EDIT_RULE_ORDER, METHOD_NAMES, RULE_CODES, RULES

_DICT = pa.dictionary(pa.int32(), pa.string())

#: one row per value VEE changed: the original is kept beside the estimate
EDITS_SCHEMA = pa.schema([
    ("meter", _DICT),
    ("time", pa.timestamp("us", tz="UTC")),  # interval start [UTC]
    ("channel", _DICT),  # delivered | received
    ("original", pa.float32()),  # the read before VEE [kWh]; null when there was none
    ("value", pa.float32()),  # the estimate [kWh]; NaN when withheld (IMPLAUSIBLE)
    ("method", pa.uint8()),  # vee_method code (1 linear, 2 like-day, 3 flat fill, 5 withheld)
    ("method_name", _DICT),
    ("rule", _DICT),  # the validation rule that failed (MISSING, NEGATIVE, SPIKE, FLATLINE)
])

#: one row per meter, rule and local day (input-level rules use the same layout)
EXCEPTIONS_SCHEMA = pa.schema([
    ("meter", pa.string()),
    ("rule", pa.string()),
    ("day", pa.date32()),  # local date
    ("count", pa.int32()),  # intervals (or reads) that failed the rule that day
    ("detail", pa.string()),
])


def _dict_array(codes: np.ndarray, labels) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)), pa.array(list(labels), pa.string()))


def utc_timestamps(values: np.ndarray) -> pa.Array:
    """Naive-UTC datetime64 values as a pyarrow timestamp[us, tz=UTC] array."""
    return pa.array(np.asarray(values).astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC"))


def edits_table(meters, time, original_d, original_r, out, flags) -> pa.Table:
    """Edits of one run from the kernel outputs ``out`` (new_delivered / new_received method codes)."""
    parts = []
    # only meters with an estimate counted on some day can have edits (saves two passes over (M, T))
    candidates = np.flatnonzero(out["day_counts"][k.N_RULE_BITS:].any(axis=(0, 2))
                                | out["day_counts"][k.IMPLAUSIBLE].any(axis=1))
    rule_bits = [1 << RULES[c][0] for c in EDIT_RULE_ORDER]
    for channel_code, (name, original, value) in enumerate(
        (("new_delivered", original_d, out["delivered"]), ("new_received", original_r, out["received"]))
    ):
        new = out[name]
        m_idx, sub_t = gather_nonzero(new, candidates)
        if not len(m_idx):
            continue
        f = flags[m_idx, sub_t]
        rule = np.full(len(m_idx), len(EDIT_RULE_ORDER), np.int32)
        for j in range(len(EDIT_RULE_ORDER) - 1, -1, -1):
            rule = np.where(f & rule_bits[j], j, rule)
        method = new[m_idx, sub_t]
        orig = original[m_idx, sub_t]
        parts.append(pa.table({
            "meter": _dict_array(m_idx, meters),
            "time": utc_timestamps(time[sub_t]),
            "channel": _dict_array(np.full(len(m_idx), channel_code), ["delivered", "received"]),
            "original": pa.array(orig, pa.float32(), mask=np.isnan(orig)),
            "value": pa.array(value[m_idx, sub_t], pa.float32()),
            "method": pa.array(method, pa.uint8()),
            "method_name": _dict_array(method, [METHOD_NAMES[i] for i in range(k.N_METHODS)]),
            "rule": _dict_array(rule, [*EDIT_RULE_ORDER, "OTHER"]),
        }, schema=EDITS_SCHEMA))
    if not parts:
        return EDITS_SCHEMA.empty_table()
    return pa.concat_tables(parts).unify_dictionaries() if len(parts) > 1 else parts[0]


def _templates(config: VeeConfig) -> dict:
    """Per rule, a function (count, intervals that day, day's kWh, average kWh/day, active note) -> detail."""
    v = config.validation
    hl = v.high_low

    def use(word, ratio):
        return lambda n, n_day, total, ref, note: (
            f"day's use {total:,.1f} kWh in {n_day} intervals, {word} {ratio:g} x the average {ref:,.1f} kWh/day "
            f"of the previous {hl.history_days} days")

    return {
        "MISSING": lambda n, n_day, total, ref, note: f"{n} of {n_day} intervals without a read",
        "NEGATIVE": lambda n, n_day, total, ref, note: f"{n} interval(s) with negative energy",
        "SPIKE": lambda n, n_day, total, ref, note: (
            f"{n} interval(s) above {v.spike.ratio:g} x the day's third-highest interval (and {v.spike.min_kwh:g} kWh)"),
        "HIGH_USE": use("above", hl.high_ratio),
        "LOW_USE": use("below", hl.low_ratio),
        "FLATLINE": lambda n, n_day, total, ref, note: (
            f"{n} interval(s) in runs of identical reads of {v.flatline.min_minutes} minutes or more"),
        "ZERO_USE": lambda n, n_day, total, ref, note: (
            f"nothing delivered or received all day ({n} reads of 0 kWh) on an active meter"),
        "REVERSE_FLOW": lambda n, n_day, total, ref, note: (
            f"{n} interval(s) with energy received from the customer; the meter is on no net-metering program"),
        "INACTIVE": lambda n, n_day, total, ref, note: f"{n} read(s) outside the meter's active dates{note}",
        "NOT_ESTIMATED": lambda n, n_day, total, ref, note: (
            f"{n} interval(s) failed validation and could not be estimated (no valid neighbour, no like day)"),
        "IMPLAUSIBLE": lambda n, n_day, total, ref, note: (
            f"{n} interval(s) above the meter's physical limit (max_kw): withheld, the bill period is held"),
    }


def exceptions_table(meters, cal, day_counts, day_total, day_ref, config: VeeConfig, active_note=None) -> pa.Table:
    """Per meter-day exceptions from the kernel's ``day_counts`` (cols, M, D), sorted by meter, day, rule."""
    meters = np.asarray(meters).astype(str)
    b_idx, m_idx, d_idx = np.nonzero(day_counts[: k.N_RULE_BITS])
    keep = b_idx != RULES["REGISTER_MISMATCH"][0]  # reported per register period (inputs.register_check)
    b_idx, m_idx, d_idx = b_idx[keep], m_idx[keep], d_idx[keep]
    if not len(b_idx):
        return EXCEPTIONS_SCHEMA.empty_table()
    codes = np.array(RULE_CODES)[b_idx]
    order = np.lexsort((codes, d_idx, m_idx))
    b_idx, m_idx, d_idx, codes = b_idx[order], m_idx[order], d_idx[order], codes[order]
    counts = day_counts[b_idx, m_idx, d_idx]
    n_day = cal.day_lengths[d_idx]
    templates = _templates(config)
    notes = active_note if active_note is not None else None
    detail = [templates[RULE_CODES[b]](n, nd, tot, ref, "" if notes is None else notes[m])
              for b, m, n, nd, tot, ref in zip(b_idx.tolist(), m_idx.tolist(), counts.tolist(), n_day.tolist(),
                                               day_total[m_idx, d_idx].tolist(), day_ref[m_idx, d_idx].tolist(),
                                               strict=True)]
    return pa.table({
        "meter": pa.array(meters[m_idx], pa.string()),
        "rule": pa.array(codes, pa.string()),
        "day": pa.array(cal.days[d_idx].astype("datetime64[D]"), pa.date32()),
        "count": pa.array(counts, pa.int32()),
        "detail": pa.array(detail, pa.string()),
    }, schema=EXCEPTIONS_SCHEMA)
