"""Import an OpenEI Utility Rate Database (URDB v8) tariff into the workbench tariff model.

A URDB tariff becomes the same validated model a YAML tariff does, so it bills through the same engine.
Months whose schedules and demand months are identical are grouped into one season. Tier limits are
monthly and count all ToU periods together, each period's kWh allocated to tiers in proportion to its
share (URDB / PySAM semantics). A feature the engine cannot bill (reactive power, hp/kVA demand,
coincident charges without system peaks...) is an error that names the field, never a silent zero.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from workbench.errors import TariffError
from workbench.tariffs.checks import check_price

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_ENERGY_UNITS = {"kWh": "kWh", "kWh daily": "kWh/day", "kWh/kW": "kWh/kW", "kWh/kW daily": "kWh/kW/day"}
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
    "coincidentratestructure", "coincidentrateschedule", "coincidentrateunit", "demandreactivepowercharge",
    "demandunits", "_comment", "_id", "id", "utility_name", "locations", "service_type", "sourcereference",
    "energyunits", "isbasic", "ratesforutility",
}


def _fail(source, field, message):
    return TariffError(f"{source}: URDB field '{field}': {message}")


_CREDIT_HINT = ("a URDB tariff cannot mark a credit; write the tariff in YAML with 'allow_negative: true' on the "
                "charge (docs/tariff-format.md)")


def _num(value, source, field, *, integer=False) -> float:
    """A URDB number (a JSON number or numeric text), finite; else an error naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _fail(source, field, f"{value!r} is not a number")
    try:
        x = float(value)
    except ValueError:
        raise _fail(source, field, f"{value!r} is not a number") from None
    if not math.isfinite(x):
        raise _fail(source, field, f"{value!r} is not a finite number")
    if integer and x != int(x):
        raise _fail(source, field, f"{value!r} is not a whole number")
    return x


def _price(value, source, field, kind, *, per=None, allow_negative=False) -> float:
    """A URDB price: a number (see :func:`_num`), sane (see :func:`workbench.tariffs.checks.check_price`)."""
    return check_price(_num(value, source, field), f"{source}: URDB field '{field}'", kind, per=per,
                       allow_negative=allow_negative, credit_hint=_CREDIT_HINT)


def _list(data, field, source, length=None, what="values"):
    value = data.get(field)
    if not isinstance(value, list) or (length is not None and len(value) != length):
        n = f"{length} " if length is not None else ""
        got = f"{len(value)} values" if isinstance(value, list) else repr(value)[:40]
        raise _fail(source, field, f"expected a list of {n}{what}, got {got}")
    return value


def _structure(data, field, source, kind) -> list[list[dict]]:
    """A URDB rate structure (periods of tiers) with every number checked: rate, adj, sell, max."""
    raw = data.get(field) or []
    if not isinstance(raw, list):
        raise _fail(source, field, "expected a list of periods, each a list of tiers like {\"rate\": 0.1}")
    out = []
    for p, tiers in enumerate(raw):
        if not isinstance(tiers, list):
            raise _fail(source, f"{field}[{p}]", "expected a list of tiers like {\"rate\": 0.1, \"max\": 500}")
        clean, previous = [], 0.0
        for k, tier in enumerate(tiers):
            where = f"{field}[{p}][{k}]"
            if not isinstance(tier, dict):
                raise _fail(source, where, "expected a tier like {\"rate\": 0.1, \"max\": 500}")
            tier = dict(tier)
            for name in ("rate", "adj", "sell"):
                tier[name] = 0.0 if tier.get(name) in (None, "") else _num(tier[name], source, f"{where}.{name}")
            check_price(tier["rate"] + tier["adj"], f"{source}: URDB field '{where}.rate'"
                        + (" + adj" if tier["adj"] else ""), kind, credit_hint=_CREDIT_HINT)
            if tier.get("max") is not None:
                limit = _num(tier["max"], source, f"{where}.max")
                if limit <= previous:
                    raise _fail(source, f"{where}.max", f"tier limit {limit:g} must be positive and larger than "
                                f"the tier before's ({previous:g})")
                tier["max"], previous = limit, limit
            if not isinstance(tier.get("unit", "kWh"), str):
                raise _fail(source, f"{where}.unit", f"{tier['unit']!r} is not a unit")
            clean.append(tier)
        out.append(clean)
    return out


