"""``run_vee``: validation, estimation and editing of an in-memory interval cube slice (meter, time)."""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import xarray as xr

from workbench.ami.registry_meter import default_max_kw
from workbench.kernels import vee_codes as k
from workbench.kernels.vee import vee_block, vee_block_parallel
from workbench.vee.calendar import VeeCalendar, active_ranges, vee_calendar
from workbench.vee.config import VeeConfig, load_config
from workbench.vee.inputs import register_check
from workbench.vee.rules import FLAG_ATTRS, METHOD_ATTRS, METHOD_NAMES, RULE_CODES, RULES, VeeError
from workbench.vee.summary import VeeSummary
from workbench.vee.tables import EXCEPTIONS_SCHEMA, edits_table, exceptions_table

_REQUIRED = ("delivered_kwh", "received_kwh", "quality")


@dataclass
class VeeResult:
    """The outcome of :func:`run_vee`.

    dataset : the edited cube slice (same shape; estimates filled, ``quality`` 1 where estimated) with
        ``vee_flags`` (uint32 bitmask of the rules each interval failed) and ``vee_method`` (uint8).
    edits : pyarrow table, one row per changed value (meter, time, channel, original, value, method, rule).
    exceptions : pyarrow table, one row per meter, rule and local day (meter, rule, day, count, detail).
    counts : {rule: {"intervals", "meter_days", "meters"}} for every rule code, plus "ESTIMATED_<METHOD>".
    calendar : the local days of the slice; day_counts : (cols, M, D) intervals per rule bit and per method (1-3) per day.
    """

    dataset: xr.Dataset
    edits: pa.Table
    exceptions: pa.Table
    counts: dict
    calendar: VeeCalendar
    day_counts: np.ndarray = field(repr=False)
    config: VeeConfig = field(repr=False)
    seconds: float = 0.0

    @property
    def meters(self) -> np.ndarray:
        return np.asarray(self.dataset["meter"].values).astype(str)

    @property
    def intervals_estimated(self) -> int:
        return int(self.day_counts[k.N_RULE_BITS:].sum())

    def summary(self):
        """A :class:`~workbench.vee.summary.VeeSummary` (what the report needs), small enough to keep."""
        return VeeSummary.from_result(self)


