"""Scenarios: the kept test-year determinants priced under the present book and proposed ones.

A :class:`Study` opens a determinants folder (:mod:`workbench.design.testyear`) and prices chosen classes
under a book of compiled tariffs with the engine's own :func:`workbench.engine.pricing.price`, so every bill
is the bill ``workbench cycle`` computes. Amounts stay in integer cents: a line item's test-year amount is
its billed amount (basis ``billed``) or its amount × test-year days / days rounded half-up to the cent
(``calendarized``); every total is a sum of those cents, so every table cross-foots exactly.

:class:`Priced` (one rate code) and :class:`PricedBook` (several) results are tidy pandas frames:

- :meth:`Priced.components`: one row per rate code, class and line (``Energy, summer on-peak, block 2``) with
  its charge (``component``), category, ``unit``, ``billing_units`` (kWh, kW, bills, days...), ``price``
  [$ per unit; NaN where it varies between bills, e.g. a prorated demand rate across seasons],
  ``revenue`` [$] and ``bills``;
- :meth:`Priced.customers`: one row per customer: ``meter, account, customer_class, rate_code, bills, kwh,
  annual_bill`` [$];
- :meth:`Priced.revenue`: revenue by class and rate code.

:func:`compare` sets two priced scenarios side by side (revenue by class, rate and component; each
customer's annual bill under each and the change). A proposed tariff whose ToU hours, seasons, holidays or
demand measurement differ from those the determinants were scanned with is refused: it needs a re-scan, and
:mod:`workbench.design.rescan` prices it on the determinants scanned with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.design.testyear_store import (
    BASES,
    book_checksum,
    load_rate_code,
    read_identity,
    schedule_fingerprint,
)
from workbench.engine.pricing import price, round_cents
from workbench.engine.pricing_memo import ChargeMemo
from workbench.errors import WorkbenchError
from workbench.tariffs import load_tariff_book


class NeedsRescan(WorkbenchError):
    """A proposed tariff changes what the determinants were scanned with."""


def check_schedule(identity: dict, tariff) -> None:
    """Refuse a tariff whose schedule (ToU hours, seasons...) is not the one its determinants were scanned with."""
    kept = identity["rate_codes"][tariff.code]["schedule"]
    now = schedule_fingerprint(tariff)
    changed = [k for k in kept if kept[k] != now.get(k)]
    if changed:
        what = ", ".join("ToU hours or seasons (the schedule grids)" if k == "grids_sha256" else k for k in changed)
        raise NeedsRescan(f"{tariff.source_path or tariff.code}: the tariff changes {what} from the kept "
                          f"determinants; that needs a re-scan (workbench design determinants), not a re-price: scan the "
                          f"proposed book into another folder and give it to `workbench design price` as "
                          f"--proposed-determinants")


@dataclass
class Priced:
    """One scenario's prices of one or more rate codes: per line (J) and customer (M), in integer cents."""

    name: str
    meters: pd.DataFrame  # meter, account, customer_class, rate_code, bills, kwh
    lines: pd.DataFrame  # rate_code, line, component, category, unit, price (one row per line j)
    cents: np.ndarray  # (J, M) test-year cents of line j on customer m (0 where m is on another rate)
    units: np.ndarray  # (J, M) test-year billing units

    def customers(self) -> pd.DataFrame:
        out = self.meters.copy()
        out["annual_bill"] = self.cents.sum(axis=0) / 100.0
        return out

    def components(self) -> pd.DataFrame:
        classes, class_idx = np.unique(self.meters["customer_class"].to_numpy(str), return_inverse=True)
        rows = []
        for j, line in enumerate(self.lines.itertuples(index=False)):
            on_rate = self.meters["rate_code"].to_numpy() == line.rate_code
            for c, name in enumerate(classes):
                sel = on_rate & (class_idx == c)
                if not sel.any():
                    continue
                cents = int(self.cents[j, sel].sum())
                units = float(self.units[j, sel].sum())
                if cents == 0 and units == 0:
                    continue
                rows.append({"rate_code": line.rate_code, "customer_class": name, "component": line.component,
                             "line": line.line, "category": line.category, "unit": line.unit,
                             "billing_units": units, "price": line.price, "revenue": cents / 100.0,
                             "bills": int(self.meters["bills"].to_numpy()[sel].sum())})
        return pd.DataFrame(rows, columns=["rate_code", "customer_class", "component", "line", "category", "unit",
                                           "billing_units", "price", "revenue", "bills"])

    def revenue(self) -> pd.DataFrame:
        table = self.customers()
        return (table.groupby(["customer_class", "rate_code"], sort=True)
                .agg(customers=("meter", "size"), bills=("bills", "sum"), kwh=("kwh", "sum"),
                     revenue=("annual_bill", lambda s: round(float(np.sum(np.rint(s.to_numpy() * 100))) / 100, 2)))
                .reset_index())

    def total_cents(self) -> int:
        return int(self.cents.sum())