def _parse_moment(value, source, field) -> tuple[dt.datetime, bool]:
    """URDB startdate/enddate: seconds since 1970 UTC (as the API gives them) or an ISO date; (moment, has_time)."""
    if isinstance(value, str) and not value.strip().lstrip("-").replace(".", "", 1).isdigit():
        text = value.strip().replace("Z", "+00:00")
        try:
            if len(text) == 10:
                return dt.datetime.combine(dt.date.fromisoformat(text), dt.time()), False
            return dt.datetime.fromisoformat(text), True
        except ValueError:
            raise _fail(source, field, f"{value!r} is not a date; expected seconds since 1970 (as URDB gives "
                        "them) or a date like 2017-01-01") from None
    seconds = _num(value, source, field)
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC), True
    except (OverflowError, OSError, ValueError):
        raise _fail(source, field, f"{value!r} is not a date (seconds since 1970)") from None


def _in_force(data, source) -> tuple[dt.date, dt.date | None]:
    """(effective, expires exclusive) from startdate/enddate; no startdate: in force for any date."""
    effective, expires = dt.date(1900, 1, 1), None
    if data.get("startdate") not in (None, ""):
        effective = _parse_moment(data["startdate"], source, "startdate")[0].date()
    if data.get("enddate") not in (None, ""):
        moment, has_time = _parse_moment(data["enddate"], source, "enddate")
        # the last moment in force (23:59:59 of the last day; 00:00 of the next day also ends the day before)
        last_day = (moment - dt.timedelta(seconds=1)).date() if has_time else moment.date()
        expires = last_day + dt.timedelta(days=1)
        if expires <= effective:
            raise _fail(source, "enddate", f"the tariff ends ({last_day}) before it starts ({effective})")
    return effective, expires


