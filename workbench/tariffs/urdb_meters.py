"""URDB ``fixedchargeeaaddl``: a fixed charge for each meter on the account after the first.

The item gives the price (in ``fixedchargeunits``, like ``fixedchargefirstmeter``); the count is the
account's: ``workbench bill --meters-on-account N`` (default 1). The line item always states the count, so a
bill of one meter says it charged no additional meter rather than leaving the charge out without a word.
"""

from __future__ import annotations

from workbench.errors import TariffError
from workbench.tariffs.urdb_fields import DAYS_PER_MONTH, number, per_unit, price

_FACTOR = {"month": 1.0, "day": DAYS_PER_MONTH, "year": 1.0 / 12.0}  # to $/month, as the first meter's (PySAM)


def additional_meters(data, source, meters_on_account) -> list[dict]:
    """The per-additional-meter charge as a monthly customer charge, or [] when the item has none."""
    value = data.get("fixedchargeeaaddl")
    if value in (None, "") or not number(value, source, "fixedchargeeaaddl"):
        return []
    if isinstance(meters_on_account, bool) or not isinstance(meters_on_account, int) or meters_on_account < 1:
        raise TariffError(f"{source}: meters on the account: {meters_on_account!r}; expected a whole number of "
                          "at least 1 (--meters-on-account N)")
    per = per_unit(data.get("fixedchargeunits"), "fixedchargeunits", source)
    each = price(value, source, "fixedchargeeaaddl", "customer", per=per)
    extra = meters_on_account - 1
    unit = {"month": "month", "day": "day", "year": "year"}[per]
    if extra:
        what = f"{extra} additional meter{'s' if extra > 1 else ''} × ${each:g}/{unit}"
    else:
        what = ("no additional meter (1 meter on the account; give the count with --meters-on-account N)")
    return [{"type": "customer", "description": f"Fixed charge per additional meter: {what}",
             "amount": extra * each * _FACTOR[per], "per": "month"}]
