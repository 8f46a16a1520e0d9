"""Pricing kernels: a line item's amount, an energy charge's block split and a seasonal demand charge's blocks,
each in one pass over (meter, bill period) written into arrays the caller gives (``out``).

Each kernel repeats, value for value, the numpy expressions it replaces in ``workbench.engine.pricing`` and
``pricing_blocks`` (same operations in the same order, no fast-math), so line items are identical to the bit;
``tests/test_pricing_kernels.py`` compares them with those expressions. ``_max0`` and ``_min`` are
``np.maximum`` / ``np.minimum`` of one value: a NaN passes through, and of two equal values (0.0 and -0.0) the
second is kept, as numpy's vector loops do (its scalar loop keeps the first; only the sign of a zero differs).
"""

import math

from numba import njit


@njit(cache=True, inline="always")
def cents_half_up(amount):
    """Round half-up (away from zero for negatives) to the cent [$]: ``workbench.kernels.money.round_cents``."""
    cents = math.floor(abs(amount) * 100.0 + 0.5 + 1e-9) / 100.0
    return math.copysign(cents, amount)


@njit(cache=True, inline="always")
def _max0(x):
    return x if (x > 0.0 or x != x) else 0.0  # -0.0 -> 0.0, as numpy's vector loop gives


@njit(cache=True, inline="always")
def _min(x, width):
    if x != x:
        return x
    return x if x < width else width  # a tie gives the second operand, as numpy's vector loop does


@njit(cache=True, nogil=True)
def amounts_at_price(quantity, price, amount_out):
    """``amount_out = round_cents(quantity * price)``: quantity 1-D (a contiguous (M, B) raveled), price a number."""
    for i in range(quantity.shape[0]):
        amount_out[i] = cents_half_up(quantity[i] * price)


@njit(cache=True, nogil=True)
def amounts_at_rates(quantity, rate, amount_out):
    """``amount_out = round_cents(quantity * rate)``, all 1-D (contiguous (M, B) arrays raveled)."""
    for i in range(quantity.shape[0]):
        amount_out[i] = cents_half_up(quantity[i] * rate[i])


@njit(cache=True, nogil=True)
def strided_amounts_at_price(quantity, price, amount_out):
    """``amount_out = round_cents(quantity * price)`` for a strided (M, B) quantity (one bucket of (M, B, E))."""
    for m in range(quantity.shape[0]):
        for b in range(quantity.shape[1]):
            amount_out[m, b] = cents_half_up(quantity[m, b] * price)


@njit(cache=True, nogil=True)
def line_amounts(quantity, rate, weight, weighted, quantity_out, amount_out):
    """``amount_out = round_cents(q * rate)`` with ``q = quantity * weight`` if ``weighted`` else ``quantity``;
    ``quantity_out`` gets ``q`` when ``weighted``. All (M, B), any strides (a scalar broadcast is fine)."""
    for m in range(quantity.shape[0]):
        for b in range(quantity.shape[1]):
            q = quantity[m, b]
            if weighted:
                q = q * weight[m, b]
                quantity_out[m, b] = q
            amount_out[m, b] = cents_half_up(q * rate[m, b])


@njit(cache=True, nogil=True)
def round_amounts(amount, weight, weighted, amount_out):
    """``amount_out = round_cents(amount * weight)`` (``amount`` alone unless ``weighted``); may be in place."""
    for m in range(amount.shape[0]):
        for b in range(amount.shape[1]):
            a = amount[m, b]
            if weighted:
                a = a * weight[m, b]
            amount_out[m, b] = cents_half_up(a)


@njit(cache=True, nogil=True)
def block_split(kwh, first, last, limits, scope_total, out):
    """Energy buckets ``first`` to ``last - 1`` of one season split into K blocks: ``out[e - first, k]`` (M, B).

    kwh : (M, B, E) [kWh]; limits : (M, B, K - 1) cumulative upper block bounds [kWh] (made monotone);
    scope_total : the blocks fill on the season's total kWh, each bucket taking its share of every block
    (``pricing_blocks._blocks`` of the total × bucket / total, 0 where the total is not above 0);
    else each bucket fills the blocks alone.
    """
    n_limits = limits.shape[2]
    for m in range(kwh.shape[0]):
        for b in range(kwh.shape[1]):
            if scope_total:
                total = kwh[m, b, first]
                for e in range(first + 1, last):
                    total += kwh[m, b, e]
            for e in range(first, last):
                amount = total if scope_total else kwh[m, b, e]
                share = 1.0
                if scope_total:
                    share = kwh[m, b, e] / total if total > 0 else 0.0
                lower = 0.0
                for k in range(n_limits + 1):
                    part = _max0(amount - lower if k > 0 else amount)
                    if k < n_limits:
                        part = _min(part, limits[m, b, k] - lower if k > 0 else limits[m, b, k])
                        lower = limits[m, b, k]
                    out[e - first, k, m, b] = part * share if scope_total else part


@njit(cache=True, nogil=True)
def seasonal_demand_blocks(kw, limits, season_frac, rates, quantity_out, rate_out, amount_out):
    """A demand block charge whose blocks and prices change with the season, a period across seasons paying each
    season's share: block k's kW ``quantity_out[k]``, its average rate and its (unrounded) amount [$].

    kw : (M, B) billing demand; limits : (S, K - 1) kW; season_frac : (M, B, S); rates : (S, K) [$/kW].
    """
    n_seasons, n_limits = limits.shape[0], limits.shape[1]
    for m in range(kw.shape[0]):
        for b in range(kw.shape[1]):
            for k in range(n_limits + 1):
                qty = 0.0
                amount = 0.0
                for s in range(n_seasons):
                    lower = limits[s, k - 1] if k > 0 else 0.0
                    block = _max0(kw[m, b] - lower if k > 0 else kw[m, b])
                    if k < n_limits:
                        block = _min(block, limits[s, k] - lower if k > 0 else limits[s, k])
                    part = season_frac[m, b, s] * block
                    qty += part
                    amount += part * rates[s, k]
                quantity_out[k, m, b] = qty
                amount_out[k, m, b] = amount
                rate_out[k, m, b] = amount / qty if qty > 0 else 0.0


@njit(cache=True, nogil=True)
def tax_amounts(base, percent, amount_out):
    """``amount_out = round_cents(base * percent / 100)`` [$], (M, B)."""
    for m in range(base.shape[0]):
        for b in range(base.shape[1]):
            amount_out[m, b] = cents_half_up(base[m, b] * percent / 100.0)
