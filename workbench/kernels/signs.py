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


@njit(cache=True, nogil=True)
def sign_flags(values, rows, lo, hi):
    """Per entry k, :data:`NONE`, :data:`POSITIVE` or :data:`NEGATIVE` for ``values[rows[k], lo[k]:hi[k]]``."""
    out = np.zeros(len(rows), np.int8)
    for k in range(len(rows)):
        r = rows[k]
        flag = 0
        for t in range(lo[k], hi[k]):
            v = values[r, t]
            if v < 0:
                flag = 2
                break
            if v > 0:
                flag = 1
        out[k] = flag
    return out
