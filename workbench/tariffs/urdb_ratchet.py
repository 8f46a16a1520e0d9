"""URDB demand ratchets: ``lookbackpercent``/``lookbackrange``/``lookbackmonths`` (v8) and ``demandratchetpercentage`` (v7).

``demandratchetpercentage`` (URDB v7, dropped in v8 but still on many items) is "demand ratchet percentage by
month": 12 fractions. Like every other 12-value URDB field (``flatdemandmonths``, ``fueladjustmentsmonthly``)
it is read by the month of the bill: the billing demand of a bill period ending in month m is at least
``demandratchetpercentage[m]`` × the highest peak of the preceding bill periods (0: no ratchet that month).
The field does not say how many months back: ``lookbackrange`` when the item gives it, else 11 months (the
usual tariff wording, "the preceding eleven months", and the window the v8 import already uses), with a
warning naming the assumption. ``lookbackmonths`` still chooses which months' peaks count.

SAM's ``ur_billing_demand_lookback_percentages`` indexes its percentages by the month *looked back at*; for a
uniform list (the common case, Wallingford CT's 35 % in every month) both readings bill the same, and the PySAM
oracle checks that case.
"""

from __future__ import annotations

from workbench.tariffs.checks import warn
from workbench.tariffs.urdb_fields import fail, number, number_list

#: [months] the lookback window of ``demandratchetpercentage`` when the item gives no ``lookbackrange``
DEFAULT_LOOKBACK_MONTHS = 11


def _blank(value) -> bool:
    return value in (None, "", [])


def urdb_ratchet(data, source):
    """The tariff model's ``demand.ratchet`` for a URDB item, or None when the item has no ratchet."""
    pct = 0.0 if _blank(data.get("lookbackpercent")) else number(data["lookbackpercent"], source, "lookbackpercent")
    if pct and not 0 < pct <= 1:
        raise fail(source, "lookbackpercent", f"{pct:g} should be a fraction in (0, 1] (0.8 for 80%)")
    monthly = _monthly(data, source)
    if pct and monthly:
        raise fail(source, "demandratchetpercentage", f"the item also gives lookbackpercent ({pct:g}): two ratchets; "
                   "keep one (lookbackpercent for one percentage, demandratchetpercentage for one per month)")
    if not pct and not monthly:
        return None
    rng = 0 if _blank(data.get("lookbackrange")) else number(data["lookbackrange"], source, "lookbackrange",
                                                             integer=True)
    if not 0 <= rng <= 36:
        raise fail(source, "lookbackrange", f"{rng:g} months; expected 0 to 36")
    rng = int(rng)
    months = [] if _blank(data.get("lookbackmonths")) else number_list(data, "lookbackmonths", source, 12, "booleans")
    if any(v not in (True, False, 0, 1) for v in months):
        raise fail(source, "lookbackmonths", "expected 12 booleans (true: that month's peak counts)")
    if pct and not (rng or any(months)):
        raise fail(source, "lookbackpercent", "a lookback percent needs lookbackrange or lookbackmonths")
    if monthly and not rng:
        warn(f"{source}: URDB field 'demandratchetpercentage': the item does not say how many months back the "
             f"ratchet looks; billed with the preceding {DEFAULT_LOOKBACK_MONTHS} months (the usual tariff wording). "
             "Check the tariff sheet; add lookbackrange to the item to state it")
    # lookbackrange: how many months back; lookbackmonths: which months' peaks count (as SAM reads them)
    out = {"percent": (pct or max(monthly)) * 100, "months": rng or DEFAULT_LOOKBACK_MONTHS}
    if monthly:
        out["percent_by_month"] = [v * 100 for v in monthly]
    if any(months):
        out["count_months"] = [i + 1 for i, v in enumerate(months) if v]
    return out


def _monthly(data, source) -> list[float]:
    """The 12 fractions of ``demandratchetpercentage`` (empty when absent or all zero)."""
    if _blank(data.get("demandratchetpercentage")):
        return []
    values = [number(v, source, f"demandratchetpercentage[{i}]")
              for i, v in enumerate(number_list(data, "demandratchetpercentage", source, 12, "monthly fractions"))]
    for i, v in enumerate(values):
        if not 0 <= v <= 1:
            hint = f" (did you mean {v / 100:g}?)" if 1 < v <= 100 else ""
            raise fail(source, f"demandratchetpercentage[{i}]", f"{v:g} should be a fraction in [0, 1]{hint}")
    return values if any(values) else []
