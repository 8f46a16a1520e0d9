"""Past-due notices: who gets a reminder, who a final (disconnect) notice, who is protected and why.

From the aging on the notice date (``as_of``), every account with a past-due amount (open charges past their
due date, less open credits) gets exactly one row of :func:`plan_notices`:

- a **final** notice when its oldest open charge is at least ``final.past_due_days`` past due and the past-due
  amount is at least ``final.min_past_due``, naming a disconnection date of the notice date plus
  ``final.notice_days`` at the earliest; unless it is protected, and then the reason is in ``withheld``:
  a medical certificate valid on the notice date, a payment arrangement in good standing, or a disconnection
  date in the moratorium (a month or a date the rules list);
- else a **reminder** when the oldest open charge is at least ``reminder.past_due_days`` past due (an account
  whose final notice is withheld by a medical certificate or the moratorium still gets its reminder);
- else no notice, with the reason in ``note`` (not yet that many days; already sent for this charge; on a
  payment arrangement in good standing).

A notice is for one past-due charge (the account's oldest open one): the same kind is never issued twice for
the same charge (a unique key in ``collection_notices``), so a re-run on the same or a later day issues only
what is new. Nothing is dropped: the rows are exactly the past-due accounts (:func:`check_plan`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench.ledger.arrangements import standings
from workbench.ledger.db import LedgerError
from workbench.ledger.models import Account, Bill, CollectionNotice, Customer, JournalEntry, Premise
from workbench.ledger.notice_rules import NoticeRules
from workbench.ledger.settle import open_items


@dataclass
class PastDueCharge:
    entry_id: int
    bill_id: int | None
    kind: str
    due_on: dt.date
    open_cents: int


@dataclass
class NoticeRow:
    """One past-due account on the notice date and what it gets."""

    account: str
    customer: str
    mailing_address: str
    service_address: str
    days_past_due: int
    past_due_cents: int
    oldest_due_on: dt.date
    charge_entry_id: int
    notice: str = ""  # reminder | final | "" (none)
    disconnect_on: dt.date | None = None
    withheld: str = ""  # why a final notice was not issued (a protection)
    note: str = ""  # why no notice at all
    notice_id: int | None = None
    account_id: int = 0
    charges: list[PastDueCharge] = field(default_factory=list)


def _accounts(session: Session) -> dict[int, tuple[str, str, str, str]]:
    rows = session.execute(select(Account.id, Account.account_number, Customer.name, Customer.mailing_address,
                                  Premise.service_address)
                           .join(Customer, Customer.id == Account.customer_id)
                           .outerjoin(Premise, Premise.id == Account.premise_id)).all()
    return {r[0]: (r[1], r[2] or "", r[3] or "", r[4] or "") for r in rows}


def past_due_rows(session: Session, as_of: dt.date) -> list[NoticeRow]:
    """Every account with a past-due amount on ``as_of``, its oldest open past-due charge and its age."""
    accounts = _accounts(session)
    bills = {}
    rows = []
    for acct, (charges, credits) in open_items(session, accounts, as_of=as_of).items():
        late = [c for c in charges if (as_of - c.due_on).days > 0]
        cents = sum(c.open_cents for c in late) - sum(c.open_cents for c in credits)
        if not late or cents <= 0:
            continue
        late.sort(key=lambda c: (c.due_on, c.entry_id))
        bills.update(dict(session.execute(select(JournalEntry.id, JournalEntry.bill_id)
                                          .where(JournalEntry.id.in_([c.entry_id for c in late]))).all()))
        number, name, mailing, service = accounts[acct]
        rows.append(NoticeRow(number, name, mailing, service, (as_of - late[0].due_on).days, cents, late[0].due_on,
                              late[0].entry_id, account_id=acct,
                              charges=[PastDueCharge(c.entry_id, bills.get(c.entry_id), c.kind, c.due_on, c.open_cents)
                                       for c in late]))
    return sorted(rows, key=lambda r: r.account)


def plan_notices(session: Session, rules: NoticeRules, as_of: dt.date) -> list[NoticeRow]:
    """What each past-due account gets on ``as_of`` under ``rules`` (nothing is written)."""
    rows = past_due_rows(session, as_of)
    sent = set(session.execute(select(CollectionNotice.kind, CollectionNotice.charge_entry_id)
                               .where(CollectionNotice.account_id.in_([r.account_id for r in rows]))).all()) \
        if rows else set()
    plans = standings(session, as_of, [r.account_id for r in rows]) if rows else {}
    disconnect_on = as_of + dt.timedelta(days=rules.final.notice_days)
    moratorium = rules.moratorium_reason(disconnect_on)
    for row in rows:
        plan = plans.get(row.account_id)
        if plan is not None and plan.good and not plan.complete:
            row.note = (f"payment arrangement {plan.arrangement_id} in good standing (installments due "
                        f"{plan.due_cents / 100:,.2f} of {plan.total_cents / 100:,.2f})")
            continue
        final_due = (row.days_past_due >= rules.final.past_due_days
                     and row.past_due_cents >= rules.min_past_due_cents)
        if final_due and ("final", row.charge_entry_id) in sent:
            row.note = f"final notice already sent for this past-due charge (journal entry {row.charge_entry_id})"
            continue
        if final_due:
            until = rules.protections.medical_certificates.get(row.account)
            if until is not None and until >= as_of:
                row.withheld = f"medical certificate valid through {until}"
            elif moratorium:
                row.withheld = moratorium
            else:
                row.notice, row.disconnect_on = "final", disconnect_on
                continue
        if row.days_past_due < rules.reminder.past_due_days:
            row.note = f"{row.days_past_due} day(s) past due, a reminder at {rules.reminder.past_due_days}"
        elif ("reminder", row.charge_entry_id) in sent:
            row.note = "reminder already sent for this past-due charge" + (
                f" (journal entry {row.charge_entry_id})" if not row.withheld else "")
        else:
            row.notice = "reminder"
    return rows


def check_plan(session: Session, rows: list[NoticeRow], as_of: dt.date) -> None:
    """Nothing silently dropped: one row per past-due account, and every row without a notice says why."""
    expected = {r.account for r in past_due_rows(session, as_of)}
    got = [r.account for r in rows]
    if sorted(got) != sorted(expected) or len(set(got)) != len(got):
        raise LedgerError(f"notices on {as_of}: {len(got)} row(s) for {len(expected)} past-due account(s)")
    silent = [r.account for r in rows if not r.notice and not (r.withheld or r.note)]
    if silent:
        raise LedgerError(f"notices on {as_of}: account {silent[0]} has no notice and no reason")


def record_notices(session: Session, rows: list[NoticeRow], as_of: dt.date, rules_name: str) -> int:
    """Record the notices of ``rows`` (sets each ``notice_id``); the caller commits. Returns how many."""
    count = 0
    for row in rows:
        if not row.notice:
            continue
        try:
            with session.begin_nested():
                row.notice_id = session.scalar(insert(CollectionNotice).returning(CollectionNotice.id), [{
                    "account_id": row.account_id, "kind": row.notice, "charge_entry_id": row.charge_entry_id,
                    "notice_date": as_of, "days_past_due": row.days_past_due, "past_due_cents": row.past_due_cents,
                    "disconnect_on": row.disconnect_on, "rules": rules_name[:400]}])
        except IntegrityError:  # another run issued it between our reading and our writing
            raise LedgerError(f"account {row.account}: a {row.notice} notice for this past-due charge was issued by "
                              "another run at the same time; nothing from this run was recorded: run it again") from None
        count += 1
    return count


def bill_numbers(session: Session, rows: list[NoticeRow]) -> dict[int, tuple[dt.date, dt.date]]:
    """The bill periods of the past-due charges that are bills: {bill id: (period start, period end)}."""
    ids = {c.bill_id for r in rows for c in r.charges if c.bill_id is not None}
    if not ids:
        return {}
    return {b: (s, e) for b, s, e in session.execute(select(Bill.id, Bill.period_start, Bill.period_end)
                                                      .where(Bill.id.in_(ids))).all()}


def as_frame(rows: list[NoticeRow]) -> pd.DataFrame:
    """The list for people: one row per past-due account (amounts in cents)."""
    columns = ["account", "customer", "notice", "days_past_due", "past_due_cents", "oldest_due_on",
               "disconnect_on", "withheld", "note", "notice_id"]
    frame = pd.DataFrame([{k: asdict(r)[k] for k in columns} for r in rows], columns=columns)
    # a whole number or blank: with a row that has none, a plain column would turn the ledger's ids into 5.0
    frame["notice_id"] = frame["notice_id"].astype("Int64")
    return frame
