"""Payment arrangements: a past-due balance split into monthly installments, and whether the customer keeps to it.

An arrangement is *in good standing* on a day while every installment due by that day is paid. Payments are
applied to the oldest charges first (:mod:`workbench.ledger.payments`), so what the customer still owes that
was due is the past-due amount of the aging; the customer keeps to the arrangement when that past-due amount
is no more than the part of the arranged balance not yet due (the installments due after that day). A bill
posted after the arrangement and left unpaid past its due date therefore breaks it as well, as it should: the
arrangement covers the old debt, not the new bills. A broken arrangement no longer protects the account from
a disconnect notice (:mod:`workbench.ledger.collections`).

Installments split the balance in whole cents by the largest-remainder method: each gets the balance divided
by N rounded down, and the cents left over go one each to the first installments, so they add up exactly.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import Account, ArrangementInstallment, PaymentArrangement
from workbench.ledger.receivables import account_id
from workbench.ledger.settle import open_items

MAX_INSTALLMENTS = 60
# the first installment at most this many days after the arrangement is made: an arrangement in good standing
# protects the account from disconnection, so one starting years ahead would protect it for years
MAX_START_DAYS = 90


def split_cents(total_cents: int, installments: int) -> list[int]:
    """``total_cents`` in ``installments`` whole-cent parts adding up exactly (largest remainder; the first
    parts take the leftover cents)."""
    if installments < 1 or total_cents < 0:
        raise LedgerError(f"cannot split {total_cents} cents into {installments} installments")
    base, left = divmod(total_cents, installments)
    return [base + (1 if n < left else 0) for n in range(installments)]


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months; the 31st becomes the month's last day where there is none."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return dt.date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def past_due_cents(session: Session, account_ids, as_of: dt.date) -> dict[int, int]:
    """Per account: its open charges past their due date on ``as_of`` less its open credits [cents] (only the
    accounts where that is more than zero)."""
    out = {}
    for acct, (charges, credits) in open_items(session, account_ids, as_of=as_of).items():
        cents = sum(c.open_cents for c in charges if (as_of - c.due_on).days > 0) - sum(c.open_cents for c in credits)
        if cents > 0:
            out[acct] = cents
    return out


@dataclass
class Standing:
    """An arrangement's state on a day."""

    arrangement_id: int
    account: str
    total_cents: int
    due_cents: int  # the installments due by the day
    past_due_cents: int  # the account's past-due amount on the day
    complete: bool  # every installment due and the account not past due

    @property
    def good(self) -> bool:
        return self.past_due_cents <= self.total_cents - self.due_cents

    @property
    def missed_cents(self) -> int:
        return max(0, self.past_due_cents - (self.total_cents - self.due_cents))


def standings(session: Session, as_of: dt.date, account_ids=None) -> dict[int, Standing]:
    """The newest arrangement of each account (of ``account_ids``; default all) made by ``as_of``, keyed by
    account id, with its standing on ``as_of``."""
    query = (select(PaymentArrangement, Account.account_number).join(Account, Account.id == PaymentArrangement.account_id)
             .where(PaymentArrangement.made_at <= dt.datetime.combine(as_of, dt.time.max))
             .order_by(PaymentArrangement.account_id, PaymentArrangement.id))
    if account_ids is not None:
        query = query.where(PaymentArrangement.account_id.in_(list(account_ids)))
    newest = {arr.account_id: (arr, number) for arr, number in session.execute(query).all()}
    if not newest:
        return {}
    owed = past_due_cents(session, newest, as_of)
    out = {}
    for acct, (arr, number) in newest.items():
        due = sum(session.scalars(select(ArrangementInstallment.amount_cents).where(
            ArrangementInstallment.arrangement_id == arr.id, ArrangementInstallment.due_on <= as_of)))
        out[acct] = Standing(arr.id, number, arr.total_cents, int(due), owed.get(acct, 0),
                             complete=due == arr.total_cents and owed.get(acct, 0) == 0)
    return out


def make_arrangement(session: Session, account_number: str, installments: int, starts_on: dt.date, who: str,
                     why: str, as_of: dt.date, max_start_days: int = MAX_START_DAYS
                     ) -> tuple[int, list[tuple[dt.date, int]]]:
    """Arrange the account's past-due balance on ``as_of`` in ``installments`` monthly installments from
    ``starts_on``; returns (arrangement id, [(due date, cents)]). The caller commits.

    Refused: no past-due balance; an earlier arrangement still in good standing and not complete (one plan
    at a time; a broken one may be replaced); an empty who or why; a first installment before ``as_of`` or more
    than ``max_start_days`` after it.
    """
    if not who.strip() or not why.strip():
        raise LedgerError(f"account {account_number}: an arrangement needs --who and --why (recorded)")
    if not 1 <= installments <= MAX_INSTALLMENTS:
        raise LedgerError(f"account {account_number}: --installments {installments}: expected 1 to {MAX_INSTALLMENTS}")
    if starts_on < as_of:
        raise LedgerError(f"account {account_number}: --start {starts_on} is before the arrangement is made "
                          f"({as_of}); the first installment cannot be due in the past")
    if (starts_on - as_of).days > max_start_days:
        raise LedgerError(f"account {account_number}: --start {starts_on} is {(starts_on - as_of).days} days after "
                          f"the arrangement is made ({as_of}); the first installment is due within {max_start_days} "
                          "days (an arrangement protects the account from disconnection until it is broken); give "
                          "--max-start-days N to allow a later start")
    acct = account_id(session, account_number)
    earlier = standings(session, as_of, [acct]).get(acct)
    if earlier is not None and earlier.good and not earlier.complete:
        raise LedgerError(f"account {account_number}: arrangement {earlier.arrangement_id} is in good standing "
                          "and not yet paid; one arrangement at a time (nothing changed)")
    total = past_due_cents(session, [acct], as_of).get(acct, 0)
    if total <= 0:
        raise LedgerError(f"account {account_number}: nothing past due on {as_of}; nothing to arrange")
    parts = split_cents(total, installments)
    arr_id = session.scalar(insert(PaymentArrangement).returning(PaymentArrangement.id), [{
        "account_id": acct, "total_cents": total, "starts_on": starts_on, "installments": installments,
        "made_by": who.strip(), "reason": why.strip(),
        "made_at": dt.datetime.combine(as_of, dt.datetime.now().time())}])
    schedule = [(add_months(starts_on, n), cents) for n, cents in enumerate(parts)]
    session.execute(insert(ArrangementInstallment), [
        {"arrangement_id": arr_id, "number": n + 1, "due_on": due, "amount_cents": cents}
        for n, (due, cents) in enumerate(schedule)])
    return arr_id, schedule
