"""The rate-design dashboard's data store: kept test-year determinants, a proposal being edited, its results.

:class:`RatesStore` holds a :class:`workbench.design.scenarios.Study` per customer class (opened once; every
study keeps its re-pricing cache, so a price edit re-prices only the changed lines) and a
:class:`workbench.design.proposal.Proposal` copied from the present tariff book. An edit
(:meth:`RatesStore.set_price`) compiles the edited tariff and re-prices the class's customers on it; views
watch ``customers`` (each customer's present and proposed annual bill and the change) and ``revenue``.
:meth:`RatesStore.save` writes the edited tariff as YAML to a new file (an existing file only with
``replace=True``, the user's confirmation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import param
import pyarrow.parquet as pq

from workbench.design.nem_revenue import NetMeteringStudy
from workbench.design.proposal import PRICE_FIELDS, Proposal, _description, _get
from workbench.design.scenarios import Study, scanned_book
from workbench.design.testyear_store import read_identity
from workbench.errors import WorkbenchError
from workbench.outputs import atomic_write_text

#: the charge types whose prices the dashboard edits
EDITABLE = ("customer", "energy", "demand")
#: annual-kWh percentiles of the typical-bill table
PERCENTILES = (10, 25, 50, 75, 90)


@dataclass(frozen=True)
class PriceField:
    """One editable price: the charge (its description), where in its rates, a label and the present value."""

    component: str
    where: tuple
    label: str
    value: float


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, float(node)


def price_fields(proposal: Proposal, rate_code: str) -> list[PriceField]:
    """The editable prices of ``rate_code``'s edited version: customer charge, energy and demand prices."""
    charges = proposal.tariffs[rate_code]["versions"][proposal.version]["charges"]
    out = []
    for charge in charges:
        kind = charge.get("type")
        if kind not in EDITABLE:
            continue
        name = _description(charge)
        field = next((f for f in PRICE_FIELDS[kind] if _get(charge, f) is not None), None)
        if field is None:
            continue
        value = _get(charge, field)
        blocks = field.startswith("blocks")
        unit = {"customer": f"$ per {charge.get('per', 'month')}", "energy": "$/kWh", "demand": "$/kW"}[kind]
        for where, price in _leaves(value):
            parts = [str(p) if not isinstance(p, int) or not blocks else f"block {p + 1}" for p in where]
            label = ", ".join([name, *parts]) + f" [{unit}]"
            out.append(PriceField(name, where, label, price))
    return out


