"""Reading and checking the rows of a meter registry file; every error names the file, the row and the field.

Reads a CSV or YAML registry into columns (checked against the registry's columns), validates every column
with its pydantic definition in :class:`~workbench.ami.registry_model.MeterRow` (each *distinct* value once:
a registry of 500,000 meters has a few dozen distinct classes, ratios, cycles and dates, so the file loads in
a few seconds), fills the defaults and builds one :class:`~workbench.ami.registry_meter.Meter` per row. Then
checks the meters together: no meter listed twice, the meters of one service point agree on the row's
attributes and their install windows do not overlap. :func:`~workbench.ami.registry.load_registry` uses these
checks. See ``docs/registry.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
from collections import Counter
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path

from pydantic import ValidationError

from workbench.ami.readers._text import bounded_lines
from workbench.ami.registry_meter import _FILE_COLUMNS, ROW_ATTRIBUTES, Meter, RegistryError
from workbench.ami.registry_model import (
    FIELD_ADAPTERS,
    FIELD_ORDER,
    REQUIRED_TEXT,
    TEXT_FIELDS,
    MeterRow,
    default_channels,
    problem_text,
    removal_problem,
)

_REQUIRED = ("meter_id", "customer_class", "rate_code")
BAD = object()  # a value its column's check refused


@contextmanager
def paused_gc():
    """The cyclic garbage collector off while a file's rows become records (they form no cycles): it would
    otherwise rescan the growing heap again and again, half the time of loading 100,000 rows."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _csv_columns(path: Path) -> tuple[list[int], dict[str, list]]:
    """(line numbers, {column: values}) of a CSV registry; blank lines skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(bounded_lines(f, path))
            header = next(reader, None)
            if not header:
                raise RegistryError(f"{path}: the file is empty (expected a header line with meter_id, ...)")
            header = [h.strip().lower() for h in header]
            _check_columns(path, header)
            width = len(header)
            rows = list(reader)
    except UnicodeDecodeError as e:
        raise RegistryError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the registry as CSV "
                            "UTF-8") from None
    except csv.Error as e:
        raise RegistryError(f"{path}: not a readable CSV ({e})") from None
    lines: list[int] = list(range(2, len(rows) + 2))
    if any(len(values) != width or not values[0].strip() for values in rows):  # blank lines, wrong widths
        lines, kept = [], []
        for line_no, values in enumerate(rows, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(values) != width:
                raise RegistryError(f"{path}: line {line_no}: {len(values)} fields, but the header has {width}")
            lines.append(line_no)
            kept.append(values)
        rows = kept
    columns = dict(zip(header, (list(c) for c in zip(*rows, strict=True)), strict=False)) if rows else {}
    return lines, columns


def _yaml_columns(path: Path) -> tuple[list[int], dict[str, list]]:
    """(entry numbers, {column: values}) of a YAML registry (a list of mappings, or ``meters:`` holding one)."""
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
    records = []
    for i, rec in enumerate(doc, start=1):
        if not isinstance(rec, dict):
            raise RegistryError(f"{path}: entry {i}: expected a mapping of fields, got {type(rec).__name__}")
        rec = {str(k).strip().lower(): _yaml_value(v) for k, v in rec.items()}
        _check_columns(path, list(rec), where=f"entry {i}: ")
        records.append(rec)
    names = [c for c in _FILE_COLUMNS if any(c in rec for rec in records)]
    return list(range(1, len(records) + 1)), {c: [rec.get(c, "") for rec in records] for c in names}


def _yaml_value(value):
    """A YAML scalar as the CSV would hold it (dates kept: they are what they say)."""
    if value is None:
        return ""
    if isinstance(value, (dt.date, str)):
        return value
    return str(value)


def _check_columns(path, names, where=""):
    unknown = [n for n in names if n not in _FILE_COLUMNS]
    if unknown:
        raise RegistryError(
            f"{path}: {where}unknown column(s) {unknown}; the registry's columns are {list(_FILE_COLUMNS)}"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RegistryError(f"{path}: {where}column(s) {twice} given twice; each column may appear once")
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        raise RegistryError(f"{path}: {where}required column(s) {missing} missing")


def validate_values(name: str, values: list, adapter, optional: bool, describe) -> tuple[list, tuple | None]:
    """A column's values through its pydantic ``adapter``, each distinct value once (a registry repeats the same
    few values): the values validated (None for a blank ``optional`` one, ``BAD`` where refused) and the first
    refusal as (row index, ``describe(name, value, pydantic error)``), or None."""
    checked, first_bad = {}, None
    for value in set(values):
        if value == "" and optional:
            checked[value] = None
            continue
        try:
            checked[value] = adapter.validate_python(value)
        except ValidationError as exc:
            checked[value] = BAD
            index = values.index(value)
            if first_bad is None or index < first_bad[0]:
                first_bad = (index, describe(name, value, exc.errors()[0]))
    return [checked[v] for v in values], first_bad


def _check_column(name: str, values: list, problems: list) -> list | None:
    """The column's values validated (None: blank; ``BAD``: refused, its first refusal added to ``problems``)."""
    try:
        values = list(map(str.strip, values))
    except TypeError:  # a YAML date among the text
        values = [v.strip() if isinstance(v, str) else v for v in values]
    if name in TEXT_FIELDS:
        if name in REQUIRED_TEXT and "" in set(values):
            problems.append((values.index(""), FIELD_ORDER[name], name, REQUIRED_TEXT[name]))
            return None
        return values
    checked, first_bad = validate_values(name, values, FIELD_ADAPTERS[name], name not in _REQUIRED, problem_text)
    if first_bad is not None:
        problems.append((first_bad[0], FIELD_ORDER[name], name, first_bad[1]))
    return checked


