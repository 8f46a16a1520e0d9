"""Receivables: balances from the journal, aging, late fees, deposit interest and refunds, budget plans.

Every figure here is computed from the journal (and the pairing of credits with charges,
:mod:`workbench.ledger.settle`); nothing is stored that could drift. Rounding: a fee or interest amount is
rounded to the cent, half a cent up.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import Account, Bill, BudgetPlan, Deposit, JournalEntry, LateFee
from workbench.ledger.settings import charge_due_on
from workbench.ledger.settle import open_items, settle_accounts

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
LATE_FEE_RATE = 0.015  #: of the overdue portion, once per overdue bill
GRACE_DAYS = 5  #: days after the due date before a late fee
DEPOSIT_RATE = 0.02  #: simple annual interest on deposits held


def half_up(value) -> int:
    """``value`` [cents, possibly fractional] rounded to whole cents, half a cent up."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def account_id(session: Session, account_number: str) -> int:
    found = session.scalar(select(Account.id).where(Account.account_number == str(account_number)))
    if found is None:
        raise LedgerError(f"account {account_number}: not in the ledger")
    return found


def balances(session: Session, as_of: dt.date | None = None) -> pd.DataFrame:
    """Per account and book (receivable, budget, deposit): the sum of its journal entries [cents]."""
    query = (select(Account.account_number, JournalEntry.book, func.sum(JournalEntry.amount_cents))
             .join(Account, Account.id == JournalEntry.account_id)
             .group_by(Account.account_number, JournalEntry.book))
    if as_of is not None:
        query = query.where(JournalEntry.posted_on <= as_of)
    frame = pd.DataFrame(session.execute(query).all(), columns=["account", "book", "cents"])
    table = frame.pivot_table(index="account", columns="book", values="cents", aggfunc="sum", fill_value=0)
    for book in ("receivable", "budget", "deposit"):
        if book not in table:
            table[book] = 0
    return table[["receivable", "budget", "deposit"]].astype("int64").reset_index()


def bucket(days_past_due: int) -> str:
    """The aging bucket of a charge ``days_past_due`` days past its due date (0 or less: current)."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def aging(session: Session, as_of: dt.date) -> pd.DataFrame:
    """Open receivables per account by days past due on ``as_of`` [cents], with ``credit`` (open credits,
    negative) and ``total`` (= the receivable balance as of that date)."""
    ids = session.execute(select(Account.id, Account.account_number)).all()
    numbers = dict(ids)
    rows = []
    for acct, (charges, credits) in open_items(session, numbers, as_of=as_of).items():
        row = dict.fromkeys(BUCKETS, 0)
        for c in charges:
            row[bucket((as_of - c.due_on).days)] += c.open_cents
        row["credit"] = -sum(c.open_cents for c in credits)
        row["total"] = sum(row.values())
        rows.append({"account": numbers[acct], **row})
    return pd.DataFrame(rows, columns=["account", *BUCKETS, "credit", "total"]).sort_values("account",
                                                                                          ignore_index=True)


def assess_late_fees(session: Session, as_of: dt.date, *, rate: float = LATE_FEE_RATE,
                     grace_days: int = GRACE_DAYS) -> int:
    """Charge a late fee on the overdue portion of every bill more than ``grace_days`` past due on ``as_of``
    (once per bill); commits; returns the fees' total [cents]."""
    if not 0 <= rate < 1 or grace_days < 0:
        raise LedgerError(f"late fee rate {rate} must be in [0, 1) and grace days {grace_days} >= 0")
    charged = set(session.scalars(select(LateFee.charge_entry_id)))
    due_on = charge_due_on(session, as_of)  # due with the next bill, when the ledger says so
    total, touched = 0, set()
    for acct, (charges, _credits) in open_items(session, [a for (a,) in session.execute(select(Account.id))],
                                                as_of=as_of).items():
        for c in charges:
            if c.kind != "bill" or c.entry_id in charged or (as_of - c.due_on).days <= grace_days:
                continue
            fee = half_up(Decimal(c.open_cents) * Decimal(str(rate)))
            if fee <= 0:
                continue
            fee_id = session.scalar(insert(JournalEntry).returning(JournalEntry.id), [{
                "account_id": acct, "book": "receivable", "posted_on": as_of, "kind": "late_fee",
                "amount_cents": fee, "reference": f"late fee {rate:.2%} on {c.open_cents / 100:.2f} overdue",
                "due_on": due_on}])
            session.execute(insert(LateFee), [{"charge_entry_id": c.entry_id, "fee_entry_id": fee_id,
                                               "overdue_cents": c.open_cents, "rate": rate, "assessed_on": as_of}])
            total += fee
            touched.add(acct)
    session.flush()
    settle_accounts(session, touched, as_of)
    session.commit()
    return total


