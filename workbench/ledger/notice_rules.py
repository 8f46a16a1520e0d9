"""The collections rules file (``notices.yaml``): when a past-due account gets a reminder or a final
(disconnect) notice, and who is protected from disconnection.

Nothing here has a default: every number that decides whether a customer is told their service will be cut
(the days, the amount, the notice period) and every protection list must be written in the file, so a
forgotten line is an error naming it, never a guess. See docs/collections.md; an example is
docs/examples/notices.yaml.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.errors import WorkbenchError


class RulesError(WorkbenchError):
    """The rules file cannot be read or says something the notices cannot follow."""


_Days = Annotated[int, Field(strict=True, ge=1, le=3650)]
_Dollars = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reminder(_Strict):
    past_due_days: _Days  #: a reminder once the oldest open charge is this many days past its due date


class Final(_Strict):
    past_due_days: _Days  #: a final notice once the oldest open charge is this many days past due ...
    min_past_due: _Dollars  #: ... and the past-due amount is at least this [$]
    notice_days: _Days  #: the disconnection date is the notice date plus this many days (at the earliest)


class Moratorium(_Strict):
    months: list[Annotated[int, Field(strict=True, ge=1, le=12)]]  #: no disconnection date in these months
    dates: list[dt.date]  #: nor on these dates


class Protections(_Strict):
    medical_certificates: dict[str, dt.date]  #: account number -> the certificate is valid through this date
    moratorium: Moratorium

    @field_validator("medical_certificates", mode="before")
    @classmethod
    def _account_numbers_as_text(cls, value):
        # YAML reads 100234 as a number; an account number is text
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class NoticeRules(_Strict):
    reminder: Reminder
    final: Final
    protections: Protections

    @model_validator(mode="after")
    def _final_after_reminder(self):
        if self.final.past_due_days < self.reminder.past_due_days:
            raise ValueError(f"final.past_due_days ({self.final.past_due_days}) is before reminder.past_due_days "
                             f"({self.reminder.past_due_days}); a final notice comes after the reminder")
        return self

    @property
    def min_past_due_cents(self) -> int:
        return int(self.final.min_past_due * 100)

    def moratorium_reason(self, day: dt.date) -> str | None:
        """Why no disconnection may happen on ``day`` (None: it may)."""
        if day in self.protections.moratorium.dates:
            return f"disconnection date {day} is a moratorium date"
        if day.month in self.protections.moratorium.months:
            return f"disconnection date {day} falls in a moratorium month ({day:%B})"
        return None


def _where(loc) -> str:
    return ".".join(str(part) for part in loc) or "(top)"


def load_rules(path) -> NoticeRules:
    """Read and check the rules file; a problem is one :class:`RulesError` naming the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"--rules {path}: cannot be read ({exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RulesError(f"--rules {path}: not YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(data, dict):
        raise RulesError(f"--rules {path}: expected a mapping with reminder, final and protections "
                         "(docs/examples/notices.yaml)")
    try:
        return NoticeRules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(first["loc"])
        if first["type"] == "missing":
            raise RulesError(f"--rules {path}: {where} is missing; it is required (no default: it decides who is "
                             "told their service will be disconnected)") from None
        if first["type"] == "extra_forbidden":
            raise RulesError(f"--rules {path}: {where} is not a rule (misspelt?); see docs/collections.md") from None
        raise RulesError(f"--rules {path}: {where}: {first['msg']} (got {first.get('input')!r})") from None
