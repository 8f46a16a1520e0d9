"""What the run's rules and documents need from the ledger, as data frames (read-only queries).

The frames have the layouts :mod:`workbench.runs.rules` documents: accounts, rate assignments, meter
exchanges and earlier posted bills, keyed by account number and service point (the cube's ``meter``).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.ledger.models import (
    Account,
    Bill,
    BillLineItem,
    BudgetPlan,
    Customer,
    JournalEntry,
    Meter,
    Premise,
    RateAssignment,
    ServicePoint,
)


def _frame(session: Session, query, columns) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=columns)


def accounts(session: Session) -> pd.DataFrame:
    """account, status, open_date, close_date, customer_class, cycle."""
    q = select(Account.account_number, Account.status, Account.opened_on, Account.closed_on, Account.customer_class,
               Account.cycle)
    return _frame(session, q, ["account", "status", "open_date", "close_date", "customer_class", "cycle"])


def rates(session: Session) -> pd.DataFrame:
    """account, rate_code, effective_from, effective_to (exclusive; None: open)."""
    q = (select(Account.account_number, RateAssignment.rate_code, RateAssignment.effective_from,
                RateAssignment.effective_to).join(Account, Account.id == RateAssignment.account_id)
         .order_by(Account.account_number, RateAssignment.effective_from))
    return _frame(session, q, ["account", "rate_code", "effective_from", "effective_to"])


def exchanges(session: Session) -> pd.DataFrame:
    """meter (service point), account, date: every meter set (after the account opened) or removed."""
    q = (select(ServicePoint.code, Account.account_number, Meter.installed_on, Meter.removed_on, Account.opened_on)
         .join(ServicePoint, ServicePoint.id == Meter.service_point_id)
         .join(Account, Account.id == ServicePoint.account_id))
    rows = _frame(session, q, ["meter", "account", "installed_on", "removed_on", "opened_on"])
    # a meter set when the account opened is the account's first meter, not an exchange
    set_later = rows[rows["installed_on"].notna() & (rows["installed_on"] != rows["opened_on"])]
    removed = rows[rows["removed_on"].notna()]
    return pd.concat([set_later.rename(columns={"installed_on": "date"})[["meter", "account", "date"]],
                      removed.rename(columns={"removed_on": "date"})[["meter", "account", "date"]]], ignore_index=True)


def history(session: Session) -> pd.DataFrame:
    """Posted bills (not cancelled, not held): account, meter, period_start, period_end, days, delivered_kwh."""
    q = (select(Account.account_number, Bill.meter, Bill.period_start, Bill.period_end, Bill.days, Bill.delivered_kwh)
         .join(Account, Account.id == Bill.account_id).where(Bill.status == "posted"))
    return _frame(session, q, ["account", "meter", "period_start", "period_end", "days", "delivered_kwh"])


def run_bills(session: Session, run_id: int) -> pd.DataFrame:
    """The bills of the ledger's bill run ``run_id``: bill_id, account, meter, period_start, status, total_cents..."""
    q = (select(Bill.id, Account.account_number, Bill.meter, Bill.period_start, Bill.period_end, Bill.status,
                Bill.version, Bill.customer_class, Bill.rate_code, Bill.delivered_kwh, Bill.total_cents,
                Bill.bill_date, Bill.due_date)
         .join(Account, Account.id == Bill.account_id).where(Bill.run_id == run_id).order_by(Bill.id))
    return _frame(session, q, ["bill_id", "account", "meter", "period_start", "period_end", "status", "version",
                               "customer_class", "rate_code", "delivered_kwh", "total_cents", "bill_date", "due_date"])


