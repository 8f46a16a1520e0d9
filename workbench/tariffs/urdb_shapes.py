"""The shapes of real URDB items beyond energy plus flat demand: what makes an item a tariff, demand units.

- An item is a tariff if it charges anything: energy, flat or time-of-use demand, coincident demand, a fixed
  or minimum charge. Fixed-charge-only (street lights, unmetered services) and demand-only items bill.
- A demand unit (``demandunits``, ``flatdemandunit``, ``demandrateunit``) on an item without any demand charge
  changes no bill: nothing to refuse.
- Demand in hp (motor loads): billed per kW at the $/hp rate ÷ 0.7457 (1 hp = 0.7457 kW), hp tier limits
  × 0.7457 kW, and the line item says so.
"""

from __future__ import annotations

from workbench.tariffs.urdb_fields import fail

KW_PER_HP = 0.7457

_CHARGES = ("energyratestructure", "flatdemandstructure", "demandratestructure", "coincidentratestructure",
            "fixedchargefirstmeter", "fixedmonthlycharge", "mincharge", "minmonthlycharge", "annualmincharge")


def is_tariff(data) -> bool:
    """Whether a URDB item charges anything (else it is not a tariff: a placeholder or a withdrawn item)."""
    return isinstance(data, dict) and any(data.get(f) not in (None, "", [], 0) for f in _CHARGES)


def _has_rates(structure) -> bool:
    return isinstance(structure, list) and any(isinstance(t, list) and t for t in structure)


def bills_demand(data) -> bool:
    """Whether the item has a demand charge of its own (flat or ToU)."""
    return _has_rates(data.get("flatdemandstructure")) or _has_rates(data.get("demandratestructure"))


def demand_unit(data, field, source) -> str:
    """'kW', 'hp' or 'kVA' for the structure whose unit field is ``field`` (falls back to ``demandunits``); kVA
    demand is measured as kVA (workbench.tariffs.urdb_reactive), so its charges keep their rates."""
    unit = data.get(field) or data.get("demandunits") or "kW"
    if unit not in ("kW", "hp", "kVA"):
        raise fail(source, field if data.get(field) else "demandunits", f"demand unit {unit!r} is not kW, kVA or hp")
    return unit


def in_kw(charge: dict, unit: str) -> dict:
    """A workbench demand charge priced per hp, restated per kW (rates ÷ 0.7457, limits × 0.7457)."""
    if unit != "hp":
        return charge
    per_kw = 1.0 / KW_PER_HP

    def scale(value, factor):
        if isinstance(value, dict):
            return {k: scale(v, factor) for k, v in value.items()}
        if isinstance(value, list):
            return [scale(v, factor) for v in value]
        return value * factor

    out = {**charge, "description": f"{charge['description']} ($/hp per kW: 1 hp = {KW_PER_HP} kW)"}
    if "rates" in charge:
        out["rates"] = scale(charge["rates"], per_kw)
    else:
        out["blocks"] = {"limits": scale(charge["blocks"]["limits"], KW_PER_HP),
                         "rates": scale(charge["blocks"]["rates"], per_kw)}
    return out
