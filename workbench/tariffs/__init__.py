"""The tariff model: YAML tariff book, URDB import, compiled schedule arrays and rate tables.

>>> tariff = load_tariff("tariffs/RES-TOU.yaml")
>>> tariff.code, tariff.tou_names
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from workbench.errors import TariffError
from workbench.tariffs.compile import CompiledTariff, compile_tariff
from workbench.tariffs.model import TariffSpec
from workbench.tariffs.urdb import urdb_extras, urdb_to_spec

__all__ = ["CompiledTariff", "TariffSpec", "load_tariff", "load_tariff_book", "tariff_from_spec"]


class _TariffLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay text, so the model parses them and names a bad one."""


_TariffLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text: str):
    return yaml.load(text, Loader=_TariffLoader)  # noqa: S506 (a SafeLoader subclass)


_TYPE_WORDS = ("float", "int", "str", "bool", "list", "dict", "union", "literal", "function-after")


def _clean_loc(loc) -> str:
    parts = []
    for x in loc:
        text = str(x)
        if isinstance(x, str) and (x in _UNION_TAGS or "[" in text or text.split("[")[0].lower() in _TYPE_WORDS):
            continue
        parts.append(text)
    return ".".join(parts)


def _format_validation(source: str, exc: ValidationError) -> str:
    by_field: dict[str, list[dict]] = {}
    for err in exc.errors():
        by_field.setdefault(_clean_loc(err["loc"]), []).append(err)
    lines = [f"{source}: invalid tariff:"]
    for loc, errs in list(by_field.items())[:10]:
        err = errs[0]
        got = err.get("input")
        shown = "" if isinstance(got, (dict, list)) or err["type"] in ("missing", "extra_forbidden") else f" (got {got!r})"
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see docs/tariff-format.md for the fields)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif len(errs) > 1:  # a field that takes several forms (a number, a list, a mapping by season/period)
            msg = "has the wrong form; expected a number [$], a list of block values, or a mapping by season or " \
                  "ToU period (see docs/tariff-format.md)"
        else:
            msg = err["msg"].replace("Value error, ", "")
        lines.append(f"  {loc or '(top level)'}: {msg}{shown}")
    if len(by_field) > 10:
        lines.append(f"  ... and {len(by_field) - 10} more")
    return "\n".join(lines)


_UNION_TAGS = {"customer", "energy", "demand", "rtp", "rider", "minimum", "tax", "float", "int", "list[float]",
               "dict[str,float]", "dict[str,union[float,dict[str,float]]]", "dict[int,float]"}


def tariff_from_spec(data: dict, source: str = "<tariff>", base_dir=None, timezone: str | None = None):
    """Validate a tariff given as a dict (the YAML's content) and compile it."""
    if not isinstance(data, dict):
        raise TariffError(f"{source}: a tariff file must hold a mapping of fields, got {type(data).__name__}")
    if timezone is not None:
        data = {**data, "timezone": timezone}
    try:
        spec = TariffSpec.model_validate(data)
    except ValidationError as exc:
        raise TariffError(_format_validation(source, exc)) from None
    if spec.timezone is not None:
        _check_timezone(spec.timezone, source)
    compiled = compile_tariff(spec, source=source, base_dir=base_dir)
    compiled.extra["spec"] = spec
    return compiled


def _check_timezone(name: str, source: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TariffError(f"{source}: timezone: unknown time zone {name!r}; use an IANA name like America/Chicago") from None


def load_tariff(source, *, timezone: str | None = None) -> CompiledTariff:
    """Load a tariff: a workbench YAML file, an OpenEI URDB v8 JSON file, or a URDB dict.

    Parameters
    ----------
    source : str, Path or dict
        ``.yaml``/``.yml``: the workbench format (docs/tariff-format.md). ``.json`` or a dict: a URDB v8 item
        (or an API response ``{"items": [item]}``).
    timezone : str, optional
        IANA time zone the schedules apply in. Overrides the tariff's; a URDB tariff has none, so without it
        its schedules apply in each timestamp's own local time (its UTC offset).
    """
    if isinstance(source, dict):
        return _with_urdb(tariff_from_spec(urdb_to_spec(source, "<URDB tariff>"), "<URDB tariff>", timezone=timezone), source)
    path = Path(source)
    if not path.exists():
        raise TariffError(f"{path}: tariff file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TariffError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        compiled = tariff_from_spec(urdb_to_spec(data, str(path)), str(path), base_dir=path.parent, timezone=timezone)
        return _with_urdb(compiled, data)
    try:
        data = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise TariffError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    return tariff_from_spec(data, str(path), base_dir=path.parent, timezone=timezone)


def _with_urdb(compiled, data):
    compiled.extra["urdb"] = urdb_extras(data, compiled)
    compiled.extra["sell_rates"] = compiled.extra["urdb"].get("sell_rates")
    return compiled


def load_tariff_book(directory) -> dict[str, CompiledTariff]:
    """Every ``*.yaml`` tariff in a folder, keyed by its ``code``."""
    book = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        tariff = load_tariff(path)
        if tariff.code in book:
            raise TariffError(f"{path}: code {tariff.code!r} is also used by {book[tariff.code].source_path}")
        book[tariff.code] = tariff
    if not book:
        raise TariffError(f"{directory}: no *.yaml tariffs in the tariff book folder")
    return book
