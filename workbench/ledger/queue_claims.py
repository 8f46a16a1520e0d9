"""What resolving an item of the unapplied-cash queue needs, whatever the resolution: a named person and a reason,
and the queue row taken so that of two people resolving the same item at once the second finds it taken.
Used by :mod:`workbench.ledger.returns` (returned items) and :mod:`workbench.ledger.refunds` (unidentified
payments)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import Payment, UnappliedCash

WHO_MAX = 64  #: ``made_by`` holds this many characters


def who_and_why(payment_id: int, who: str | None, why: str | None, what: str) -> tuple[str, str]:
    """``who`` and ``why`` stripped; refuses either missing (``what``: "a returned item", ...) or a long name."""
    who, why = (who or "").strip(), (why or "").strip()
    if not who or not why:
        raise LedgerError(f"payment {payment_id}: resolving {what} needs --who (who resolves it) and --why")
    if len(who) > WHO_MAX:
        raise LedgerError(f"--who: {len(who)} characters; expected a name of at most {WHO_MAX}")
    return who, why


def claim_queued(session: Session, payment: Payment, on: dt.date) -> None:
    """Mark ``payment``'s queue row resolved on ``on``, or roll back and refuse if someone else just did."""
    claimed = session.execute(update(UnappliedCash).where(UnappliedCash.payment_id == payment.id,
                                                          UnappliedCash.resolved_on.is_(None))
                              .values(resolved_on=on))
    if claimed.rowcount != 1:
        session.rollback()
        raise LedgerError(f"payment {payment.id} (item {payment.item_id}): resolved by someone else meanwhile; "
                          "nothing changed")
