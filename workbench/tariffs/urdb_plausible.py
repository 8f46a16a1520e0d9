"""Plausibility warnings on a URDB item, by sector: billed as written, with a ``warning:`` naming the field.

- An energy rate (rate + adj) above what the sector makes plausible: 0.50 $/kWh for commercial, industrial
  and lighting items (0.95 is surely 0.095), 1.00 $/kWh otherwise (the price check's own limit);
- a monthly fuel adjustment whose credit is larger than the lowest energy rate it applies to: every kWh of
  that month would be billed as a credit.
"""

from __future__ import annotations

from workbench.tariffs.checks import warn
from workbench.tariffs.urdb_tiers import tier_rate

#: [$/kWh] above this a non-residential energy rate is most likely a slipped decimal point
NON_RESIDENTIAL_ENERGY = 0.5
_NON_RESIDENTIAL = ("commercial", "industrial", "lighting")


def plausibility_warnings(data, source, energy_structure) -> None:
    sector = str(data.get("sector") or "").lower()
    if sector in _NON_RESIDENTIAL:
        for p, tiers in enumerate(energy_structure):
            for k, tier in enumerate(tiers):
                rate = tier_rate(tier)
                if NON_RESIDENTIAL_ENERGY < rate <= 1.0:
                    warn(f"{source}: URDB field 'energyratestructure[{p}][{k}].rate': {rate:g} $/kWh is more than "
                         f"{NON_RESIDENTIAL_ENERGY:g} $/kWh for a {sector} tariff, billed as written; did you mean "
                         f"{rate / 10:g} (a misplaced decimal point)?")
    fuel = data.get("fueladjustmentsmonthly")
    rates = [tier_rate(t) for tiers in energy_structure for t in tiers]
    if isinstance(fuel, list) and rates:
        lowest = min(rates)
        for i, value in enumerate(fuel):
            if isinstance(value, (int, float)) and lowest + value < 0:
                warn(f"{source}: URDB field 'fueladjustmentsmonthly[{i}]': {value:g} $/kWh is a credit larger than "
                     f"the lowest energy rate ({lowest:g} $/kWh): that month's kWh are billed as a credit, billed "
                     "as written; check the sign and the decimal point")
