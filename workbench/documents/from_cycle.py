"""Building bill documents from a bill cycle's tables (``bills.parquet``, ``line_items.parquet``).

:func:`document_from_cycle` turns one row of ``bills.parquet`` and its rows of ``line_items.parquet`` (see
:mod:`workbench.billing.cycle_output`) into a :class:`~workbench.documents.model.BillDocument`. What the cycle
does not know (the customer's name and addresses, the meter multiplier, the balance, payments and adjustments
from the ledger, the bill and due dates) comes in as arguments; the ledger passes its own, and the defaults
let a cycle's bills be rendered before anything is posted (previous balance, payments and adjustments 0).

Dollar amounts in the cycle's tables are already rounded to the cent; they become integer cents here, and an
amount that is not a whole number of cents is refused rather than rounded a second time.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
from pydantic import Field

from workbench.documents.model import (
    BillDocument,
    BudgetBilling,
    Charge,
    NemCredits,
    OtherCharge,
    PeriodUsage,
    UsageMonth,
    Utility,
    _Frozen,
)
from workbench.errors import BillingError
from workbench.sample import UTILITY_NAME

SAMPLE_UTILITY = Utility(name=UTILITY_NAME, address="100 Cooperative Way, Greensboro, NC 27401",
                         phone="(336) 555-0100", web="www.piedmont-sample.example")
"""The sample utility's letterhead (made up, like the utility)."""

DUE_DAYS = 21
"""Days from the bill date to the due date when no due date is given."""


class AccountInfo(_Frozen):
    """What the bill prints about the customer, from the ledger or the customer system."""

    customer_name: str
    service_address: str
    mailing_address: str = ""
    multiplier: float = Field(1.0, gt=0)


def _row(row) -> dict:
    if isinstance(row, Mapping):
        return dict(row)
    if isinstance(row, pd.Series):
        return row.to_dict()
    if hasattr(row, "_asdict"):
        return row._asdict()
    raise TypeError(f"a bill row is a mapping, a pandas Series or a named tuple, not {type(row).__name__}")


def _rows(rows) -> list[dict]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    return [_row(r) for r in rows]


def _date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def to_cents(amount, where: str) -> int:
    """Dollars already rounded to the cent -> integer cents; anything else is an error naming ``where``."""
    value = float(amount) * 100.0
    if not math.isfinite(value) or abs(value - round(value)) > 1e-6:
        raise BillingError(f"{where}: amount {amount!r} is not a whole number of cents")
    return int(round(value))


_BLOCK = re.compile(r",?\s*block \d+$")


def usage_by_period(line_items: Sequence[Mapping]) -> list[PeriodUsage]:
    """kWh billed per time-of-use period, read from the energy lines of the first energy charge.

    ``Energy, winter on-peak, block 2`` counts toward ``Winter on-peak``; a charge without periods (``Energy``)
    gives one row ``All hours``. Other energy charges (adders, riders) bill the same kWh again and are skipped.
    """
    energy = [r for r in line_items if r.get("category") == "energy" and r.get("unit") == "kWh"]
    if not energy:
        return []
    charge = str(energy[0]["description"]).split(",")[0]
    totals: dict[str, float] = {}
    for r in energy:
        head, _, label = str(r["description"]).partition(",")
        if head != charge:
            continue
        label = _BLOCK.sub("", label.strip()).strip(" ,") or "all hours"
        label = label[0].upper() + label[1:]
        totals[label] = totals.get(label, 0.0) + float(r["quantity"])
    return [PeriodUsage(name=name, kwh=round(kwh, 3)) for name, kwh in totals.items()]


def _history(history) -> list[UsageMonth]:
    if history is None:
        return []
    if isinstance(history, Mapping):
        history = history.items()
    out = []
    for item in history:
        if isinstance(item, UsageMonth):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(UsageMonth.model_validate(item))
        else:
            month, kwh = item
            out.append(UsageMonth(month=str(month), kwh=float(kwh)))
    return out[-13:]