def urdb_to_spec(data: dict, source: str = "<URDB tariff>") -> dict:
    """A URDB v8 item (or API response with ``items``) -> a workbench tariff dict (see model.TariffSpec).

    Every number is checked where URDB has it, and errors name the URDB field (``energyratestructure[2][0].rate``).
    ``startdate``/``enddate`` become the version's effective dates, so billing data outside them is an error
    that names both dates.
    """
    if isinstance(data, dict) and "items" in data:
        items = data["items"]
        if not isinstance(items, list) or len(items) != 1:
            n = len(items) if isinstance(items, list) else "no list of"
            raise TariffError(f"{source}: the URDB response holds {n} tariffs; save the one to bill")
        data = items[0]
    if isinstance(data, dict):  # the API and exports spell some fields in camelCase (demandUnits, dgRules)
        data = {str(k).lower(): v for k, v in data.items()}
    if not isinstance(data, dict) or "energyratestructure" not in data and "flatdemandstructure" not in data:
        raise TariffError(f"{source}: not a URDB v8 tariff (no energyratestructure or flatdemandstructure)")
    _reject_unsupported(data, source)

    energy = _structure(data, "energyratestructure", source, "energy")
    wk = _schedule(data, "energyweekdayschedule", source, len(energy)) if energy else [[0] * 24] * 12
    we = _schedule(data, "energyweekendschedule", source, len(energy)) if energy else wk
    flat = _structure(data, "flatdemandstructure", source, "demand")
    flat_months = [0] * 12
    if data.get("flatdemandmonths") is not None:
        flat_months = [_index(x, source, f"flatdemandmonths[{mo}]", len(flat), "flatdemandstructure")
                       for mo, x in enumerate(_list(data, "flatdemandmonths", source, 12, "period indices"))]
    dstruct = _structure(data, "demandratestructure", source, "demand")
    dwk = _schedule(data, "demandweekdayschedule", source, len(dstruct)) if dstruct else [[0] * 24] * 12
    dwe = _schedule(data, "demandweekendschedule", source, len(dstruct)) if dstruct else dwk

    # months with the same schedules and flat-demand period form one season
    keys, seasons = {}, {}
    for mo in range(12):
        key = (tuple(wk[mo]), tuple(we[mo]), flat_months[mo], tuple(dwk[mo]), tuple(dwe[mo]))
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
        spec["demand"]["interval_minutes"] = int(_num(data["demandwindow"], source, "demandwindow", integer=True))
    charges = []
    charges += _fixed(data, source)
    if energy:
        spec["time_of_use"], charges_energy = _energy(energy, wk, we, month_season, source)
        charges += charges_energy
    if flat:
        charges += _flat_demand(flat, flat_months, seasons, source)
    if dstruct:
        spec["demand"]["time_of_use"], tou_charge = _tou_demand(dstruct, dwk, dwe, month_season, source)
        charges += tou_charge
    ratchet = _ratchet(data, source)
    if ratchet:
        spec["demand"]["ratchet"] = ratchet
    if data.get("fueladjustmentsmonthly") is not None:
        # fuel adjustments are signed by definition (a negative one is a credit)
        fuel = [_price(v, source, f"fueladjustmentsmonthly[{i}]", "rider", allow_negative=True)
                for i, v in enumerate(_list(data, "fueladjustmentsmonthly", source, 12, "monthly $/kWh"))]
        if any(fuel):
            charges.append({"type": "rider", "description": "Fuel adjustment", "allow_negative": True,
                            "rate": {i + 1: v for i, v in enumerate(fuel)}})
    charges += _minimum(data, source)
    effective, expires = _in_force(data, source)
    spec["versions"] = [{"effective": effective, "expires": expires, "charges": charges}]
    return spec


def _reject_unsupported(data, source):
    if data.get("demandreactivepowercharge"):
        raise _fail(source, "demandreactivepowercharge", "reactive-power ($/kVAR) charges are not supported")
    if data.get("coincidentratestructure"):
        raise _fail(source, "coincidentratestructure", "coincident-peak charges need the system-peak intervals, "
                    "which URDB does not give; write the tariff in YAML with demand.coincident_peaks")
    for field in ("flatdemandunit", "demandrateunit", "demandunits"):
        unit = data.get(field)
        if unit not in (None, "", "kW"):
            raise _fail(source, field, f"demand unit {unit!r} is not supported (only kW)")
    if data.get("fixedchargeeaaddl"):
        raise _fail(source, "fixedchargeeaaddl", "charges per additional meter are not supported")
    pct = data.get("demandratchetpercentage")
    if pct and (not isinstance(pct, list) or any(pct)):
        raise _fail(source, "demandratchetpercentage",
                    "monthly ratchet percentages are not supported; use lookbackpercent / lookbackrange")
    unknown = sorted(set(data) - _IGNORED)
    if unknown:
        raise _fail(source, unknown[0], f"unknown or unsupported field(s) {unknown}")


def _index(value, source, field, n_periods, structure_field) -> int:
    """A 0-based period index into a rate structure of ``n_periods`` periods."""
    x = _num(value, source, field, integer=True) if not isinstance(value, bool) else -1.0
    if x < 0 or x >= max(n_periods, 1):
        raise _fail(source, field, f"{value!r} is not a period of {structure_field}, which has {n_periods} "
                    f"period(s): expected 0 to {max(n_periods, 1) - 1} (0-based)")
    return int(x)


