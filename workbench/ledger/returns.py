"""Resolving a returned item of the unapplied-cash queue: apply it to an account, write it off, or return it.

A returned item (NSF, stopped, closed account) that matches no posted payment when its file is posted goes to
the unapplied-cash queue (:mod:`workbench.ledger.payments`) with no journal entry. :func:`resolve_return`
takes it out of the queue, in one transaction, in one of three ways, each recorded in an
``unapplied_resolutions`` row (who, why, the day):

- ``applied`` to a named account: the account's latest payment of the same amount, received on or before the
  return and not already returned (or the one named by its item id), is reversed as the posting path does it:
  its applications are marked reversed (the debts it paid reopen with their age), a ``payment_return`` entry
  of the amount and an ``nsf_fee`` entry (the fee given, else the utility's setting; neither: refused) are
  appended to the account's journal on the day of resolving (never back-dated into a day already reconciled),
  and an adjustment (kind ``unapplied_return``) records who
  and why. No such payment: refused, naming what was looked for, nothing changed;
- ``written_off``: the utility bears the debit (no customer found); no journal entry;
- ``returned_to_bank``: the item is disputed with the bank (not ours); no journal entry.

Append-only: no journal row is updated. ``ledger reconcile`` carries returned items in the queue from opening
to closing (received into it, applied, written off, returned to the bank); ``ledger check`` verifies that each
return has its journal reversal exactly when it reversed a payment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workbench.ledger.amounts import money_text
from workbench.ledger.db import LedgerError
from workbench.ledger.models import (
    Adjustment,
    JournalEntry,
    Payment,
    PaymentApplication,
    UnappliedCash,
    UnappliedResolution,
)
from workbench.ledger.queue_claims import claim_queued, who_and_why
from workbench.ledger.receivables import account_id
from workbench.ledger.settings import charge_due_on, nsf_fee_for
from workbench.ledger.settle import settle_accounts

ACTIONS = ("applied", "written_off", "returned_to_bank")


@dataclass
class Resolved:
    """What :func:`resolve_return` did (``reversed_item`` and the fee only when applied to an account)."""

    payment_id: int
    item_id: str
    amount_cents: int
    action: str
    on: dt.date
    account: str | None = None
    reversed_item: str | None = None
    fee_cents: int = 0



def _queued_return(session: Session, payment_id: int) -> tuple[Payment, UnappliedCash]:
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise LedgerError(f"payment {payment_id}: no such item in the ledger (see `workbench payments unapplied`)")
    queued = session.scalars(select(UnappliedCash).where(UnappliedCash.payment_id == payment_id)).first()
    if payment.kind != "return":
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): a payment, not a returned item; "
                          "apply it with `workbench payments apply`")
    if queued is None:
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): not in the unapplied-cash queue; it "
                          "reversed a payment when its file was posted")
    if queued.resolved_on is not None:
        done = session.scalars(select(UnappliedResolution).where(UnappliedResolution.payment_id == payment_id)).first()
        how = f"{done.action.replace('_', ' ')} by {done.made_by}" if done else "resolved"
        raise LedgerError(f"payment {payment_id} (item {payment.item_id}): already {how} on {queued.resolved_on}; "
                          "nothing changed")
    return payment, queued



def resolve_return(session: Session, payment_id: int, action: str, who: str, why: str, on: dt.date, *,
                   account_number: str | None = None, payment_item: str | None = None,
                   nsf_fee_cents: int | None = None) -> Resolved:
    """Resolve the queued returned item ``payment_id`` (see the module docstring); one transaction, commits.

    ``action``: ``applied`` (needs ``account_number``; ``payment_item`` names the payment it returns, else the
    account's latest unreturned payment of the amount), ``written_off`` or ``returned_to_bank``. Refuses an
    unknown item, a payment, an item not queued or already resolved, a date before the return, a missing
    who/why, an unknown account or one with no payment to reverse, each in one line, changing nothing.
    """
    if action not in ACTIONS:
        raise LedgerError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    who, why = who_and_why(payment_id, who, why, "a returned item")
    payment, _queued = _queued_return(session, payment_id)
    if on < payment.paid_on:
        raise LedgerError(f"--on {on}: before the item was returned ({payment.paid_on}); expected that day or later")
    record = {"payment_id": payment.id, "action": action, "made_by": who, "reason": why, "resolved_on": on,
              "fee_cents": 0}
    if action != "applied":
        if account_number is not None or payment_item is not None:
            raise LedgerError(f"payment {payment_id}: --account/--payment-item only go with applying it to an account")
        claim_queued(session, payment, on)
        session.execute(insert(UnappliedResolution), [record])
        session.commit()
        return Resolved(payment.id, payment.item_id, int(payment.amount_cents), action, on)
    if not account_number:
        raise LedgerError(f"payment {payment_id}: applying a returned item needs --account (the account it came from)")
    nsf_fee_cents = nsf_fee_for(session, nsf_fee_cents, f"returned item {payment_id} (item {payment.item_id}) "
                                f"applied to account {account_number}")
    acct = account_id(session, account_number)
    original = _payment_to_reverse(session, payment, acct, account_number, payment_item)
    claim_queued(session, payment, on)
    taken = session.execute(update(Payment).where(Payment.id == original.id, Payment.returned_by_id.is_(None))
                            .values(returned_by_id=payment.id))
    if taken.rowcount != 1:
        session.rollback()
        raise LedgerError(f"payment {original.item_id} of account {account_number}: returned by another item "
                          "meanwhile; nothing changed")
    cents = int(payment.amount_cents)
    adjustment = session.scalar(insert(Adjustment).returning(Adjustment.id), [{
        "account_id": acct, "kind": "unapplied_return", "amount_cents": cents + nsf_fee_cents, "made_by": who,
        "reason": f"returned item {payment.item_id} from the unapplied-cash queue reverses payment "
                  f"{original.item_id}: {why}", "made_on": on}])
    credit_entry = session.scalar(select(JournalEntry.id).where(JournalEntry.payment_id == original.id,
                                                                JournalEntry.kind == "payment"))
    session.execute(update(PaymentApplication).where(PaymentApplication.credit_entry_id == credit_entry)
                    .values(reversed=True))
    entries = [{"account_id": acct, "book": "receivable", "posted_on": on, "kind": "payment_return",
                "amount_cents": cents, "payment_id": payment.id, "adjustment_id": adjustment,
                "reference": f"return of payment {original.item_id} (item {payment.item_id} from the "
                             f"unapplied-cash queue, by {who})"[:200], "due_on": None}]
    if nsf_fee_cents:
        entries.append({"account_id": acct, "book": "receivable", "posted_on": on, "kind": "nsf_fee",
                        "amount_cents": nsf_fee_cents, "payment_id": payment.id, "adjustment_id": adjustment,
                        "reference": f"returned payment fee, item {original.item_id}"[:200],
                        "due_on": charge_due_on(session, on)})
    session.execute(insert(JournalEntry), entries)
    session.execute(update(Payment).where(Payment.id == payment.id).values(account_id=acct))
    session.execute(insert(UnappliedResolution), [{**record, "account_id": acct, "reversed_payment_id": original.id,
                                                   "fee_cents": nsf_fee_cents}])
    session.flush()
    settle_accounts(session, [acct], on, only_with_credit=False)
    session.commit()
    return Resolved(payment.id, payment.item_id, cents, action, on, str(account_number), original.item_id,
                    nsf_fee_cents)


def _payment_to_reverse(session: Session, item: Payment, acct: int, account_number: str,
                        payment_item: str | None) -> Payment:
    """The account's payment the returned ``item`` reverses: of its amount, received on or before it, not
    already returned, with its journal credit (the latest; or the one named ``payment_item``)."""
    query = (select(Payment).join(JournalEntry, (JournalEntry.payment_id == Payment.id) & (JournalEntry.kind == "payment"))
             .where(Payment.account_id == acct, Payment.kind == "payment", Payment.returned_by_id.is_(None),
                    Payment.amount_cents == item.amount_cents, Payment.paid_on <= item.paid_on))
    if payment_item:
        query = query.where(Payment.item_id == payment_item)
    found = session.scalars(query.order_by(Payment.paid_on.desc(), Payment.id.desc())).first()
    if found is None:
        named = f"payment item {payment_item} of " if payment_item else "payment of "
        raise LedgerError(
            f"account {account_number}: has no {named}{money_text(int(item.amount_cents))} received on or before "
            f"{item.paid_on} that is not already returned, so returned item {item.item_id} cannot reverse one; "
            "nothing changed (check the account, or write the item off / return it to the bank)")
    return found
