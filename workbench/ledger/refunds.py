"""Resolving an unidentified payment of the unapplied-cash queue without an account: refund it, or move it
to unclaimed property.

A payment whose account the ledger does not know waits in the unapplied-cash queue (:mod:`workbench.ledger.
unapplied`) with no journal entry. Besides applying it to an account (``payments apply``), a billing manager
can take it out of the queue in one of two ways, each recorded in an ``unapplied_resolutions`` row (who, why,
the day; the table :mod:`workbench.ledger.returns` records resolved returned items in):

- ``refunded``: the cash was paid back to the payer;
- ``unclaimed``: after the escheat period the cash goes to unclaimed property (or miscellaneous income, as the
  utility's rules say); the general ledger names the account (``ledger gl-export``).

Neither touches an account, so neither writes a journal entry: the queue row gets its ``resolved_on`` day and
the resolution row says how. Append-only: nothing is updated but the queue row's day (claimed once, so of two
people resolving the same payment at once the second is refused). ``ledger reconcile`` rolls the queue
forward (opening + received - applied - refunded - unclaimed = closing); ``ledger check`` finds a resolved
payment with no record, or one both refunded and applied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import Account, Payment, UnappliedCash, UnappliedResolution
from workbench.ledger.queue_claims import claim_queued, who_and_why

ACTIONS = ("refunded", "unclaimed")
LABELS = {"refunded": "refunded to the payer", "unclaimed": "moved to unclaimed property"}


@dataclass
class Resolved:
    """What :func:`resolve_unapplied` did."""

    payment_id: int
    item_id: str
    amount_cents: int
    action: str
    on: dt.date
    payer_reference: str


def how_resolved(session: Session, payment: Payment, queued: UnappliedCash) -> str:
    """One phrase saying how the queued ``payment`` left the queue (for refusals)."""
    done = session.scalars(select(UnappliedResolution).where(UnappliedResolution.payment_id == payment.id)).first()
    if done is not None:
        return f"{LABELS.get(done.action, done.action.replace('_', ' '))} by {done.made_by} on {done.resolved_on}"
    account = session.scalar(select(Account.account_number).where(Account.id == payment.account_id))
    return f"applied from the queue to account {account} on {queued.resolved_on}"


def resolve_unapplied(session: Session, payment_id: int, action: str, who: str, why: str,
                      on: dt.date) -> Resolved:
    """Take the queued payment ``payment_id`` out of the queue as ``action`` (``refunded`` or ``unclaimed``)
    on ``on``; one transaction, commits. Refuses an unknown item, a returned item (see ``resolve-return``), a
    payment not queued or already resolved (naming how, by whom and when), a date before the payment and a
    missing who/why, each in one line, changing nothing."""
    if action not in ACTIONS:
        raise LedgerError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    who, why = who_and_why(payment_id, who, why, "unapplied cash")
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise LedgerError(f"payment {payment_id}: no such item in the ledger (see `workbench payments unapplied`)")
    queued = session.scalars(select(UnappliedCash).where(UnappliedCash.payment_id == payment_id)).first()
    if payment.kind != "payment":
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): a returned item, not a payment; resolve "
                          "it with `workbench payments resolve-return`")
    if queued is None:
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): not in the unapplied-cash queue; it was "
                          f"applied to account {payment.account_number} when posted")
    if queued.resolved_on is not None:
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): already {how_resolved(session, payment, queued)}; "
                          "nothing changed")
    if on < payment.paid_on:
        raise LedgerError(f"--on {on}: before the payment was received ({payment.paid_on}); expected that day or later")
    claim_queued(session, payment, on)
    session.execute(insert(UnappliedResolution), [{"payment_id": payment.id, "action": action, "made_by": who,
                                                   "reason": why, "resolved_on": on, "fee_cents": 0}])
    session.commit()
    return Resolved(payment.id, payment.item_id, int(payment.amount_cents), action, on, payment.account_number)
