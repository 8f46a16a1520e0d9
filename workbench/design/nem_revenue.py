"""Net-metering customers in rate design: their test-year bills settled under their own program, under any book.

A net-metering customer's bill is not its determinants x prices: the program nets or does not net, values
exports, applies and carries credits from bill to bill and trues up once a year
(:func:`workbench.nem.billing.bill_with_program`). The test-year scan (:mod:`workbench.design.testyear`) keeps
these customers in their rate code's file with what the settlement needs (program, PTO date, true-up month,
opening bank, each period's export credit at the program's export values), and this module settles them again
under a tariff book, exactly as ``workbench cycle`` settles them: every bill period of the cube in order (the
bank walks from the cube's first bill), then the test year's share of each line item (billed: the bills ending
in the year; calendarized: each line x test-year days / days, rounded to the cent).

:class:`NetMeteringStudy` opens them; :meth:`NetMeteringStudy.price` settles them under a book and returns a
:class:`SettledBook` (per-customer annual bills, lines by class, rate code and program, revenue by class, rate
code and program, all in integer cents). The programs are those of the book's ``programs/`` folder: a proposed
book that edits a program (an export rate, a non-bypassable charge) is settled with its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.design.scenarios import check_schedule
from workbench.design.testyear_store import (
    BASES,
    RateCodeDeterminants,
    from_table,
    read_identity,
    read_rate_code_table,
)
from workbench.engine.pricing import round_cents
from workbench.errors import WorkbenchError
from workbench.nem import load_programs
from workbench.nem.billing import Enrollment, bill_with_program

#: one customer's settlement inputs, as kept on its rows
_INPUTS = ("nem_program", "pto_date", "true_up_month", "opening_credit", "opening_kwh", "export_valued")


@dataclass
class NetMeteringPart:
    """One rate code's net-metering customers: kept determinants, settlement inputs per meter, export credits."""

    rcd: RateCodeDeterminants
    inputs: pd.DataFrame  # per meter: nem_program, pto_date, true_up_month, opening_credit, opening_kwh, export_valued
    export_credit: np.ndarray  # (M, B) [$] received kWh x the program's export value of each bill period


@dataclass
class SettledPart:
    """One rate code's net-metering customers settled under one book: per line (J) and customer (M), in cents."""

    meters: pd.DataFrame  # meter, account, customer_class, rate_code, nem_program, bills, kwh, received_kwh
    lines: pd.DataFrame  # rate_code, line, category, unit
    cents: np.ndarray  # (J, M) test-year cents
    units: np.ndarray  # (J, M) test-year quantities


@dataclass
class SettledBook:
    """Every kept net-metering customer settled under one book."""

    name: str
    parts: list[SettledPart]

    def customers(self) -> pd.DataFrame:
        """One row per customer: meter, account, customer_class, rate_code, nem_program, bills, kwh [delivered],
        received_kwh, annual_bill [$]."""
        frames = [p.meters.assign(annual_bill=p.cents.sum(axis=0) / 100.0) for p in self.parts]
        columns = ["meter", "account", "customer_class", "rate_code", "nem_program", "bills", "kwh", "received_kwh",
                   "annual_bill"]
        return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)

    def revenue(self) -> pd.DataFrame:
        """By class, rate code and program: customers, bills, kwh, received_kwh, revenue [$] (a sum of cents)."""
        table = self.customers()
        table["cents"] = np.rint(table["annual_bill"].to_numpy(float) * 100).astype(np.int64)
        out = (table.groupby(["customer_class", "rate_code", "nem_program"], sort=True)
               .agg(customers=("meter", "size"), bills=("bills", "sum"), kwh=("kwh", "sum"),
                    received_kwh=("received_kwh", "sum"), cents=("cents", "sum")).reset_index())
        out["revenue"] = out.pop("cents") / 100.0
        return out

    def components(self) -> pd.DataFrame:
        """By rate code, class, program and line: category, unit, billing_units, revenue [$]."""
        rows = []
        for part in self.parts:
            keys = part.meters[["customer_class", "nem_program"]].to_numpy(str)
            for (cls, program) in sorted({tuple(k) for k in keys}):
                sel = (keys[:, 0] == cls) & (keys[:, 1] == program)
                for j, line in enumerate(part.lines.itertuples(index=False)):
                    cents, units = int(part.cents[j, sel].sum()), float(part.units[j, sel].sum())
                    if cents or units:
                        rows.append({"rate_code": line.rate_code, "customer_class": cls, "nem_program": program,
                                     "line": line.line, "category": line.category, "unit": line.unit,
                                     "billing_units": units, "revenue": cents / 100.0})
        return pd.DataFrame(rows, columns=["rate_code", "customer_class", "nem_program", "line", "category", "unit",
                                           "billing_units", "revenue"])

    def total_cents(self) -> int:
        return sum(int(p.cents.sum()) for p in self.parts)