def bill_keys(session: Session, accounts_in) -> pd.DataFrame:
    """Every bill (any run, any version) of the accounts ``accounts_in``: account, meter, period_start, status."""
    out = []
    numbers = sorted(set(map(str, accounts_in)))
    for i in range(0, len(numbers), 500):
        q = (select(Account.account_number, Bill.meter, Bill.period_start, Bill.status, Bill.version, Bill.id)
             .join(Account, Account.id == Bill.account_id).where(Account.account_number.in_(numbers[i:i + 500])))
        out.append(_frame(session, q, ["account", "meter", "period_start", "status", "version", "bill_id"]))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["account", "meter", "period_start", "status", "version", "bill_id"])


def customers(session: Session) -> pd.DataFrame:
    """account, customer_name, service_address, mailing_address (for bill documents)."""
    q = (select(Account.account_number, Customer.name, Premise.service_address, Customer.mailing_address)
         .join(Customer, Customer.id == Account.customer_id).outerjoin(Premise, Premise.id == Account.premise_id))
    return _frame(session, q, ["account", "customer_name", "service_address", "mailing_address"])


def multipliers(session: Session) -> dict[str, float]:
    """Service point -> the multiplier of its current meter."""
    q = (select(ServicePoint.code, Meter.multiplier).join(ServicePoint, ServicePoint.id == Meter.service_point_id)
         .where(Meter.removed_on.is_(None)))
    return {code: float(m) for code, m in session.execute(q).all()}


def receivable_balances(session: Session, account_numbers) -> dict[str, int]:
    """Account number -> receivable balance [cents] (the sum of its journal entries in the receivable book)."""
    out = {}
    numbers = sorted(set(map(str, account_numbers)))
    for i in range(0, len(numbers), 500):
        q = (select(Account.account_number, func.coalesce(func.sum(JournalEntry.amount_cents), 0))
             .join(JournalEntry, JournalEntry.account_id == Account.id, isouter=True)
             .where(Account.account_number.in_(numbers[i:i + 500]), JournalEntry.book == "receivable")
             .group_by(Account.account_number))
        out.update({a: int(c) for a, c in session.execute(q).all()})
    return out


def line_items(session: Session, bill_ids) -> pd.DataFrame:
    """bill_id, line, description, category, quantity, unit, rate, amount_cents of the bills ``bill_ids``."""
    out = []
    ids = sorted(set(int(b) for b in bill_ids))
    for i in range(0, len(ids), 500):
        q = (select(BillLineItem.bill_id, BillLineItem.line, BillLineItem.description, BillLineItem.category,
                    BillLineItem.quantity, BillLineItem.unit, BillLineItem.rate, BillLineItem.amount_cents)
             .where(BillLineItem.bill_id.in_(ids[i:i + 500])))
        out.append(_frame(session, q, ["bill_id", "line", "description", "category", "quantity", "unit", "rate",
                                       "amount_cents"]))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["bill_id", "line", "description", "category", "quantity", "unit", "rate", "amount_cents"])


def run_journal(session: Session, run_id: int) -> pd.DataFrame:
    """bill_id, book, kind, amount_cents of the journal entries of the bills of the bill run ``run_id``."""
    q = (select(JournalEntry.bill_id, JournalEntry.book, JournalEntry.kind, JournalEntry.amount_cents)
         .join(Bill, Bill.id == JournalEntry.bill_id).where(Bill.run_id == run_id))
    return _frame(session, q, ["bill_id", "book", "kind", "amount_cents"])


def budget_accounts(session: Session) -> dict[str, tuple[int, int]]:
    """Account number -> (budget book balance [cents], settle-up month) of the accounts with a budget plan."""
    plans = dict(session.execute(select(Account.account_number, BudgetPlan.settle_month)
                                 .join(Account, Account.id == BudgetPlan.account_id)
                                 .order_by(BudgetPlan.starts_on)).all())
    q = (select(Account.account_number, func.coalesce(func.sum(JournalEntry.amount_cents), 0))
         .join(Account, Account.id == JournalEntry.account_id).where(JournalEntry.book == "budget")
         .group_by(Account.account_number))
    books = {a: int(c) for a, c in session.execute(q).all()}
    return {a: (books.get(a, 0), int(m)) for a, m in plans.items()}
