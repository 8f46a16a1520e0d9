"""VEE kernels: the small njit helpers of the validation pass.

Setting rule bits on an interval and counting them on its day (:func:`_raise`), flagging a flatline run
(:func:`_flatline`), a day's valid-read statistics (:func:`_day_stats`) and the spike test
(:func:`_spike_day`), called by :func:`workbench.kernels.vee.vee_meter` and the estimation kernel.
"""

import numpy as np
from numba import njit

from workbench.kernels.vee_codes import FLATLINE, N_RULE_BITS


@njit(cache=True, nogil=True, inline="always")
def _bit(b):
    return np.uint32(1) << np.uint32(b)


@njit(cache=True, nogil=True)
def _raise(f_out, day_counts, t, day, bits):
    """OR rule ``bits`` into interval ``t``'s flags and count them on its day."""
    f_out[t] |= bits
    for b in range(N_RULE_BITS):
        if (bits >> np.uint32(b)) & np.uint32(1):
            day_counts[b, day] += 1


@njit(cache=True, nogil=True)
def _flatline(f_out, bad_d, day_of, day_counts, start, stop, estimate):
    for t in range(start, stop):
        _raise(f_out, day_counts, t, day_of[t], _bit(FLATLINE))
        if estimate:
            bad_d[t] = True



@njit(cache=True, nogil=True)
def _day_stats(d_in, bad_d, s, e, lim):
    """Valid reads (0..``lim``), their sum, the highest and the third-highest of intervals ``s..e`` (-1 when
    fewer)."""
    n_valid = 0
    total = 0.0
    v1 = -1.0
    v2 = -1.0
    v3 = -1.0
    for t in range(s, e):
        d = d_in[t]
        if d >= 0 and d <= lim and not bad_d[t]:
            n_valid += 1
            total += d
            if d > v1:
                v3 = v2
                v2 = v1
                v1 = d
            elif d > v2:
                v3 = v2
                v2 = d
            elif d > v3:
                v3 = d
    return n_valid, total, v1, v3


@njit(cache=True, nogil=True)
def _spike_day(d_in, bad_d, s, e, highest, ratio, lim):
    """True when the day's highest valid read exceeds ``ratio`` x its third-highest, i.e. when at most two
    valid reads ``d`` have ``ratio * d >= highest`` (a cheap count instead of sorting out the top three)."""
    n = 0
    for t in range(s, e):
        d = d_in[t]
        if ratio * d >= highest and d <= lim and not bad_d[t]:
            n += 1
    return n <= 2

