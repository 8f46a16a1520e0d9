"""Rounding money: one pass, in numba (pricing rounds every line item of every bill).

Hand-written on purpose: a bill rounds half-up to the cent (0.125 -> 0.13, -0.125 -> -0.13), where ``np.round``
rounds half to even (0.125 -> 0.12) and ``Decimal.quantize(ROUND_HALF_UP)`` needs a Python object per amount.
"""

import math

from numba import vectorize


@vectorize(["float64(float64)"], cache=True)
def round_cents(amount):
    """Round half-up (away from zero for negatives) to the cent [$].

    The 1e-9 absorbs binary noise so that 0.125 rounds to 0.13 although 0.125 * 100 is 12.499999999999998.
    """
    cents = math.floor(abs(amount) * 100.0 + 0.5 + 1e-9) / 100.0
    return math.copysign(cents, amount)
