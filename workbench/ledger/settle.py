"""Applying credits to charges, oldest first: what each account still owes, item by item.

A *charge* is a positive receivable journal entry (a bill, a fee, an opening debit), a *credit* a negative
one (a payment, a credit adjustment, a budget settle-up credit). A returned payment and its reversal entry
take no part (the payment's applications are marked ``reversed``, which reopens the charges it paid).
:func:`settle_accounts` pairs the open credits of each account with its open charges, oldest charge first,
and records each pairing as a :class:`~workbench.ledger.models.PaymentApplication`. The balance itself
never depends on the pairing (it is the sum of the journal); the pairing is what ages debt and what a late
fee is charged on.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from workbench.ledger.bulk import chunks, insert_rows
from workbench.ledger.carried import CarriedCharge
from workbench.ledger.models import Bill, JournalEntry, Payment, PaymentApplication

#: journal kinds that never take part in the pairing (the reversal of a returned payment)
NEUTRAL_KINDS = ("payment_return",)


@dataclass
class OpenItem:
    """A journal entry with part of it not yet paired: ``open_cents`` > 0 for charges and credits alike."""

    entry_id: int
    account_id: int
    posted_on: dt.date
    kind: str
    amount_cents: int
    open_cents: int
    due_on: dt.date | None = None


def _applied_sums(session: Session, column, part, as_of: dt.date | None) -> dict[int, int]:
    """Cents applied to each entry (as a charge or as a credit) of the accounts ``part``, not reversed
    (``as_of``: only pairings of a credit and a charge both posted by then)."""
    credit, charge = aliased(JournalEntry), aliased(JournalEntry)
    query = (select(column, func.sum(PaymentApplication.amount_cents))
             .join(credit, credit.id == PaymentApplication.credit_entry_id)
             .join(charge, charge.id == PaymentApplication.charge_entry_id)
             .where((charge if column is PaymentApplication.charge_entry_id else credit).account_id.in_(part),
                    PaymentApplication.reversed.is_(False))
             .group_by(column))
    if as_of is not None:
        query = query.where(credit.posted_on <= as_of, charge.posted_on <= as_of)
    return dict(session.execute(query).all())


def open_items(session: Session, account_ids, *, credits_only: bool = False,
               as_of: dt.date | None = None) -> dict[int, tuple[list, list]]:
    """``{account_id: (open charges, open credits)}``, each oldest first, for ``account_ids``.

    ``as_of``: entries posted by that date, and only pairings made between them (returns are as known now).
    A charge's ``due_on`` is its bill's due date; a service charge carried by a bill posted by then (``as_of``)
    the due date it took from that bill (``carried_charges``, :mod:`workbench.ledger.carried`); another charge's
    recorded due date (``journal.due_on``); else the day it was posted.
    """
    returned = aliased(Payment)
    carried = CarriedCharge.entry_id == JournalEntry.id
    if as_of is not None:
        carried = and_(carried, CarriedCharge.carried_on <= as_of)
    out: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for part in chunks(sorted(set(account_ids))):
        query = (
            select(JournalEntry.id, JournalEntry.account_id, JournalEntry.posted_on, JournalEntry.kind,
                   JournalEntry.amount_cents, func.coalesce(Bill.due_date, CarriedCharge.due_on, JournalEntry.due_on))
            .outerjoin(Bill, Bill.id == JournalEntry.bill_id)
            .outerjoin(CarriedCharge, carried)
            .outerjoin(returned, returned.id == JournalEntry.payment_id)
            .where(JournalEntry.account_id.in_(part), JournalEntry.book == "receivable",
                   JournalEntry.kind.not_in(NEUTRAL_KINDS),
                   or_(JournalEntry.payment_id.is_(None), returned.returned_by_id.is_(None)))
            .order_by(JournalEntry.posted_on, JournalEntry.id)
        )
        if credits_only:
            query = query.where(JournalEntry.amount_cents < 0)
        if as_of is not None:
            query = query.where(JournalEntry.posted_on <= as_of)
        entries = session.execute(query).all()
        if not entries:
            continue
        as_charge = _applied_sums(session, PaymentApplication.charge_entry_id, part, as_of)
        as_credit = _applied_sums(session, PaymentApplication.credit_entry_id, part, as_of)
        for entry_id, account_id, posted_on, kind, amount, due_on in entries:
            if amount > 0 and amount - as_charge.get(entry_id, 0) > 0:
                out[account_id][0].append(OpenItem(entry_id, account_id, posted_on, kind, amount,
                                                   amount - as_charge.get(entry_id, 0), due_on or posted_on))
            elif amount < 0 and -amount - as_credit.get(entry_id, 0) > 0:
                out[account_id][1].append(
                    OpenItem(entry_id, account_id, posted_on, kind, amount, -amount - as_credit.get(entry_id, 0)))
    return dict(out)


def pair_oldest_first(charges: list[OpenItem], credits: list[OpenItem]) -> list[tuple[int, int, int]]:
    """Pair credits with charges, oldest charge first: ``[(credit_entry_id, charge_entry_id, cents)]``.

    Consumes ``open_cents`` of the items given.
    """
    pairs = []
    ci = 0
    for credit in credits:
        while credit.open_cents > 0 and ci < len(charges):
            charge = charges[ci]
            cents = min(credit.open_cents, charge.open_cents)
            if cents:
                pairs.append((credit.entry_id, charge.entry_id, cents))
                credit.open_cents -= cents
                charge.open_cents -= cents
            if charge.open_cents == 0:
                ci += 1
    return pairs


def settle_accounts(session: Session, account_ids, on: dt.date, *, only_with_credit: bool = True) -> int:
    """Apply every open credit of ``account_ids`` to their open charges, oldest first; returns pairings made.

    ``only_with_credit`` first narrows the accounts to those holding an open credit (one cheap query), so
    posting a cycle of bills does not read every account's history.
    """
    account_ids = set(account_ids)
    if only_with_credit and account_ids:
        account_ids = set(open_items(session, account_ids, credits_only=True))
    if not account_ids:
        return 0
    rows = []
    for charges, credits in open_items(session, account_ids).values():
        for credit_id, charge_id, cents in pair_oldest_first(charges, credits):
            rows.append({"credit_entry_id": credit_id, "charge_entry_id": charge_id, "amount_cents": cents,
                         "applied_on": on, "reversed": False})
    if rows:
        insert_rows(session.connection(), PaymentApplication.__table__, rows)
    return len(rows)


def apply_to(session: Session, credit_entry_id: int, charge_entry_id: int, cents: int, on: dt.date) -> None:
    """Pair one credit with one named charge (a bill's reversal with that bill)."""
    if cents > 0:
        session.execute(insert(PaymentApplication), [{"credit_entry_id": credit_entry_id,
                                                      "charge_entry_id": charge_entry_id, "amount_cents": cents,
                                                      "applied_on": on, "reversed": False}])


def open_cents_of(session: Session, entry_id: int) -> int:
    """How much of the charge ``entry_id`` is not yet paid."""
    amount = session.scalar(select(JournalEntry.amount_cents).where(JournalEntry.id == entry_id)) or 0
    paid = session.scalar(select(func.coalesce(func.sum(PaymentApplication.amount_cents), 0)).where(
        and_(PaymentApplication.charge_entry_id == entry_id, PaymentApplication.reversed.is_(False)))) or 0
    return int(amount) - int(paid)
