"""Sign kernels: whether a stretch of a row holds a positive or a negative value, without summing it.

:func:`sign_flags` answers "did this meter export?" (received kWh adding up to more than 0) in one read of the
values, with no NaN-free copy of them (what ``np.nansum`` makes): a stretch with no negative value adds up to more
than 0 exactly when it holds a positive one (NaN skipped), so only a stretch holding a negative value needs its
sum (flag 2, left to the caller).
"""

import numpy as np
from numba import njit

#: the stretch holds no positive and no negative value (only zeros and NaN, or nothing): its NaN-sum is 0
NONE = 0
#: the stretch holds a positive value and no negative one: its NaN-sum is more than 0
POSITIVE = 1
#: the stretch holds a negative value: its sign is that of its sum (the caller sums it)
NEGATIVE = 2


def sign_flags(values, rows, lo, hi):
    """Per entry k, :data:`NONE`, :data:`POSITIVE` or :data:`NEGATIVE` for ``values[rows[k], lo[k]:hi[k]]``.

    float32 values are read as their bit patterns (integer compares, which the compiler vectorizes; NaN and -0 are
    neither positive nor negative), other floats as they are."""
    if values.dtype == np.float32 and values.flags.c_contiguous:
        return _flags_bits32(values.view(np.int32), rows, lo, hi)
    return _flags_float(values, rows, lo, hi)


@njit(cache=True, nogil=True)
def _flags_bits32(bits, rows, lo, hi):
    # float32 bit patterns as int32: positive (up to +inf) 1..0x7F800000; negative (down to -inf)
    # -2147483647..-8388608 (0x80000001..0xFF800000); -0 is -2147483648; NaN is anything else
    out = np.zeros(len(rows), np.int8)
    for k in range(len(rows)):
        row = bits[rows[k], lo[k]:hi[k]]  # a 1-D slice: the loop below vectorizes (2-D indexing did not)
        pos = 0
        neg = 0
        for t in range(row.shape[0]):
            b = row[t]
            pos += np.int32((b > 0) & (b <= 0x7F800000))
            neg += np.int32((b > -2147483648) & (b <= -8388608))
        out[k] = 2 if neg else (1 if pos else 0)
    return out


@njit(cache=True, nogil=True)
def _flags_float(values, rows, lo, hi):
    out = np.zeros(len(rows), np.int8)
    for k in range(len(rows)):
        row = values[rows[k], lo[k]:hi[k]]
        pos = 0
        neg = 0
        for t in range(row.shape[0]):
            v = row[t]
            pos += np.int32(v > 0)
            neg += np.int32(v < 0)
        out[k] = 2 if neg else (1 if pos else 0)
    return out