def parse_columns(path, where: str, rows: list[int], columns: dict[str, list]) -> list[Meter]:
    """One :class:`Meter` per row of ``columns`` (file column -> values); raises naming the first bad row."""
    problems: list[tuple[int, int, str, str]] = []
    checked = {name: _check_column(name, values, problems) for name, values in columns.items()}
    install, removal = checked.get("install_date"), checked.get("removal_date")
    if install is not None and removal is not None:
        for i, (start, end) in enumerate(zip(install, removal, strict=True)):
            if start is not None and end is not None and start is not BAD and end is not BAD and end <= start:
                problems.append((i, FIELD_ORDER["removal_date"], "removal_date", removal_problem(start, end)))
                break
    if problems:
        index, _, field, text = min(problems)
        raise RegistryError(f"{path}: {where} {rows[index]}: {field}: {text}")
    n = len(rows)
    ids = checked["meter_id"]
    sp = [s or m for s, m in zip(checked["service_point"], ids, strict=True)] if "service_point" in checked else ids
    account = [a or s for a, s in zip(checked["account"], sp, strict=True)] if "account" in checked else sp
    nem = checked.get("nem_program") or [""] * n
    channels = checked.get("channels") or [None] * n
    channels = [c or default_channels(p) for c, p in zip(channels, nem, strict=True)]

    def column(name, default):
        values = checked.get(name)
        if values is None:
            return repeat(default, n)
        return values if default is None else [default if v is None else v for v in values]

    fields = MeterRow.model_fields
    return [Meter(*values) for values in zip(
        ids, sp, account, checked["customer_class"], checked["rate_code"], column("cycle", 1), nem, channels,
        column("unit", fields["unit"].default), column("ct_ratio", 1.0), column("pt_ratio", 1.0),
        column("multiplier_applied", False), column("install_date", None), column("removal_date", None),
        column("timezone", ""), column("max_kw", None), rows, strict=False)]


def read_meters(path: Path) -> list[Meter]:
    """The meters of a CSV or YAML registry file, every field checked."""
    with paused_gc():
        if path.suffix.lower() in (".yaml", ".yml"):
            rows, columns = _yaml_columns(path)
            where = "entry"
        else:
            rows, columns = _csv_columns(path)
            where = "line"
        if not rows:
            return []
        return parse_columns(path, where, rows, columns)


def _validate_meters(meters, source) -> None:
    ids = [m.meter_id for m in meters]
    if len(set(ids)) != len(ids):
        seen: dict[str, Meter] = {}
        for m in meters:
            if m.meter_id in seen:
                raise RegistryError(f"{source}: row {m.row}: meter_id: {m.meter_id!r} is listed twice (also row "
                                    f"{seen[m.meter_id].row})")
            seen[m.meter_id] = m
    shared = {sp for sp, count in Counter(m.service_point for m in meters).items() if count > 1}
    if not shared:
        return
    by_sp: dict[str, list[Meter]] = {}
    for m in meters:
        if m.service_point in shared:
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
