"""The thresholds of a run's exception rules: ``defaults.yaml`` beside this module, overridden by a site file.

Every threshold lives in ``defaults.yaml`` (its comments are the documentation); the models below only say
what each field must be. :func:`load_rules_config` merges a site file over the defaults, key by key, and
validates the result; a wrong field raises :class:`~workbench.errors.WorkbenchError` naming the file and field.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import WorkbenchError

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    hold: bool = True


class OwnHistory(_Rule):
    min_bills: int = Field(ge=1)
    bills: int = Field(ge=1)
    high_ratio: float = Field(gt=1.0)
    low_ratio: float = Field(ge=0.0, lt=1.0)
    min_kwh_per_day: float = Field(ge=0.0)


class Peers(_Rule):
    min_group: int = Field(ge=3)
    max_robust_z: float = Field(gt=0.0)


class Estimated(_Rule):
    max_estimated_share: float | None = Field(default=None, ge=0.0, le=1.0)


class NegativeTotal(_Rule):
    below: float = 0.0


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    own_history: OwnHistory
    peers: Peers
    estimated: Estimated
    zero_use: _Rule
    negative_total: NegativeTotal
    missing_rate: _Rule
    meter_exchange: _Rule
    first_bill: _Rule
    final_bill: _Rule


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise WorkbenchError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise WorkbenchError(f"{path}: expected a mapping of rule names to their settings, got {type(data).__name__}")
    return data


def load_rules_config(path=None) -> RulesConfig:
    """The rules' thresholds: the defaults, with the site file ``path`` (optional) merged over them."""
    merged = _read(DEFAULTS_PATH)
    source = DEFAULTS_PATH
    if path is not None:
        source = Path(path)
        if not source.is_file():
            raise WorkbenchError(f"--rules {source}: no such file (a YAML file of rule thresholds, see docs/cycle-runs.md)")
        for key, value in _read(source).items():
            if key not in merged:
                raise WorkbenchError(f"{source}: unknown rule {key!r}; expected one of {', '.join(merged)}")
            if not isinstance(value, dict):
                raise WorkbenchError(f"{source}: {key}: expected a mapping of settings, got {value!r}")
            merged[key] = {**merged[key], **value}
    try:
        return RulesConfig(**merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkbenchError(f"{source}: {where}: {first['msg']} (got {first.get('input')!r})") from None
