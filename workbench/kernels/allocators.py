"""Class load sums for the cost-of-service allocators: one pass over a meter chunk, plain arrays in and out.

:func:`accumulate_class_loads` adds a chunk's meters into per-class series (net kW and delivered kWh per
interval) and writes each meter's annual maximum delivered kW and delivered kWh. A missing interval (NaN)
counts 0. :func:`accumulate_class_loads_numpy` is the same in numpy (the engine switch; tests compare them).
"""

import numpy as np
from numba import njit, prange

#: intervals per parallel block: each block writes its own slice of the class series (no two threads share one)
_BLOCK = 512


@njit(parallel=True, cache=True, nogil=True)
def accumulate_class_loads(delivered, received, meter_class, kw_factor, class_net_kw, class_delivered_kwh,
                           meter_max_kw, meter_kwh):
    """Add a chunk into the class series; per-meter maxima and sums.

    delivered, received : (M, T) float32 [kWh per interval], NaN = missing (counts 0)
    meter_class : (M,) int64 class index of each meter, 0..C-1 (negative: left out)
    kw_factor : 60 / interval minutes [1/h]
    class_net_kw : (C, T) float64, added to: sum over the class's meters of (delivered - received) × kw_factor [kW]
    class_delivered_kwh : (C, T) float64, added to: sum of delivered [kWh]
    meter_max_kw : (M,) float64, written: max over T of delivered × kw_factor (at least 0) [kW]
    meter_kwh : (M,) float64, written: sum over T of delivered [kWh]
    """
    n_meter, n_time = delivered.shape
    n_blocks = (n_time + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        lo = b * _BLOCK
        hi = min(lo + _BLOCK, n_time)
        for m in range(n_meter):
            c = meter_class[m]
            if c < 0:
                continue
            for t in range(lo, hi):
                d = np.float64(delivered[m, t])
                r = np.float64(received[m, t])
                if d != d:
                    d = 0.0
                if r != r:
                    r = 0.0
                class_net_kw[c, t] += (d - r) * kw_factor
                class_delivered_kwh[c, t] += d
    for m in prange(n_meter):
        top = 0.0
        total = 0.0
        for t in range(n_time):
            d = np.float64(delivered[m, t])
            if d == d:
                total += d
                if d > top:
                    top = d
        meter_max_kw[m] = top * kw_factor
        meter_kwh[m] = total


def accumulate_class_loads_numpy(delivered, received, meter_class, kw_factor, class_net_kw, class_delivered_kwh,
                                 meter_max_kw, meter_kwh):
    """:func:`accumulate_class_loads` in numpy (same arguments, same results up to float reassociation)."""
    d = np.nan_to_num(np.asarray(delivered, dtype=np.float64), nan=0.0)
    r = np.nan_to_num(np.asarray(received, dtype=np.float64), nan=0.0)
    for c in range(class_net_kw.shape[0]):
        rows = meter_class == c
        if rows.any():
            class_net_kw[c] += (d[rows] - r[rows]).sum(axis=0) * kw_factor
            class_delivered_kwh[c] += d[rows].sum(axis=0)
    meter_max_kw[:] = np.maximum(d.max(axis=1, initial=0.0), 0.0) * kw_factor
    meter_kwh[:] = d.sum(axis=1)