def _component_of(description: str, charges) -> str:
    best = ""
    for name in charges:
        if (description == name or description.startswith(name + ", ")) and len(name) > len(best):
            best = name
    return best or description


def _one_price(rate, qty, used) -> float:
    """The line's price if every billed cell has the same one, else NaN (a rate that varies between bills)."""
    rate = np.asarray(rate)
    if rate.ndim == 0 or all(st == 0 for st in rate.strides):
        return float(rate.flat[0]) if rate.size else np.nan
    cells = rate[used & (np.asarray(qty) != 0)]
    return float(cells[0]) if len(cells) and cells.min() == cells.max() else np.nan


class PricingCache:
    """What re-pricing one rate code's determinants keeps between scenarios: the engine's charge memo (a charge
    priced before is not priced again), each line's test-year cents by its amount array, and the basis weights."""

    def __init__(self):
        self.memo = ChargeMemo()
        self.lines: dict = {}  # id(amount) -> (amount, cents, units, price): the array is kept, so ids stay unique
        self.basis: dict = {}  # basis -> (weight, used, meters)
        self.last: tuple | None = None  # (tariff key, basis, Priced) of the last pricing

    def line(self, amount):
        found = self.lines.get(id(amount))
        return found[1:] if found is not None and found[0] is amount else None


def price_rate_code(tariff, rcd, basis: str, name: str = "", cache: PricingCache | None = None) -> Priced:
    """Price one rate code's kept determinants under ``tariff`` (the engine's pricing, then test-year cents).

    ``cache``: keep it with ``rcd`` between calls and a price change re-prices only the lines it changes."""
    cache = cache or PricingCache()
    tariff_key = cache.memo.tariff_key(tariff)
    if cache.last is not None and cache.last[:2] == (tariff_key, basis):  # not changed: the same cents
        return replace(cache.last[2], name=name)
    items = price(tariff, rcd.det, rcd.periods, memo=cache.memo)
    if basis not in cache.basis:
        weight = rcd.weight(basis) * rcd.periods.valid
        used = weight > 0
        meters = rcd.meters[["meter", "account", "customer_class"]].copy()
        meters["rate_code"] = tariff.code
        meters["bills"] = used.sum(axis=1)
        meters["kwh"] = np.einsum("mb,mb->m", rcd.det.delivered_kwh, weight)
        cache.basis[basis] = (weight, used, meters)
    weight, used, meters = cache.basis[basis]
    charges = [c.spec.description for v in tariff.versions for c in v.charges if hasattr(c.spec, "description")]
    keys: dict[tuple, int] = {}
    cents_rows, unit_rows, line_rows = [], [], []
    kept = {}
    for desc, cat, unit, qty, rate, amount in zip(items.description, items.category, items.unit, items.quantity,
                                                  items.rate, items.amount, strict=True):
        found = cache.line(amount)
        if found is None:
            if basis != "billed":
                cents = np.rint(round_cents(amount * weight).sum(axis=1) * 100.0).astype(np.int64)
            else:  # amounts are whole cents and a customer has a dozen bills: the float sum is exact to the cent
                cents = np.rint(np.einsum("mb,mb->m", amount, weight) * 100.0).astype(np.int64)
            found = (cents, np.einsum("mb,mb->m", qty, weight), _one_price(rate, qty, used))
        kept[id(amount)] = (amount, *found)
        cents, units, one_price = found
        key = (desc, cat, unit)
        if key in keys:  # the same line from two tariff versions
            j = keys[key]
            cents_rows[j] = cents_rows[j] + cents
            unit_rows[j] = unit_rows[j] + units
            if line_rows[j]["price"] != one_price:
                line_rows[j]["price"] = np.nan
            continue
        keys[key] = len(line_rows)
        cents_rows.append(cents)
        unit_rows.append(units)
        line_rows.append({"rate_code": tariff.code, "line": desc, "component": _component_of(desc, charges),
                          "category": cat, "unit": unit, "price": one_price})
    cache.lines = kept
    n = len(meters)
    out = Priced(name, meters, pd.DataFrame(line_rows, columns=["rate_code", "line", "component", "category", "unit",
                                                                "price"]),
                 np.array(cents_rows, dtype=np.int64).reshape(len(line_rows), n),
                 np.array(unit_rows, dtype=float).reshape(len(line_rows), n))
    cache.last = (tariff_key, basis, out)
    return out


