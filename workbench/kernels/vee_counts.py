"""VEE kernels: counts and positions read from VEE's outputs.

:func:`period_counts` counts the intervals, estimates and missing reads of every meter and bill period (for
bill readiness); :func:`gather_nonzero` lists the (meter, interval) of every nonzero code (for the edits
and exceptions tables).
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def period_counts(delivered, quality, bounds):
    """(M, B, 3) intervals, estimated (quality 1) and missing (NaN or quality 2) per meter and bill period.

    ``bounds`` (M, B + 1) int64: interval index of each period's first interval (last: one past the end).
    """
    n_meters = delivered.shape[0]
    n_periods = bounds.shape[1] - 1
    out = np.zeros((n_meters, n_periods, 3), np.int64)
    for m in range(n_meters):  # serial: called from several threads at once by vee_cube
        for b in range(n_periods):
            lo = bounds[m, b]
            hi = bounds[m, b + 1]
            est = 0
            miss = 0
            for t in range(lo, hi):
                q = quality[m, t]
                if delivered[m, t] != delivered[m, t] or q == 2:
                    miss += 1
                elif q == 1:
                    est += 1
            out[m, b, 0] = max(hi - lo, 0)
            out[m, b, 1] = est
            out[m, b, 2] = miss
    return out


@njit(cache=True, nogil=True)
def gather_nonzero(codes, rows):
    """(meter, interval) of every nonzero entry of ``codes`` (M, T) in the given ``rows``, row-major."""
    n = 0
    for i in range(rows.shape[0]):
        row = codes[rows[i]]
        for t in range(row.shape[0]):
            if row[t] != 0:
                n += 1
    m_idx = np.empty(n, np.int64)
    t_idx = np.empty(n, np.int64)
    j = 0
    for i in range(rows.shape[0]):
        row = codes[rows[i]]
        for t in range(row.shape[0]):
            if row[t] != 0:
                m_idx[j] = rows[i]
                t_idx[j] = t
                j += 1
    return m_idx, t_idx