def vee_arrays(delivered, received, quality, day_of, day_start, day_kind, slot, slot_pos, active_from, active_to,
               nem, enabled, estimate, float_params, int_params, *, prior_flags=None, prior_method=None,
               limit_kwh=None, parallel=True):
    """Run VEE over (M, T) arrays; return a dict of outputs.

    Parameters
    ----------
    delivered, received : (M, T) float32 [kWh], NaN = no read
    quality : (M, T) uint8, 0 actual, 1 estimated, 2 missing
    day_of : (T,) int32, local day index of each interval (0..D-1, non-decreasing)
    day_start : (D + 1,) int64, first interval of each local day (last: T)
    day_kind : (D,) int8, 0 weekday, 1 Saturday, 2 Sunday or holiday
    slot : (T,) int16, local slot of the day (local minute // step)
    slot_pos : (D, S) int64, interval of each (day, slot) (first occurrence), -1 when the day lacks it
    active_from, active_to : (M,) int64, the meter's active intervals [from, to)
    nem : (M,) bool, on a net-metering program
    enabled, estimate : uint32 bitmasks of the rules that run and of those whose intervals are estimated
    float_params, int_params : parameter vectors (``workbench.kernels.vee_codes.P_*`` and ``I_*`` indices)
    prior_flags, prior_method : (M, T) from an earlier run, OR-ed / kept where this run changes nothing
    limit_kwh : (M,) float64, each meter's physical limit [kWh per interval] (IMPLAUSIBLE); None: no limit

    Returns
    -------
    dict with delivered, received (float32), quality, method, new_delivered, new_received (uint8), flags (uint32)
    of shape (M, T); day_counts (N_DAY_COLS, M, D) int32 (intervals per rule bit, then per method 1-3);
    day_total, day_ref (M, D) float64 [kWh per day].
    """
    delivered = np.ascontiguousarray(delivered, dtype=np.float32)
    received = np.ascontiguousarray(received, dtype=np.float32)
    quality = np.ascontiguousarray(quality, dtype=np.uint8)
    n_meters, n_t = delivered.shape
    n_days = day_kind.shape[0]
    if prior_flags is None:
        prior_flags = np.zeros((n_meters, 0), np.uint32)
        prior_method = np.zeros((n_meters, 0), np.uint8)
    else:
        prior_flags = np.ascontiguousarray(prior_flags, dtype=np.uint32)
        prior_method = np.ascontiguousarray(prior_method, dtype=np.uint8)
    out = {
        "delivered": np.empty_like(delivered),
        "received": np.empty_like(received),
        "quality": np.empty_like(quality),
        # zeros from calloc: pages VEE never writes (clean data) are never touched
        "flags": np.zeros((n_meters, n_t), np.uint32),
        "method": np.zeros((n_meters, n_t), np.uint8),
        "new_delivered": np.zeros((n_meters, n_t), np.uint8),
        "new_received": np.zeros((n_meters, n_t), np.uint8),
        "day_counts": np.zeros((k.N_DAY_COLS, n_meters, n_days), np.int32),
        "day_total": np.empty((n_meters, n_days), np.float64),
        "day_ref": np.empty((n_meters, n_days), np.float64),
    }
    fn = vee_block_parallel if parallel and n_meters > 1 else vee_block
    fn(delivered, received, quality, prior_flags, prior_method, np.ascontiguousarray(day_of, np.int32),
       np.ascontiguousarray(day_start, np.int64), np.ascontiguousarray(day_kind, np.int8),
       np.ascontiguousarray(slot, np.int16), np.ascontiguousarray(slot_pos, np.int64),
       np.ascontiguousarray(active_from, np.int64), np.ascontiguousarray(active_to, np.int64),
       np.ascontiguousarray(nem, np.bool_),
       np.full(n_meters, np.inf) if limit_kwh is None else np.ascontiguousarray(limit_kwh, np.float64),
       np.uint32(enabled), np.uint32(estimate),
       np.ascontiguousarray(float_params, np.float64), np.ascontiguousarray(int_params, np.int64),
       out["delivered"], out["received"], out["quality"], out["flags"], out["method"], out["new_delivered"],
       out["new_received"], out["day_counts"], out["day_total"], out["day_ref"])
    return out


def rule_masks(config: VeeConfig) -> tuple[int, int]:
    """(enabled, estimate) bitmasks of the rules under ``config``."""
    v = config.validation
    rules = {"MISSING": v.missing, "NEGATIVE": v.negative, "SPIKE": v.spike, "HIGH_USE": v.high_low,
             "LOW_USE": v.high_low, "FLATLINE": v.flatline, "ZERO_USE": v.zero_use, "REVERSE_FLOW": v.reverse_flow,
             "INACTIVE": v.inactive, "REGISTER_MISMATCH": v.register_reads, "IMPLAUSIBLE": v.implausible}
    enabled = estimate = 0
    for code, rule in rules.items():
        if rule.enabled:
            enabled |= 1 << RULES[code][0]
            if getattr(rule, "action", "flag") == "estimate":
                estimate |= 1 << RULES[code][0]
    enabled |= 1 << RULES["NOT_ESTIMATED"][0]
    return enabled, estimate