_METERS = ["meter", "account", "customer_class", "rate_code", "bills", "kwh"]
_COMPONENTS = ["rate_code", "customer_class", "component", "line", "category", "unit", "billing_units", "price",
               "revenue", "bills"]
_REVENUE = ["customer_class", "rate_code", "customers", "bills", "kwh", "revenue"]


def _concat(frames: list, columns: list) -> pd.DataFrame:
    """The frames one after the other; no frames (a book of no customers on no program): an empty table."""
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("meter", "account", "customer_class", "rate_code",
                                                                 "component", "line", "category", "unit") else float)
                             for c in columns})
    return pd.concat(frames, ignore_index=True)


@dataclass
class PricedBook:
    """Several rate codes priced under one book: the same tables as :class:`Priced`, over all its parts."""

    name: str
    parts: list[Priced]

    @property
    def meters(self) -> pd.DataFrame:
        return _concat([p.meters for p in self.parts], _METERS)

    def customers(self) -> pd.DataFrame:
        return _concat([p.customers() for p in self.parts], [*_METERS, "annual_bill"])

    def components(self) -> pd.DataFrame:
        return _concat([p.components() for p in self.parts], _COMPONENTS)

    def revenue(self) -> pd.DataFrame:
        return _concat([p.revenue() for p in self.parts], _REVENUE).sort_values(
            ["customer_class", "rate_code"], ignore_index=True)

    def total_cents(self) -> int:
        return sum(p.total_cents() for p in self.parts)


def scanned_book(folder, identity: dict) -> Path:
    """The tariff book the determinants in ``folder`` were scanned with, checked to be that book still: its path
    is as the scan recorded it (relative to where it ran, in older sets), so another folder of that name, or the
    book edited since, would price the present revenue on other tariffs without a word."""
    path = Path(identity["tariffs"])
    recorded = identity.get("tariff_book_sha256")
    if recorded and (not path.is_dir() or book_checksum(path) != recorded):
        found = "is not there" if not path.is_dir() else "now holds other tariffs (its sha256 differs)"
        raise WorkbenchError(f"{folder}: the tariff book it was scanned with, {path} (as recorded in identity.json), "
                             f"{found}; pass --tariffs with the book to price on")
    return path


