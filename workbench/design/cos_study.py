"""The cost-of-service study file: the revenue requirement functionalized, classified and given its allocators.

YAML (``functions:`` a list of mappings, optional ``name`` and ``customer_weights``) or CSV (one row per
function, the same fields as columns). Each function row:

function [-]
    production, transmission, distribution, customer (or the utility's own name; not empty)
classification [-]
    demand, energy, primary, secondary, customer, ... (not empty)
cost [$]
    the part of the revenue requirement in this row: finite, not negative, whole cents
allocator [-]
    a column of allocators.csv: cp1, cp4, cp12, ncp, sum_max, kwh, kwh_<ToU period>, customers, weighted_customers
    (the ``_kw`` suffix may be written or left off)
rate_base, return [$] (optional, default 0)
    the rate base of the function and the return on it included in ``cost`` (for the class rates of return)

Every problem is one :class:`StudyFileError` naming the file, the row and the field.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.errors import WorkbenchError

#: allocator names a study row may use -> the allocators.csv column ("kwh_<period>" is also accepted)
ALLOCATOR_NAMES = {
    "cp1": "cp1_kw", "cp1_kw": "cp1_kw", "1cp": "cp1_kw",
    "cp4": "cp4_kw", "cp4_kw": "cp4_kw", "4cp": "cp4_kw",
    "cp12": "cp12_kw", "cp12_kw": "cp12_kw", "12cp": "cp12_kw",
    "ncp": "ncp_kw", "ncp_kw": "ncp_kw",
    "sum_max": "sum_max_kw", "sum_max_kw": "sum_max_kw",
    "kwh": "kwh", "energy": "kwh",
    "customers": "customers", "weighted_customers": "weighted_customers",
}
FIELDS = ("function", "classification", "cost", "allocator")
OPTIONAL = ("rate_base", "return")


class StudyFileError(WorkbenchError):
    """A cost-of-service study file is invalid (the message names the file, row and field)."""


@dataclass(frozen=True)
class FunctionRow:
    """One functionalized, classified part of the revenue requirement and its allocator."""

    function: str
    classification: str
    cost_cents: int
    allocator: str  # an allocators.csv column
    rate_base_cents: int = 0
    return_cents: int = 0

    @property
    def label(self) -> str:
        return f"{self.function}_{self.classification}".replace(" ", "_").lower()


@dataclass
class Study:
    name: str
    rows: list[FunctionRow]
    customer_weights: dict[str, float] = field(default_factory=dict)
    source: str = ""


def _cents(value, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StudyFileError(f"{where}: {value!r} is not a number; expected dollars, e.g. 1250000.00") from None
    if not math.isfinite(number):
        raise StudyFileError(f"{where}: {value!r} is not a finite amount of dollars")
    if number < 0:
        raise StudyFileError(f"{where}: {value!r} is negative; expected an amount of dollars >= 0")
    cents = round(number * 100)
    if abs(number * 100 - cents) > 1e-6 * max(1.0, abs(number)):
        raise StudyFileError(f"{where}: {value!r} is not a whole number of cents")
    return int(cents)


def _allocator(value, where: str, extra: set[str]) -> str:
    name = str(value or "").strip().lower()
    if name in ALLOCATOR_NAMES:
        return ALLOCATOR_NAMES[name]
    if name.startswith("kwh_") and name in extra:
        return name
    known = sorted({*ALLOCATOR_NAMES, *extra} - {"cp1_kw", "cp4_kw", "cp12_kw", "ncp_kw", "sum_max_kw", "1cp",
                                                  "4cp", "12cp", "energy"})
    raise StudyFileError(f"{where}: unknown allocator {value!r}; expected one of {', '.join(known)}"
                         + ("" if extra else " or kwh_<ToU period> with a --tou-tariff"))


def parse_rows(records: list, source: str, tou_columns: set[str] = frozenset(), label: str = "functions") -> list:
    """Check the rows (dicts) of a study; ``label`` names them in errors (``functions[2]`` or ``row 4``)."""
    rows = []
    if not records:
        raise StudyFileError(f"{source}: no function rows; expected at least one with fields {', '.join(FIELDS)}")
    for i, record in enumerate(records):
        where = f"{source}: {label}[{i}]" if label == "functions" else f"{source}: row {i + 2}"
        if not isinstance(record, dict):
            raise StudyFileError(f"{where}: expected a mapping with fields {', '.join(FIELDS)}")
        unknown = sorted(set(record) - set(FIELDS) - set(OPTIONAL), key=str)
        if unknown:
            numeric = [k for k in record if isinstance(k, (int, float)) and not isinstance(k, bool)]
            hint = (" (a number with thousands separators, such as 9,800,000.00, splits into fields in a YAML "
                    "{...} row: write 9800000.00)" if numeric else "")
            raise StudyFileError(f"{where}: unknown field {unknown[0]!r}; fields are {', '.join(FIELDS + OPTIONAL)}"
                                 + hint)
        for name in FIELDS:
            if record.get(name) is None or str(record.get(name)).strip() == "":
                raise StudyFileError(f"{where}: field {name!r} is missing; every row needs {', '.join(FIELDS)}")
        rows.append(FunctionRow(
            str(record["function"]).strip(), str(record["classification"]).strip(),
            _cents(record["cost"], f"{where}: field 'cost'"),
            _allocator(record["allocator"], f"{where}: field 'allocator'", set(tou_columns)),
            *(_cents(record.get(name) or 0, f"{where}: field {name!r}") for name in OPTIONAL)))
    labels = [r.label for r in rows]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise StudyFileError(f"{source}: function and classification {twice[0]!r} appear twice; give each once")
    return rows


def load_study(path, tou_columns: set[str] = frozenset()) -> Study:
    """Read and check a study file (``.yaml``/``.yml`` or ``.csv``)."""
    path = Path(path)
    source = str(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise StudyFileError(f"{source}: no column {missing[0]!r}; expected columns {', '.join(FIELDS)} "
                                 f"(optional {', '.join(OPTIONAL)})")
        return Study(path.stem, parse_rows(list(reader), source, tou_columns, label="row"), {}, source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudyFileError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise StudyFileError(f"{source}: expected a mapping with 'functions:' (a list of function rows)")
    unknown = sorted(set(data) - {"name", "functions", "customer_weights"})
    if unknown:
        raise StudyFileError(f"{source}: unknown field {unknown[0]!r}; fields are name, functions, customer_weights")
    if not isinstance(data.get("functions"), list):
        raise StudyFileError(f"{source}: field 'functions' is missing or not a list of function rows")
    weights = data.get("customer_weights") or {}
    if not isinstance(weights, dict):
        raise StudyFileError(f"{source}: field 'customer_weights': expected class: weight pairs, e.g. {{RES: 1}}")
    checked = {}
    for klass, weight in weights.items():
        try:
            checked[str(klass)] = float(weight)
        except (TypeError, ValueError):
            checked[str(klass)] = float("nan")
        if not math.isfinite(checked[str(klass)]) or checked[str(klass)] <= 0:
            raise StudyFileError(f"{source}: field 'customer_weights.{klass}': {weight!r} is not a positive number")
    return Study(str(data.get("name") or path.stem), parse_rows(data["functions"], source, tou_columns),
                 checked, source)
