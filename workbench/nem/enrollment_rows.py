"""The rows of a net-metering enrollment file: their pydantic definition, the :class:`Enrolled` record, the reader.

:class:`EnrollmentRow` defines a row (``account,program,pto_date,start,end,true_up_month,policy_version``, and the
optional opening bank ``opening_credit`` [$] / ``opening_kwh`` brought into the first bill computed) and
validates one with ``EnrollmentRow.model_validate``. :func:`read_enrollments` does not validate a file row by
row: it checks each column's *distinct* values with that column's definition in the model (an enrollment
file of 500,000 accounts holds a few thousand distinct dates), then the rules between columns (start not
before PTO, end after start) on whole columns. Every error names the file, the row, the account and the field.
The rules between rows and against the program book are :class:`~workbench.nem.enrollments.EnrollmentBook`'s.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from workbench.ami.registry_rows import BAD, paused_gc, validate_values
from workbench.errors import WorkbenchError

COLUMNS = ("account", "program", "pto_date", "start", "end", "true_up_month", "policy_version", "opening_credit",
           "opening_kwh")
REQUIRED = ("account", "program", "pto_date")
#: no customer-generator banks this much (a typo, or a value in the wrong unit)
_MOST_DOLLARS, _MOST_KWH = 10_000_000, 100_000_000
#: no net-metering enrollment is dated outside these years (the first programs are from the 1980s)
_EARLIEST, _LATEST = dt.date(1970, 1, 1), dt.date(2100, 12, 31)


class EnrollmentError(WorkbenchError):
    """An enrollment file is invalid (names the file, row and account)."""


@dataclass(frozen=True)
class Enrolled:
    """One row of an account's program history."""

    account: str
    program: str
    pto_date: dt.date
    start: dt.date
    end: dt.date | None  # exclusive; None = open
    true_up_month: int | None = None
    policy_version: str = ""
    row: int = 0  # line in the source file
    # the bank brought into the first bill the workbench computes (None: the column blank or absent)
    opening_credit: float | None = None  # [$]
    opening_kwh: float | None = None  # [kWh]

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


def _day(value):
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    else:
        # fromisoformat, not pydantic's date parsing: that reads "20240501" as a Unix timestamp
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError("is not a date like 2024-05-01") from None
    if not _EARLIEST <= day <= _LATEST:
        raise ValueError(f"is outside {_EARLIEST.year}-{_LATEST.year} (a typo in the year?)")
    return day


def _month_digits(value):
    if isinstance(value, str) and not (value.isascii() and value.strip().isdigit()):
        raise ValueError("is not a month 1-12")
    return value


def money_value(value):
    """An opening $ credit from text: >= 0, whole cents, finite (ValueError saying what was expected)."""
    text = str(value).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("is not an amount in dollars like 12.34") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("is not an amount >= 0 in dollars like 12.34 (a credit balance is never negative)")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("has fractions of a cent; expected dollars with cents like 12.34")
    if amount >= _MOST_DOLLARS:
        raise ValueError(f"is {_MOST_DOLLARS:,} dollars or more (a typo?)")
    return float(amount)


def kwh_value(value):
    """An opening kWh bank from text: >= 0, finite (ValueError saying what was expected)."""
    text = str(value).strip()
    try:
        kwh = float(text)
    except ValueError:
        raise ValueError("is not a number of kWh like 300 or 12.5") from None
    if not math.isfinite(kwh) or kwh < 0:
        raise ValueError("is not a number of kWh >= 0 (a bank is never negative)")
    if kwh >= _MOST_KWH:
        raise ValueError(f"is {_MOST_KWH:,} kWh or more (a typo?)")
    return kwh


Day = Annotated[dt.date, BeforeValidator(_day)]


