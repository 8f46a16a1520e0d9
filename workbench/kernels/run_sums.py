"""Sums and maxima of runs of intervals that share their buckets (the scan's fast path for 1-interval demand).

Short runs take a scalar loop with two accumulators; long ones a vectorized sum (float reassociation only)
and a vectorized integer max over the values' bit patterns. Both give the same sums to the last bit on the
data the tests draw, and the same NaN counting: a run holding a NaN (or an inf) takes the scalar loop.
"""

import math

import numpy as np
from numba import njit

from workbench.kernels.quads import quad_sum_max


@njit(cache=True, nogil=True, inline="always")
def _sum_max(x, a, b):
    """Sum, max and NaN count of x[a:b], two accumulators so the adds do not wait on each other."""
    s0 = 0.0
    s1 = 0.0
    m0 = 0.0
    m1 = 0.0
    half = a + ((b - a) // 2) * 2
    for t in range(a, half, 2):
        v0 = np.float64(x[t])
        v1 = np.float64(x[t + 1])
        s0 += v0
        s1 += v1
        m0 = v0 if v0 > m0 else m0
        m1 = v1 if v1 > m1 else m1
    if half < b:
        v0 = np.float64(x[half])
        s0 += v0
        m0 = v0 if v0 > m0 else m0
    total = s0 + s1
    n_nan = 0
    if total != total:  # a NaN somewhere: count it and sum the rest (rare: missing reads)
        total = 0.0
        for t in range(a, b):
            v = np.float64(x[t])
            if v != v:
                n_nan += 1
            else:
                total += v
    return total, (m0 if m0 > m1 else m1), n_nan


#: float reassociation only (no assumptions about NaN or inf): lets LLVM vectorize a long sum; the NaN check
#: after it still sees a NaN, since a NaN in any lane propagates to the total
_REASSOC = {"reassoc", "nsz", "arcp", "contract"}
#: runs at least this long take the vectorized path (a call per run costs more than it saves on short ones)
_LONG_RUN = 64


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _fast_sum(x):
    s = 0.0
    for t in range(x.shape[0]):
        s += np.float64(x[t])
    return s


@njit(cache=True, nogil=True)
def _max_bits(bits):
    """Max of the IEEE bit patterns, floored at 0: for non-negative floats the same order as the values (an
    integer max vectorizes, a float one does not here); negative values never win, as in ``_sum_max``."""
    m = bits.dtype.type(0)
    for t in range(bits.shape[0]):
        v = bits[t]
        m = v if v > m else m
    return m


@njit(cache=True, nogil=True)
def _from_bits(b, is64):
    """The float whose IEEE bit pattern is the non-negative integer ``b`` (finite)."""
    if is64:
        e = (b >> 52) & 0x7FF
        mant = b & 0xFFFFFFFFFFFFF
        return math.ldexp(float(mant), -1074) if e == 0 else math.ldexp(float(mant | 0x10000000000000), e - 1075)
    e = (b >> 23) & 0xFF
    mant = b & 0x7FFFFF
    return math.ldexp(float(mant), -149) if e == 0 else math.ldexp(float(mant | 0x800000), e - 150)


@njit(cache=True, nogil=True, inline="always")
def _sum_max4(x, a, b):
    """Sum, max and NaN count of x[a:b]: whole steps of four intervals in four vector lanes (``quad_sum_max``),
    the rest one by one. A run whose sum is not finite (a NaN or an inf) is redone by ``_sum_max``, which
    counts the NaNs."""
    quads = (b - a) // 4
    total, top = quad_sum_max(x, a, quads)
    for t in range(a + 4 * quads, b):  # a run that is not a whole number of hours
        v = np.float64(x[t])
        total += v
        top = v if v > top else top
    if total - total != 0.0:
        return _sum_max(x, a, b)
    return total, top, 0


@njit(cache=True, nogil=True)
def _run_sum_max(x, bits, a, b):
    """Sum, max and NaN count of x[a:b] (as ``_sum_max``); long runs vectorized when they hold no NaN or inf."""
    if b - a >= _LONG_RUN:
        total = _fast_sum(x[a:b])
        if total - total == 0.0:  # finite: no NaN, no inf
            return total, _from_bits(_max_bits(bits[a:b]), bits.itemsize == 8), 0
    return _sum_max4(x, a, b)


@njit(cache=True, nogil=True)
def _run_sum(x, a, b):
    """Sum and NaN count of x[a:b]."""
    if b - a >= _LONG_RUN:
        total = _fast_sum(x[a:b])
        if total - total == 0.0:
            return total, 0
    total, _, n_nan = _sum_max4(x, a, b)
    return total, n_nan
