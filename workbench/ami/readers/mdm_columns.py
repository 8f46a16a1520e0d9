"""MDM long-format exports: which column is which, and the code tables for units, channels and quality.

The column aliases each role (meter, time, channel, value, unit, quality, interval length) is known by,
matched case-insensitively with spaces/underscores/dashes ignored (:func:`_map_columns`), and the tables that
turn a unit, a channel name or a quality code into the common schema (``UNIT_FACTORS``, ``CHANNEL_NAMES``,
``ESTIMATED_CODES``). The batch conversion is in ``mdm_convert.py``; the file reading in ``mdm.py``.
"""

from __future__ import annotations

import re

from workbench.errors import IntervalDataError

UNIT_FACTORS = {"kwh": 1.0, "wh": 1e-3, "mwh": 1e3}
#: reactive energy units -> kVARh: reads in these land in the 'reactive' channel (lagging)
REACTIVE_FACTORS = {"kvarh": 1.0, "varh": 1e-3, "mvarh": 1e3}
CHANNEL_NAMES = {
    "delivered": "delivered",
    "del": "delivered",
    "forward": "delivered",
    "fwd": "delivered",
    "import": "delivered",
    "imported": "delivered",
    "consumption": "delivered",
    "in": "delivered",
    "kwh_del": "delivered",
    "kwhdel": "delivered",
    "d": "delivered",
    "1": "delivered",
    "received": "received",
    "rec": "received",
    "rcvd": "received",
    "reverse": "received",
    "rev": "received",
    "export": "received",
    "exported": "received",
    "generation": "received",
    "out": "received",
    "kwh_rec": "received",
    "kwhrec": "received",
    "r": "received",
    "19": "received",
}
ESTIMATED_CODES = {"e", "est", "estimated", "s", "substituted", "8", "9", "1", "interpolated", "edited"}

_ALIASES = {
    "meter": (
        "meter",
        "meterid",
        "meternumber",
        "meterno",
        "servicepoint",
        "servicepointid",
        "sdpid",
        "deviceid",
        "usagepoint",
    ),
    "start": ("intervalstart", "start", "starttime", "startdatetime", "intervalstarttime", "periodstart"),
    "end": ("intervalend", "end", "endtime", "enddatetime", "intervalendtime", "periodend"),
    "timestamp": ("timestamp", "readtime", "datetime", "time", "readingtime", "intervaltime"),
    "channel": ("channel", "direction", "flowdirection", "channelname"),
    "value": ("value", "reading", "usage", "consumption", "energy", "kwh", "readvalue", "quantity"),
    "unit": ("unit", "units", "uom", "unitofmeasure"),
    "quality": ("quality", "qualitycode", "flag", "status", "readquality"),
    "seconds": ("intervalseconds", "seconds", "durationseconds", "duration", "intervallength"),
    "minutes": ("intervalminutes", "minutes", "durationminutes"),
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", name.strip().lower())


def _map_columns(path, names: list[str], columns: dict | None, timestamp: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    by_norm = {_norm(n): n for n in names}
    for role, aliases in _ALIASES.items():
        for a in aliases:
            if a in by_norm and by_norm[a] not in found.values():
                found[role] = by_norm[a]
                break
    for role, name in (columns or {}).items():
        if name not in names:
            raise IntervalDataError(
                f"{path}: column {name!r} (given for {role}) is not in the file; columns: {names}"
            )
        found[role] = name
    if "meter" not in found or "value" not in found:
        missing = [r for r in ("meter", "value") if r not in found]
        raise IntervalDataError(
            f"{path}: no {' or '.join(missing)} column found among {names}: name the columns meter_id and value "
            f"(in Python: columns={{'{missing[0]}': '<column>'}})."
        )
    time_roles = [r for r in ("start", "end", "timestamp") if r in found]
    if not time_roles:
        raise IntervalDataError(
            f"{path}: no interval time column (interval_start / interval_end / timestamp) in {names}"
        )
    if timestamp not in (None, "start", "end"):
        raise IntervalDataError(f"{path}: timestamp={timestamp!r}: say 'start' or 'end'")
    role = time_roles[0]
    if timestamp is None and role == "timestamp":
        raise IntervalDataError(
            f"{path}: column {found['timestamp']!r} does not say whether it is the interval start or end: "
            "name it interval_start or interval_end (in Python: timestamp='start' or timestamp='end')"
        )
    found["time"] = found[role]
    found["time_is"] = timestamp or role
    return found

