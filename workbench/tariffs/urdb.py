"""Import an OpenEI Utility Rate Database (URDB v8) tariff into the workbench tariff model.

A URDB tariff becomes the same validated model a YAML tariff does, so it bills through the same engine.
Months whose schedules and demand months are identical are grouped into one season. Tier limits are
monthly and count all ToU periods together, each period's kWh allocated to tiers in proportion to its
share (URDB / PySAM semantics). A feature the engine cannot bill (reactive power, hp/kVA demand,
coincident charges without system peaks...) is an error that names the field, never a silent zero.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import TariffError
from workbench.tariffs.urdb_export import to_urdb
from workbench.tariffs.urdb_fields import (
    DAYS_PER_MONTH,
    fail,
    in_force,
    number,
    number_list,
    per_unit,
    period_index,
    price,
    rate_structure,
    read_schedule,
)
from workbench.tariffs.urdb_meters import additional_meters
from workbench.tariffs.urdb_names import normalise
from workbench.tariffs.urdb_reactive import apply_reactive, reactive_supported_unit

__all__ = ["to_urdb", "urdb_extras", "urdb_to_spec"]
from workbench.tariffs.urdb_coincident import coincident_charge, coincident_months
from workbench.tariffs.urdb_plausible import plausibility_warnings
from workbench.tariffs.urdb_ratchet import urdb_ratchet
from workbench.tariffs.urdb_sell import urdb_sell_tiers
from workbench.tariffs.urdb_shapes import bills_demand, demand_unit, in_kw, is_tariff
from workbench.tariffs.urdb_tiers import ENERGY_UNITS, period_tiers, reachable_tiers, seasonal_tiers

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
# metadata and fields that do not change a bill (or belong to later features: dgrules -> net metering)
_IGNORED = {
    "label", "uri", "utility", "eiaid", "name", "sector", "servicetype", "description", "source", "sourceparent",
    "startdate", "enddate", "supersedes", "approved", "is_default", "country", "voltagecategory", "phasewiring",
    "peakkwcapacitymin", "peakkwcapacitymax", "peakkwcapacityhistory", "peakkwhusagemin", "peakkwhusagemax",
    "peakkwhusagehistory", "voltageminimum", "voltagemaximum", "basicinformationcomments", "energycomments",
    "demandcomments", "revisions", "energyattrs", "demandattrs", "fixedattrs", "dgrules", "latest_update",
    "energyratestructure", "energyweekdayschedule", "energyweekendschedule", "flatdemandstructure",
    "flatdemandmonths", "flatdemandunit", "demandratestructure", "demandweekdayschedule", "demandweekendschedule",
    "demandrateunit", "fixedchargefirstmeter", "fixedchargeunits", "fixedchargeeaaddl", "mincharge",
    "minchargeunits", "fixedmonthlycharge", "minmonthlycharge", "annualmincharge", "lookbackpercent",
    "lookbackrange", "lookbackmonths", "demandratchetpercentage", "demandwindow", "fueladjustmentsmonthly",
    "coincidentratestructure", "coincidentrateschedule", "coincidentsched", "coincidentrateunit", "demandreactivepowercharge",
    "demandunits", "_comment", "_id", "id", "utility_name", "locations", "service_type", "sourcereference",
    "energyunits", "isbasic", "ratesforutility",
    # applicability and labels (database export and API v7/v8): they change no bill
    "mindemand", "maxdemand", "minenergy", "maxenergy", "servicemax", "energytoulabels", "demandtoulabels",
    "usenetmetering",
}


def urdb_to_spec(data: dict, source: str = "<URDB tariff>", system_peaks=None, meters_on_account: int = 1) -> dict:
    """A URDB v8 item (or API response with ``items``) -> a workbench tariff dict (see model.TariffSpec).

    Every number is checked where URDB has it, and errors name the URDB field (``energyratestructure[2][0].rate``).
    ``startdate``/``enddate`` become the version's effective dates, so billing data outside them is an error
    that names both dates. ``system_peaks``: the system-peak intervals (local starts) a coincident-peak
    charge needs (docs/coincident-peaks.md).
    """
    if isinstance(data, dict) and "items" in data:
        items = data["items"]
        if not isinstance(items, list) or len(items) != 1:
            n = len(items) if isinstance(items, list) else "no list of"
            raise TariffError(f"{source}: the URDB response holds {n} tariffs; save the one to bill")
        data = items[0]
    if isinstance(data, dict):  # the API and exports spell fields in camelCase (demandUnits, demandReactPwrCharge)
        data = normalise(data, source)
    if not is_tariff(data):
        raise TariffError(f"{source}: not a URDB v8 tariff: no energyratestructure, demand structure, fixed or "
                          "minimum charge")
    _reject_unsupported(data, source)

    energy = rate_structure(data, "energyratestructure", source, "energy")
    wk = read_schedule(data, "energyweekdayschedule", source, len(energy)) if energy else [[0] * 24] * 12
    we = read_schedule(data, "energyweekendschedule", source, len(energy)) if energy else wk
    flat = rate_structure(data, "flatdemandstructure", source, "demand")
    flat_months = [0] * 12
    if data.get("flatdemandmonths") is not None:
        flat_months = [period_index(x, source, f"flatdemandmonths[{mo}]", len(flat), "flatdemandstructure")
                       for mo, x in enumerate(number_list(data, "flatdemandmonths", source, 12, "period indices"))]
    dstruct = rate_structure(data, "demandratestructure", source, "demand")
    dwk = read_schedule(data, "demandweekdayschedule", source, len(dstruct)) if dstruct else [[0] * 24] * 12
    dwe = read_schedule(data, "demandweekendschedule", source, len(dstruct)) if dstruct else dwk

    cp_months = coincident_months(data, source)

    # months with the same schedules, flat-demand and coincident period form one season
    keys, seasons = {}, {}
    for mo in range(12):
        key = (tuple(wk[mo]), tuple(we[mo]), flat_months[mo], tuple(dwk[mo]), tuple(dwe[mo]), cp_months[mo])
        keys.setdefault(key, []).append(mo)
    for months in keys.values():
        seasons[_season_name(months)] = [mo + 1 for mo in months]
    month_season = {mo: name for name, months in seasons.items() for mo in (m - 1 for m in months)}

    spec = {
        "code": str(data.get("label") or data.get("name") or "URDB")[:64],
        "name": str(data.get("name") or data.get("label") or "URDB tariff"),
        "utility": str(data.get("utility") or ""),
        "sector": _sector(data.get("sector")),
        "timezone": None,
        "holidays": "none",
        "seasons": seasons,
        "demand": {"interval_minutes": None},
        "source": f"URDB {data.get('label', '')}".strip(),
    }
    if data.get("demandwindow"):
        spec["demand"]["interval_minutes"] = int(number(data["demandwindow"], source, "demandwindow", integer=True))
    charges = []
    charges += _fixed(data, source)
    charges += additional_meters(data, source, meters_on_account)
    if energy:
        spec["time_of_use"], charges_energy = _energy(energy, wk, we, month_season, source)
        charges += charges_energy
    if flat:
        unit = demand_unit(data, "flatdemandunit", source)
        charges += [in_kw(c, unit) for c in _flat_demand(flat, flat_months, seasons, source)]
    if dstruct:
        spec["demand"]["time_of_use"], tou_charge = _tou_demand(dstruct, dwk, dwe, month_season, source)
        unit = demand_unit(data, "demandrateunit", source)
        charges += [in_kw(c, unit) for c in tou_charge]
    apply_reactive(data, spec, charges, source)  # $/kVAR and kVA demand (workbench.tariffs.urdb_reactive)
    coincident = coincident_charge(data, source, seasons, cp_months, system_peaks)
    if coincident:
        spec["demand"]["coincident_peaks"] = list(system_peaks)
        charges += coincident
    ratchet = urdb_ratchet(data, source)
    if ratchet:
        spec["demand"]["ratchet"] = ratchet
    if data.get("fueladjustmentsmonthly") is not None:
        # fuel adjustments are signed by definition (a negative one is a credit)
        fuel = [price(v, source, f"fueladjustmentsmonthly[{i}]", "rider", allow_negative=True)
                for i, v in enumerate(number_list(data, "fueladjustmentsmonthly", source, 12, "monthly $/kWh"))]
        if any(fuel):
            charges.append({"type": "rider", "description": "Fuel adjustment", "allow_negative": True,
                            "rate": {i + 1: v for i, v in enumerate(fuel)}})
    charges += _minimum(data, source)
    plausibility_warnings(data, source, energy)
    effective, expires = in_force(data, source)
    spec["versions"] = [{"effective": effective, "expires": expires, "charges": charges}]
    return spec


def _reject_unsupported(data, source):
    for field in ("flatdemandunit", "demandrateunit", "demandunits"):
        unit = data.get(field)
        if unit == "hp" or not bills_demand(data):  # hp: restated per kW; no demand charge: changes no bill
            continue
        if unit not in (None, "", "kW") and not reactive_supported_unit(unit):
            raise fail(source, field, f"demand unit {unit!r} is not supported (only kW)")
    unknown = sorted(set(data) - _IGNORED)
    if unknown:
        raise fail(source, unknown[0], f"unknown or unsupported field(s) {unknown}")


def _season_name(months):
    if len(months) == 12:
        return "all"
    runs, run = [], [months[0]]
    for mo in months[1:]:
        if mo == run[-1] + 1:
            run.append(mo)
        else:
            runs.append(run)
            run = [mo]
    runs.append(run)
    return "+".join(MONTHS[r[0]] if len(r) == 1 else f"{MONTHS[r[0]]}-{MONTHS[r[-1]]}" for r in runs)


def _sector(value):
    value = (value or "").lower()
    return value if value in ("residential", "commercial", "industrial", "lighting") else "other"


def _hour_windows(hours):
    """[3, 4, 5, 9] -> ['03:00-06:00', '09:00-10:00']"""
    out, start = [], None
    for h in range(25):
        inside = h in hours
        if inside and start is None:
            start = h
        if not inside and start is not None:
            out.append(f"{start:02d}:00-{h:02d}:00")
            start = None
    return out


def _tou_periods(wk, we, month_season, prefix):
    periods = {}
    seasons_done = set()
    for mo in range(12):
        season = month_season[mo]
        if season in seasons_done:
            continue
        seasons_done.add(season)
        for day, rows in (("weekday", wk), ("weekend", we)):
            for p in sorted(set(rows[mo])):
                hours = [h for h in range(24) if rows[mo][h] == p]
                periods.setdefault(f"{prefix}{p + 1}", []).append(
                    {"seasons": [season], "days": [day], "hours": _hour_windows(hours)}
                )
    return dict(sorted(periods.items(), key=lambda kv: int(kv[0][len(prefix):])))


def _used_by_season(wk, we, month_season):
    out = {}
    for mo in range(12):
        out.setdefault(month_season[mo], set()).update(wk[mo], we[mo])
    return {s: sorted(p) for s, p in out.items()}


def _energy(structure, wk, we, month_season, source):
    used = sorted({p for rows in (wk, we) for r in rows for p in r})
    by_season = _used_by_season(wk, we, month_season)
    structure = reachable_tiers(structure, "energyratestructure", source)
    limits, rates, units = seasonal_tiers(structure, "energyratestructure", source, by_season, ENERGY_UNITS)
    tou = {"periods": _tou_periods(wk, we, month_season, "p")}
    if any(limits.values()):
        # a period not used in a season still needs rates there (it never has kWh): its own first season's
        blocks = {"scope": "total", "limits": limits,
                  "rates": {s: {f"p{p + 1}": rates[s].get(p, _any_rates(rates, p)) for p in used} for s in rates}}
        distinct = {u for row in units.values() for u in row}
        if len(distinct) == 1:
            blocks["unit"] = distinct.pop()
        else:  # each limit keeps its unit (kWh, then kWh/kW; kWh in summer, kWh daily in winter)
            blocks["units"] = units
        charge = {"type": "energy", "description": "Energy", "blocks": blocks}
    else:
        charge = {"type": "energy", "description": "Energy",
                  "rates": {s: {f"p{p + 1}": rates[s].get(p, _any_rates(rates, p))[0] for p in used} for s in rates}}
    return tou, [charge]


def _any_rates(rates, p):
    return next(r[p] for r in rates.values() if p in r)


def _flat_demand(structure, flat_months, seasons, source):
    used = sorted(set(flat_months))
    structure = reachable_tiers(structure, "flatdemandstructure", source)
    limits, rates, _ = period_tiers(structure, "flatdemandstructure", source, used)
    season_period = {name: flat_months[months[0] - 1] for name, months in seasons.items()}
    if limits:
        return [{"type": "demand", "description": "Demand", "measure": "max", "blocks": {
            "limits": limits, "rates": {s: rates[p] for s, p in season_period.items()}}}]
    return [{"type": "demand", "description": "Demand", "measure": "max",
             "rates": {s: rates[p][0] for s, p in season_period.items()}}]


def _tou_demand(structure, wk, we, month_season, source):
    used = sorted({p for rows in (wk, we) for r in rows for p in r})
    structure = reachable_tiers(structure, "demandratestructure", source)
    limits, rates, _ = seasonal_tiers(structure, "demandratestructure", source, _used_by_season(wk, we, month_season))
    periods = _tou_periods(wk, we, month_season, "d")
    if any(limits.values()):
        charge = {"type": "demand", "description": "ToU demand", "measure": "tou", "blocks": {
            "limits": limits,
            "rates": {s: {f"d{p + 1}": rates[s].get(p, _any_rates(rates, p)) for p in used} for s in rates}}}
    else:
        charge = {"type": "demand", "description": "ToU demand", "measure": "tou",
                  "rates": {s: {f"d{p + 1}": rates[s].get(p, _any_rates(rates, p))[0] for p in used} for s in rates}}
    return {"periods": periods}, [charge]


def _amount(data, field, source, kind, per):
    value = data.get(field)
    return 0.0 if value in (None, "") else price(value, source, field, kind, per=per)


def _fixed(data, source):
    """The fixed charge as $ per month (PySAM bills $/day × 365/12 and $/year ÷ 12 every month)."""
    value = data.get("fixedchargefirstmeter")
    if value not in (None, "") and number(value, source, "fixedchargefirstmeter"):
        per = per_unit(data.get("fixedchargeunits"), "fixedchargeunits", source)
        amount = price(value, source, "fixedchargefirstmeter", "customer", per=per)
        factor = {"month": 1.0, "day": DAYS_PER_MONTH, "year": 1.0 / 12.0}[per]
        return [{"type": "customer", "description": "Fixed charge", "amount": amount * factor, "per": "month"}]
    amount = _amount(data, "fixedmonthlycharge", source, "customer", "month")
    return [{"type": "customer", "description": "Fixed charge", "amount": amount, "per": "month"}] if amount else []


def _minimum(data, source):
    value = data.get("mincharge")
    if value not in (None, "") and number(value, source, "mincharge"):
        per = per_unit(data.get("minchargeunits"), "minchargeunits", source)
        amount = price(value, source, "mincharge", "minimum", per=per)
        if per == "day":
            return [{"type": "minimum", "amount": amount * DAYS_PER_MONTH, "per": "month"}]
        return [{"type": "minimum", "amount": amount, "per": per}]
    for field, per in (("minmonthlycharge", "month"), ("annualmincharge", "year")):
        amount = _amount(data, field, source, "minimum", per)
        if amount:
            return [{"type": "minimum", "amount": amount, "per": per}]
    return []


def urdb_extras(data: dict, compiled) -> dict:
    """What net metering needs from a URDB item: ``dgrules`` and the ``sell`` rate of each energy bucket."""
    if "items" in data:
        data = data["items"][0]
    data = normalise(data, "<URDB tariff>")
    out = {"dgrules": data.get("dgrules")}
    structure = data.get("energyratestructure") or []
    sells = [float((tiers[0] if tiers else {}).get("sell", 0) or 0) for tiers in structure]
    # an absent sell rate is 0 $/kWh, as in URDB and PySAM
    rates = np.zeros(compiled.n_energy_buckets)
    for e in range(compiled.n_energy_buckets):
        name = compiled.tou_names[e % len(compiled.tou_names)]
        period = int(name[1:]) - 1 if name.startswith("p") and name[1:].isdigit() else 0
        rates[e] = sells[period] if period < len(sells) else 0.0
    out["sell_rates"] = rates

    out["sell_tiers"] = urdb_sell_tiers(data, compiled)  # (E, K): every tier's sell rate, for PySAM's options
    return out
