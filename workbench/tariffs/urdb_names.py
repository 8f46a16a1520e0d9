"""URDB field names as real items spell them, normalised to the API v8 names the importer reads.

URDB items reach users in three spellings: the API's lowercase names (v3/v7/v8: ``energyratestructure``), the
database export's camelCase names (``energyRateStrux``, ``flatDemandUnits``, ``demandReactPwrCharge``, as in
SDG&E items saved from the OpenEI site), and caches that simply capitalise the v8 names (``demandUnits``,
``dgRules``). Names are compared in lowercase; an alias is mapped to its v8 name, and a database-export rate
structure (``[{"energyRateTiers": [...]}, ...]``) is unwrapped to periods of tiers. Two spellings of the same
field with different values are an error naming both, never a silent choice.
"""

from __future__ import annotations

from workbench.errors import TariffError

#: lowercase alias -> URDB v8 field (the API's own names need no entry)
ALIASES = {
    # database export (camelCase, lowercased here)
    "utilityname": "utility", "ratename": "name", "effectivedate": "startdate",
    "energyratestrux": "energyratestructure", "energyweekdaysched": "energyweekdayschedule",
    "energyweekendsched": "energyweekendschedule", "demandratestrux": "demandratestructure",
    "demandweekdaysched": "demandweekdayschedule", "demandweekendsched": "demandweekendschedule",
    "flatdemandstrux": "flatdemandstructure", "coincidentratestrux": "coincidentratestructure",
    "coincidentratesched": "coincidentsched", "coincidentschedule": "coincidentsched",
    "flatdemandunits": "flatdemandunit", "demandrateunits": "demandrateunit", "coincidentrateunits": "coincidentrateunit",
    "demandreactpwrcharge": "demandreactivepowercharge", "fixedchargeaddlmeter": "fixedchargeeaaddl",
    "demandlabels": "demandtoulabels", "supercedes": "supersedes",
    "demandmin": "mindemand", "demandmax": "maxdemand", "energymin": "minenergy", "energymax": "maxenergy",
}
#: a database-export structure wraps each period's tiers in an object under one of these keys
_TIER_KEYS = ("energyratetiers", "demandratetiers", "flatdemandtiers", "coincidentratetiers")


def _unwrap(value):
    """[{"energyRateTiers": [tiers]}, ...] -> [[tiers], ...]; a v8 structure is returned as it is."""
    if not isinstance(value, list) or not value or not all(isinstance(p, dict) for p in value):
        return value
    out = []
    for period in value:
        keys = {str(k).lower(): k for k in period}
        found = next((keys[k] for k in _TIER_KEYS if k in keys), None)
        if found is None or len(period) != 1:
            return value  # not the export's shape: left for the field checks to name
        out.append(period[found])
    return out


def _date(value):
    """The export's {"$date": "2024-01-01T00:00:00Z"} (or {"$date": {"$numberLong": ms}}) -> an ISO date text."""
    if isinstance(value, dict) and "$date" in value:
        inner = value["$date"]
        if isinstance(inner, dict) and "$numberLong" in inner:
            return int(inner["$numberLong"]) / 1000.0
        return inner
    return value


def normalise(data: dict, source: str) -> dict:
    """The item with every field under its v8 name (lowercase; aliases mapped; export structures unwrapped)."""
    out, spelled = {}, {}
    for key, value in data.items():
        low = str(key).lower()
        name = ALIASES.get(low, low)
        if name.endswith("structure"):
            value = _unwrap(value)
        if name in ("startdate", "enddate"):
            value = _date(value)
        if name in out and out[name] != value:
            raise TariffError(f"{source}: URDB field '{name}' is given twice, as '{spelled[name]}' and '{key}', "
                              "with different values; keep one")
        out[name], spelled[name] = value, key
    return out
