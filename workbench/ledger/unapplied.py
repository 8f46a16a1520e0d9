"""The unapplied-cash queue: payments the ledger could not put on an account, listed and applied by hand.

How the queue is stored (:mod:`workbench.ledger.payments`): a payment whose account the ledger does not know
is a ``payments`` row with no account (``account_id`` NULL; ``account_number`` keeps what the bank sent, the
payer's reference) and an ``unapplied_cash`` row with the reason. It has **no journal entry**: the cash is
no customer's yet, so no balance holds it. A return that matches no payment is queued the same way.

:func:`apply_unapplied` puts a queued payment on an account, in one transaction: an ``adjustments`` row
records who and why (kind ``unapplied_cash``), a ``payment`` credit is appended to the account's journal on the
day of applying (never back-dated into a day already reconciled), the payment is given its account and the
queue row its ``resolved_on`` date, and the account's credits are applied to its charges oldest first. No
journal row is updated; the payment keeps the reference the bank sent. ``ledger check`` then finds the
payment's journal credit, and ``ledger reconcile`` shows it leaving the queue on the day it was applied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import (
    Account,
    Adjustment,
    JournalEntry,
    Payment,
    UnappliedCash,
    UnappliedResolution,
)
from workbench.ledger.queue_claims import claim_queued, who_and_why
from workbench.ledger.receivables import account_id
from workbench.ledger.settle import settle_accounts

COLUMNS = ["payment_id", "bank", "item_id", "paid_on", "kind", "amount_cents", "payer_reference", "reason"]


def unapplied_cash(session: Session) -> pd.DataFrame:
    """The queue as it stands: every queued item not yet applied, oldest first (``COLUMNS``)."""
    rows = session.execute(
        select(Payment.id, Payment.bank, Payment.item_id, Payment.paid_on, Payment.kind, Payment.amount_cents,
               Payment.account_number, UnappliedCash.reason)
        .join(UnappliedCash, UnappliedCash.payment_id == Payment.id)
        .where(UnappliedCash.resolved_on.is_(None))
        .order_by(Payment.paid_on, Payment.id)).all()
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass
class Applied:
    """What :func:`apply_unapplied` did."""

    payment_id: int
    item_id: str
    account: str
    amount_cents: int
    on: dt.date
    pairings: int  # charges the credit was applied to (oldest first)


def apply_unapplied(session: Session, payment_id: int, account_number: str, who: str, why: str,
                    on: dt.date) -> Applied:
    """Apply the queued payment ``payment_id`` to ``account_number`` on ``on`` (see the module docstring);
    one transaction, commits. Refuses an unknown payment, one not queued or already applied, a queued return,
    an unknown account, a date before the payment or a missing who/why, each in one line, changing nothing."""
    who, why = who_and_why(payment_id, who, why, "unapplied cash")
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise LedgerError(f"payment {payment_id}: no such payment in the ledger (see `workbench payments unapplied`)")
    queued = session.scalars(select(UnappliedCash).where(UnappliedCash.payment_id == payment_id)).first()
    if queued is None:
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): not in the unapplied-cash queue; it was "
                          f"applied to account {payment.account_number} when posted")
    if queued.resolved_on is not None:
        done = session.scalars(select(UnappliedResolution).where(UnappliedResolution.payment_id == payment_id)).first()
        how = (f"{done.action.replace('_', ' ')} by {done.made_by} on {done.resolved_on}" if done else
               f"applied from the queue to account "
               f"{session.scalar(select(Account.account_number).where(Account.id == payment.account_id))} "
               f"on {queued.resolved_on}")
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): already {how}; nothing changed")
    if payment.kind != "payment":
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): is a returned item ({queued.reason}), "
                          "not a payment; resolve it with `workbench payments resolve-return`")
    if on < payment.paid_on:
        raise LedgerError(f"--on {on}: before the payment was received ({payment.paid_on}); expected that day or later")
    acct = account_id(session, account_number)
    claim_queued(session, payment, on)  # first: of two people applying it at once, the second finds it taken
    adjustment = session.scalar(insert(Adjustment).returning(Adjustment.id), [{
        "account_id": acct, "kind": "unapplied_cash", "amount_cents": -payment.amount_cents, "made_by": who,
        "reason": f"payment {payment.item_id} from the unapplied-cash queue: {why}", "made_on": on}])
    reference = f"payment {payment.item_id} from the unapplied-cash queue, by {who}: {why}"
    session.execute(insert(JournalEntry), [{
        "account_id": acct, "book": "receivable", "posted_on": on, "kind": "payment",
        "amount_cents": -payment.amount_cents, "payment_id": payment.id, "adjustment_id": adjustment,
        "reference": reference[:200]}])
    session.execute(update(Payment).where(Payment.id == payment_id).values(account_id=acct))
    session.flush()
    pairings = settle_accounts(session, [acct], on, only_with_credit=False)
    session.commit()
    return Applied(payment_id, payment.item_id, str(account_number), int(payment.amount_cents), on, pairings)
