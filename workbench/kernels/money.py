"""Rounding money: one pass, in numba (pricing rounds every line item of every bill)."""

import math

from numba import vectorize


@vectorize(["float64(float64)"], cache=True)
def round_cents(amount):
    """Round half-up (away from zero for negatives) to the cent [$].

    The 1e-9 absorbs binary noise so that 0.125 rounds to 0.13 although 0.125 * 100 is 12.499999999999998.
    """
    cents = math.floor(abs(amount) * 100.0 + 0.5 + 1e-9) / 100.0
    return math.copysign(cents, amount)
