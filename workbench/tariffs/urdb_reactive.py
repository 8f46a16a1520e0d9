"""URDB reactive-power fields: ``demandreactivepowercharge`` ($/kVAR) and kVA demand units.

Kept apart from :mod:`workbench.tariffs.urdb` so the reactive reading has one place. URDB's
``demandreactivepowercharge`` is read as a $/kVAR charge on the highest reactive demand of the bill period
(the workbench ``reactive_demand`` charge, measure ``max``); ``demandunits`` (or the older ``flatdemandunit``
/ ``demandrateunit``) of ``kVA`` bills the demand charges on apparent demand sqrt(kW² + kVAR²) of each demand
window. Both need the meter's kVARh reads: a meter without them is refused, never billed at PF 1.
"""

from __future__ import annotations

from workbench.tariffs.urdb_fields import fail, price

#: the URDB fields that name the demand unit
UNIT_FIELDS = ("flatdemandunit", "demandrateunit", "demandunits")


def is_kva(data: dict, source: str = "<URDB tariff>") -> bool:
    """Whether the tariff's demand is in kVA (every unit field given says ``kVA``); kW and kVA mixed is an
    error naming the fields (flat demand in one unit and ToU demand in the other is not billed)."""
    given = {f: str(data.get(f)).strip() for f in UNIT_FIELDS if data.get(f) not in (None, "")}
    if "kVA" not in given.values():
        return False
    if set(given.values()) != {"kVA"}:
        raise fail(source, next(f for f, u in given.items() if u != "kVA"),
                   f"demand units {given} mix kVA with another unit; one unit for all demand charges is billed")
    return True


def reactive_supported_unit(unit) -> bool:
    """A demand unit this module bills (kVA); the rest of the URDB loader decides on the others."""
    return str(unit).strip() == "kVA"


def apply_reactive(data: dict, spec: dict, charges: list, source: str) -> None:
    """Add the reactive parts of URDB item ``data`` to the workbench ``spec`` and its ``charges`` list."""
    if is_kva(data, source):
        spec["demand"]["unit"] = "kVA"
    value = data.get("demandreactivepowercharge")
    if value in (None, "", 0):
        return
    rate = price(value, source, "demandreactivepowercharge", "reactive")
    if rate <= 0:
        raise fail(source, "demandreactivepowercharge", f"{value!r} is not a positive $/kVAR")
    charges.append({"type": "reactive_demand", "description": "Reactive demand", "rate": rate, "measure": "max"})