def accrue_deposit_interest(session: Session, as_of: dt.date, *, annual_rate: float = DEPOSIT_RATE) -> int:
    """Credit simple interest (``annual_rate`` x days / 365) on every deposit held, from the date interest was
    last paid to ``as_of``, to the customer's receivable; commits; returns the total [cents]."""
    total, touched = 0, set()
    for deposit in session.scalars(select(Deposit).where(Deposit.refunded_on.is_(None),
                                                         Deposit.interest_paid_to < as_of)):
        days = (as_of - deposit.interest_paid_to).days
        interest = half_up(Decimal(deposit.amount_cents) * Decimal(str(annual_rate)) * days / 365)
        if interest:
            session.execute(insert(JournalEntry), [{
                "account_id": deposit.account_id, "book": "receivable", "posted_on": as_of,
                "kind": "deposit_interest", "amount_cents": -interest,
                "reference": f"interest {annual_rate:.2%} on deposit {deposit.amount_cents / 100:.2f}, {days} days"}])
            touched.add(deposit.account_id)
            total += interest
        deposit.interest_paid_to = as_of
    session.flush()
    settle_accounts(session, touched, as_of)
    session.commit()
    return total


def take_deposit(session: Session, account_number: str, amount_cents: int, on: dt.date) -> None:
    """Record a security deposit received (the deposit book; not a payment of the bill). Commits."""
    if amount_cents <= 0:
        raise LedgerError(f"account {account_number}: a deposit must be positive, got {amount_cents} cents")
    acct = account_id(session, account_number)
    session.execute(insert(Deposit), [{"account_id": acct, "amount_cents": amount_cents, "received_on": on,
                                       "interest_paid_to": on}])
    session.execute(insert(JournalEntry), [{"account_id": acct, "book": "deposit", "posted_on": on, "kind": "deposit",
                                            "amount_cents": amount_cents, "reference": "deposit received"}])
    session.commit()


def refund_deposits(session: Session, account_number: str, on: dt.date) -> int:
    """Return the account's deposits to its bill (a credit applied to its open charges); commits; cents."""
    acct = account_id(session, account_number)
    total = 0
    for deposit in session.scalars(select(Deposit).where(Deposit.account_id == acct, Deposit.refunded_on.is_(None))):
        session.execute(insert(JournalEntry), [
            {"account_id": acct, "book": "deposit", "posted_on": on, "kind": "deposit_refund",
             "amount_cents": -deposit.amount_cents, "reference": f"deposit {deposit.id} refunded"},
            {"account_id": acct, "book": "receivable", "posted_on": on, "kind": "deposit_refund",
             "amount_cents": -deposit.amount_cents, "reference": f"deposit {deposit.id} credited to the bill"}])
        deposit.refunded_on = on
        total += deposit.amount_cents
    session.flush()
    settle_accounts(session, [acct], on)
    session.commit()
    return total


def budget_installment(session: Session, account_number: str, months: int = 12) -> int:
    """The levelized installment [cents]: the average of the account's last ``months`` posted bills."""
    acct = account_id(session, account_number)
    totals = session.scalars(select(Bill.total_cents).where(Bill.account_id == acct, Bill.status == "posted")
                             .order_by(Bill.period_start.desc()).limit(months)).all()
    if not totals:
        raise LedgerError(f"account {account_number}: no posted bills to levelize")
    return half_up(Decimal(sum(totals)) / len(totals))


def start_budget_plan(session: Session, account_number: str, installment_cents: int, settle_month: int,
                      starts_on: dt.date) -> None:
    """Put the account on budget billing from ``starts_on`` (ends any earlier plan); commits."""
    if installment_cents <= 0 or not 1 <= settle_month <= 12:
        raise LedgerError(f"account {account_number}: a budget plan needs an installment > 0 and a settle-up "
                          "month 1-12")
    acct = account_id(session, account_number)
    session.execute(update(BudgetPlan).where(BudgetPlan.account_id == acct, BudgetPlan.ended_on.is_(None))
                    .values(ended_on=starts_on))
    session.execute(insert(BudgetPlan), [{"account_id": acct, "installment_cents": installment_cents,
                                          "starts_on": starts_on, "settle_month": settle_month}])
    session.commit()
