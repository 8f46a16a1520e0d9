"""URDB coincident-peak charges: ``coincidentratestructure`` × the customer's demand at the system peaks.

URDB gives the price ($/kW of the customer's demand coincident with the utility's or the ISO's system peak)
and which months it applies in (``coincidentsched``, 12 months × 24 hours of period indices), never the
peak intervals themselves: those come from the system-peak file (``--system-peaks``,
docs/coincident-peaks.md). Without that file a coincident tariff is refused naming the file it needs.

Each month uses one coincident period (the system peak is one interval; its price is the month's). The
charge bills, per bill period, the mean demand over the demand windows that start at the system-peak
intervals inside the period (1CP: the one peak; 4CP/12CP: one per month) at that month's rate.
"""

from __future__ import annotations

from workbench.tariffs.urdb_fields import fail, number_list, period_index, rate_structure
from workbench.tariffs.urdb_tiers import tier_rate

#: URDB spells the schedule ``coincidentsched`` (API v8); some caches ``coincidentrateschedule``
SCHEDULE_FIELDS = ("coincidentsched", "coincidentrateschedule")


def has_coincident(data) -> bool:
    """Whether the URDB item charges coincident demand (a non-zero coincident rate)."""
    structure = data.get("coincidentratestructure")
    if not isinstance(structure, list):
        return bool(structure)
    return any(isinstance(tiers, list) and any(isinstance(t, dict) and (t.get("rate") or t.get("adj"))
                                               for t in tiers) for tiers in structure)


def coincident_months(data, source) -> list[int]:
    """The coincident period of each month (0 where the item has no coincident charge)."""
    if not has_coincident(data):
        return [0] * 12
    structure = rate_structure(data, "coincidentratestructure", source, "demand")
    field = next((f for f in SCHEDULE_FIELDS if data.get(f) is not None), None)
    if field is None:
        if len(structure) > 1:
            raise fail(source, "coincidentsched", f"missing; coincidentratestructure has {len(structure)} periods, "
                       "so a 12 × 24 schedule must say which applies in which month")
        return [0] * 12
    rows = number_list(data, field, source, 12, "months of 24 period indices")
    out = []
    for mo, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 24:
            raise fail(source, f"{field}[{mo}]", "expected 24 hourly period indices")
        periods = {period_index(x, source, f"{field}[{mo}][{h}]", len(structure), "coincidentratestructure")
                   for h, x in enumerate(row)}
        if len(periods) > 1:
            raise fail(source, f"{field}[{mo}]", f"month {mo + 1} uses coincident periods {sorted(periods)}; a "
                       "system peak is one interval, so each month needs one coincident price")
        out.append(periods.pop())
    return out


def coincident_charge(data, source, seasons, month_period, peaks) -> list[dict]:
    """The coincident demand charge (a workbench demand charge with ``measure: coincident``), or [] if none.

    seasons: {season name: [months 1-12]}, each season inside one coincident period; peaks: the system-peak
    intervals (local interval starts) from the system-peak file, or None when none was given.
    """
    if not has_coincident(data):
        return []
    unit = data.get("coincidentrateunit")
    if unit not in (None, "", "kW"):
        raise fail(source, "coincidentrateunit", f"coincident demand in {unit!r}; the system-peak demand is "
                   "measured in kW")
    if not peaks:
        raise fail(source, "coincidentratestructure", "coincident-peak demand needs the system-peak intervals, "
                   "which URDB does not give: give the system-peak file with --system-peaks FILE "
                   "(docs/coincident-peaks.md)")
    structure = rate_structure(data, "coincidentratestructure", source, "demand")
    rates = {}
    for name, months in seasons.items():
        p = month_period[months[0] - 1]
        tiers = structure[p] if p < len(structure) else []
        if len(tiers) != 1:
            raise fail(source, f"coincidentratestructure[{p}]", f"{len(tiers)} tiers; a coincident price is one "
                       "$/kW rate (tiered coincident rates are not supported)")
        rates[name] = tier_rate(tiers[0])
    return [{"type": "demand", "description": "Coincident-peak demand", "measure": "coincident", "rates": rates}]
