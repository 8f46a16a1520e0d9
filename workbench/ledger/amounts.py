"""How the ledger and its commands write an amount of whole cents for people: ``123456`` -> ``1,234.56``.

(GL export files write their own plain form, without thousands separators: ``ledger.gl``.)
"""


def money_text(cents) -> str:
    """Whole cents (an int, a numpy integer) as dollars with thousands separators and two decimals."""
    return f"{int(cents) / 100:,.2f}"
