"""What each schedule's columns are: header with units, number format, and how its total row is made.

One table for the workbook, the PDF and the documentation, so a column reads the same everywhere. A total is
``"sum"`` (an Excel ``=SUM`` over the column), ``("ratio", numerator, denominator, factor)`` (the totals of two
columns divided, e.g. the change in % of the present revenue) or None (no total: mixed units, shares).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Excel number formats by kind (values in % are already percentages: 4.25 means 4.25 %).
FORMATS = {"text": "@", "int": "#,##0", "kwh": "#,##0", "kw": "#,##0.0", "money": "$#,##0.00",
           "price": "0.00000", "pct": '0.00"%"', "cents": "0.000", "ratio": "0.000", "units": "#,##0.00"}


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    kind: str = "text"
    total: object = None
    width: int = 12


@dataclass(frozen=True)
class Schedule:
    name: str
    sheet: str
    title: str
    columns: tuple
    note: str = ""


def _ratio(num, den, factor=1.0):
    return ("ratio", num, den, factor)


SCHEDULES = {
    "class_summary": Schedule("class_summary", "Class summary", "Class summary: customers, usage and revenue", (
        Column("class", "Class", width=8), Column("rate_code", "Rate", width=16),
        Column("customers", "Customers", "int", "sum"), Column("bills", "Bills", "int", "sum"),
        Column("kwh", "Energy [kWh]", "kwh", "sum", 15), Column("billing_kw", "Billing demand [kW]", "kw", "sum", 14),
        Column("present_revenue", "Present revenue [$]", "money", "sum", 16),
        Column("present_average_bill", "Present average bill [$]", "money", _ratio("present_revenue", "bills"), 14),
        Column("present_cents_per_kwh", "Present average rate [¢/kWh]", "cents",
               _ratio("present_revenue", "kwh", 100.0), 14),
        Column("proposed_revenue", "Proposed revenue [$]", "money", "sum", 16),
        Column("proposed_average_bill", "Proposed average bill [$]", "money", _ratio("proposed_revenue", "bills"), 14),
        Column("proposed_cents_per_kwh", "Proposed average rate [¢/kWh]", "cents",
               _ratio("proposed_revenue", "kwh", 100.0), 14),
        Column("change", "Change [$]", "money", "sum", 14),
        Column("change_pct", "Change [%]", "pct", _ratio("change", "present_revenue", 100.0), 10)),
        "Billing demand: the sum of each bill's maximum demand, for rates with a demand charge."),
    "proof_of_revenue": Schedule("proof_of_revenue", "Proof of revenue", "Proof of revenue: billing units x prices", (
        Column("class", "Class", width=8), Column("rate_code", "Rate", width=16),
        Column("component", "Component", width=42), Column("category", "Category", width=11),
        Column("billing_units", "Present billing units", "units", None, 15), Column("unit", "Unit", width=7),
        Column("present_price", "Present price [$/unit]", "price", None, 13),
        Column("present_revenue", "Present revenue [$]", "money", "sum", 16),
        Column("proposed_billing_units", "Proposed billing units", "units", None, 15),
        Column("proposed_price", "Proposed price [$/unit]", "price", None, 13),
        Column("proposed_revenue", "Proposed revenue [$]", "money", "sum", 16),
        Column("change", "Change [$]", "money", "sum", 14),
        Column("change_pct", "Change [%]", "pct", _ratio("change", "present_revenue", 100.0), 10)),
        "Revenue = units x price rounded to the cent; a price left blank varies between bills (the billed revenue "
        "is shown). The rounding line of each rate makes its lines add up to the billed revenue to the cent; "
        "net-metering customers follow as one row per program, their bills settled under the program."),
    "bill_frequency": Schedule("bill_frequency", "Bill frequency", "Bill frequency by usage block", (
        Column("class", "Class", width=8), Column("season", "Season", width=9),
        Column("block_low_kwh", "Block from [kWh]", "kwh", None, 12),
        Column("block_high_kwh", "Block to [kWh]", "kwh", None, 12),
        Column("bills", "Bills", "int", "sum"), Column("kwh", "Energy of the bills [kWh]", "kwh", "sum", 16),
        Column("kwh_in_block", "Energy in the block [kWh]", "kwh", "sum", 16),
        Column("bills_pct", "Bills [%]", "pct"), Column("kwh_pct", "Energy [%]", "pct"),
        Column("cumulative_bills_pct", "Cumulative bills [%]", "pct", None, 13),
        Column("cumulative_kwh_pct", "Cumulative energy [%]", "pct", None, 13)),
        "The bills of the test year by kWh per bill (a block holds from <= kWh < to; the last is open); summer: "
        "bills ending June to September."),
    "typical_bills": Schedule("typical_bills", "Typical bills", "Typical bills: present and proposed", (
        Column("class", "Class", width=8), Column("rate_code", "Rate", width=16), Column("level", "Usage", width=30),
        Column("kwh", "Energy [kWh/month]", "kwh", None, 13), Column("kw", "Demand [kW]", "kw"),
        Column("present_bill", "Present bill [$/month]", "money", None, 14),
        Column("proposed_bill", "Proposed bill [$/month]", "money", None, 14),
        Column("change", "Change [$/month]", "money", None, 13), Column("change_pct", "Change [%]", "pct", None, 10),
        Column("usage_shape", "Usage shape", width=44)),
        "Fixed levels: the same kWh in each calendar month of the test year, split over seasons and ToU periods "
        "by the class average load shape; kW = kWh / (load factor x 730 h). Percentile customers: real customers "
        "by annual kWh, monthly averages of their own bills."),
    "bill_impacts": Schedule("bill_impacts", "Bill impacts", "Bill impacts: customers by annual bill change", (
        Column("class", "Class", width=8), Column("measure", "Measure", width=9), Column("band", "Band", width=20),
        Column("customers", "Customers", "int"), Column("share_pct", "Share of class [%]", "pct", None, 12)),
        "A band holds low <= change < high; a bill unchanged to the cent is 'no change'."),
    "nem_bill_frequency": Schedule(
        "nem_bill_frequency", "NEM bill frequency", "Net-metering customers: bill frequency by delivered kWh", (
            Column("class", "Class", width=8), Column("program", "Program", width=14),
            Column("season", "Season", width=9),
            Column("block_low_kwh", "Block from [kWh delivered]", "kwh", None, 12),
            Column("block_high_kwh", "Block to [kWh delivered]", "kwh", None, 12),
            Column("bills", "Bills", "int", "sum"),
            Column("kwh", "Delivered energy of the bills [kWh]", "kwh", "sum", 16),
            Column("kwh_in_block", "Delivered energy in the block [kWh]", "kwh", "sum", 16),
            Column("received_kwh", "Received energy of the bills [kWh]", "kwh", "sum", 16),
            Column("bills_pct", "Bills [%]", "pct"), Column("kwh_pct", "Energy [%]", "pct"),
            Column("cumulative_bills_pct", "Cumulative bills [%]", "pct", None, 13),
            Column("cumulative_kwh_pct", "Cumulative energy [%]", "pct", None, 13)),
        "The net-metering customers' bills of the test year by kWh delivered from the grid per bill (a block holds "
        "from <= kWh < to; the last is open), with the kWh they sent to the grid on those bills; shares within "
        "class, program and season."),
    "nem_typical_bills": Schedule(
        "nem_typical_bills", "NEM typical bills", "Net-metering customers: bills present and proposed, by program", (
            Column("class", "Class", width=8), Column("rate_code", "Rate", width=16),
            Column("program", "Program", width=14), Column("level", "Bill of", width=30),
            Column("customers", "Customers", "int", None, 9), Column("bills", "Bills", "int", None, 7),
            Column("kwh", "Delivered [kWh/month]", "kwh", None, 12),
            Column("received_kwh", "Received [kWh/month]", "kwh", None, 12),
            Column("present_bill", "Present bill [$/month]", "money", None, 14),
            Column("proposed_bill", "Proposed bill [$/month]", "money", None, 14),
            Column("change", "Change [$/month]", "money", None, 13), Column("change_pct", "Change [%]", "pct", None, 10),
            Column("present_annual", "Present [$/yr]", "money", None, 13),
            Column("proposed_annual", "Proposed [$/yr]", "money", None, 13),
            Column("usage", "What", width=44)),
        "Bills settled under the program (netting, export credits, credits carried, true-up), present and proposed "
        "book each with its own programs; a month's bill = the annual bills / the bills. Percentile customers: real "
        "customers by annual net kWh (delivered - received)."),
    "nem_bill_impacts": Schedule(
        "nem_bill_impacts", "NEM bill impacts", "Net-metering customers: customers by annual bill change", (
            Column("class", "Class", width=8), Column("program", "Program", width=14),
            Column("measure", "Measure", width=9), Column("band", "Band", width=20),
            Column("customers", "Customers", "int"), Column("share_pct", "Share of program [%]", "pct", None, 12)),
        "Settled annual bills; a band holds low <= change < high; a bill unchanged to the cent is 'no change'."),
    "largest_increases": Schedule("largest_increases", "Largest increases", "Largest annual bill increases", (
        Column("class", "Class", width=8), Column("rate_code", "Rate", width=16), Column("account", "Account"),
        Column("meter", "Meter"), Column("bills", "Bills", "int", None, 7), Column("kwh", "Energy [kWh/yr]", "kwh"),
        Column("present_bill", "Present [$/yr]", "money", None, 13),
        Column("proposed_bill", "Proposed [$/yr]", "money", None, 13), Column("change", "Change [$/yr]", "money"),
        Column("change_pct", "Change [%]", "pct", None, 10))),
    "rate_mapping": Schedule("rate_mapping", "Rate mapping", "Rate mapping: present to proposed rates", (
        Column("class", "Class", width=8), Column("present_rate", "Present rate", width=16),
        Column("proposed_rate", "Proposed rate", width=16), Column("customers", "Customers", "int", "sum"),
        Column("bills", "Bills", "int", "sum"), Column("kwh", "Energy [kWh]", "kwh", "sum", 15),
        Column("present_revenue", "Present revenue [$]", "money", "sum", 16),
        Column("proposed_revenue", "Proposed revenue [$]", "money", "sum", 16))),
    "cost_of_service": Schedule("cost_of_service", "Cost of service", "Cost of service: revenue against cost", (
        Column("class", "Class", width=8), Column("allocated_cost", "Allocated cost [$]", "money", "sum", 16),
        Column("present_revenue", "Present revenue [$]", "money", "sum", 16),
        Column("present_revenue_to_cost", "Present revenue / cost", "ratio",
               _ratio("present_revenue", "allocated_cost"), 12),
        Column("present_parity", "Present parity", "ratio", None, 10),
        Column("proposed_revenue", "Proposed revenue [$]", "money", "sum", 16),
        Column("proposed_revenue_to_cost", "Proposed revenue / cost", "ratio",
               _ratio("proposed_revenue", "allocated_cost"), 12),
        Column("proposed_parity", "Proposed parity", "ratio", None, 10)),
        "Parity: the class's revenue-to-cost ratio over the system's (1.000 pays its allocated share)."),
}


def schedule_totals(name: str, frame) -> dict:
    """The total row of a schedule as the workbook's formulas compute it (sums, then ratios of the sums)."""
    spec = SCHEDULES[name]
    out = {}
    for col in spec.columns:
        if col.total == "sum" and col.name in frame:
            out[col.name] = float(frame[col.name].fillna(0).sum())
    for col in spec.columns:
        if isinstance(col.total, tuple) and col.total[1] in out and col.total[2] in out:
            _, num, den, factor = col.total
            out[col.name] = out[num] / out[den] * factor if out[den] else math.nan
    return out


#: decimals a schedule's CSV keeps by column kind (for people, as every workbench CSV: kWh and kW to 3, $ to
#: cents); prices, percentages and ratios are written as computed
CSV_DECIMALS = {"kwh": 3, "kw": 3, "units": 3, "money": 2}


def csv_for_people(name: str, frame):
    """``frame`` with its energy, demand and billing-unit columns to 3 decimals and money to cents."""
    rounded = frame.copy()
    for col in SCHEDULES[name].columns:
        decimals = CSV_DECIMALS.get(col.kind)
        if decimals is not None and col.name in rounded and rounded[col.name].dtype.kind == "f":
            rounded[col.name] = rounded[col.name].round(decimals)
    return rounded


def identity_text(value) -> str:
    """A run-identity value as a person reads it: ``version 3, run ingest-1, inode 42`` for a mapping (not a
    Python dict's repr), items joined by ``; `` for a list, '' for none."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k} {identity_text(v) or '(none)'}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(identity_text(v) for v in value)
    return str(value)