class Study:
    """The kept determinants of chosen classes (and rate codes), priced under any book of tariffs."""

    def __init__(self, folder, *, classes=None, rate_codes=None, basis: str | None = None, tariffs_dir=None,
                 empty_ok: bool = False):
        """``empty_ok``: no customer of ``classes`` on no net-metering program is not an error (a class of only
        net-metering customers, priced beside it by :class:`~workbench.design.nem_revenue.NetMeteringStudy`)."""
        self.folder = Path(folder)
        self.identity = read_identity(folder)
        self.basis = basis or self.identity["basis"]
        if self.basis not in BASES:
            raise WorkbenchError(f"basis {self.basis!r}: expected one of {', '.join(BASES)}")
        self.tariffs_dir = Path(tariffs_dir) if tariffs_dir else scanned_book(folder, self.identity)
        self.classes = None if classes is None else list(classes)
        codes = sorted(self.identity["rate_codes"]) if rate_codes is None else list(rate_codes)
        self.data = {}
        self._caches: dict = {}
        for code in codes:
            rcd = load_rate_code(self.folder, code, self.classes)
            if len(rcd):
                self.data[code] = rcd
        if not self.data and not empty_ok:
            raise WorkbenchError(f"{folder}: no customers {no_customers_of(self.classes, codes)}")

    def __len__(self) -> int:
        return sum(len(rcd) for rcd in self.data.values())

    @property
    def rate_codes(self) -> list[str]:
        return sorted(self.data)

    def cache(self, code: str) -> PricingCache:
        """The re-pricing cache of ``code``'s determinants (a new one if they were replaced)."""
        found = self._caches.get(code)
        if found is None or found[0] is not self.data[code]:
            found = self._caches[code] = (self.data[code], PricingCache())
        return found[1]

    def present_book(self) -> dict:
        return load_tariff_book(self.tariffs_dir)

    def price(self, book: dict, name: str = "scenario", codes=None) -> PricedBook:
        """Every kept customer (of ``codes``, default all) priced under ``book`` (rate code -> compiled tariff)."""
        parts = []
        for code in codes or self.rate_codes:
            if code not in book:
                raise WorkbenchError(f"rate code {code!r} is not in the tariff book of scenario {name!r}")
            check_schedule(self.identity, book[code])
            parts.append(price_rate_code(book[code], self.data[code], self.basis, name, self.cache(code)))
        return PricedBook(name, parts)


def no_customers_of(classes, codes) -> str:
    """``of class(es) X on rate codes [...]``, for a message that says no customer was found."""
    return f"{'of any class' if classes is None else f'of classes {list(classes)}'} on rate codes {list(codes)}"


def compare(present: Priced, proposed: Priced) -> dict[str, pd.DataFrame]:
    """Present and proposed side by side: ``revenue`` by class and rate, ``components``, ``customers``."""
    keys = ["customer_class", "rate_code"]
    rev = present.revenue().merge(proposed.revenue()[keys + ["revenue"]], on=keys, suffixes=("_present", "_proposed"))
    rev["change"] = (rev["revenue_proposed"] - rev["revenue_present"]).round(2)
    rev["change_pct"] = 100.0 * rev["change"] / rev["revenue_present"].where(rev["revenue_present"] != 0)
    ckeys = ["rate_code", "customer_class", "component", "line", "category", "unit"]
    comp = present.components().merge(proposed.components(), on=ckeys, how="outer", suffixes=("_present", "_proposed"))
    for col in ("revenue_present", "revenue_proposed"):
        comp[col] = comp[col].fillna(0.0)
    comp["change"] = (comp["revenue_proposed"] - comp["revenue_present"]).round(2)
    cust = present.customers().merge(proposed.customers()[["meter", "annual_bill"]], on="meter",
                                     suffixes=("_present", "_proposed"))
    cust["change"] = (cust["annual_bill_proposed"] - cust["annual_bill_present"]).round(2)
    cust["change_pct"] = 100.0 * cust["change"] / cust["annual_bill_present"].where(cust["annual_bill_present"] != 0)
    return {"revenue": rev, "components": comp, "customers": cust}