class NetMeteringStudy:
    """The kept net-metering customers of chosen classes (and rate codes) of a determinants folder."""

    def __init__(self, folder, *, classes=None, rate_codes=None, basis: str | None = None):
        self.folder = Path(folder)
        self.identity = read_identity(folder)
        self.basis = basis or self.identity["basis"]
        if self.basis not in BASES:
            raise WorkbenchError(f"basis {self.basis!r}: expected one of {', '.join(BASES)}")
        codes = sorted(self.identity["rate_codes"]) if rate_codes is None else list(rate_codes)
        self.parts: dict[str, NetMeteringPart] = {}
        for code in codes:
            table, info = read_rate_code_table(folder, code, classes, net_metering=True)
            if not table.num_rows:
                continue
            rcd = from_table(code, table, len(info["energy_buckets"]), len(info["demand_buckets"]))
            frame = table.select(["meter", "period_no", "export_credit", *_INPUTS]).to_pandas()
            inputs = frame.drop_duplicates("meter").set_index("meter").loc[rcd.meters["meter"], list(_INPUTS)]
            credit = np.zeros(rcd.periods.valid.shape)
            m = pd.Index(rcd.meters["meter"]).get_indexer(frame["meter"])
            credit[m, frame["period_no"].to_numpy()] = frame["export_credit"].to_numpy()
            self.parts[code] = NetMeteringPart(rcd, inputs.reset_index(drop=True), credit)

    def __len__(self) -> int:
        return sum(len(p.rcd) for p in self.parts.values())

    @property
    def rate_codes(self) -> list[str]:
        return sorted(self.parts)

    def price(self, book: dict, programs_dir, name: str = "scenario") -> SettledBook:
        """Every kept net-metering customer settled under ``book`` (rate code -> compiled tariff) and the
        programs of ``programs_dir`` (a tariff book folder: its ``programs/``)."""
        programs = _programs(programs_dir) if self.parts else {}
        parts = []
        for code, part in sorted(self.parts.items()):
            if code not in book:
                raise WorkbenchError(f"rate code {code!r} (net-metering customers) is not in the tariff book of "
                                     f"scenario {name!r}")
            check_schedule(self.identity, book[code])
            parts.append(settle(book[code], part, programs, self.basis, programs_dir))
        return SettledBook(name, parts)


def _programs(folder) -> dict:
    where = Path(folder) / "programs"
    if not where.is_dir():
        raise WorkbenchError(f"{folder}: no programs/ folder; the net-metering customers' programs are settled with "
                             "the book's own program files")
    return load_programs(where)