def _schedule(data, field, source, n_periods):
    rows = data.get(field)
    if rows is None:
        raise _fail(source, field, "missing; a 12 × 24 schedule of 0-based period indices is required")
    if not isinstance(rows, list) or len(rows) != 12 or any(not isinstance(r, list) or len(r) != 24 for r in rows):
        raise _fail(source, field, "expected 12 months × 24 hours of period indices")
    structure = "energyratestructure" if field.startswith("energy") else "demandratestructure"
    return [[_index(x, source, f"{field}[{mo}][{h}]", n_periods, structure) for h, x in enumerate(r)]
            for mo, r in enumerate(rows)]


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


def _rate(tier):
    return float(tier.get("rate", 0) or 0) + float(tier.get("adj", 0) or 0)


_NO_LIMIT = 1e12  # pads the block limits of a season with fewer tiers than another


def _seasonal_tiers(structure, field, source, periods_by_season):
    """(limits by season, rates by season and period, unit). Periods used in the same months must share
    tier limits (URDB/PySAM tiers are monthly); seasons may differ. Seasons with fewer tiers are padded."""
    per_season = {s: _tiers(structure, field, source, used) for s, used in periods_by_season.items()}
    units = {u for _, _, u in per_season.values()}
    if len(units) > 1:
        raise _fail(source, field, f"tiers use different units {sorted(units)} in different months")
    n_limits = max(len(lim) for lim, _, _ in per_season.values())
    limits, rates = {}, {}
    for s, (lim, rate, _) in per_season.items():
        limits[s] = lim + [_NO_LIMIT * (i + 1) for i in range(n_limits - len(lim))]
        rates[s] = {p: r + [r[-1]] * (n_limits + 1 - len(r)) for p, r in rate.items()}
    return limits, rates, units.pop()


def _tiers(structure, field, source, used):
    """(limits, rates per period, unit) for tiered structures with URDB monthly limits."""
    limits, unit = None, None
    for p in used:
        if p >= len(structure):
            raise _fail(source, field, f"the schedules use period {p} but {field} has {len(structure)} periods")
        tiers = structure[p]
        if not tiers:
            raise _fail(source, f"{field}[{p}]", "period has no tiers")
        maxes = [t.get("max") for t in tiers[:-1]]
        if any(x is None for x in maxes):
            raise _fail(source, f"{field}[{p}]", "every tier but the last needs a 'max'")
        if len(maxes) and (limits is None or len(maxes) > len(limits)):
            if limits is not None and maxes[: len(limits)] != limits:
                raise _fail(source, f"{field}[{p}]", f"tier limits {maxes} differ from {limits} of another period; "
                            "URDB/PySAM tiers are monthly and shared by all periods")
            limits = [float(x) for x in maxes]
        elif len(maxes) and [float(x) for x in maxes] != limits[: len(maxes)]:
            raise _fail(source, f"{field}[{p}]", f"tier limits {maxes} differ from {limits} of another period")
        u = tiers[0].get("unit", "kWh")
        if unit is not None and u != unit:
            raise _fail(source, f"{field}[{p}]", f"tier unit {u!r} differs from {unit!r} of another period")
        unit = u
    n_blocks = len(limits) + 1 if limits else 1
    rates = {}
    for p in used:
        r = [_rate(t) for t in structure[p]]
        rates[p] = r + [r[-1]] * (n_blocks - len(r))  # a period with fewer tiers keeps its last rate
    return limits or [], rates, unit or "kWh"


def _used_by_season(wk, we, month_season):
    out = {}
    for mo in range(12):
        out.setdefault(month_season[mo], set()).update(wk[mo], we[mo])
    return {s: sorted(p) for s, p in out.items()}