class RatesStore(param.Parameterized):
    """State of the rate-design dashboard: class, rate code, requirement and the proposal in; results out."""

    customer_class = param.Selector(objects=["RES"], label="Customer class")
    rate_code = param.Selector(objects=[""], label="Tariff (rate code)")
    requirement = param.Number(0.0, bounds=(0, None), label="Revenue requirement of the class [$]")

    customers = param.DataFrame(precedence=-1, doc="Customers of the class on the tariff: kWh, bills, change")
    revenue = param.Dict(precedence=-1, doc="present, proposed [$] of the class; requirement; residual")
    reprice_ms = param.Number(0.0, precedence=-1, doc="Time of the last re-pricing [ms]")
    fields = param.List(precedence=-1, doc="The editable prices of the tariff (PriceField)")

    def __init__(self, determinants, *, tariffs_dir=None, **params):
        super().__init__()
        self.folder = Path(determinants)
        identity = read_identity(self.folder)
        self.tariffs_dir = Path(tariffs_dir) if tariffs_dir else scanned_book(self.folder, identity)
        self._studies: dict[str, Study] = {}
        self._present: dict[str, dict] = {}  # class -> {rate code: Priced at present rates}
        self.proposal = Proposal.from_book(self.tariffs_dir, name="dashboard")
        self._present_book = self.proposal.compile()
        classes = sorted(self._classes(), key=lambda c: (c != "RES", c))
        if not classes:
            raise WorkbenchError(f"{self.folder}: no customers on no net-metering program in the kept determinants "
                                 "(the dashboard re-prices those; net-metering customers: workbench design price)")
        self.param.customer_class.objects = classes
        self.customer_class = params.pop("customer_class", classes[0])
        self._set_class()
        if "rate_code" in params:
            self.rate_code = params.pop("rate_code")
        self.param.update(**params)

    @staticmethod
    def check_folder(determinants) -> None:
        """Raise a one-line WorkbenchError unless ``determinants`` is a kept test-year determinants folder."""
        read_identity(determinants)

    def _classes(self) -> set:
        identity = read_identity(self.folder)
        found = set()
        for info in identity["rate_codes"].values():  # of the customers on no net-metering program: a class of
            path = self.folder / info["file"]  # only net-metering customers has nothing to re-price here
            columns = ["customer_class"] + (["nem_program"] if "nem_program" in pq.read_schema(path).names else [])
            table = pq.read_table(path, columns=columns).to_pandas()
            if "nem_program" in table:
                table = table[table["nem_program"].fillna("") == ""]
            found.update(table["customer_class"].unique().tolist())
        return found

    def study(self, customer_class: str | None = None) -> Study:
        cls = customer_class or self.customer_class
        if cls not in self._studies:
            self._studies[cls] = Study(self.folder, classes=[cls], tariffs_dir=self.tariffs_dir)
        return self._studies[cls]

    def net_metering_customers(self, customer_class: str | None = None) -> int:
        """How many net-metering customers the class has: not in the dashboard's figures (their bills settle
        credits under their programs; `workbench design price` prices them)."""
        cls = customer_class or self.customer_class
        counts = self.__dict__.setdefault("_nem_counts", {})
        if cls not in counts:
            counts[cls] = len(NetMeteringStudy(self.folder, classes=[cls]))
        return counts[cls]

    def present(self, customer_class: str | None = None) -> dict:
        """{rate code: Priced} of the class at present rates (priced once)."""
        cls = customer_class or self.customer_class
        if cls not in self._present:
            study = self.study(cls)
            priced = study.price(self._present_book, "present")
            self._present[cls] = dict(zip(study.rate_codes, priced.parts, strict=True))
        return self._present[cls]

    @param.depends("customer_class", watch=True)
    def _set_class(self):
        codes = self.study().rate_codes
        self.param.rate_code.objects = codes
        present = self.present()
        self.requirement = round(sum(p.total_cents() for p in present.values()) / 100.0, 2)
        if self.rate_code not in codes:
            self.rate_code = codes[0]  # triggers _set_rate_code
        else:
            self._set_rate_code()

    @param.depends("rate_code", watch=True)
    def _set_rate_code(self):
        self.fields = price_fields(self.proposal, self.rate_code)
        self.reprice()

    @param.depends("requirement", watch=True)
    def _set_requirement(self):
        if self.customers is not None:
            self._revenue(self._proposed_cents)

    # -- edits ----------------------------------------------------------------------------------------------
    def set_price(self, component: str, where: tuple, value: float) -> None:
        """Set one price of the current tariff and re-price."""
        if not np.isfinite(value):
            raise WorkbenchError(f"{self.rate_code} {component}: price {value!r} is not a finite number")
        self.proposal = self.proposal.set_price(self.rate_code, component, float(value), where=tuple(where))
        self.reprice()

    def reset(self) -> None:
        """Back to the present prices of the current tariff."""
        present = Proposal.from_book(self.tariffs_dir, name="dashboard")
        self.proposal.tariffs[self.rate_code] = present.tariffs[self.rate_code]
        self.fields = price_fields(self.proposal, self.rate_code)
        self.reprice()

    def reprice(self) -> None:
        started = time.perf_counter()
        code = self.rate_code
        book = self.proposal.compile([code])
        proposed = self.study().price(book, "proposed", codes=[code]).parts[0]
        present = self.present()[code]
        table = present.meters[["meter", "account", "bills", "kwh"]].copy()
        before, after = present.cents.sum(axis=0), proposed.cents.sum(axis=0)
        table["present"] = before / 100.0
        table["proposed"] = after / 100.0
        table["change"] = (after - before) / 100.0
        table["change_pct"] = 100.0 * table["change"] / table["present"].where(table["present"] != 0)
        self._proposed_cents = int(after.sum()) - int(before.sum())
        self._revenue(self._proposed_cents)
        self.reprice_ms = 1000.0 * (time.perf_counter() - started)
        self.customers = table

    def _revenue(self, change_cents: int) -> None:
        present = sum(p.total_cents() for p in self.present().values())
        proposed = present + change_cents
        required = int(round(self.requirement * 100))
        self.revenue = {"present": present / 100.0, "proposed": proposed / 100.0, "requirement": required / 100.0,
                        "residual": (proposed - required) / 100.0}

    # -- results --------------------------------------------------------------------------------------------
    def typical_bills(self) -> pd.DataFrame:
        """The customer nearest each annual-kWh percentile: annual kWh, present and proposed bill, change."""
        table = self.customers
        if table is None or not len(table):
            return pd.DataFrame(columns=["percentile", "annual_kwh", "present", "proposed", "change", "change_pct"])
        kwh = table["kwh"].to_numpy()
        rows = []
        for pct in PERCENTILES:
            i = int(np.argmin(np.abs(kwh - np.percentile(kwh, pct))))
            row = table.iloc[i]
            rows.append({"percentile": f"{pct}th", "annual_kwh": round(float(row["kwh"])), "present": row["present"],
                         "proposed": row["proposed"], "change": row["change"], "change_pct": row["change_pct"]})
        return pd.DataFrame(rows)

    def save(self, path, replace: bool = False) -> Path:
        """Write the edited tariff as YAML to ``path`` (a new file; an existing one only with ``replace``)."""
        path = Path(path)
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise WorkbenchError(f"{path}: name a .yaml file for the tariff")
        if path.exists() and not replace:
            raise WorkbenchError(f"{path}: exists; tick 'replace' to overwrite it, or name a new file")
        if not path.parent.is_dir():
            raise WorkbenchError(f"{path.parent}: no such folder")
        text = f"# {self.rate_code} as edited in the rate-design dashboard\n" + self.proposal.to_yaml(self.rate_code)
        atomic_write_text(path, text)
        return path