def settle(tariff, part: NetMeteringPart, programs: dict, basis: str, programs_dir="") -> SettledPart:
    """One rate code's net-metering customers settled under ``tariff`` and ``programs``, as the cycle settles them:
    customers with the same program, PTO date, true-up month and export valuation settle together."""
    rcd, inputs = part.rcd, part.inputs
    shape = rcd.periods.valid.shape
    weight = rcd.weight(basis) * rcd.periods.valid
    keys: dict[tuple, int] = {}
    cents_rows, unit_rows, line_rows = [], [], []
    group_keys = ["nem_program", "pto_date", "true_up_month", "export_valued"]
    for (program_code, pto, month, valued), group in inputs.groupby(group_keys, sort=True):
        program = programs.get(program_code)
        if program is None:
            raise WorkbenchError(f"net-metering program {program_code!r} of {len(group)} customer(s) on "
                                 f"{tariff.code} is not in {programs_dir} (programs: {sorted(programs)})")
        rows = group.index.to_numpy()
        sub = rcd.select(rows)
        det = replace(sub.det, export_credit=part.export_credit[rows] if valued else None)
        enrollment = Enrollment(program, np.datetime64(pto, "D") if pto else None, int(month) or None,
                                opening_credit=group["opening_credit"].to_numpy(float),
                                opening_kwh=group["opening_kwh"].to_numpy(float))
        items = bill_with_program(tariff, det, sub.periods, enrollment, export_valued=bool(valued)).items
        w = weight[rows]
        for desc, cat, unit, qty, amount in zip(items.description, items.category, items.unit, items.quantity,
                                                items.amount, strict=True):
            amount = np.broadcast_to(amount, w.shape)
            if basis == "billed":  # whole cents, a dozen bills: the float sum is exact to the cent
                cents = np.rint((amount * w).sum(axis=1) * 100.0).astype(np.int64)
            else:
                cents = np.rint(round_cents(amount * w).sum(axis=1) * 100.0).astype(np.int64)
            units = (np.broadcast_to(qty, w.shape) * w).sum(axis=1)
            j = keys.setdefault((desc, cat, unit), len(line_rows))
            if j == len(line_rows):
                line_rows.append({"rate_code": tariff.code, "line": desc, "category": cat, "unit": unit})
                cents_rows.append(np.zeros(shape[0], np.int64))
                unit_rows.append(np.zeros(shape[0]))
            cents_rows[j][rows] += cents
            unit_rows[j][rows] += units
    meters = rcd.meters[["meter", "account", "customer_class"]].copy()
    meters["rate_code"] = tariff.code
    meters["nem_program"] = inputs["nem_program"].to_numpy()
    meters["bills"] = (weight > 0).sum(axis=1)
    meters["kwh"] = np.einsum("mb,mb->m", rcd.det.delivered_kwh, weight)
    meters["received_kwh"] = np.einsum("mb,mb->m", rcd.det.received_kwh.sum(axis=-1), weight)
    n = len(meters)
    return SettledPart(meters, pd.DataFrame(line_rows, columns=["rate_code", "line", "category", "unit"]),
                       np.array(cents_rows, dtype=np.int64).reshape(len(line_rows), n),
                       np.array(unit_rows, dtype=float).reshape(len(line_rows), n))


def compare_settled(present: SettledBook, proposed: SettledBook) -> dict[str, pd.DataFrame]:
    """Present and proposed settlements side by side: ``revenue`` by class, rate code and program, ``customers``."""
    keys = ["customer_class", "rate_code", "nem_program"]
    rev = present.revenue().merge(proposed.revenue()[keys + ["revenue"]], on=keys, how="outer",
                                  suffixes=("_present", "_proposed"))
    rev["change"] = ((rev["revenue_proposed"] - rev["revenue_present"]) * 100).round() / 100
    rev["change_pct"] = 100.0 * rev["change"] / rev["revenue_present"].where(rev["revenue_present"] != 0)
    cust = present.customers().merge(proposed.customers()[["meter", "annual_bill"]], on="meter",
                                     suffixes=("_present", "_proposed"))
    cust["change"] = ((cust["annual_bill_proposed"] - cust["annual_bill_present"]) * 100).round() / 100
    cust["change_pct"] = 100.0 * cust["change"] / cust["annual_bill_present"].where(cust["annual_bill_present"] != 0)
    return {"revenue": rev, "customers": cust}
