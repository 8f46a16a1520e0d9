"""Money stays finite: bounds no real line item reaches, and the check that refuses any beyond them.

A line item whose amount is not finite or beyond any real bill's is bad data or a bad tariff; a bill built
from it would not add up in cents (a float no longer holds cents exactly out there). Pricing and bills call
these; the message names the meter, the bill period and the line.
"""

from __future__ import annotations

import numpy as np

from workbench.calendar.periods import BillPeriods
from workbench.errors import BillingError

#: no line item of a real bill reaches this [$]; a larger (or non-finite) one is bad data or a bad tariff
MAX_LINE_AMOUNT = 1e9
#: no bill period of a real meter has this many kWh (or kW); a larger quantity is a bad read
MAX_QUANTITY = 1e12


def check_line_items(items, periods: BillPeriods, names=None, source: str = "") -> None:
    """Every line item of every valid bill period finite and sane, else a BillingError naming meter and period.

    ``names``: a label for each meter row, e.g. "meter 1001" (default "meter row i"). Bounds: |amount| <
    MAX_LINE_AMOUNT dollars and |quantity| < MAX_QUANTITY; beyond them a float no longer holds cents exactly,
    and no real bill is there.
    """
    valid = periods.valid
    for j, (amount, quantity) in enumerate(zip(items.amount, items.quantity, strict=True)):
        amount = np.broadcast_to(amount, valid.shape)
        quantity = np.broadcast_to(quantity, valid.shape)
        with np.errstate(invalid="ignore"):
            bad = valid & ~((np.abs(amount) < MAX_LINE_AMOUNT) & (np.abs(quantity) < MAX_QUANTITY))
        if bad.any():
            m, b = np.argwhere(bad)[0]
            label = names[m] if names is not None else f"meter row {m}"
            rate = float(np.broadcast_to(items.rate[j], valid.shape)[m, b])
            raise BillingError(insane_line(f"{source}: {label}" if source else label, periods.start[m, b],
                                           periods.end[m, b], items.description[j], float(quantity[m, b]),
                                           items.unit[j], rate))


def sane_line(quantity: float, amount: float) -> bool:
    return bool(abs(amount) < MAX_LINE_AMOUNT and abs(quantity) < MAX_QUANTITY)


def insane_line(label, start, end, description, quantity, unit, rate) -> str:
    """The message for a line item whose amount is not finite or beyond any real bill's."""
    period = f"bill period {start} to {end}" if end is not None else f"bill period from {start}"
    return (f"{label}, {period}: line item '{description}' (quantity {quantity:.6g} {unit} "
            f"at rate {rate:.6g}) does not give a sane amount (a finite number under ${MAX_LINE_AMOUNT:,.0f}); "
            "check the interval data (a bad read?) and the tariff's prices")
