"""The VEE configuration: ``defaults.yaml`` beside this module, optionally overridden by a site file.

Every threshold lives in ``defaults.yaml`` (its comments are the documentation); the models below only say
what each field must be. :func:`load_config` merges a site file over the defaults and validates the result;
a wrong field raises :class:`~workbench.vee.rules.VeeError` naming the file and the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.calendar import HOLIDAY_CALENDARS
from workbench.vee.rules import VeeError

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")

Share = Field(ge=0.0, le=1.0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EstimableRule(_Model):
    enabled: bool
    action: Literal["estimate", "flag"]


class FlagRule(_Model):
    enabled: bool


class SpikeRule(EstimableRule):
    ratio: float = Field(gt=1.0)
    min_kwh: float = Field(ge=0.0)


class HighLowRule(FlagRule):
    history_days: int = Field(ge=1)
    min_history_days: int = Field(ge=1)
    high_ratio: float = Field(gt=1.0)
    low_ratio: float = Field(ge=0.0, lt=1.0)
    min_adu_kwh: float = Field(ge=0.0)
    min_present_share: float = Share

    @model_validator(mode="after")
    def _history(self):
        if self.min_history_days > self.history_days:
            raise ValueError(
                f"min_history_days ({self.min_history_days}) is more than history_days ({self.history_days})"
            )
        return self


class FlatlineRule(EstimableRule):
    min_minutes: int = Field(ge=1)
    include_zero: bool


class ZeroUseRule(FlagRule):
    min_present_share: float = Share


class ReverseFlowRule(FlagRule):
    min_kwh: float = Field(ge=0.0)


class RegisterRule(FlagRule):
    tolerance_kwh: float = Field(ge=0.0)
    tolerance_share: float = Share


class DuplicatesRule(_Model):
    tolerance_kwh: float = Field(ge=0.0)


class IntervalLengthRule(_Model):
    tolerance_seconds: int = Field(ge=0)


class Validation(_Model):
    missing: EstimableRule
    negative: EstimableRule
    spike: SpikeRule
    high_low: HighLowRule
    flatline: FlatlineRule
    zero_use: ZeroUseRule
    reverse_flow: ReverseFlowRule
    inactive: FlagRule
    implausible: FlagRule
    register_reads: RegisterRule
    duplicates: DuplicatesRule
    interval_length: IntervalLengthRule


class LikeDay(_Model):
    enabled: bool
    days: int = Field(ge=1, le=52)
    min_days: int = Field(ge=1)
    lookback_weeks: int = Field(ge=1, le=104)

    @model_validator(mode="after")
    def _min(self):
        if self.min_days > self.days:
            raise ValueError(f"min_days ({self.min_days}) is more than days ({self.days})")
        return self


class Estimation(_Model):
    linear_max_minutes: int = Field(ge=0)
    one_sided: Literal["flat", "none"]
    like_day: LikeDay


class BillReady(_Model):
    max_estimated_share: float = Share
    max_missing_share: float = Share


class VeeConfig(_Model):
    """A validated VEE configuration (see ``defaults.yaml`` for every field and its meaning)."""

    holiday_calendar: Literal[HOLIDAY_CALENDARS]  # type: ignore[valid-type]
    validation: Validation
    estimation: Estimation
    bill_ready: BillReady
    source: str = Field(default=str(DEFAULTS_PATH), exclude=True)

    def with_overrides(self, overrides: dict) -> VeeConfig:
        """A copy with ``overrides`` (nested dicts, like a site file) merged in and validated."""
        return _validate(_merge(self.model_dump(), overrides), "overrides")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _field_name(loc) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith("function-"))


def _validate(data: dict, where: str) -> VeeConfig:
    try:
        return VeeConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = _field_name(err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                problems.append(f"{name}: unknown field (misspelt? see {DEFAULTS_PATH.name} for the fields)")
            elif err["type"] == "missing":
                problems.append(f"{name}: required field is missing")
            else:
                got = err.get("input")
                shown = "" if isinstance(got, dict) else f" (got {got!r})"
                problems.append(f"{name}: {err['msg']}{shown}")
        raise VeeError(f"VEE configuration {where}: " + "; ".join(problems)) from None


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VeeError(f"VEE configuration {path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise VeeError(f"VEE configuration {path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as "
                       "UTF-8") from None
    except OSError as exc:
        raise VeeError(f"VEE configuration {path}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise VeeError(f"VEE configuration {path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise VeeError(f"VEE configuration {path}: expected a mapping of fields, got {type(data).__name__}")
    return data


def load_config(path: str | os.PathLike | None = None) -> VeeConfig:
    """The VEE configuration: ``defaults.yaml``, with the site file ``path`` (if given) merged over it.

    Raises :class:`~workbench.vee.rules.VeeError` naming the file and every wrong field.
    """
    defaults = _read_yaml(DEFAULTS_PATH)
    if path is None:
        return _validate(defaults, str(DEFAULTS_PATH))
    site = Path(path)
    config = _validate(_merge(defaults, _read_yaml(site)), str(site))
    return config.model_copy(update={"source": str(site)})