def _energy(structure, wk, we, month_season, source):
    used = sorted({p for rows in (wk, we) for r in rows for p in r})
    by_season = _used_by_season(wk, we, month_season)
    limits, rates, unit = _seasonal_tiers(structure, "energyratestructure", source, by_season)
    if unit not in _ENERGY_UNITS:
        raise _fail(source, "energyratestructure", f"tier unit {unit!r} is not one of {sorted(_ENERGY_UNITS)}")
    tou = {"periods": _tou_periods(wk, we, month_season, "p")}
    if any(limits.values()):
        # a period not used in a season still needs rates there (it never has kWh): its own first season's
        charge = {"type": "energy", "description": "Energy", "blocks": {
            "unit": _ENERGY_UNITS[unit], "scope": "total", "limits": limits,
            "rates": {s: {f"p{p + 1}": rates[s].get(p, _any_rates(rates, p)) for p in used} for s in rates}}}
    else:
        charge = {"type": "energy", "description": "Energy",
                  "rates": {s: {f"p{p + 1}": rates[s].get(p, _any_rates(rates, p))[0] for p in used} for s in rates}}
    return tou, [charge]


def _any_rates(rates, p):
    return next(r[p] for r in rates.values() if p in r)


def _flat_demand(structure, flat_months, seasons, source):
    used = sorted(set(flat_months))
    limits, rates, _ = _tiers(structure, "flatdemandstructure", source, used)
    season_period = {name: flat_months[months[0] - 1] for name, months in seasons.items()}
    if limits:
        return [{"type": "demand", "description": "Demand", "measure": "max", "blocks": {
            "limits": limits, "rates": {s: rates[p] for s, p in season_period.items()}}}]
    return [{"type": "demand", "description": "Demand", "measure": "max",
             "rates": {s: rates[p][0] for s, p in season_period.items()}}]


def _tou_demand(structure, wk, we, month_season, source):
    used = sorted({p for rows in (wk, we) for r in rows for p in r})
    limits, rates, _ = _seasonal_tiers(structure, "demandratestructure", source, _used_by_season(wk, we, month_season))
    periods = _tou_periods(wk, we, month_season, "d")
    if any(limits.values()):
        charge = {"type": "demand", "description": "ToU demand", "measure": "tou", "blocks": {
            "limits": limits,
            "rates": {s: {f"d{p + 1}": rates[s].get(p, _any_rates(rates, p)) for p in used} for s in rates}}}
    else:
        charge = {"type": "demand", "description": "ToU demand", "measure": "tou",
                  "rates": {s: {f"d{p + 1}": rates[s].get(p, _any_rates(rates, p))[0] for p in used} for s in rates}}
    return {"periods": periods}, [charge]


def _ratchet(data, source):
    pct = 0.0 if data.get("lookbackpercent") in (None, "") else _num(data["lookbackpercent"], source, "lookbackpercent")
    if not pct:
        return None
    if not 0 < pct <= 1:
        raise _fail(source, "lookbackpercent", f"{pct:g} should be a fraction in (0, 1] (0.8 for 80%)")
    rng = 0 if data.get("lookbackrange") in (None, "") else _num(data["lookbackrange"], source, "lookbackrange",
                                                                   integer=True)
    if not 0 <= rng <= 36:
        raise _fail(source, "lookbackrange", f"{rng:g} months; expected 0 to 36")
    rng = int(rng)
    months = [] if not data.get("lookbackmonths") else _list(data, "lookbackmonths", source, 12, "booleans")
    if any(v not in (True, False, 0, 1) for v in months):
        raise _fail(source, "lookbackmonths", "expected 12 booleans (true: that month's peak counts)")
    # lookbackrange: how many months back; lookbackmonths: which months' peaks count (as SAM reads them)
    out = {"percent": pct * 100, "months": rng or 11}
    if any(months):
        out["count_months"] = [i + 1 for i, v in enumerate(months) if v]
    if rng or any(months):
        return out
    raise _fail(source, "lookbackpercent", "a lookback percent needs lookbackrange or lookbackmonths")


# PySAM's convention (docs/pysam-conventions.md): a $/day charge is billed as 365/12 days every month,
# whatever the month's length; URDB tariffs follow it so their bills agree with SAM to the cent.
DAYS_PER_MONTH = 365.0 / 12.0
_UNIT_PER = {"$/month": "month", "$/mo": "month", "$/day": "day", "$/year": "year"}


