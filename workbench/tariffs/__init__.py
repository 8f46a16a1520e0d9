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
from workbench.tariffs.checks import check_spec, read_tariff_text, warn
from workbench.tariffs.compile import CompiledTariff, compile_tariff
from workbench.tariffs.model import TariffSpec
from workbench.tariffs.urdb import urdb_extras, urdb_to_spec

__all__ = ["CompiledTariff", "TariffSpec", "load_tariff", "load_tariff_book", "tariff_from_spec"]


class _NoDuplicateKeys:
    """YAML without implicit timestamps (dates stay text, so the model parses them and names a bad one) and
    without duplicate keys: ``amount: 10`` then ``amount: 12`` in one mapping is an error naming the key and
    its line, never a silent last-one-wins."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # an unhashable key: the base class says so
                    continue
                if first is not key_node.start_mark:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {first.line + 1}); a key may appear "
                        "once in a mapping", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


class _TariffLoader(_NoDuplicateKeys, yaml.SafeLoader):
    """The reference loader (PyYAML's own parser, in Python): its messages are the ones a user sees."""


#: the same loader on libyaml's parser (C, when PyYAML has it): the same constructor and resolvers, so the same
#: data, about six times faster on a tariff book (a bill cycle reads a dozen files while it plans)
_FastTariffLoader = type("_FastTariffLoader", (_NoDuplicateKeys, yaml.CSafeLoader), {}) if yaml.__with_libyaml__ else None

for _loader in (_TariffLoader, _FastTariffLoader):
    if _loader is not None:
        _loader.yaml_implicit_resolvers = {
            key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }


#: more values than any tariff has: YAML aliases (``*a``) that expand a small file into a huge one are refused
MAX_VALUES = 200_000


def read_yaml(text: str):
    """Parse tariff or program YAML (duplicate keys refused, aliases that expand past MAX_VALUES refused).

    libyaml parses when PyYAML has it; a text it refuses (or with characters PyYAML's reader refuses) is parsed
    by the reference loader, so a refusal and its message are PyYAML's own."""
    data, parsed = None, False
    if _FastTariffLoader is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            data, parsed = yaml.load(text, Loader=_FastTariffLoader), True  # noqa: S506 (a CSafeLoader subclass)
        except (yaml.YAMLError, RecursionError):
            pass
    if not parsed:
        data = yaml.load(text, Loader=_TariffLoader)  # noqa: S506 (a SafeLoader subclass)
    _count_values(data)
    return data


def _count_values(data) -> None:
    stack, count = [data], 0
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise yaml.YAMLError(f"the file expands to more than {MAX_VALUES:,} values (YAML aliases?); "
                                 "a tariff is a few hundred")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _parse_yaml(text: str, path) -> object:
    try:
        return read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TariffError(f"{path}: not valid YAML{at}: {' '.join(str(problem).split())}") from None
    except RecursionError:
        raise TariffError(f"{path}: not valid YAML: nested too deeply for a tariff") from None


def _parse_json(text: str, path) -> object:
    def no_duplicates(pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                raise TariffError(f"{path}: JSON key {key!r} appears twice in one object; a key may appear once")
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise TariffError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise TariffError(f"{path}: not valid JSON: nested too deeply for a tariff") from None


_TYPE_WORDS = ("float", "int", "str", "bool", "list", "dict", "union", "literal", "function-after")


def _clean_loc(loc) -> str:
    parts = []
    for i, x in enumerate(loc):
        text = str(x)
        # a charge's type tag (never the first part: the top-level ``demand`` section keeps its name)
        if isinstance(x, str) and ((x in _UNION_TAGS and i > 0) or "[" in text
                                   or text.split("[")[0].lower() in _TYPE_WORDS):
            continue
        parts.append(text)
    return ".".join(parts)


# fields without a default whose every value costs money: a missing one names the choices
_CHOICES = {("customer", "per"): "bill, day or month", ("minimum", "per"): "bill, day, month or year"}


def _missing_message(loc) -> str:
    for (tag, name), choices in _CHOICES.items():
        if len(loc) >= 2 and loc[-2:] == (tag, name):
            return (f"required field is missing; say what the amount is charged per: {choices} (there is no "
                    "default: a wrong guess bills the wrong amount)")
    return "required field is missing"


def _format_validation(source: str, exc: ValidationError) -> str:
    """One line: ``file: invalid tariff: field: problem; field: problem``."""
    by_field: dict[str, list[dict]] = {}
    for err in exc.errors():
        by_field.setdefault(_clean_loc(err["loc"]), []).append(err)
    lines = []
    for loc, errs in list(by_field.items())[:10]:
        err = errs[0]
        got = err.get("input")
        shown = "" if isinstance(got, (dict, list)) or err["type"] in ("missing", "extra_forbidden") else f" (got {got!r})"
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see docs/tariff-format.md for the fields)"
        elif err["type"] == "missing":
            msg = _missing_message(tuple(err["loc"]))
        elif len(errs) > 1:  # a field that takes several forms (a number, a list, a mapping by season/period)
            msg = "has the wrong form; expected a number [$], a list of block values, or a mapping by season or " \
                  "ToU period (see docs/tariff-format.md)"
        else:
            msg = err["msg"].replace("Value error, ", "")
        lines.append(f"{loc or '(top level)'}: {msg}{shown}")
    if len(by_field) > 10:
        lines.append(f"... and {len(by_field) - 10} more")
    return f"{source}: invalid tariff: " + "; ".join(lines)


_UNION_TAGS = {"customer", "energy", "demand", "rtp", "rider", "minimum", "tax", "float", "int", "list[float]",
               "dict[str,float]", "dict[str,union[float,dict[str,float]]]", "dict[int,float]"}


def tariff_from_spec(data: dict, source: str = "<tariff>", base_dir=None, timezone: str | None = None,
                     warnings: bool = True):
    """Validate a tariff given as a dict (the YAML's content) and compile it.

    Non-finite, absurd and unannounced negative prices are errors; implausible ones print a ``warning:``
    line (``warnings=False``: the caller warned already, as the URDB import does in URDB's field names).
    """
    if not isinstance(data, dict):
        raise TariffError(f"{source}: a tariff file must hold a mapping of fields, got {type(data).__name__}")
    if timezone is not None:
        data = {**data, "timezone": timezone}
    try:
        spec = TariffSpec.model_validate(data)
    except ValidationError as exc:
        raise TariffError(_format_validation(source, exc)) from None
    check_spec(spec, source, warnings=warnings)
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


def load_tariff(source, *, timezone: str | None = None, system_peaks=None, meters_on_account: int = 1) -> CompiledTariff:
    """Load a tariff: a workbench YAML file, an OpenEI URDB v8 JSON file, or a URDB dict.

    Parameters
    ----------
    source : str, Path or dict
        ``.yaml``/``.yml``: the workbench format (docs/tariff-format.md). ``.json`` or a dict: a URDB v8 item
        (or an API response ``{"items": [item]}``).
    timezone : str, optional
        IANA time zone the schedules apply in. Overrides the tariff's; a URDB tariff has none, so without it
        its schedules apply in each timestamp's own local time (its UTC offset).
    system_peaks : list of datetime, optional
        System-peak interval starts (local time) for coincident-peak charges, e.g. from
        :func:`workbench.tariffs.system_peaks.read_system_peaks` (docs/coincident-peaks.md). A YAML tariff
        that lists its own ``demand.coincident_peaks`` may not be given others.
    meters_on_account : int
        Meters on the billed account, for a URDB charge per additional meter (``fixedchargeeaaddl``):
        ``meters_on_account - 1`` additional meters (default 1: none; the line item says so).
    """
    if isinstance(source, dict):
        spec = urdb_to_spec(source, "<URDB tariff>", system_peaks=system_peaks,
                            meters_on_account=meters_on_account)
        return _with_urdb(tariff_from_spec(spec, "<URDB tariff>", timezone=timezone, warnings=False), source)
    path = Path(source)
    text = read_tariff_text(path)
    if path.suffix.lower() == ".json":
        data = _parse_json(text, path)
        spec = urdb_to_spec(data, str(path), system_peaks=system_peaks, meters_on_account=meters_on_account)
        compiled = tariff_from_spec(spec, str(path), base_dir=path.parent, timezone=timezone, warnings=False)
        return _with_urdb(compiled, data)
    data = _parse_yaml(text, path)
    if system_peaks:
        data = with_system_peaks(data, system_peaks, path)
    return tariff_from_spec(data, str(path), base_dir=path.parent, timezone=timezone)


def _own_peaks(path) -> bool:
    data = _parse_yaml(read_tariff_text(path), path)
    demand = data.get("demand") if isinstance(data, dict) else None
    return isinstance(demand, dict) and bool(demand.get("coincident_peaks"))


def with_system_peaks(data, system_peaks, path):
    """A YAML tariff's content with ``demand.coincident_peaks`` from the system-peak file."""
    if not isinstance(data, dict):
        return data
    demand = data.get("demand") or {}
    if not isinstance(demand, dict):
        return data
    if demand.get("coincident_peaks"):
        raise TariffError(f"{path}: demand.coincident_peaks lists the tariff's own system peaks and a system-peak "
                          "file was given too; give the peaks once (remove one)")
    return {**data, "demand": {**demand, "coincident_peaks": [p.isoformat() for p in system_peaks]}}


def _with_urdb(compiled, data):
    compiled.extra["urdb"] = urdb_extras(data, compiled)
    compiled.extra["sell_rates"] = compiled.extra["urdb"].get("sell_rates")
    return compiled


def load_tariff_book(directory, *, system_peaks=None) -> dict[str, CompiledTariff]:
    """Every ``*.yaml`` tariff in a folder, keyed by its ``code``.

    ``system_peaks`` (as :func:`load_tariff`'s) go to every tariff of the book except one that lists its own
    ``demand.coincident_peaks`` (a tariff of another zone's peaks, say): it keeps its own. A URDB item
    (``*.json``) or a ``*.yml`` file in the folder is not part of the book: a ``warning:`` says so.
    """
    book = {}
    if not Path(directory).is_dir():
        raise TariffError(f"{directory}: " + ("not a folder" if Path(directory).exists() else
                          "no such folder (relative to the working directory)") + "; expected the tariff book "
                          "folder (one *.yaml tariff per rate code), e.g. the repository's tariffs/")
    _warn_unread(Path(directory))
    for path in sorted(Path(directory).glob("*.yaml")):
        peaks = None if system_peaks and _own_peaks(path) else system_peaks
        tariff = load_tariff(path, system_peaks=peaks)
        if tariff.code in book:
            raise TariffError(f"{path}: code {tariff.code!r} is also used by {book[tariff.code].source_path}")
        book[tariff.code] = tariff
    if not book:
        raise TariffError(f"{directory}: no *.yaml tariffs in the tariff book folder")
    return book


#: keys of a URDB v8 item (or the API's ``{"items": [...]}``) that a workbench output's JSON never has
_URDB_KEYS = {"energyratestructure", "energyweekdayschedule", "flatdemandstructure", "demandratestructure",
              "fixedchargefirstmeter", "fixedmonthlycharge", "items"}


def _warn_unread(directory: Path) -> None:
    for path in sorted(directory.glob("*.yml")):
        warn(f"{path}: not read as part of the tariff book, which is its *.yaml files; rename it {path.stem}.yaml")
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and {str(k).lower() for k in data} & _URDB_KEYS:
            warn(f"{path}: a URDB item is not read as part of the tariff book (a book is *.yaml tariffs keyed by "
                 "their rate code); bill it alone with `workbench bill --tariff`, or write its rates as a YAML "
                 "tariff with the rate code (docs/tariff-format.md)")
