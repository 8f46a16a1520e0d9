"""Reading and checking the rows of a meter registry file; every error names the file, the row and the field.

Reads a CSV or YAML registry into numbered records (their columns checked against the registry's columns),
turns each record into a :class:`~workbench.ami.registry_meter.Meter` (every field checked, defaults applied,
install and removal dates parsed as local wall-clock times), and checks the meters together: no meter listed
twice, the meters of one service point agree on the row's attributes and their install windows do not overlap.
:class:`~workbench.ami.registry.MeterRegistry` and :func:`~workbench.ami.registry.load_registry` use these
checks. See ``docs/registry.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from pathlib import Path

import numpy as np

from workbench.ami.readers._text import bounded_lines
from workbench.ami.registry_meter import (
    _FILE_COLUMNS,
    CHANNELS,
    CUSTOMER_CLASSES,
    MAX_RATIO,
    MAX_SERVICE_KW,
    ROW_ATTRIBUTES,
    UNITS,
    Meter,
    RegistryError,
)

_YES = {"yes", "y", "true", "t", "1"}
_NO = {"no", "n", "false", "f", "0", ""}
_REQUIRED = ("meter_id", "customer_class", "rate_code")


def _csv_records(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(bounded_lines(f, path))
            header = next(reader, None)
            if not header:
                raise RegistryError(f"{path}: the file is empty (expected a header line with meter_id, ...)")
            header = [h.strip().lower() for h in header]
            _check_columns(path, header)
            out = []
            for line_no, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise RegistryError(
                        f"{path}: line {line_no}: {len(values)} fields, but the header has {len(header)}"
                    )
                out.append((line_no, dict(zip(header, values, strict=True))))
            return out
    except UnicodeDecodeError as e:
        raise RegistryError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the registry as CSV "
                            "UTF-8") from None
    except csv.Error as e:
        raise RegistryError(f"{path}: not a readable CSV ({e})") from None


def _yaml_records(path: Path):
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise RegistryError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the registry as "
                            "UTF-8") from None
    except yaml.YAMLError as e:
        raise RegistryError(f"{path}: not valid YAML: {e}") from None
    if isinstance(doc, dict):
        doc = doc.get("meters")
    if not isinstance(doc, list):
        raise RegistryError(f"{path}: expected a list of meters (or a mapping with a 'meters' list)")
    out = []
    for i, rec in enumerate(doc, start=1):
        if not isinstance(rec, dict):
            raise RegistryError(f"{path}: entry {i}: expected a mapping of fields, got {type(rec).__name__}")
        rec = {str(k).strip().lower(): ("" if v is None else v) for k, v in rec.items()}
        _check_columns(path, list(rec), where=f"entry {i}: ")
        out.append((i, rec))
    return out


def _check_columns(path, names, where=""):
    unknown = [n for n in names if n not in _FILE_COLUMNS]
    if unknown:
        raise RegistryError(
            f"{path}: {where}unknown column(s) {unknown}; the registry's columns are {list(_FILE_COLUMNS)}"
        )
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        raise RegistryError(f"{path}: {where}required column(s) {missing} missing")


def _parse_record(path, where, row, rec: dict) -> Meter:
    def err(field, msg):
        return RegistryError(f"{path}: {where} {row}: {field}: {msg}")

    def text(field, default=""):
        value = rec.get(field, "")
        value = "" if value is None else str(value).strip()
        return value or default

    meter_id = text("meter_id")
    if not meter_id:
        raise err("meter_id", "empty (every meter needs an id)")
    service_point = text("service_point", meter_id)
    cls = text("customer_class").upper()
    if cls not in CUSTOMER_CLASSES:
        raise err("customer_class", f"{text('customer_class')!r} is not one of {list(CUSTOMER_CLASSES)}")
    rate_code = text("rate_code")
    if not rate_code:
        raise err("rate_code", "empty (the tariff code the meter is billed on, e.g. RES-TOU)")
    nem_program = text("nem_program")
    cycle_text = text("cycle", "1")
    try:
        cycle = int(float(cycle_text))
        if cycle != float(cycle_text) or not 1 <= cycle <= 32767:
            raise ValueError
    except (ValueError, OverflowError):
        raise err("cycle", f"{cycle_text!r} is not a bill cycle number (a whole number >= 1)") from None
    channels_text = text("channels", "delivered+received" if nem_program else "delivered")
    tokens = [t for t in channels_text.replace(";", " ").replace("+", " ").replace(",", " ").split() if t]
    channels = []
    for t in tokens:
        if t.lower() not in CHANNELS:
            raise err("channels", f"{t!r} is not a channel: use delivered, received or delivered+received")
        channels.append(t.lower())
    channels = tuple(c for c in CHANNELS if c in channels)
    if not channels:
        raise err("channels", "empty: use delivered, received or delivered+received")
    unit = UNITS.get(text("unit", "kWh").lower())
    if unit is None:
        raise err("unit", f"{text('unit')!r} is not an energy unit (kWh, Wh or MWh)")
    ratios = {}
    for field in ("ct_ratio", "pt_ratio"):
        raw = text(field, "1")
        try:
            value = float(raw)
        except ValueError:
            raise err(field, f"{raw!r} is not a number") from None
        if not np.isfinite(value) or value <= 0:
            raise err(field, f"{raw} must be a positive number (1 for a self-contained meter)")
        if value > MAX_RATIO:
            raise err(field, f"{raw} is beyond any instrument transformer's ratio (at most {MAX_RATIO:,.0f}; "
                             "write the ratio, e.g. 80 for 400:5)")
        ratios[field] = value
    max_kw = None
    raw = text("max_kw")
    if raw:
        try:
            max_kw = float(raw)
        except ValueError:
            raise err("max_kw", f"{raw!r} is not a number of kW") from None
        if not np.isfinite(max_kw) or not 0 < max_kw <= MAX_SERVICE_KW:
            raise err("max_kw", f"{raw} must be a number of kW above 0 and at most {MAX_SERVICE_KW:,.0f} (blank: "
                                "the class default)")
    applied_text = text("multiplier_applied").lower()
    if applied_text in _YES:
        applied = True
    elif applied_text in _NO:
        applied = False
    else:
        raise err("multiplier_applied", f"{text('multiplier_applied')!r}: say yes or no")
    tz = text("timezone")
    if tz:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise err("timezone", f"{tz!r} is not an IANA time zone (e.g. America/New_York)") from None
    install = _parse_when(rec.get("install_date"), lambda m: err("install_date", m))
    removal = _parse_when(rec.get("removal_date"), lambda m: err("removal_date", m))
    if install is not None and removal is not None and removal <= install:
        raise err("removal_date", f"{removal} is not after install_date {install}")
    return Meter(
        meter_id=meter_id, service_point=service_point, account=text("account", service_point),
        customer_class=cls, rate_code=rate_code, cycle=cycle, nem_program=nem_program, channels=channels,
        unit=unit, ct_ratio=ratios["ct_ratio"], pt_ratio=ratios["pt_ratio"], multiplier_applied=applied,
        install=install, removal=removal, timezone=tz, max_kw=max_kw, row=row,
    )


def _parse_when(value, err) -> dt.datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else _aware_error(err, value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = str(value).strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise err(f"{text!r} is not a date like 2025-03-14 (or a local time like 2025-03-14T10:30)") from None
    if parsed.tzinfo is not None:
        return _aware_error(err, text)
    return parsed


def _aware_error(err, value):
    raise err(f"{value!r} has a UTC offset; write the local date or time (the meter's timezone applies)")


def _validate_meters(meters, source) -> None:
    seen: dict[str, Meter] = {}
    for m in meters:
        if m.meter_id in seen:
            raise RegistryError(
                f"{source}: row {m.row}: meter_id: {m.meter_id!r} is listed twice (also row {seen[m.meter_id].row})"
            )
        seen[m.meter_id] = m
    by_sp: dict[str, list[Meter]] = {}
    for m in meters:
        by_sp.setdefault(m.service_point, []).append(m)
    for sp, ms in by_sp.items():
        first = ms[0]
        for m in ms[1:]:
            for attr in ROW_ATTRIBUTES:
                if getattr(m, attr) != getattr(first, attr):
                    raise RegistryError(
                        f"{source}: row {m.row}: {attr}: {getattr(m, attr)!r} differs from row {first.row} "
                        f"({getattr(first, attr)!r}), another meter on service point {sp!r}; the meters of one "
                        "service point bill one account and must agree"
                    )
        if len(ms) > 1:
            ordered = sorted(ms, key=lambda m: m.install or dt.datetime.min)
            for a, b in zip(ordered, ordered[1:], strict=False):
                a_end = a.removal or dt.datetime.max
                if b.install is None or a_end > b.install:
                    raise RegistryError(
                        f"{source}: rows {a.row} and {b.row}: meters {a.meter_id!r} and {b.meter_id!r} are both "
                        f"installed on service point {sp!r} at the same time (install {a.install or 'open'} to "
                        f"{a.removal or 'open'} and {b.install or 'open'} to {b.removal or 'open'}); give the "
                        "old meter a removal_date on or before the new meter's install_date"
                    )