def _per(units, field, source):
    """What a URDB unit field says an amount is per: month, day or year (absent: $/month, URDB's default)."""
    if units in (None, ""):
        return "month"
    if not isinstance(units, str) or units.strip() not in _UNIT_PER:
        raise _fail(source, field, f"unit {units!r} is not one of $/month, $/day, $/year")
    return _UNIT_PER[units.strip()]


def _amount(data, field, source, kind, per):
    value = data.get(field)
    return 0.0 if value in (None, "") else _price(value, source, field, kind, per=per)


def _fixed(data, source):
    """The fixed charge as $ per month (PySAM bills $/day × 365/12 and $/year ÷ 12 every month)."""
    value = data.get("fixedchargefirstmeter")
    if value not in (None, "") and _num(value, source, "fixedchargefirstmeter"):
        per = _per(data.get("fixedchargeunits"), "fixedchargeunits", source)
        amount = _price(value, source, "fixedchargefirstmeter", "customer", per=per)
        factor = {"month": 1.0, "day": DAYS_PER_MONTH, "year": 1.0 / 12.0}[per]
        return [{"type": "customer", "description": "Fixed charge", "amount": amount * factor, "per": "month"}]
    amount = _amount(data, "fixedmonthlycharge", source, "customer", "month")
    return [{"type": "customer", "description": "Fixed charge", "amount": amount, "per": "month"}] if amount else []


def _minimum(data, source):
    value = data.get("mincharge")
    if value not in (None, "") and _num(value, source, "mincharge"):
        per = _per(data.get("minchargeunits"), "minchargeunits", source)
        amount = _price(value, source, "mincharge", "minimum", per=per)
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
    data = {str(k).lower(): v for k, v in data.items()}
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
    from workbench.nem.pysam_options import urdb_sell_tiers  # lazy: nem imports tariffs

    out["sell_tiers"] = urdb_sell_tiers(data, compiled)  # (E, K): every tier's sell rate, for PySAM's options
    return out


