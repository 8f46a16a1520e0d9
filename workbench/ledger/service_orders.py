"""Recording what the field crew did after a final notice: a disconnection, and later the reconnection with its fee.

Append-only ``service_orders`` rows (migration 0005), numbered per account (``seq`` 1, 2, ...: disconnect,
reconnect, disconnect, ...; the unique key refuses a second clerk recording the same step at the same time):

- :func:`disconnect` records a disconnection on a day only for an account on that day's disconnect list
  (:func:`workbench.ledger.disconnects.plan_disconnects`, re-checked then), acting on the notice listed;
- :func:`reconnect` records the reconnection of a disconnected account. It needs the account's past-due amount
  paid on the day, or a payment arrangement in good standing; otherwise ``without_payment`` with a reason says
  the utility reconnects anyway (recorded). It charges the reconnection fee (the one given, else the utility's
  setting; neither: refused, :func:`workbench.ledger.settings.fee_for`): a ``reconnect_fee`` journal entry on
  the receivable, with an adjustment saying who and why, as the NSF fee is charged (0 writes no entry). The fee
  records its due date: ``fee_due_on`` given, else the ledger's ``--fee-due-days`` after the day (due with the
  next bill); a ledger that says neither is refused (:func:`workbench.ledger.settings.charge_due_on`), since a
  fee due the day it is charged is past due the next day and breaks the arrangement the account was reconnected on.
  The next bill posted carries the fee: prints it and, from its date, makes it due with it
  (:mod:`workbench.ledger.carried`: a linked record, the journal entry's own due date kept for the audit).

Each refusal is one :class:`LedgerError` line; nothing is written then. The caller's session is committed here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench.ledger.amounts import money_text
from workbench.ledger.arrangements import past_due_cents, standings
from workbench.ledger.db import LedgerError
from workbench.ledger.disconnects import account_orders, plan_disconnects
from workbench.ledger.models import Adjustment, CollectionNotice, JournalEntry, ServiceOrder
from workbench.ledger.notice_rules import NoticeRules
from workbench.ledger.receivables import account_id
from workbench.ledger.settings import MAX_DUE_DAYS, RECONNECT_FEE, charge_due_on, fee_for
from workbench.ledger.settle import settle_accounts


@dataclass
class Recorded:
    """A service order recorded."""

    order_id: int
    kind: str
    account: str
    on: dt.date
    notice_id: int
    past_due_cents: int
    fee_cents: int = 0
    without_payment: bool = False
    reason: str = ""
    warning: str = ""  # for the clerk, now: what the order recorded will do next
    fee_due_on: dt.date | None = None  # the fee's due date



def _who(who: str | None, what: str) -> str:
    who = (who or "").strip()
    if not who:
        raise LedgerError(f"--who: empty; say who {what} (recorded)")
    return who[:200]


def _not_future(on: dt.date, today: dt.date | None) -> None:
    today = today or dt.date.today()
    if on > today:
        raise LedgerError(f"--on {on}: after today ({today}); a service order records work done, on the day it was done")


def _after_last(number: str, orders: list[ServiceOrder], on: dt.date) -> None:
    if orders and on < orders[-1].order_date:
        last = orders[-1]
        raise LedgerError(f"account {number}: --on {on} is before its last service order ({last.kind} on "
                          f"{last.order_date}, order {last.id}); orders are recorded in the order they happened")


def _insert(session: Session, row: dict, number: str) -> int:
    try:
        with session.begin_nested():
            return session.scalar(insert(ServiceOrder).returning(ServiceOrder.id), [row])
    except IntegrityError:
        session.rollback()
        raise LedgerError(f"account {number}: another service order was recorded for it at the same time; nothing "
                          "recorded: look at the account and run it again") from None


def disconnect(session: Session, rules: NoticeRules | None, number: str, on: dt.date, who: str,
               today: dt.date | None = None) -> Recorded:
    """Record the disconnection of account ``number`` on ``on`` by ``who``; refused unless the account is on the
    disconnect list that day (``rules`` None: no final notice of the account is past its date, so it is not).
    Commits."""
    who = _who(who, "disconnected the service")
    _not_future(on, today)
    acct = account_id(session, number)
    rows = plan_disconnects(session, rules, on, [acct])
    listed = [r for r in rows if r.listed]
    if not listed:
        newest = session.execute(select(CollectionNotice.id, CollectionNotice.notice_date, CollectionNotice.disconnect_on)
                                 .where(CollectionNotice.account_id == acct, CollectionNotice.kind == "final")
                                 .order_by(CollectionNotice.id.desc())).first()
        if newest is None:
            raise LedgerError(f"account {number}: no final notice was issued to it; a disconnection acts on a final "
                              "notice (`workbench ledger notices`); nothing recorded")
        cut = [r.reason for r in rows if r.reason.startswith("already disconnected")]
        if newest[2] > on and not cut:
            raise LedgerError(f"account {number}: --on {on} is before the disconnection date {newest[2]} of final "
                              f"notice {newest[0]} (issued {newest[1]}); nothing recorded")
        raise LedgerError(f"account {number}: not on the disconnect list on {on}: {(cut or [rows[-1].reason])[0]}; "
                          "nothing recorded")
    row = listed[0]
    orders = account_orders(session, [acct]).get(acct, [])
    _after_last(number, orders, on)
    order_id = _insert(session, {
        "account_id": acct, "seq": len(orders) + 1, "kind": "disconnect", "order_date": on, "made_by": who,
        "notice_id": row.notice_id, "past_due_cents": row.unpaid_cents, "fee_cents": 0, "fee_entry_id": None,
        "without_payment": False, "reason": f"final notice {row.notice_id} of {row.notice_date}"}, number)
    session.commit()
    return Recorded(order_id, "disconnect", number, on, row.notice_id, row.unpaid_cents)


def reconnect(session: Session, number: str, on: dt.date, who: str, *, fee_cents: int | None = None,
              without_payment: bool = False, why: str | None = None, today: dt.date | None = None,
              fee_due_on: dt.date | None = None) -> Recorded:
    """Record the reconnection of the disconnected account ``number`` on ``on`` by ``who`` and charge the
    reconnection fee (see the module docstring). Commits."""
    who = _who(who, "reconnected the service")
    _not_future(on, today)
    acct = account_id(session, number)
    orders = account_orders(session, [acct]).get(acct, [])
    if not orders or orders[-1].kind != "disconnect":
        was = (f"its last service order is a reconnection on {orders[-1].order_date} (order {orders[-1].id})"
               if orders else "no disconnection is recorded for it")
        raise LedgerError(f"account {number}: not disconnected ({was}); nothing to reconnect")
    cut = orders[-1]
    if on < cut.order_date:
        raise LedgerError(f"account {number}: --on {on} is before its disconnection on {cut.order_date} (order "
                          f"{cut.id}); nothing recorded")
    if without_payment and not (why or "").strip():
        raise LedgerError(f"account {number}: --without-payment needs --why (recorded: who let the account be "
                          "reconnected with its debt unpaid, and why)")
    owed = past_due_cents(session, [acct], on).get(acct, 0)
    plan = standings(session, on, [acct]).get(acct)
    if owed == 0:
        reason, overridden = "past-due amount paid", False
    elif plan is not None and plan.good and not plan.complete:
        reason, overridden = f"payment arrangement {plan.arrangement_id} in good standing", False
    elif without_payment:
        reason, overridden = f"without payment ({money_text(owed)} past due): {why.strip()}", True
    else:
        raise LedgerError(f"account {number}: {money_text(owed)} still past due on {on} and no payment arrangement in "
                          "good standing; reconnection needs it paid or arranged (`workbench ledger arrange`), or "
                          "--without-payment --why TEXT (recorded); nothing recorded")
    # the fee after the payment check: with the debt unpaid, setting a fee would not let the reconnection through
    fee = fee_for(session, RECONNECT_FEE, fee_cents, f"the reconnection of account {number}")
    fee_entry = None
    due = _fee_due(session, number, on, fee, fee_due_on)
    if fee:
        adjustment = session.scalar(insert(Adjustment).returning(Adjustment.id), [{
            "account_id": acct, "kind": "reconnect_fee", "amount_cents": fee, "made_by": who,
            "reason": f"reconnection after disconnection order {cut.id}", "made_on": on}])
        fee_entry = session.scalar(insert(JournalEntry).returning(JournalEntry.id), [{
            "account_id": acct, "book": "receivable", "posted_on": on, "kind": "reconnect_fee", "amount_cents": fee,
            "adjustment_id": adjustment, "reference": f"reconnection fee (disconnection order {cut.id})",
            "due_on": due}])
    order_id = _insert(session, {
        "account_id": acct, "seq": len(orders) + 1, "kind": "reconnect", "order_date": on, "made_by": who,
        "notice_id": cut.notice_id, "past_due_cents": owed, "fee_cents": fee, "fee_entry_id": fee_entry,
        "without_payment": overridden, "reason": reason}, number)
    session.flush()
    settle_accounts(session, [acct], on)  # an open credit on the account pays the fee
    session.commit()
    return Recorded(order_id, "reconnect", number, on, cut.notice_id, owed, fee, overridden, reason,
                    _fee_breaks_arrangement(session, number, acct, on, fee, due,
                                            plan if reason.startswith("payment") else None), due if fee else None)


def _fee_due(session: Session, number: str, on: dt.date, fee: int, given: dt.date | None) -> dt.date | None:
    """The reconnection fee's due date: ``given`` (not before ``on``), else the ledger's setting; neither is refused
    (a fee of 0 needs none)."""
    if not fee:
        return None
    if given is not None:
        if given < on:
            raise LedgerError(f"account {number}: --fee-due-on {given} is before the reconnection on {on}; a fee "
                              "cannot be due before it is charged; nothing recorded")
        if (given - on).days > MAX_DUE_DAYS:
            raise LedgerError(f"account {number}: --fee-due-on {given} is {(given - on).days} days after the "
                              f"reconnection on {on}; at most {MAX_DUE_DAYS} (as `ledger settings --fee-due-days`); "
                              "nothing recorded")
        return given
    due = charge_due_on(session, on)
    if due is None:
        raise LedgerError(f"account {number}: the reconnection fee {money_text(fee)} would be charged, but this "
                          "ledger does not say when service charges are due: set it once with `workbench ledger "
                          "settings --fee-due-days N --who NAME` (due N days after the charge, with the next bill; 0: "
                          "due the day it is charged, paid with the reconnection), or give --fee-due-on YYYY-MM-DD; "
                          "nothing recorded")
    return due


def _fee_breaks_arrangement(session: Session, number: str, acct: int, on: dt.date, fee: int,
                            due: dt.date | None, plan) -> str:
    """The warning when the reconnection fee, due the day it is charged (the ledger's ``--fee-due-days 0`` or
    ``--fee-due-on`` that day) and not part of the arrangement the account was reconnected on, will break that
    arrangement the next day unless it is paid ("" otherwise; a fee due later is due like a bill)."""
    if plan is None or not fee or due != on:
        return ""
    after = standings(session, on + dt.timedelta(days=1), [acct]).get(acct)
    if after is None or after.good:
        return ""
    return (f"warning: account {number}: the reconnection fee {money_text(fee)} is due on {on} and is not part of "
            f"payment arrangement {plan.arrangement_id}: unless it is paid that day, the arrangement is broken from "
            f"{on + dt.timedelta(days=1)} and no longer protects the account from disconnection (`workbench ledger "
            "arrange list`); collect the fee with the reconnection")
