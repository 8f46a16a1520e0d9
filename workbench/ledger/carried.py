"""Service charges carried by the next bill: a reconnection, returned-payment (NSF) or late fee charged between
bills is printed on the customer's next bill and is due with it.

When a bill is posted (:func:`carry_charges`, called by the posting API in the same transaction), every service
charge of its account charged since the account's previous bill (dated on or before this bill's date, and on or
after the previous bill's date or recorded after it was posted; carried by no bill yet) is linked to it in
``carried_charges`` (migration 0007): the bill that prints it, the due date the charge had (``journal.due_on``,
else the day it was charged) and the one it takes from the bill's date on: a charge meant to be due with the next
bill (due after the day it was charged, ``ledger settings --fee-due-days N`` with N > 0 or ``--fee-due-on``) takes
**the bill's due date, or its own when that is later**; a charge due the day it was charged (``--fee-due-days 0``,
or a ledger that never set it) keeps its date and is only printed. The charge's journal entry is never changed (the
journal is append-only): the link records the move, so a billing manager sees one due date on the bill and an
auditor sees both dates, when and by which bill; a due date never moves earlier than the customer was told. An
account with several meters has its charges carried by its first bill of the batch (lowest bill id).

The aging, past-due notices, arrangements and the disconnect list take a carried charge's due date from its bill's
date on (:func:`workbench.ledger.settle.open_items`); the bill's document lists the charges it carries
(:func:`carried_by_bills`). A bill posted by an earlier version carried nothing, so an upgraded ledger keeps every
balance and aging; a fee charged before the first bill posted after the upgrade and on or after the account's
previous bill date is carried by it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Integer, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench.ledger.bulk import chunks, insert_rows
from workbench.ledger.models import Base, Bill, JournalEntry

#: journal kinds of the service charges a bill carries (the fees ``ledger reconcile`` counts)
CARRIED_KINDS = ("reconnect_fee", "nsf_fee", "late_fee")
#: what a customer reads for each, on the bill
CARRIED_LABELS = {"reconnect_fee": "Reconnection fee", "nsf_fee": "Returned payment fee", "late_fee": "Late fee"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class CarriedCharge(Base):
    """A service charge printed on (carried by) a bill, and the due date it takes from that bill; append-only."""

    __tablename__ = "carried_charges"
    __table_args__ = (UniqueConstraint("entry_id", name="uq_carried_charge_entry"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal.id"))  # the fee's journal entry
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)  # the bill that prints it
    carried_on: Mapped[dt.date] = mapped_column(Date)  # the bill's posting date: the new due date applies from it
    due_on_was: Mapped[dt.date] = mapped_column(Date)  # as charged (journal.due_on, else the day charged)
    due_on: Mapped[dt.date] = mapped_column(Date)  # from carried_on: the bill's due date, or the fee's if later
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


def carry_charges(session: Session, bill_ids, on: dt.date | None = None) -> int:
    """Link the service charges charged since each bill's account's previous bill to the bill (its first of
    ``bill_ids`` for an account with several); ``on``: the day the bills are posted (default: each bill's date).
    Returns the charges carried. Does not commit (the posting's transaction does). One query per 900 accounts
    finds the uncarried fees (rare); only an account holding one is looked at further."""
    bill_ids = sorted({int(b) for b in bill_ids})
    first: dict[int, tuple] = {}  # account -> (bill id, bill date, due date) of its first bill here
    for part in chunks(bill_ids):
        for bill_id, account_id, bill_date, due_date in session.execute(
                select(Bill.id, Bill.account_id, Bill.bill_date, Bill.due_date).where(Bill.id.in_(part))):
            if account_id not in first or bill_id < first[account_id][0]:
                first[account_id] = (bill_id, bill_date, due_date)
    fees: dict[int, list] = {}
    for part in chunks(sorted(first)):
        for entry_id, account_id, posted_on, due_on, created in session.execute(
                select(JournalEntry.id, JournalEntry.account_id, JournalEntry.posted_on, JournalEntry.due_on,
                       JournalEntry.created_at)
                .outerjoin(CarriedCharge, CarriedCharge.entry_id == JournalEntry.id)
                .where(JournalEntry.account_id.in_(part), JournalEntry.book == "receivable",
                       JournalEntry.kind.in_(CARRIED_KINDS), JournalEntry.amount_cents > 0, CarriedCharge.id.is_(None))
                .order_by(JournalEntry.posted_on, JournalEntry.id)):
            fees.setdefault(account_id, []).append((entry_id, posted_on, due_on, created))
    rows, now, ours = [], _now(), set(bill_ids)
    for account_id, entries in fees.items():
        bill_id, bill_date, due_date = first[account_id]
        earlier = [(d, at) for b, d, at in session.execute(select(Bill.id, Bill.bill_date, Bill.posted_at).where(
            Bill.account_id == account_id, Bill.posted_at.is_not(None), Bill.bill_date < bill_date)) if b not in ours]
        since, since_at = max((d for d, _ in earlier), default=None), max((at for _, at in earlier), default=None)
        for entry_id, posted_on, due_on, created in entries:
            # since the previous bill: dated on or after it, or recorded after it was posted (a back-dated fee)
            if posted_on <= bill_date and (since is None or posted_on >= since or (created is not None and created > since_at)):
                was = due_on or posted_on  # due the day charged: meant to be paid then, not with the bill
                rows.append({"entry_id": entry_id, "bill_id": bill_id, "carried_on": on or bill_date,
                             "due_on_was": was, "due_on": max(was, due_date) if was > posted_on else was,
                             "recorded_at": now})
    if rows:
        insert_rows(session.connection(), CarriedCharge.__table__, rows)
    return len(rows)


def carried_by_bills(session: Session, bill_ids) -> dict[int, list[tuple[str, dt.date, int, dt.date]]]:
    """``{bill_id: [(label, day charged, cents, due date from the bill), ...]}`` oldest first: what each bill
    prints under "Other charges since your last bill"."""
    out: dict[int, list] = {}
    for part in chunks(sorted({int(b) for b in bill_ids})):
        for bill_id, kind, posted_on, cents, due_on in session.execute(
                select(CarriedCharge.bill_id, JournalEntry.kind, JournalEntry.posted_on, JournalEntry.amount_cents,
                       CarriedCharge.due_on)
                .join(JournalEntry, JournalEntry.id == CarriedCharge.entry_id)
                .where(CarriedCharge.bill_id.in_(part)).order_by(JournalEntry.posted_on, JournalEntry.id)):
            out.setdefault(bill_id, []).append((CARRIED_LABELS.get(kind, kind), posted_on, int(cents), due_on))
    return out
