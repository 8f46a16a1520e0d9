"""URDB tiers read tier by tier: limits, the unit of each limit, and the rates of each period.

URDB tiers are monthly and shared by every period used in the same months (URDB / PySAM semantics), so
periods of one season must agree on their limits and units. Each tier's ``max`` keeps its own ``unit``:
a period may bound its first tier in kWh and the next ones in kWh/kW (APS E-36), and a season may use kWh
where another uses kWh daily; the engine converts each limit per bill (``workbench.engine.block_limits``).
Reading only the first tier's unit billed such tariffs wrong without a word; that is what this replaces.

A tier other than the last without a ``max`` is open-ended as written: the tiers after it can never be
reached, so they are dropped with a warning naming the field (a refusal would leave the tariff unbillable
for a data-entry slip that does not change any bill).
"""

from __future__ import annotations

from workbench.tariffs.checks import warn
from workbench.tariffs.urdb_fields import fail

#: URDB energy tier units -> the workbench's block units
ENERGY_UNITS = {"kWh": "kWh", "kWh daily": "kWh/day", "kWh/kW": "kWh/kW", "kWh/kW daily": "kWh/kW/day"}
_NO_LIMIT = 1e12  # pads the block limits of a season with fewer tiers than another


def tier_rate(tier) -> float:
    return float(tier.get("rate", 0) or 0) + float(tier.get("adj", 0) or 0)


def reachable_tiers(structure, field, source):
    """The structure with each period cut after its first open-ended tier (a warning names the field)."""
    out = []
    for p, tiers in enumerate(structure):
        cut = next((k for k, t in enumerate(tiers[:-1]) if t.get("max") is None), None)
        if cut is not None:
            warn(f"{source}: URDB field '{field}[{p}][{cut}].max' is missing on a tier that is not the last: the "
                 f"tier is open-ended as written and the {len(tiers) - cut - 1} tier(s) after it are never reached; "
                 "billed as written")
            tiers = tiers[: cut + 1]
        out.append(tiers)
    return out


def seasonal_tiers(structure, field, source, periods_by_season, units=None):
    """(limits by season, rates by season and period, units by season: one per limit).

    Seasons with fewer tiers are padded with limits no bill reaches. ``units``: the allowed tier units (a
    mapping URDB unit -> workbench unit), or None for demand structures, whose limits are kW.
    """
    per_season = {s: period_tiers(structure, field, source, used, units) for s, used in periods_by_season.items()}
    n_limits = max(len(lim) for lim, _, _ in per_season.values())
    limits, rates, season_units = {}, {}, {}
    for s, (lim, rate, unit) in per_season.items():
        pad = n_limits - len(lim)
        limits[s] = lim + [_NO_LIMIT * (i + 1) for i in range(pad)]
        season_units[s] = unit + ["kWh"] * pad  # 1e12 kWh: above any limit of any unit on any bill
        rates[s] = {p: r + [r[-1]] * (n_limits + 1 - len(r)) for p, r in rate.items()}
    return limits, rates, season_units


def period_tiers(structure, field, source, used, units=None):
    """(limits, rates per period, unit of each limit) of the periods ``used`` in the same months."""
    limits, limit_units, first = None, None, None
    for p in used:
        if p >= len(structure):
            raise fail(source, field, f"the schedules use period {p} but {field} has {len(structure)} periods")
        tiers = structure[p]
        if not tiers:
            raise fail(source, f"{field}[{p}]", "period has no tiers")
        maxes = [float(t["max"]) for t in tiers[:-1]]
        tier_units = [_unit(t, f"{field}[{p}][{k}]", source, units) for k, t in enumerate(tiers[:-1])]
        if limits is None or len(maxes) > len(limits):
            if limits is not None and (maxes[: len(limits)] != limits or tier_units[: len(limits)] != limit_units):
                raise fail(source, f"{field}[{p}]", f"tier limits {_show(maxes, tier_units)} differ from "
                           f"{_show(limits, limit_units)} of period {first}; URDB/PySAM tiers are monthly and "
                           "shared by all periods")
            limits, limit_units, first = maxes, tier_units, p
        elif maxes != limits[: len(maxes)] or tier_units != limit_units[: len(maxes)]:
            raise fail(source, f"{field}[{p}]", f"tier limits {_show(maxes, tier_units)} differ from "
                       f"{_show(limits, limit_units)} of period {first}")
    n_blocks = len(limits) + 1 if limits else 1
    rates = {}
    for p in used:
        r = [tier_rate(t) for t in structure[p]]
        rates[p] = r + [r[-1]] * (n_blocks - len(r))  # a period with fewer tiers keeps its last rate
    return limits or [], rates, limit_units or []


def _unit(tier, where, source, units):
    unit = tier.get("unit", "kWh") or "kWh"
    if units is None:
        return unit
    if unit not in units:
        raise fail(source, f"{where}.unit", f"tier unit {unit!r} is not one of {sorted(units)}")
    return units[unit]


def _show(limits, units):
    if len(set(units)) <= 1:
        return f"{[f'{x:g}' for x in limits]}".replace("'", "") + (f" {units[0]}" if units else "")
    return "[" + ", ".join(f"{x:g} {u}" for x, u in zip(limits, units, strict=True)) + "]"