def monthly_usage(bills: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Delivered kWh per meter and month (``YYYY-MM``) of the bills' end (read) dates, from ``bills.parquet``."""
    keyed = pd.DataFrame({"meter": bills["meter"].astype(str).to_numpy(),
                          "month": pd.to_datetime(bills["period_end"]).dt.strftime("%Y-%m").to_numpy(),
                          "kwh": bills["delivered_kwh"].to_numpy()})
    # by column names: a list of two key arrays is taken for one key when the frame has exactly two rows
    sums = keyed.groupby(["meter", "month"], sort=True)["kwh"].sum()
    out: dict[str, dict[str, float]] = {}
    for (meter, month), kwh in sums.items():
        out.setdefault(meter, {})[month] = float(kwh)
    return out


def history_window(by_month: Mapping[str, float], through: dt.date, months: int = 13) -> list[UsageMonth]:
    """The ``months`` months up to ``through`` of a month -> kWh mapping, for the usage chart.

    Months between the first month with usage and ``through`` that have none show 0 kWh; months before it are
    left out (the chart does not invent history).
    """
    last = pd.Period(through, "M")
    window = [str(last - k) for k in range(months - 1, -1, -1)]
    present = [m for m in window if m in by_month]
    if not present:
        return []
    return [UsageMonth(month=m, kwh=round(float(by_month.get(m, 0.0)), 3)) for m in window if m >= present[0]]


def usage_history(bills: pd.DataFrame, meter: str, through: dt.date, months: int = 13) -> list[UsageMonth]:
    """A meter's delivered kWh by month of the bill's end (read) date, ``months`` months up to ``through``."""
    return history_window(monthly_usage(bills[bills["meter"] == meter]).get(meter, {}), through, months)


def document_from_cycle(bill_row, line_items_rows: Iterable, account_info: AccountInfo | Mapping, history=None,
                        *, utility: Utility = SAMPLE_UTILITY, bill_id: str | None = None,
                        bill_date: dt.date | None = None, due_date: dt.date | None = None,
                        previous_balance_cents: int = 0, payments_cents: int = 0, adjustments_cents: int = 0,
                        messages: Sequence[str] = (), budget: BudgetBilling | None = None,
                        other_charges: Sequence[OtherCharge] = ()) -> BillDocument:
    """The bill document of one bill of a cycle.

    ``bill_row``: a row of ``bills.parquet`` (mapping, Series or named tuple); ``line_items_rows``: that bill's
    rows of ``line_items.parquet`` (a DataFrame or mappings; rows of another meter or period are refused);
    ``account_info``: :class:`AccountInfo` (or a mapping of its fields); ``history``: the usage chart, as
    (``YYYY-MM``, kWh) pairs, a mapping month -> kWh or :class:`UsageMonth` (:func:`usage_history` makes it).
    ``bill_id`` defaults to ``<meter>-<period start YYYYMMDD>``, ``bill_date`` to the read date (the period's
    end), ``due_date`` to :data:`DUE_DAYS` after the bill date. ``budget``: the account is on budget billing
    (the amount due carries the installment, not the actual charges; see :class:`BudgetBilling`).
    ``other_charges``: fees charged since the last bill (:class:`OtherCharge`), added to the amount due.
    """
    bill = _row(bill_row)
    info = account_info if isinstance(account_info, AccountInfo) else AccountInfo.model_validate(dict(account_info))
    meter, start, end = str(bill["meter"]), _date(bill["period_start"]), _date(bill["period_end"])
    where = f"bill of meter {meter} for the period starting {start}"
    lines = sorted(_rows(line_items_rows), key=lambda r: int(r.get("line", 0)))
    for r in lines:
        if str(r["meter"]) != meter or _date(r["period_start"]) != start:
            raise BillingError(f"{where}: line item {r.get('line')} belongs to meter {r['meter']} period "
                               f"{_date(r['period_start'])}; pass only this bill's line items")
    charges = [Charge(description=str(r["description"]), quantity=float(r["quantity"]), unit=str(r["unit"]),
                      price=float(r["rate"]), amount_cents=to_cents(r["amount"], f"{where}, line {r['line']}"))
               for r in lines]
    intervals = int(bill.get("intervals") or 0)
    estimated = int(bill.get("estimated_intervals") or 0)
    program = str(bill.get("nem_program") or "")
    nem = None
    if program:
        nem = NemCredits(program=program, received_kwh=round(float(bill.get("received_kwh") or 0.0), 3),
                         credit_brought_cents=to_cents(bill.get("credit_brought") or 0.0, where),
                         credit_earned_cents=to_cents(bill.get("credit_earned") or 0.0, where),
                         credit_applied_cents=to_cents(bill.get("credit_applied") or 0.0, where),
                         credit_settled_cents=to_cents(bill.get("credit_settled") or 0.0, where),
                         balance_carried_cents=to_cents(bill.get("credit_carried") or 0.0, where),
                         **{name: round(float(bill.get(name) or 0.0), 3)
                            for name in ("kwh_brought", "kwh_banked", "kwh_used", "kwh_settled", "kwh_carried")},
                         true_up=bool(bill.get("true_up")))
    current = to_cents(bill["total"], f"{where}, total")
    bill_date = bill_date or end
    demand = float(bill.get("billing_demand_kw") or 0.0)
    return BillDocument(
        utility=utility, account_number=str(bill["account"]), customer_name=info.customer_name,
        service_address=info.service_address, mailing_address=info.mailing_address,
        bill_id=bill_id or f"{meter}-{start:%Y%m%d}", bill_date=bill_date,
        due_date=due_date or bill_date + dt.timedelta(days=DUE_DAYS),
        period_start=start, period_end=end, days=int(bill["days"]), meter_number=meter,
        multiplier=info.multiplier, rate_code=str(bill.get("rate_code") or ""),
        estimated=estimated > 0, estimated_share=estimated / intervals if intervals else 0.0,
        delivered_kwh=round(float(bill.get("delivered_kwh") or 0.0), 3),
        received_kwh=round(float(bill.get("received_kwh") or 0.0), 3),
        billing_demand_kw=round(demand, 3) if any(c.unit == "kW" for c in charges) else None,
        usage_by_period=usage_by_period(lines), charges=charges, nem_credits=nem,
        previous_balance_cents=previous_balance_cents, payments_cents=payments_cents,
        adjustments_cents=adjustments_cents, current_charges_cents=current, budget=budget,
        other_charges=list(other_charges), other_charges_cents=sum(c.amount_cents for c in other_charges),
        amount_due_cents=(previous_balance_cents - payments_cents + adjustments_cents + current
                          + sum(c.amount_cents for c in other_charges)
                          + (budget.settled_cents - budget.deferred_cents if budget else 0)),
        usage_history=_history(history), messages=list(messages))
