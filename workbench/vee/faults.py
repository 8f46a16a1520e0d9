"""Fault injection for the sample utility, and scoring VEE against the faults it was given.

:func:`inject_faults` puts known faults into a clean cube slice (gaps short and long, spikes, flatlines,
negative reads, reverse flow on a meter with no net-metering program, zero-use days), each inside one local
day of its own meter (no two faults on the same or adjacent days of a meter), and returns the truth table.
:func:`score_faults` says which were caught (every faulted interval carries the expected rule's flag) and
estimated, and how many of the flags VEE raised for those rules were real (precision).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import xarray as xr

from workbench.vee.calendar import vee_calendar
from workbench.vee.config import VeeConfig, load_config
from workbench.vee.rules import RULES, VeeError

#: fault kind -> (rule that must catch it, whether VEE must estimate it under the default actions)
FAULTS = {
    "short_gap": ("MISSING", True),
    "long_gap": ("MISSING", True),
    "spike": ("SPIKE", True),
    "flatline": ("FLATLINE", True),
    "negative": ("NEGATIVE", True),
    "reverse_flow": ("REVERSE_FLOW", False),
    "zero_day": ("ZERO_USE", False),
    "outage": ("MISSING", True),  # two whole days without reads: estimated, and the bill period is held
}
#: faults per meter of each kind relative to ``share`` (outages are rarer)
_RELATIVE = {"outage": 0.2}
TRUTH_COLUMNS = ["meter", "fault", "rule", "day", "days", "start", "intervals", "estimate", "meter_index", "t0"]


def _lengths(kind, rng, per_day, linear_max, flat_len):
    if kind == "short_gap":
        return int(rng.integers(2, max(linear_max, 2) + 1))
    if kind == "long_gap":
        return int(rng.integers(linear_max + 4, max(linear_max + 5, per_day // 2)))
    if kind == "flatline":
        return int(flat_len + rng.integers(0, 16))
    if kind == "reverse_flow":
        return int(rng.integers(4, 17))
    if kind == "zero_day":
        return per_day
    if kind == "outage":
        return 2 * per_day
    return 1


def inject_faults(ds: xr.Dataset, seed: int, *, share: float = 0.05, counts: dict | None = None,
                  config: VeeConfig | None = None) -> tuple[xr.Dataset, pd.DataFrame]:
    """A copy of the clean cube slice ``ds`` with faults injected, and the truth table.

    Parameters
    ----------
    seed : random seed (the same seed and data give the same faults)
    share : faults of each kind per meter (default 5 %: 100 spikes, 100 short gaps... in 2,000 meters);
        at least one of each kind
    counts : {kind: n} overrides per kind (kinds: ``FAULTS``)
    config : the VEE configuration the faults are sized against (gap and flatline lengths)

    Returns
    -------
    (faulted dataset, truth DataFrame with columns meter, fault, rule, day, start (UTC), intervals, estimate,
    meter_index, t0)
    """
    config = config or load_config()
    rng = np.random.default_rng(int(seed))
    step = int(ds.attrs.get("step_minutes", 15))
    cal = vee_calendar(ds["time"].values, ds.attrs["timezone"], step, config.holiday_calendar)
    per_day = cal.intervals_per_day
    linear_max = config.estimation.linear_max_minutes // step
    flat_len = -(-config.validation.flatline.min_minutes // step)
    n_meters = ds.sizes["meter"]
    full_days = np.flatnonzero(cal.day_lengths == per_day)
    # like-day estimation needs earlier like days: faults start two weeks in when there are enough days
    first = 14 if len(cal.days) > 21 else 0
    days = full_days[(full_days >= first) & (full_days < len(cal.days) - 1)]
    if not len(days):
        raise VeeError("inject_faults: the data have no full local day to put faults in")
    unknown = sorted(set(counts or {}) - set(FAULTS))
    if unknown:
        raise VeeError(f"inject_faults: unknown fault kind(s) {unknown}; kinds: {list(FAULTS)}")
    wanted = {kind: max(1, round(share * _RELATIVE.get(kind, 1.0) * n_meters)) for kind in FAULTS}
    wanted.update(counts or {})
    delivered = np.array(ds["delivered_kwh"].values, dtype=np.float32)
    received = np.array(ds["received_kwh"].values, dtype=np.float32)
    quality = np.array(ds["quality"].values, dtype=np.uint8)
    non_nem = np.asarray(ds["nem_program"].values).astype(str) == ""
    time = np.asarray(ds["time"].values)
    used: set[tuple[int, int]] = set()
    rows = []
    for kind, n_wanted in wanted.items():
        placed = 0
        for _ in range(50 * max(int(n_wanted), 1)):
            if placed >= n_wanted:
                break
            m = int(rng.integers(0, n_meters))
            day = int(days[rng.integers(0, len(days))])
            if kind in ("flatline", "reverse_flow", "zero_day") and not non_nem[m]:
                continue
            n_days = 2 if kind == "outage" else 1
            if day + n_days >= len(cal.days) or any((m, day + k) in used for k in range(-1, n_days + 1)):
                continue
            if n_days == 2 and cal.day_lengths[day + 1] != per_day:
                continue
            s, e = int(cal.day_start[day]), int(cal.day_start[day + n_days])
            row_d = delivered[m, s:e]
            if np.isnan(row_d).any() or (quality[m, s:e] != 0).any() or np.nanmax(row_d) <= 0:
                continue
            length = _lengths(kind, rng, per_day, linear_max, flat_len)
            t0 = s if length >= e - s else s + int(rng.integers(1, e - s - length))
            t1 = t0 + length
            if kind in ("short_gap", "long_gap", "outage"):
                delivered[m, t0:t1] = np.nan
                received[m, t0:t1] = np.nan
                quality[m, t0:t1] = 2
            elif kind == "spike":
                delivered[m, t0] = max(10.0 * float(row_d.max()), 3.0 * config.validation.spike.min_kwh)
            elif kind == "flatline":
                value = delivered[m, t0] if delivered[m, t0] > 0 else float(row_d.max())
                delivered[m, t0:t1] = value
            elif kind == "negative":
                delivered[m, t0] = -(abs(float(delivered[m, t0])) + 0.1)
            elif kind == "reverse_flow":
                received[m, t0:t1] = 0.5
            elif kind == "zero_day":
                delivered[m, t0:t1] = 0.0
                received[m, t0:t1] = 0.0
            used.update((m, day + k) for k in range(n_days))
            rule, estimate = FAULTS[kind]
            rows.append((str(ds["meter"].values[m]), kind, rule, cal.days[day], n_days, time[t0], length, estimate,
                         m, t0))
            placed += 1
    faulted = ds.copy()
    for name, arr in (("delivered_kwh", delivered), ("received_kwh", received), ("quality", quality)):
        faulted[name] = xr.Variable(("meter", "time"), arr, ds[name].attrs)
    truth = pd.DataFrame(rows, columns=TRUTH_COLUMNS)
    return faulted, truth


def score_faults(flags: np.ndarray, method: np.ndarray, truth: pd.DataFrame, exceptions: pd.DataFrame,
                 meters_offset: int = 0) -> dict:
    """Recall per fault kind and precision per rule of a VEE run on faulted data.

    ``flags`` / ``method`` (M, T): the run's ``vee_flags`` / ``vee_method``; ``truth`` from
    :func:`inject_faults` (``meter_index`` minus ``meters_offset`` indexes the rows of ``flags``);
    ``exceptions``: the run's exceptions as a DataFrame.

    Returns {"by_fault": DataFrame(fault, rule, injected, caught, estimated), "by_rule": DataFrame(rule,
    flagged_meter_days, true_meter_days)}; ratios come from :func:`fault_rates`.
    """
    by_fault = []
    for kind, (rule, _) in FAULTS.items():
        sub = truth[truth["fault"] == kind]
        bit = np.uint32(1 << RULES[rule][0])
        caught = estimated = 0
        for m, t0, n in zip(sub["meter_index"].to_numpy() - meters_offset, sub["t0"], sub["intervals"], strict=True):
            caught += bool(((flags[m, t0:t0 + n] & bit) != 0).all())
            estimated += bool((np.isin(method[m, t0:t0 + n], (1, 2, 3))).all())
        by_fault.append({"fault": kind, "rule": rule, "injected": len(sub), "caught": caught, "estimated": estimated})
    truth_keys = {(m, r, d + dt.timedelta(days=k))
                  for m, r, d, n in zip(truth["meter"], truth["rule"], pd.to_datetime(truth["day"]).dt.date,
                                        truth["days"], strict=True) for k in range(int(n))}
    by_rule = []
    for rule in sorted({r for r, _ in FAULTS.values()}):
        ex = exceptions[exceptions["rule"] == rule]
        keys = set(zip(ex["meter"], ex["rule"], pd.to_datetime(ex["day"]).dt.date, strict=True))
        by_rule.append({"rule": rule, "flagged_meter_days": len(keys), "true_meter_days": len(keys & truth_keys)})
    return {"by_fault": pd.DataFrame(by_fault), "by_rule": pd.DataFrame(by_rule)}


def fault_rates(score: dict) -> dict:
    """Recall (caught / injected), estimated share and precision (true / flagged meter-days) tables."""
    by_fault = score["by_fault"].groupby(["fault", "rule"], sort=False, as_index=False)[
        ["injected", "caught", "estimated"]].sum()
    by_fault["recall"] = by_fault["caught"] / by_fault["injected"].where(by_fault["injected"] > 0)
    by_rule = score["by_rule"].groupby("rule", as_index=False)[["flagged_meter_days", "true_meter_days"]].sum()
    by_rule["precision"] = by_rule["true_meter_days"] / by_rule["flagged_meter_days"].where(
        by_rule["flagged_meter_days"] > 0)
    return {"by_fault": by_fault, "by_rule": by_rule}


def merge_scores(scores: list[dict]) -> dict:
    return {name: pd.concat([s[name] for s in scores], ignore_index=True) for name in ("by_fault", "by_rule")}
