"""Energy block limits of each bill in kWh, each limit converted by its own unit.

A limit in kWh is prorated by the share of a standard month the period covers; kWh/day × the period's days;
kWh/kW × billing demand × that share (a 7-day partial bill of a 31-day month gets 7/31 of a month's hours' use);
kWh/kW/day × billing demand × the period's days. A charge whose limits mix units (350 kWh, then 530 and 685
kWh/kW: APS E-36) is converted limit by limit, so at 49.75 kW its blocks end at 350, 26,367.5 and
34,078.75 kWh. Limits of different units may cross on some bills (50 kWh/kW, then 3,000 kWh, at 100 kW):
a bill whose kWh reach past a limit that is not above the one before it is refused, naming the period and
both limits, because the tariff does not say which block the kWh in between belong to.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import BillingError


def energy_block_limits(units: np.ndarray, limits: np.ndarray, proration, season_frac, season_days, bill_kw):
    """(M, B, K-1) block limits [kWh] of one season.

    units, limits : (K-1,) unit and value of each limit of this season's blocks
    proration : (M, B) the period's share of a standard month; season_frac : (M, B) share of the period's days
    in this season; season_days : (M, B) days in this season; bill_kw : (M, B) billing demand [kW]
    """
    scales = {}
    out = np.empty(np.shape(proration) + (len(limits),))
    for k, (unit, limit) in enumerate(zip(units, limits, strict=True)):
        if unit not in scales:
            per_kw = unit in ("kWh/kW", "kWh/kW/day")
            # a monthly limit (kWh, or kWh per kW: hours' use of a month) scales with the share of a month a
            # partial period covers, as its customer charge does; a daily one counts the period's days
            base = season_days if unit.endswith("/day") else proration * season_frac
            scales[unit] = bill_kw * base if per_kw else base
        out[..., k] = scales[unit] * limit
    return out


def check_crossing(bounds, kwh, valid, units, limits, bill_kw, describe):
    """Refuse bills whose kWh pass a limit that is not above an earlier one; return the limits made monotone.

    bounds : (M, B, K-1) kWh limits; kwh : (M, B) the kWh the blocks split; valid : (M, B) periods billed;
    describe(m, b) -> text naming the bill period.
    """
    if bounds.shape[-1] < 2:
        return bounds
    running = np.maximum.accumulate(bounds, axis=-1)
    for k in range(1, bounds.shape[-1]):
        crossed = (bounds[..., k] <= running[..., k - 1]) & (kwh > bounds[..., k]) & valid
        if crossed.any():
            m, b = np.argwhere(crossed)[0]
            j = int(np.argmax(bounds[m, b, :k]))
            raise BillingError(
                f"{describe(m, b)}: the energy blocks contradict each other: block {k + 1} ends at "
                f"{_limit(units[k], limits[k], bounds[m, b, k], bill_kw[m, b])} but block {j + 1} already ends "
                f"at {_limit(units[j], limits[j], bounds[m, b, j], bill_kw[m, b])}, and the period's "
                f"{kwh[m, b]:,.1f} kWh pass both; the tariff does not say which block the kWh between belong "
                "to (fix the block limits or their units)")
    return running


def _limit(unit, limit, kwh, kw):
    if unit == "kWh":
        return f"{kwh:,.1f} kWh"
    return f"{limit:g} {unit} = {kwh:,.1f} kWh (billing demand {kw:,.2f} kW)"