class EnrollmentRow(BaseModel):
    """One row of an enrollment file, its columns as the file names them (blank = the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    account: Annotated[str, Field(min_length=1)]
    program: Annotated[str, Field(min_length=1)]
    pto_date: Day
    start: Day | None = Field(None, description="blank = the pto_date")
    end: Day | None = Field(None, description="exclusive; blank = open")
    true_up_month: Annotated[int, BeforeValidator(_month_digits), Field(ge=1, le=12)] | None = None
    policy_version: str = ""
    opening_credit: Annotated[float, BeforeValidator(money_value)] | None = Field(
        None, description="$ credit brought into the first bill computed; blank = none given")
    opening_kwh: Annotated[float, BeforeValidator(kwh_value)] | None = Field(
        None, description="banked kWh brought into the first bill computed; blank = none given")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data):
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @model_validator(mode="after")
    def _dates_in_order(self):
        problem = _order_problem(self.pto_date, self.start or self.pto_date, self.end)
        if problem:
            raise ValueError(problem[1])
        return self

    def to_enrolled(self, row: int = 0) -> Enrolled:
        return Enrolled(self.account, self.program, self.pto_date, self.start or self.pto_date, self.end,
                        self.true_up_month, self.policy_version, row, self.opening_credit, self.opening_kwh)


def _optional(info):
    annotation = info.annotation
    return TypeAdapter(Annotated[annotation, *info.metadata] if info.metadata else annotation)


#: every column's check on its own (the model's field definitions, without the rules between columns)
FIELD_ADAPTERS = {name: _optional(info) for name, info in EnrollmentRow.model_fields.items()}
_ORDER = {name: i for i, name in enumerate(EnrollmentRow.model_fields)}
#: columns of free text: stripped, and refused when empty if required (the model's ``min_length=1``)
_TEXT = ("account", "program", "policy_version")


def _order_problem(pto: dt.date, start: dt.date, end: dt.date | None) -> tuple[str, str] | None:
    if start < pto:
        return "start", (f"start {start} is before the PTO date {pto}: an account cannot be on a program before "
                         "its system may operate")
    if end is not None and end <= start:
        return "end", f"end {end} is not after start {start}"
    return None


def problem_text(field: str, raw, error: dict) -> str:
    """What was wrong with ``raw`` in ``field`` and what was expected, from one pydantic error."""
    if raw == "" or error["type"] in ("missing", "string_too_short"):
        return f"{field} is empty" if field != "pto_date" else \
            "column 'pto_date' is empty; expected a date like 2024-05-01"
    if field == "true_up_month":
        return f"true_up_month {raw!r} is not a month 1-12"
    if error["type"] == "value_error":
        return f"{field} {raw!r} " + error["msg"].removeprefix("Value error, ")
    return f"{field} {raw!r}: {error['msg']}"


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise EnrollmentError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        unknown = [c for c in header if c not in COLUMNS]
        if unknown:
            raise EnrollmentError(f"{path}: unknown column(s) {', '.join(unknown)}; expected {', '.join(COLUMNS)}")
        twice = sorted({c for c in header if header.count(c) > 1})
        if twice:
            raise EnrollmentError(f"{path}: column(s) {', '.join(twice)} given twice; expected {', '.join(COLUMNS)}")
        return header, list(reader)


def _check_column(name: str, values: list[str], problems: list) -> list | None:
    """The column's values validated (None: blank; ``BAD``: refused, its first refusal added to ``problems``)."""
    if name in _TEXT:
        if name in REQUIRED and "" in set(values):
            problems.append((values.index(""), _ORDER[name], f"{name} is empty"))
            return None
        return values
    checked, first_bad = validate_values(name, values, FIELD_ADAPTERS[name], name not in REQUIRED, problem_text)
    if first_bad is not None:
        problems.append((first_bad[0], _ORDER[name], first_bad[1]))
    return checked


def read_enrollments(path: Path) -> list[Enrolled]:
    """The rows of an enrollment CSV, every field checked (blank lines skipped)."""
    with paused_gc():
        return _parse(path, *_read_rows(path))


def _parse(path: Path, header: list[str], rows: list[list[str]]) -> list[Enrolled]:
    width = len(header)
    lines = list(range(2, len(rows) + 2))
    problems: list[tuple[int, int, str]] = []
    if any(len(values) != width for values in rows):  # blank lines, short rows, extra fields
        kept, kept_lines = [], []
        for line, values in zip(lines, rows, strict=True):
            if not values:
                continue
            if len(values) > width and any(v.strip() for v in values[width:]):
                problems.append((len(kept), -1, f"{len(values)} fields, but the header has {width}"))
                kept.append(values[:width])
                kept_lines.append(line)
                break
            kept.append((values + [""] * width)[:width])
            kept_lines.append(line)
        rows, lines = kept, kept_lines
    if not rows:
        return []
    raw = {name: list(map(str.strip, column)) for name, column in zip(header, zip(*rows, strict=True), strict=True)}
    checked = {name: _check_column(name, values, problems) for name, values in raw.items()}
    n = len(rows)
    pto = checked["pto_date"]
    start = checked.get("start") or [None] * n
    end = checked.get("end") or [None] * n
    start = [s or p for s, p in zip(start, pto, strict=True)]
    for i, (p, s, e) in enumerate(zip(pto, start, end, strict=True)):
        if BAD not in (p, s, e) and (s < p or (e is not None and e <= s)):
            problems.append((i, len(_ORDER), _order_problem(p, s, e)[1]))
            break
    if problems:
        index, _, text = min(problems)
        account = raw["account"][index] if index < len(raw["account"]) else ""
        where = f"{path}, row {lines[index]}" + (f", account {account}" if account else "")
        raise EnrollmentError(f"{where}: {text}")
    months = checked.get("true_up_month") or [None] * n
    policy = raw.get("policy_version") or [""] * n
    credit = checked.get("opening_credit") or [None] * n
    kwh = checked.get("opening_kwh") or [None] * n
    return [Enrolled(*values) for values in zip(raw["account"], raw["program"], pto, start, end, months, policy,
                                                 lines, credit, kwh, strict=True)]
