"""URDB fields, read and checked where URDB has them: every error names the URDB field.

Numbers may be JSON numbers or numeric text and must be finite; prices go through
:func:`workbench.tariffs.checks.check_price` (absurd and unannounced negative prices refused, implausible ones
warned); schedules hold 0-based indices of existing periods; tier limits are positive and increasing;
``startdate``/``enddate`` become effective dates.
"""

from __future__ import annotations

import datetime as dt
import math

from workbench.errors import TariffError
from workbench.tariffs.checks import check_price


def fail(source, field, message):
    return TariffError(f"{source}: URDB field '{field}': {message}")


CREDIT_HINT = ("a URDB tariff cannot mark a credit; write the tariff in YAML with 'allow_negative: true' on the "
                "charge (docs/tariff-format.md)")


def number(value, source, field, *, integer=False) -> float:
    """A URDB number (a JSON number or numeric text), finite; else an error naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise fail(source, field, f"{value!r} is not a number")
    try:
        x = float(value)
    except ValueError:
        raise fail(source, field, f"{value!r} is not a number") from None
    if not math.isfinite(x):
        raise fail(source, field, f"{value!r} is not a finite number")
    if integer and x != int(x):
        raise fail(source, field, f"{value!r} is not a whole number")
    return x


def price(value, source, field, kind, *, per=None, allow_negative=False) -> float:
    """A URDB price: a number (see :func:`number`), sane (see :func:`workbench.tariffs.checks.check_price`)."""
    return check_price(number(value, source, field), f"{source}: URDB field '{field}'", kind, per=per,
                       allow_negative=allow_negative, credit_hint=CREDIT_HINT)


def number_list(data, field, source, length=None, what="values"):
    value = data.get(field)
    if not isinstance(value, list) or (length is not None and len(value) != length):
        n = f"{length} " if length is not None else ""
        got = f"{len(value)} values" if isinstance(value, list) else repr(value)[:40]
        raise fail(source, field, f"expected a list of {n}{what}, got {got}")
    return value


def rate_structure(data, field, source, kind) -> list[list[dict]]:
    """A URDB rate structure (periods of tiers) with every number checked: rate, adj, sell, max."""
    raw = data.get(field) or []
    if not isinstance(raw, list):
        raise fail(source, field, "expected a list of periods, each a list of tiers like {\"rate\": 0.1}")
    out = []
    for p, tiers in enumerate(raw):
        if not isinstance(tiers, list):
            raise fail(source, f"{field}[{p}]", "expected a list of tiers like {\"rate\": 0.1, \"max\": 500}")
        clean, previous = [], 0.0
        for k, tier in enumerate(tiers):
            where = f"{field}[{p}][{k}]"
            if not isinstance(tier, dict):
                raise fail(source, where, "expected a tier like {\"rate\": 0.1, \"max\": 500}")
            tier = dict(tier)
            for name in ("rate", "adj", "sell"):
                tier[name] = 0.0 if tier.get(name) in (None, "") else number(tier[name], source, f"{where}.{name}")
            check_price(tier["rate"] + tier["adj"], f"{source}: URDB field '{where}.rate'"
                        + (" + adj" if tier["adj"] else ""), kind, credit_hint=CREDIT_HINT)
            if tier.get("max") is not None:
                limit = number(tier["max"], source, f"{where}.max")
                if limit <= previous:
                    raise fail(source, f"{where}.max", f"tier limit {limit:g} must be positive and larger than "
                                f"the tier before's ({previous:g})")
                tier["max"], previous = limit, limit
            if not isinstance(tier.get("unit", "kWh"), str):
                raise fail(source, f"{where}.unit", f"{tier['unit']!r} is not a unit")
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
            raise fail(source, field, f"{value!r} is not a date; expected seconds since 1970 (as URDB gives "
                        "them) or a date like 2017-01-01") from None
    seconds = number(value, source, field)
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC), True
    except (OverflowError, OSError, ValueError):
        raise fail(source, field, f"{value!r} is not a date (seconds since 1970)") from None


def in_force(data, source) -> tuple[dt.date, dt.date | None]:
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
            raise fail(source, "enddate", f"the tariff ends ({last_day}) before it starts ({effective})")
    return effective, expires


def period_index(value, source, field, n_periods, structure_field) -> int:
    """A 0-based period index into a rate structure of ``n_periods`` periods."""
    x = number(value, source, field, integer=True) if not isinstance(value, bool) else -1.0
    if x < 0 or x >= max(n_periods, 1):
        raise fail(source, field, f"{value!r} is not a period of {structure_field}, which has {n_periods} "
                    f"period(s): expected 0 to {max(n_periods, 1) - 1} (0-based)")
    return int(x)


def read_schedule(data, field, source, n_periods):
    rows = data.get(field)
    if rows is None:
        raise fail(source, field, "missing; a 12 × 24 schedule of 0-based period indices is required")
    if not isinstance(rows, list) or len(rows) != 12 or any(not isinstance(r, list) or len(r) != 24 for r in rows):
        raise fail(source, field, "expected 12 months × 24 hours of period indices")
    structure = "energyratestructure" if field.startswith("energy") else "demandratestructure"
    return [[period_index(x, source, f"{field}[{mo}][{h}]", n_periods, structure) for h, x in enumerate(r)]
            for mo, r in enumerate(rows)]


# PySAM's convention (docs/pysam-conventions.md): a $/day charge is billed as 365/12 days every month,
# whatever the month's length; URDB tariffs follow it so their bills agree with SAM to the cent.
DAYS_PER_MONTH = 365.0 / 12.0
_UNIT_PER = {"$/month": "month", "$/mo": "month", "$/day": "day", "$/year": "year"}


def per_unit(units, field, source):
    """What a URDB unit field says an amount is per: month, day or year (absent: $/month, URDB's default)."""
    if units in (None, ""):
        return "month"
    if not isinstance(units, str) or units.strip() not in _UNIT_PER:
        raise fail(source, field, f"unit {units!r} is not one of $/month, $/day, $/year")
    return _UNIT_PER[units.strip()]
