"""The meter registry's row as a pydantic model: every column's type, limits and default in one place.

:class:`MeterRow` defines a registry row (CSV line or YAML entry) and validates one with
``MeterRow.model_validate``. Loading a file does not validate row by row: :mod:`workbench.ami.registry_rows`
validates each column's *distinct* values with that column's :data:`FIELD_ADAPTERS` entry (built from the
model's own field definitions, so both paths check the same thing), which keeps 500,000 rows to a few seconds.
:func:`problem_text` turns a pydantic error into the words a billing manager reads after ``file: line N: field:``.
See ``docs/registry.md``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from workbench.ami.registry_meter import CHANNELS, CUSTOMER_CLASSES, MAX_RATIO, MAX_SERVICE_KW, UNITS, Meter


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


def _channels(value):
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    tokens = str(value).replace(";", " ").replace("+", " ").replace(",", " ").split()
    for token in tokens:
        if token.lower() not in CHANNELS:
            raise ValueError(f"{token!r} is not a channel: use delivered, received or delivered+received")
    channels = tuple(c for c in CHANNELS if c in {t.lower() for t in tokens})
    if not channels:
        raise ValueError("empty: use delivered, received or delivered+received")
    return channels


def _unit(value):
    unit = UNITS.get(str(value).strip().lower())
    if unit is None:
        raise ValueError(f"{value!r} is not an energy unit (kWh, Wh or MWh)")
    return unit


def _iana(value: str) -> str:
    if value:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/New_York)") from None
    return value


def _local_time(value):
    """A local wall-clock time: a date (midnight) or an ISO date-time without a UTC offset."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    else:
        # fromisoformat, not pydantic's datetime parsing: that reads "20250314" as a Unix timestamp (1970)
        text = str(value).strip()
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date like 2025-03-14 (or a local time like 2025-03-14T10:30)") \
                from None
        value = text
    if parsed.tzinfo is not None:
        raise ValueError(f"{value!r} has a UTC offset; write the local date or time (the meter's timezone applies)")
    return parsed


Ratio = Annotated[float, Field(gt=0, le=MAX_RATIO, allow_inf_nan=False)]
LocalTime = Annotated[dt.datetime | None, BeforeValidator(_local_time)]


class MeterRow(BaseModel):
    """One row of a registry file, its columns as the file names them (blank = the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    meter_id: Annotated[str, Field(min_length=1)]
    service_point: str = Field("", description="the cube row; blank = the meter_id")
    account: str = Field("", description="blank = the service point")
    customer_class: Annotated[Literal[CUSTOMER_CLASSES], BeforeValidator(_upper)]
    rate_code: Annotated[str, Field(min_length=1)]
    cycle: Annotated[int, Field(ge=1, le=32767)] = 1
    nem_program: str = ""
    channels: Annotated[tuple[str, ...] | None, BeforeValidator(_channels)] = Field(
        None, description="blank = both with a nem_program, else delivered")
    unit: Annotated[str, BeforeValidator(_unit)] = "kWh"
    ct_ratio: Ratio = 1.0
    pt_ratio: Ratio = 1.0
    multiplier_applied: bool = False
    timezone: Annotated[str, AfterValidator(_iana)] = ""
    max_kw: Annotated[float, Field(gt=0, le=MAX_SERVICE_KW, allow_inf_nan=False)] | None = None
    install_date: LocalTime = None
    removal_date: LocalTime = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data):
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None or (isinstance(v, str) and not v.strip()))}
        return data

    @model_validator(mode="after")
    def _removal_after_install(self):
        if self.install_date is not None and self.removal_date is not None:
            problem = removal_problem(self.install_date, self.removal_date)
            if problem:
                raise ValueError(problem)
        return self

    def to_meter(self, row: int = 0) -> Meter:
        """The :class:`Meter` this row describes, defaults filled in."""
        service_point = self.service_point or self.meter_id
        return Meter(
            self.meter_id, service_point, self.account or service_point, self.customer_class, self.rate_code,
            self.cycle, self.nem_program, self.channels or default_channels(self.nem_program), self.unit,
            self.ct_ratio, self.pt_ratio, self.multiplier_applied, self.install_date, self.removal_date,
            self.timezone, self.max_kw, row)


#: every column's check on its own (the model's field definitions, without the cross-column rules)
FIELD_ADAPTERS = {name: TypeAdapter(Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)
                  for name, info in MeterRow.model_fields.items()}
#: columns of free text: stripped, and refused when empty only if the model requires them
TEXT_FIELDS = ("meter_id", "service_point", "account", "rate_code", "nem_program")
REQUIRED_TEXT = {"meter_id": "empty (every meter needs an id)",
                 "rate_code": "empty (the tariff code the meter is billed on, e.g. RES-TOU)"}
FIELD_ORDER = {name: i for i, name in enumerate(MeterRow.model_fields)}


def default_channels(nem_program: str) -> tuple[str, ...]:
    return CHANNELS if nem_program else ("delivered",)


def removal_problem(install: dt.datetime, removal: dt.datetime) -> str:
    return f"{removal} is not after install_date {install}" if removal <= install else ""


def problem_text(field: str, raw, error: dict) -> str:
    """What was wrong with ``raw`` in ``field`` and what was expected, from one pydantic error."""
    kind = error["type"]
    if field in ("ct_ratio", "pt_ratio"):
        if kind == "float_parsing" or kind == "float_type":
            return f"{raw!r} is not a number"
        if kind == "less_than_equal":
            return (f"{raw} is beyond any instrument transformer's ratio (at most {MAX_RATIO:,.0f}; write the "
                    "ratio, e.g. 80 for 400:5)")
        return f"{raw} must be a positive number (1 for a self-contained meter)"
    if field == "max_kw":
        if kind == "float_parsing" or kind == "float_type":
            return f"{raw!r} is not a number of kW"
        return f"{raw} must be a number of kW above 0 and at most {MAX_SERVICE_KW:,.0f} (blank: the class default)"
    if field == "cycle":
        return f"{raw!r} is not a bill cycle number (a whole number >= 1)"
    if field == "customer_class":
        return f"{raw!r} is not one of {list(CUSTOMER_CLASSES)}"
    if field == "multiplier_applied":
        return f"{raw!r}: say yes or no"
    if field in REQUIRED_TEXT and kind in ("missing", "string_too_short"):
        return REQUIRED_TEXT[field]
    if kind == "extra_forbidden":
        return "unknown column"
    return error["msg"].removeprefix("Value error, ")


def row_problem(exc: ValidationError, record: dict) -> tuple[str, str]:
    """The first (field, problem) of a ``MeterRow`` validation error."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else "removal_date"
    return field, problem_text(field, record.get(field, error.get("input")), error)
