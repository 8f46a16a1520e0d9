"""Where pricing's (meter, bill period) arrays come from: a few large blocks instead of one allocation each.

A pricing run makes dozens of fresh (M, B) float arrays (each line item's quantity and amount, block splits,
subtotals). Allocated one by one, each ~1 MB array lands in fresh pages that the allocator handed back to the
system a moment before, and the page faults cost more than the arithmetic (0.5-1 ms per array for 10,000 meters
× 12 bills on the benchmark VM). :class:`Slots` cuts a block of several arrays at once, and never hands out the
same memory twice: every slot is a new array as far as the caller is concerned (a view into its block, which
lives as long as any of its slots).
"""

from __future__ import annotations

import numpy as np

from workbench.kernels.pricing_lines import (
    amounts_at_price,
    amounts_at_rates,
    line_amounts,
    round_amounts,
    strided_amounts_at_price,
)

#: bytes per block: 8 × (10,000 meters × 12 bills) is 7.7 MB, past numpy's 4 MB huge-page threshold; an array
#: as large as this gets a block of its own (a slot kept by a memo keeps its whole block, so blocks stay small)
BLOCK_BYTES = 8_000_000


class Slots:
    """Fresh float64 arrays of one shape, cut from shared blocks."""

    def __init__(self, shape, block_bytes: int = BLOCK_BYTES):
        self.shape = tuple(shape)
        self.per_block = max(1, min(8, block_bytes // max(8 * int(np.prod(self.shape)), 1)))
        self._block = np.empty((0,) + self.shape)
        self._used = 0

    def take(self, n: int | None = None) -> np.ndarray:
        """One fresh array of ``shape`` (``n`` None), or ``n`` of them as one (n, *shape) array. Not zeroed."""
        count = 1 if n is None else n
        if self._used + count > self._block.shape[0]:
            if count > self.per_block:  # a large request gets a block of its own; the current one stays open
                block = np.empty((count,) + self.shape)
                return block[0] if n is None else block
            self._block = np.empty((self.per_block,) + self.shape)
            self._used = 0
        part = self._block[self._used : self._used + count]
        self._used += count
        return part[0] if n is None else part


def priced_line(slots: Slots, quantity, rate, weight=None, amount=None, owned: bool = False):
    """(quantity, amount) of one line item, weighted by ``weight`` (M, B; None = 1) and rounded half-up to the cent.

    quantity, rate : arrays broadcast to ``slots.shape``; amount : None = quantity × rate, else the line's
    amount before weighting and rounding, which is rounded in place when ``owned`` (the caller made it for this
    line and keeps no other use of it). One pass; the results are fresh slots (or ``amount`` itself).
    """
    weighted = weight is not None
    weights = weight if weighted else quantity
    if amount is None and not weighted:
        out = slots.take()
        if out.size:
            _unweighted_amounts(quantity, rate, out)
        return quantity, out
    if amount is None:
        out = slots.take()
        weighted_quantity = slots.take() if weighted else out
        line_amounts(quantity, rate, weights, weighted, weighted_quantity, out)
        return (weighted_quantity if weighted else quantity), out
    mine = owned and isinstance(amount, np.ndarray) and amount.shape == slots.shape and amount.dtype == np.float64
    given = amount
    amount = np.broadcast_to(np.asarray(amount, dtype=float), slots.shape)
    if weighted:
        weighted_quantity = slots.take()
        np.multiply(quantity, weight, out=weighted_quantity)
        quantity = weighted_quantity
    out = given if mine else slots.take()  # rounded in place: ``given`` is the caller's own array
    round_amounts(amount, weights, weighted, out)
    return quantity, out


def _unweighted_amounts(quantity, rate, out):
    """``out = round_cents(quantity * rate)`` by the kernel that fits the operands' layout: a contiguous or scalar
    operand is read as one flat run (the loop vectorizes), a strided one (a bucket of (M, B, E)) row by row."""
    price = float(rate.flat[0]) if not any(rate.strides) else None
    if not any(quantity.strides) and price is not None:  # a number × a number: the same amount on every bill
        one = np.array([float(quantity.flat[0])])
        amounts_at_price(one, price, one)
        out.fill(one[0])
    elif price is not None and quantity.flags.c_contiguous:
        amounts_at_price(quantity.reshape(-1), price, out.reshape(-1))
    elif price is not None:
        strided_amounts_at_price(quantity, price, out)
    elif quantity.flags.c_contiguous and rate.flags.c_contiguous:
        amounts_at_rates(quantity.reshape(-1), rate.reshape(-1), out.reshape(-1))
    else:
        line_amounts(quantity, rate, quantity, False, out, out)