def to_urdb(tariff, version: int = 0) -> tuple[dict, list[str]]:
    """Export a compiled tariff as a URDB v8 item, for SAM/PySAM and other URDB tools.

    Returns ``(item, dropped)``: ``dropped`` names what URDB cannot say (holidays, taxes, minimum billing
    demand, coincident peaks, RTP, sub-hourly ToU boundaries...), so a comparison can state its caveats.
    """
    from workbench.calendar import HOLIDAY, WEEKDAY, WEEKEND

    dropped = []
    if tariff.holidays != "none":
        dropped.append(f"holidays ({tariff.holidays}): URDB has none")
    if tariff.timezone:
        dropped.append(f"time zone {tariff.timezone} and DST: URDB schedules are in local standard hours")
    grid = tariff.energy_grid
    if (grid[:, :, ::60].repeat(60, axis=2) != grid).any():
        dropped.append("ToU boundaries inside an hour: rounded to the hour")
    del HOLIDAY
    hours = np.arange(24) * 60
    charges = tariff.versions[version].charges
    item = {"label": tariff.code, "name": tariff.name, "utility": "", "sector": "Commercial"}
    energy = [c for c in charges if c.kind in ("energy", "energy_blocks")]
    if len(energy) > 1:
        dropped.append("more than one energy charge: only the first is exported")
    buckets = sorted({int(b) for b in np.unique(grid[:, [WEEKDAY, WEEKEND]][..., hours])})
    index = {b: i for i, b in enumerate(buckets)}
    item["energyweekdayschedule"] = [[index[int(grid[mo, WEEKDAY, h])] for h in hours] for mo in range(12)]
    item["energyweekendschedule"] = [[index[int(grid[mo, WEEKEND, h])] for h in hours] for mo in range(12)]
    units = {"kWh": "kWh", "kWh/day": "kWh daily", "kWh/kW": "kWh/kW", "kWh/kW/day": "kWh/kW daily"}
    structure = []
    for b in buckets:
        season = b // len(tariff.tou_names)
        if not energy:
            structure.append([{"rate": 0.0}])
        elif energy[0].kind == "energy":
            structure.append([{"rate": float(energy[0].rates[b])}])
        else:
            c = energy[0]
            if c.spec.blocks.scope != "total":
                dropped.append("blocks per ToU period (scope: period): exported as monthly blocks")
            limits = c.limits[season]
            structure.append([
                {"rate": float(c.rates[b, k]), "unit": units[c.spec.blocks.unit],
                 **({"max": float(limits[k])} if k < len(limits) else {})}
                for k in range(c.rates.shape[1])
            ])
    item["energyratestructure"] = structure
    riders = [c for c in charges if c.kind == "rider"]
    if riders:
        fuel = np.zeros(12)
        for c in riders:
            rate = c.spec.rate
            fuel += [rate[m + 1] for m in range(12)] if isinstance(rate, dict) else rate
        item["fueladjustmentsmonthly"] = [float(x) for x in fuel]
    for c in charges:
        spec = c.spec
        if c.kind == "customer":
            item["fixedchargefirstmeter"] = float(spec.amount) * (DAYS_PER_MONTH if spec.per == "day" else 1.0)
            item["fixedchargeunits"] = "$/month"
        elif c.kind == "minimum":
            item["mincharge"], item["minchargeunits"] = float(spec.amount), {"year": "$/year"}.get(spec.per, "$/month")
        elif c.kind in ("demand", "demand_blocks") and spec.measure == "max":
            n_s = len(tariff.season_names)
            rows = c.rates.reshape(n_s, -1)
            item["flatdemandstructure"] = [
                [{"rate": float(rows[s, k]), **({"max": float(c.limits[s][k])} if c.limits is not None and k < c.limits.shape[1] else {})}
                 for k in range(rows.shape[1])]
                for s in range(n_s)
            ]
            item["flatdemandmonths"] = [int(s) for s in tariff.month_season]
            item["flatdemandunit"] = "kW"
        elif c.kind in ("demand", "demand_blocks") and spec.measure == "tou":
            dgrid = tariff.demand_grid
            dbuckets = sorted({int(b) for b in np.unique(dgrid[:, [WEEKDAY, WEEKEND]][..., hours])})
            # URDB needs a period for every hour: hours outside demand ToU get a $0 period
            dindex = {b: i for i, b in enumerate(dbuckets)}
            rates = c.rates if c.rates.ndim == 2 else c.rates[:, None]
            item["demandratestructure"] = [
                [{"rate": float(rates[b, 0]) if b >= 0 else 0.0}] for b in dbuckets
            ]
            if rates.shape[1] > 1:
                dropped.append("tiered ToU demand: exported at the first block's rate")
            item["demandweekdayschedule"] = [[dindex[int(dgrid[mo, WEEKDAY, h])] for h in hours] for mo in range(12)]
            item["demandweekendschedule"] = [[dindex[int(dgrid[mo, WEEKEND, h])] for h in hours] for mo in range(12)]
            item["demandrateunit"] = "kW"
        elif c.kind in ("demand", "demand_blocks"):
            dropped.append(f"{spec.measure} demand charge '{spec.description}'")
        elif c.kind in ("tax", "rtp"):
            dropped.append(f"{c.kind} '{spec.description}'")
    if tariff.minimum_kw:
        dropped.append(f"minimum billing demand {tariff.minimum_kw} kW")
    if tariff.ratchet is not None:
        item["lookbackpercent"] = tariff.ratchet.percent / 100.0
        item["lookbackrange"] = tariff.ratchet.months
        item["lookbackmonths"] = [m + 1 in tariff.ratchet.count_months for m in range(12)]
    if tariff.demand_interval_minutes not in (None, 15, 60):
        dropped.append(f"{tariff.demand_interval_minutes}-minute demand window")
    return item, dropped
