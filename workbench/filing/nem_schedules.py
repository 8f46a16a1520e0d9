"""The net-metering customers' own schedules, and which customers each schedule of a filing covers.

A net-metering customer's bill is settled under its program (netting, export credits, credits carried from bill
to bill, a true-up), so it is not its kWh x the rate's prices: the fixed-level typical bills and the bill
frequency of the rates (:mod:`workbench.filing.schedules`, :mod:`workbench.filing.typical`) are of the
customers on no program, and these schedules show the others, per class and program:

- :func:`nem_bill_frequency`: their bills of the test year by block of **delivered** kWh per bill (the energy
  from the grid, what the class summary counts), with the kWh they exported on those bills beside;
- :func:`nem_typical_bills`: per class, rate and program, the average settled bill of all its customers (present
  and proposed, $/month) and the bills of real customers at percentiles of annual net kWh (delivered - received);
- :func:`nem_bill_impacts`: the customers of each class and program in bands of their annual bill change.

:func:`coverage` says, in one sentence per schedule, which customers it counts (written under each schedule's
title in the workbook and the PDF), so the counts of every schedule tie to the class summary's and the proof of
revenue's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.filing.data import FilingData
from workbench.filing.schedules import frequency_table, impact_bands, rate_code_bills
from workbench.filing.typical import PERCENTILES, _nearest_rank

ALL_LEVEL = "All customers of the program"


def nem_year_bills(data: FilingData) -> pd.DataFrame:
    """One row per bill of the test year of the net-metering customers: class, program, rate_code, meter, month,
    season, kwh (delivered), received_kwh."""
    frames = []
    for code, part in ({} if data.net_metering is None else data.net_metering.parts).items():
        bills = rate_code_bills(code, part.rcd)
        program = pd.Series(part.inputs["nem_program"].to_numpy(), index=part.rcd.meters["meter"].to_numpy())
        frames.append(bills.assign(program=program.reindex(bills["meter"]).to_numpy()))
    columns = ["class", "program", "rate_code", "meter", "month", "season", "kwh", "received_kwh"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def nem_bill_frequency(data: FilingData, blocks: dict | None = None) -> pd.DataFrame:
    """The net-metering customers' bills by block of delivered kWh per bill, class, program and season, with the
    kWh received from them on the bills of each block (``received_kwh``); the class's blocks of
    :func:`~workbench.filing.schedules.bill_frequency`. Whole bills of the test year (billed basis)."""
    return frequency_table(nem_year_bills(data), ["class", "program", "season"], blocks, sums=("received_kwh",))


def nem_typical_bills(data: FilingData, percentiles=PERCENTILES) -> pd.DataFrame:
    """Per class, rate and program: the average settled bill of all its customers, and the customers at the
    ``percentiles`` of annual net kWh (delivered - received; nearest rank), present and proposed [$/month]."""
    cust = data.nem_tables.get("customers")
    rows = []
    if cust is not None:
        cust = cust[cust["bills"] > 0]
        for (cls, code, program), group in cust.groupby(["customer_class", "rate_code", "nem_program"], sort=True):
            n = len(group)
            rows.append(_row(cls, code, program, f"{ALL_LEVEL} ({n:,})", n, group,
                             "average settled bill: the customers' annual bills / their bills"))
            group = group.reset_index(drop=True)
            net = (group["kwh"] - group["received_kwh"]).to_numpy(float)
            for pct in percentiles:
                one = group.iloc[[_nearest_rank(net, pct)]]
                rows.append(_row(cls, code, program, f"P{pct} customer", 1, one,
                                 f"actual customer at the {pct}th percentile of annual net kWh"))
    return pd.DataFrame(rows, columns=["class", "rate_code", "program", "level", "customers", "bills", "kwh",
                                       "received_kwh", "present_bill", "proposed_bill", "change", "change_pct",
                                       "present_annual", "proposed_annual", "usage"])


def _row(cls, code, program, level, customers, group, usage) -> dict:
    bills = int(group["bills"].sum())
    present = int(np.rint(group["annual_bill_present"].to_numpy(float) * 100).sum())
    proposed = int(np.rint(group["annual_bill_proposed"].to_numpy(float) * 100).sum())
    return {"class": cls, "rate_code": code, "program": program, "level": level, "customers": customers,
            "bills": bills, "kwh": float(group["kwh"].sum()) / bills,
            "received_kwh": float(group["received_kwh"].sum()) / bills,
            "present_bill": round(present / bills) / 100.0, "proposed_bill": round(proposed / bills) / 100.0,
            "change": round((proposed - present) / bills) / 100.0,
            "change_pct": 100.0 * (proposed - present) / present if present else np.nan,
            "present_annual": present / 100.0, "proposed_annual": proposed / 100.0, "usage": usage}


def nem_bill_impacts(data: FilingData, percent_bands=None, dollar_bands=None) -> pd.DataFrame:
    """The net-metering customers of each class and program in bands of their annual bill change (settled bills),
    in % and in $; ``share_pct`` is of the program's customers in the class."""
    cust = data.nem_tables.get("customers")
    if cust is None:
        cust = pd.DataFrame(columns=["customer_class", "nem_program", "annual_bill_present", "annual_bill_proposed"])
    out = impact_bands(cust, ["customer_class", "nem_program"], percent_bands, dollar_bands)
    return out.rename(columns={"nem_program": "program"})


def _counts(table: pd.DataFrame) -> str:
    by_class = table.groupby("customer_class").size()
    return ", ".join(f"{cls} {n:,}" for cls, n in by_class.items())


def coverage(data: FilingData) -> dict[str, str]:
    """Schedule name -> which customers it counts, in one sentence with the numbers (by class)."""
    others = data.customers
    nem = data.nem_tables.get("customers")
    nem = nem if nem is not None else others.iloc[:0].assign(nem_program="")
    n_all, n_other, n_nem = len(others) + len(nem), len(others), len(nem)
    every = (f"Customers: all {n_all:,} of the test year ({_counts(data.all_customers)})"
             + (f", the {n_nem:,} net-metering customers with their bills settled under their programs." if n_nem
                else "; none is net-metered."))
    programs = "; ".join(f"{cls}: " + ", ".join(f"{p} {n:,}" for p, n in g.groupby("nem_program").size().items())
                         for cls, g in nem.groupby("customer_class"))
    theirs = f"Customers: the {n_nem:,} net-metering customers ({programs}), their bills settled under their programs."
    if not n_nem:
        rest = f"Customers: all {n_other:,} of the test year ({_counts(others)}); none is net-metered."
    elif n_other:
        rest = (f"Customers: the {n_other:,} on no net-metering program ({_counts(others)}); the {n_nem:,} "
                "net-metering customers are in the net-metering schedules (their bills depend on their exports).")
    else:
        rest = (f"Customers: none: all {n_nem:,} customers of the test year are net-metered (in the net-metering "
                "schedules: their bills depend on their exports).")
    proof = (f"Customers: all {n_all:,}: the {n_other:,} on no program in the rates' lines, the {n_nem:,} "
             "net-metering customers in the program rows (billing units: customers)." if n_nem else rest)
    if n_nem and not n_other:
        proof = f"Customers: all {n_all:,} are net-metered: the program rows (billing units: customers)."
    return {"class_summary": every, "proof_of_revenue": proof, "bill_frequency": rest, "typical_bills": rest,
            "bill_impacts": every, "largest_increases": every, "rate_mapping": every, "cost_of_service": every,
            "nem_bill_frequency": theirs, "nem_typical_bills": theirs, "nem_bill_impacts": theirs}
