"""Chronological tiers: each interval's kWh fills the bill period's tier counter in time order.

PySAM ``Utilityrate5`` prices imports (and, on a counter of their own, exports) of its net-billing options
this way: the kWh of an interval take the tier the period's running total has reached, so a ToU period used
early in the month gets the cheap tier and one used late the expensive tier (unlike monthly blocks shared
out in proportion). See ``docs/pysam-nem-conventions.md`` §E.

For meter ``m``, bill period ``b`` (intervals ``bounds[m, b]`` to ``bounds[m, b + 1]``), energy bucket ``e``
and tier ``k``, ``out[m, b, e, k]`` is the kWh billed in that tier. Buckets of one season share a counter
(a calendar month lies in one season; a bill period across two seasons has a counter per season), whose
upper tier bounds are ``limits[m, b, s, :]`` [kWh] (cumulative, ``K - 1`` of them, the last tier unbounded).
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _fill_meter(kwh, bounds, energy_bucket, bucket_season, limits, counter, out):
    n_tiers = out.shape[2]
    for b in range(bounds.shape[0] - 1):
        for s in range(counter.shape[0]):
            counter[s] = 0.0
        for t in range(bounds[b], bounds[b + 1]):
            left = kwh[t]
            if not left > 0.0:  # zero, negative or NaN (no read): nothing to bill
                continue
            e = energy_bucket[t]
            s = bucket_season[e]
            used = counter[s]
            for k in range(n_tiers):
                if k < n_tiers - 1:
                    room = limits[b, s, k] - used
                    if room <= 0.0:
                        continue
                    take = left if left < room else room
                else:
                    take = left
                out[b, e, k] += take
                used += take
                left -= take
                if left <= 0.0:
                    break
            counter[s] = used


@njit(cache=True, parallel=True)
def _fill(kwh, bounds, energy_bucket, bucket_season, limits, n_seasons, out):
    for m in prange(kwh.shape[0]):
        counter = np.zeros(n_seasons)
        _fill_meter(kwh[m], bounds[m], energy_bucket, bucket_season, limits[m], counter, out[m])


def chronological_tiers(kwh, bounds, energy_bucket, bucket_season, limits, n_buckets: int) -> np.ndarray:
    """(M, B, E, K) kWh of each bill period per energy bucket and tier, tiers filled in time order.

    Parameters
    ----------
    kwh : (M, T) float, kWh per interval [kWh] (NaN = no read, counts 0)
    bounds : (M, B + 1) int, first interval of each bill period (last: one past the end)
    energy_bucket : (T,) int, energy bucket of each interval
    bucket_season : (E,) int, season of each energy bucket
    limits : (M, B, S, K - 1) float, cumulative upper tier bounds per season [kWh]
    n_buckets : E
    """
    kwh = np.ascontiguousarray(kwh, dtype=np.float64)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    limits = np.ascontiguousarray(limits, dtype=np.float64)
    n_meters, n_periods = bounds.shape[0], bounds.shape[1] - 1
    out = np.zeros((n_meters, n_periods, n_buckets, limits.shape[-1] + 1))
    _fill(kwh, bounds, np.ascontiguousarray(energy_bucket, dtype=np.int64),
          np.ascontiguousarray(bucket_season, dtype=np.int64), limits, limits.shape[2], out)
    return out
