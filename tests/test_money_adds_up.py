"""Money is finite and adds up: every bill's total is the sum of its rounded line items, in integer cents.

Unit tests of ``workbench.engine.bills.check_bills_add_up`` (Bill objects, as ``bill_series`` returns them),
``check_bill_tables`` (a billing run's tables, as the cycle writes them) and
``workbench.engine.money_checks.check_line_items`` (line items before they become bills). Amounts are written by
hand; floats like 0.1 + 0.2 must still add up, because the comparison is in whole cents.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from workbench.billing.cycle_chunk import SCHEMAS
from workbench.calendar.periods import BillPeriods
from workbench.engine.bills import Bill, LineItem, check_bill_tables, check_bills_add_up
from workbench.engine.money_checks import check_line_items
from workbench.engine.pricing import LineItems
from workbench.errors import BillingError

APR, MAY, JUN = dt.date(2025, 4, 1), dt.date(2025, 5, 1), dt.date(2025, 6, 1)


def bill(total, *amounts):
    lines = [LineItem(f"Line {i}", "energy", 1.0, "kWh", a, a) for i, a in enumerate(amounts)]
    return Bill(start=APR, end=MAY, days=30, total=total, line_items=lines)


# ------------------------------------------------------------------------------------- Bill objects


def test_float_noise_still_adds_up():
    """0.10 + 0.20 is 0.30000000000000004 in floats and 30 cents in cents: the bill adds up."""
    check_bills_add_up([bill(0.30, 0.10, 0.20), bill(-1.44, -0.30, -1.14), bill(0.0)])


@pytest.mark.parametrize("total", [0.31, 0.29, 3.0])
def test_total_off_by_a_cent_or_more(total):
    with pytest.raises(BillingError, match=r"meter\.csv, bill period 2025-04-01 to 2025-05-01.*does not add up"):
        check_bills_add_up([bill(0.30, 0.10, 0.20), bill(total, 0.10, 0.20)], "meter.csv")


def test_line_amount_that_is_not_whole_cents():
    with pytest.raises(BillingError, match="'Line 1' amount 0.105 is not a whole number of cents"):
        check_bills_add_up([bill(0.205, 0.10, 0.105)])


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_total_or_line(value):
    with pytest.raises(BillingError, match="does not add up"):
        check_bills_add_up([bill(value, 0.10)])
    with pytest.raises(BillingError, match="not a whole number of cents"):
        check_bills_add_up([bill(0.10, 0.10, value)])


# ----------------------------------------------------------------------------------- a run's tables


def tables(bills, lines):
    """bills: (meter, start, total); lines: (meter, start, amount, quantity)."""
    b = [{"meter": m, "account": "A", "customer_class": "res", "cycle": 1, "rate_code": "R", "period_start": s,
          "period_end": s + dt.timedelta(days=30), "days": 30, "partial": False, "delivered_kwh": 1.0,
          "received_kwh": 0.0, "peak_kw": 1.0, "billing_demand_kw": 1.0, "intervals": 2880, "missing_intervals": 0,
          "estimated_intervals": 0, "nem_program": "", "credit_earned": 0.0, "credit_applied": 0.0,
          "credit_carried": 0.0, "kwh_carried": 0.0, "true_up": False, "total": t, "bill_ready": True,
          "hold_reason": ""} for m, s, t in bills]
    li = [{"meter": m, "period_start": s, "line": i + 1, "description": f"Line {i}", "category": "energy",
           "quantity": q, "unit": "kWh", "rate": 0.1, "amount": a, "tariff_version": ""}
          for i, (m, s, a, q) in enumerate(lines)]
    return pa.Table.from_pylist(b, schema=SCHEMAS["bills"]), pa.Table.from_pylist(li, schema=SCHEMAS["line_items"])


GOOD_BILLS = [("m1", APR, 12.34), ("m1", MAY, 0.30), ("m2", APR, 0.0), ("m2", MAY, -5.00)]
GOOD_LINES = [("m1", APR, 10.00, 1.0), ("m1", APR, 2.34, 1.0), ("m1", MAY, 0.10, 1.0), ("m1", MAY, 0.20, 1.0),
              ("m2", MAY, 1.00, 1.0), ("m2", MAY, -6.00, 1.0)]


def test_tables_that_add_up():
    """Two meters, four bills (one with no lines and a zero total, one negative), lines in any order."""
    check_bill_tables(*tables(GOOD_BILLS, GOOD_LINES[::-1]), "chunk 0")
    check_bill_tables(*tables([], []))


def test_table_bill_off_by_a_cent():
    bills = GOOD_BILLS[:3] + [("m2", MAY, -5.01)]
    with pytest.raises(BillingError, match=r"chunk 7: meter m2, bill period from 2025-05-01: the bill total -5.01 "
                                           r"is not the sum of its line items \(-5.00\)"):
        check_bill_tables(*tables(bills, GOOD_LINES), "chunk 7")


def test_table_bill_without_lines_but_a_total():
    bills = GOOD_BILLS[:2] + [("m2", APR, 0.01)] + GOOD_BILLS[3:]
    with pytest.raises(BillingError, match="meter m2, bill period from 2025-04-01"):
        check_bill_tables(*tables(bills, GOOD_LINES))


@pytest.mark.parametrize("amount,quantity", [(np.nan, 1.0), (-9.2e16, 1e30), (2e9, 1.0), (0.0, np.inf)])
def test_table_line_not_sane(amount, quantity):
    """A NaN amount, the int64-saturated amount of a 1e30 kWh read, $2 billion, an infinite quantity."""
    lines = GOOD_LINES[:2] + [("m1", MAY, amount, quantity)]
    with pytest.raises(BillingError, match="meter m1, bill period from 2025-05-01: line item 'Line 2'.*sane amount"):
        check_bill_tables(*tables(GOOD_BILLS, lines))


# ------------------------------------------------------------------------------------ line items


def periods(n_meters=2):
    start = np.array([[APR, MAY, MAY]] * n_meters, dtype="datetime64[D]")
    end = np.array([[MAY, JUN, MAY]] * n_meters, dtype="datetime64[D]")  # the third is padding
    return BillPeriods(start, end, np.full((n_meters, 3), 30), np.zeros((n_meters, 4), dtype=np.int64))


def test_line_items_sane_and_padding_ignored():
    items = LineItems()
    items.add("Energy", "energy", "kWh", np.array([[100.0, 200.0, np.nan]] * 2), 0.1,
              np.array([[10.0, 20.0, np.nan]] * 2))
    check_line_items(items, periods())  # NaN only in padding periods: no bill there


@pytest.mark.parametrize("quantity,amount", [(1e30, -9.2e16), (np.nan, np.nan), (100.0, 1e9)])
def test_line_items_insane(quantity, amount):
    items = LineItems()
    items.add("Energy", "energy", "kWh", np.array([[100.0, 100.0, 0.0], [100.0, quantity, 0.0]]), 0.1,
              np.array([[10.0, 10.0, 0.0], [10.0, amount, 0.0]]))
    with pytest.raises(BillingError, match="meter 1002, bill period 2025-05-01 to 2025-06-01: line item 'Energy'"):
        check_line_items(items, periods(), names=["meter 1001", "meter 1002"])