def kernel_params(config: VeeConfig, step_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """The float and int parameter vectors of :func:`workbench.kernels.vee.vee_arrays`."""
    v, e = config.validation, config.estimation
    fp = np.zeros(k.N_FLOAT_PARAMS)
    fp[k.P_SPIKE_RATIO] = v.spike.ratio
    fp[k.P_SPIKE_MIN] = v.spike.min_kwh
    fp[k.P_HIGH] = v.high_low.high_ratio
    fp[k.P_LOW] = v.high_low.low_ratio
    fp[k.P_MIN_ADU] = v.high_low.min_adu_kwh
    fp[k.P_REVERSE_MIN] = v.reverse_flow.min_kwh
    fp[k.P_DAY_SHARE] = v.high_low.min_present_share
    fp[k.P_ZERO_SHARE] = v.zero_use.min_present_share
    ip = np.zeros(k.N_INT_PARAMS, np.int64)
    ip[k.I_FLAT_LEN] = max(1, -(-v.flatline.min_minutes // step_minutes))
    ip[k.I_FLAT_ZERO] = int(v.flatline.include_zero)
    ip[k.I_HISTORY] = v.high_low.history_days
    ip[k.I_MIN_HISTORY] = v.high_low.min_history_days
    ip[k.I_LINEAR_MAX] = e.linear_max_minutes // step_minutes
    ip[k.I_ONE_SIDED] = int(e.one_sided == "flat")
    ip[k.I_LIKE_DAYS] = e.like_day.days
    ip[k.I_LIKE_MIN] = e.like_day.min_days
    ip[k.I_LOOKBACK] = 7 * e.like_day.lookback_weeks
    ip[k.I_LIKE_ENABLED] = int(e.like_day.enabled)
    ip[k.I_PER_DAY] = 1440 // step_minutes
    return fp, ip


def _check(ds: xr.Dataset) -> tuple[str, int]:
    if not isinstance(ds, xr.Dataset):
        raise VeeError(f"VEE: expected an interval cube (xarray.Dataset), got {type(ds).__name__}")
    for name in _REQUIRED:
        if name not in ds.data_vars or ds[name].dims != ("meter", "time"):
            raise VeeError(f"VEE: the cube has no variable '{name}' on (meter, time) (see docs/cube.md)")
    tz = ds.attrs.get("timezone")
    if not tz:
        raise VeeError("VEE: the cube has no 'timezone' attribute (the utility's IANA time zone; docs/cube.md)")
    step = ds.attrs.get("step_minutes")
    if step is None:
        t = ds["time"].values
        step = int((t[1] - t[0]) // np.timedelta64(1, "m")) if t.size > 1 else 15
    return str(tz), int(step)


def _counts(day_counts: np.ndarray) -> dict:
    out = {}
    for code in RULE_CODES:
        c = day_counts[RULES[code][0]]
        out[code] = {"intervals": int(c.sum()), "meter_days": int((c > 0).sum()), "meters": int((c > 0).any(1).sum())}
    for method in (k.METHOD_LINEAR, k.METHOD_LIKE_DAY, k.METHOD_FLAT_FILL):
        c = day_counts[k.N_RULE_BITS + method - 1]
        out[f"ESTIMATED_{METHOD_NAMES[method].upper()}"] = {
            "intervals": int(c.sum()), "meter_days": int((c > 0).sum()), "meters": int((c > 0).any(1).sum())}
    return out


def run_vee(ds: xr.Dataset, config: VeeConfig | None = None, *, registry=None, register_reads=None,
            parallel: bool = True) -> VeeResult:
    """Validate, estimate and edit the cube slice ``ds`` (loaded into memory if it is lazy).

    Parameters
    ----------
    ds : interval cube (docs/cube.md), any meters, a contiguous stretch of time. History-based rules
        (high/low use, like-day estimation) see only the days in ``ds``.
    config : :class:`VeeConfig`; default :func:`load_config` (``defaults.yaml``).
    registry : meter registry with install/removal dates (see :func:`workbench.vee.calendar.active_ranges`);
        None: every meter is active throughout.
    register_reads : register reads for the sum check (see :func:`workbench.vee.inputs.register_check`).
    parallel : run meters on numba's thread pool (False inside a dask worker's thread pool).

    Returns
    -------
    VeeResult
    """
    started = _time.perf_counter()
    config = config or load_config()
    tz, step = _check(ds)
    time = np.asarray(ds["time"].values)
    cal = vee_calendar(time, tz, step, config.holiday_calendar)
    meters = np.asarray(ds["meter"].values).astype(str)
    nem = (np.asarray(ds["nem_program"].values).astype(str) != "") if "nem_program" in ds.coords else np.zeros(
        len(meters), bool)
    a0, a1 = active_ranges(meters, time, registry, tz)
    enabled, estimate = rule_masks(config)
    fp, ip = kernel_params(config, step)
    limit = meter_limits_kw(ds, registry) * (step / 60.0)
    delivered = np.asarray(ds["delivered_kwh"].values, dtype=np.float32)
    received = np.asarray(ds["received_kwh"].values, dtype=np.float32)
    prior = ("vee_flags" in ds and "vee_method" in ds)
    out = vee_arrays(
        delivered, received, np.asarray(ds["quality"].values), cal.day_of, cal.day_start, cal.day_kind, cal.slot,
        cal.slot_pos, a0, a1, nem, enabled, estimate, fp, ip,
        prior_flags=np.asarray(ds["vee_flags"].values) if prior else None,
        prior_method=np.asarray(ds["vee_method"].values) if prior else None, limit_kwh=limit, parallel=parallel)
    exceptions = exceptions_table(meters, cal, out["day_counts"], out["day_total"], out["day_ref"], config,
                                  _active_notes(meters, time, a0, a1))
    if register_reads is not None and config.validation.register_reads.enabled:
        reg = register_check(ds.assign(delivered_kwh=(("meter", "time"), out["delivered"])), register_reads, config,
                             flags=out["flags"], day_counts=out["day_counts"], calendar=cal)
        exceptions = pa.concat_tables([exceptions, reg]) if reg.num_rows else exceptions
    edits = edits_table(meters, time, delivered, received, out, out["flags"])
    edited = ds.copy()
    for name, key in (("delivered_kwh", "delivered"), ("received_kwh", "received"), ("quality", "quality")):
        edited[name] = xr.Variable(("meter", "time"), out[key], ds[name].attrs)
    edited["vee_flags"] = xr.Variable(("meter", "time"), out["flags"], FLAG_ATTRS)
    edited["vee_method"] = xr.Variable(("meter", "time"), out["method"], METHOD_ATTRS)
    edited.attrs["vee_config"] = config.source
    return VeeResult(edited, edits, exceptions.cast(EXCEPTIONS_SCHEMA), _counts(out["day_counts"]), cal,
                     out["day_counts"], config, _time.perf_counter() - started)


def meter_limits_kw(ds: xr.Dataset, registry=None) -> np.ndarray:
    """(M,) each cube row's physical limit [kW] for IMPLAUSIBLE: a ``max_kw`` coordinate, else the largest
    ``max_kw`` of the row's meters in ``registry``, else :func:`~workbench.ami.registry_meter.default_max_kw` of the
    row's class and multiplier (no class coordinate: no limit)."""
    meters = np.asarray(ds["meter"].values).astype(str)
    if "max_kw" in ds.coords:
        return np.asarray(ds["max_kw"].values, dtype=np.float64)
    n = len(meters)
    classes = (np.asarray(ds["customer_class"].values).astype(str) if "customer_class" in ds.coords
               else np.full(n, ""))
    mult = (np.asarray(ds["multiplier"].values, dtype=np.float64) if "multiplier" in ds.coords else np.ones(n))
    out = np.array([default_max_kw(c, m) if c else np.inf for c, m in zip(classes, mult, strict=True)])
    if hasattr(registry, "meters"):  # a MeterRegistry (a table of install dates has no max_kw)
        row = {sp: i for i, sp in enumerate(meters)}
        given: dict[int, float] = {}
        for m in registry.meters:
            i = row.get(m.service_point)
            if i is not None and m.max_kw is not None:
                given[i] = max(given.get(i, 0.0), m.max_kw)
        for i, kw in given.items():
            out[i] = kw
    return out


def _active_notes(meters, time, a0, a1) -> np.ndarray | None:
    n_t = len(time)
    limited = (a0 > 0) | (a1 < n_t)
    if not limited.any():
        return None
    notes = np.full(len(meters), "", dtype=object)
    for i in np.flatnonzero(limited):
        first = str(time[a0[i]])[:16] if a0[i] < n_t else "after the data"
        last = str(time[a1[i] - 1])[:16] if a1[i] > 0 else "before the data"
        notes[i] = f" (active {first} to {last} UTC)"
    return notes
