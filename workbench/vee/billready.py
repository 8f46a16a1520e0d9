"""The bill-ready verdict: may a meter's bill period be billed from the (validated) interval data?

A meter's period is held when the share of its intervals that are estimated exceeds
``bill_ready.max_estimated_share`` (default 2 %; exactly 2 % is ready) or the share still without a read
exceeds ``bill_ready.max_missing_share`` (default 0), or whatever the thresholds, when VEE withheld a read
of the period as IMPLAUSIBLE (above the meter's physical limit: it must be corrected, not estimated). Billing calls :func:`bill_ready` with its bill periods;
a bill built on estimated intervals says so (the cycle counts ``estimated_intervals`` per bill).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.ami.cube_calendar import cube_periods
from workbench.kernels.vee_codes import METHOD_WITHHELD
from workbench.kernels.vee_counts import period_counts
from workbench.vee.config import VeeConfig, load_config
from workbench.vee.rules import VeeError

if TYPE_CHECKING:
    import xarray as xr


def _bounds(ds: xr.Dataset, periods) -> np.ndarray:
    if periods is None:
        periods = cube_periods(ds)
    bounds = np.asarray(getattr(periods, "bounds", periods), dtype=np.int64)
    n_meters, n_t = ds.sizes["meter"], ds.sizes["time"]
    if bounds.ndim != 2 or bounds.shape[0] != n_meters or bounds.shape[1] < 2:
        raise VeeError(f"bill_ready: periods must have bounds of shape (meters={n_meters}, periods + 1), got "
                       f"{bounds.shape}")
    if (bounds < 0).any() or (bounds > n_t).any() or (np.diff(bounds, axis=1) < 0).any():
        raise VeeError(f"bill_ready: period bounds must be non-decreasing interval indices in 0..{n_t}")
    return bounds


def period_quality(ds: xr.Dataset, periods=None) -> np.ndarray:
    """(M, B, 3) intervals, estimated and missing per meter and bill period (``periods``: see :func:`bill_ready`)."""
    bounds = _bounds(ds, periods)
    delivered = np.ascontiguousarray(ds["delivered_kwh"].values, dtype=np.float32)
    quality = np.ascontiguousarray(ds["quality"].values, dtype=np.uint8)
    return period_counts(delivered, quality, bounds)


def withheld(vee_method) -> np.ndarray:
    """Intervals VEE withheld (IMPLAUSIBLE: no value, never estimated), from the cube's ``vee_method`` (uint8)."""
    return np.asarray(vee_method) == METHOD_WITHHELD


def period_implausible(ds: xr.Dataset, periods=None) -> np.ndarray | None:
    """(M, B) intervals VEE withheld as IMPLAUSIBLE per meter and bill period; None without ``vee_method``."""
    if "vee_method" not in ds:
        return None
    bounds = _bounds(ds, periods)
    hit = withheld(ds["vee_method"].values)
    out = np.zeros((bounds.shape[0], bounds.shape[1] - 1), np.int64)
    for m in np.flatnonzero(hit.any(axis=1)):
        cum = np.concatenate([[0], np.cumsum(hit[m], dtype=np.int64)])
        out[m] = np.diff(cum[bounds[m]])
    return out


def bill_ready(ds: xr.Dataset, periods=None, config: VeeConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per meter and bill period: ready to bill (bool) and, when held, why (str; "" when ready).

    Parameters
    ----------
    ds : the (validated) cube slice: ``delivered_kwh`` and ``quality`` on (meter, time)
    periods : :class:`~workbench.calendar.periods.BillPeriods` of the same meters (or any object with
        ``bounds`` (M, B + 1), or that array); None: the cube's read-date periods
        (:func:`workbench.engine.cube.cube_periods`)
    config : :class:`VeeConfig` (``bill_ready`` thresholds)

    Returns
    -------
    ready : (M, B) bool
    reason : (M, B) str
    """
    counts = period_quality(ds, periods)
    return ready_verdict(counts[..., 0], counts[..., 1], counts[..., 2], config,
                         implausible=period_implausible(ds, periods))


def ready_verdict(intervals, estimated, missing, config: VeeConfig | None = None, *,
                  implausible=None) -> tuple[np.ndarray, np.ndarray]:
    """The bill-ready rule on counts of any shape: intervals in the period, estimated ones, ones without a read.

    For billing, from the scan's ``counts[..., (present, missing, estimated)]``:
    ``ready_verdict(counts[..., 0] + counts[..., 1], counts[..., 2], counts[..., 1], config)``.
    ``implausible``: reads withheld by VEE's IMPLAUSIBLE rule (same shape); any one holds the period.
    """
    config = config or load_config()
    rule = config.bill_ready
    n, est, miss = (np.asarray(x, dtype=np.int64) for x in (intervals, estimated, missing))
    safe_n = np.maximum(n, 1)
    # est / n is correctly rounded, so exactly 2 % compares equal to the configured 0.02
    too_estimated = est / safe_n > rule.max_estimated_share
    too_missing = miss / safe_n > rule.max_missing_share
    empty = n == 0
    withheld = np.zeros(n.shape, bool) if implausible is None else np.asarray(implausible, np.int64) > 0
    ready = ~(too_estimated | too_missing | empty | withheld)
    reason = np.full(n.shape, "", dtype=object)
    for at in zip(*np.nonzero(~ready), strict=True):
        parts = []
        if empty[at]:
            parts.append("no intervals in the period")
        if withheld[at]:
            parts.append(f"{int(np.asarray(implausible)[at])} implausible read(s) withheld (IMPLAUSIBLE: above the "
                         "meter's physical limit); correct them and ingest again")
        if too_estimated[at]:
            parts.append(f"{est[at]} of {n[at]} intervals estimated ({100 * est[at] / n[at]:.2f}% > "
                         f"{100 * rule.max_estimated_share:g}%)")
        if too_missing[at]:
            parts.append(f"{miss[at]} of {n[at]} intervals without a read ({100 * miss[at] / n[at]:.2f}% > "
                         f"{100 * rule.max_missing_share:g}%)")
        reason[at] = "; ".join(parts)
    return ready, reason.astype(str)


def held_table(ds: xr.Dataset, periods=None, config: VeeConfig | None = None) -> tuple[pd.DataFrame, int]:
    """Held meter-periods as a table (meter, period_start, period_end, intervals, estimated, missing, reason)
    and the number of valid meter-periods checked. ``periods`` None: the cube's read-date periods."""
    if periods is None:
        periods = cube_periods(ds)
    counts = period_quality(ds, periods)
    implausible = period_implausible(ds, periods)
    ready, reason = ready_verdict(counts[..., 0], counts[..., 1], counts[..., 2], config, implausible=implausible)
    valid = np.asarray(getattr(periods, "valid", np.ones(ready.shape, bool)))
    m_idx, b_idx = np.nonzero(~ready & valid)
    meters = np.asarray(ds["meter"].values).astype(str)
    frame = pd.DataFrame({
        "meter": meters[m_idx],
        "period_start": np.asarray(periods.start)[m_idx, b_idx] if hasattr(periods, "start") else b_idx,
        "period_end": np.asarray(periods.end)[m_idx, b_idx] if hasattr(periods, "end") else b_idx + 1,
        "intervals": counts[m_idx, b_idx, 0], "estimated": counts[m_idx, b_idx, 1],
        "missing": counts[m_idx, b_idx, 2], "reason": reason[m_idx, b_idx],
    })
    return frame, int(valid.sum())
