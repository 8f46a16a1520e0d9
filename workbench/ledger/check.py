"""``ledger check`` (does every figure agree with the journal?) and ``ledger reconcile`` (one day, to the cent).

:func:`check_ledger` returns the breaks, one line each, naming the account, bill or payment:

- a bill's total differs from the sum of its line items, or from its journal entries (posted: the total;
  held: none; cancelled: net zero);
- a payment of a known account has no journal credit of its amount, or an unknown account's payment is not in
  the unapplied-cash queue; a payment that left the queue has a journal credit (applied) or a record of its
  refund / move to unclaimed property, never both nor neither;
- a returned item has no journal reversal of its amount though it reversed a payment (when posted, or applied
  from the queue), or has one though it did not (still queued, written off, returned to the bank), or left
  the queue with no record of who resolved it;
- a charge or credit is paired for more than its amount;
- an account's aging (open charges less open credits) differs from its receivable balance;
- the receivables do not roll forward: the balance on each day with entries is the previous balance plus that
  day's entries (computed by two independent queries).

:func:`reconcile_day` ties one day out: billed revenue by class and rate, cash received, applied, unapplied,
returns, fees, adjustments, and opening + billed - paid ± adjustments = closing; the unapplied-cash queue
rolls forward (opening + received into it - applied from it by hand - refunded - moved to unclaimed property
= closing), and so do the returned items
in it (opening + returned into it - applied to accounts - written off - returned to the bank = closing).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.ledger.amounts import money_text
from workbench.ledger.models import (
    Account,
    Bill,
    BillLineItem,
    JournalEntry,
    Payment,
    PaymentApplication,
    ServiceOrder,
    UnappliedCash,
    UnappliedResolution,
)
from workbench.ledger.receivables import aging, balances

BILL_KINDS = ("bill", "budget_deferral")
PAID_KINDS = ("payment",)
RETURN_KINDS = ("payment_return",)
FEE_KINDS = ("nsf_fee", "late_fee", "reconnect_fee")



def check_ledger(session: Session) -> list[str]:
    """Every break found (empty: the ledger holds together)."""
    breaks: list[str] = []
    lines = dict(session.execute(select(BillLineItem.bill_id, func.sum(BillLineItem.amount_cents))
                                 .group_by(BillLineItem.bill_id)).all())
    entries = dict(session.execute(select(JournalEntry.bill_id, func.sum(JournalEntry.amount_cents))
                                   .where(JournalEntry.bill_id.is_not(None),
                                          JournalEntry.kind.in_((*BILL_KINDS, "bill_cancel")))
                                   .group_by(JournalEntry.bill_id)).all())
    for bill_id, status, total in session.execute(select(Bill.id, Bill.status, Bill.total_cents)):
        if lines.get(bill_id, 0) != total:
            breaks.append(f"bill {bill_id}: total {money_text(total)} but line items sum to {money_text(lines.get(bill_id, 0))}")
        want = {"posted": total, "held": 0, "cancelled": 0}.get(status)
        if want is None:
            breaks.append(f"bill {bill_id}: unknown status {status!r}")
        elif status != "held" and bill_id not in entries and status == "posted":
            breaks.append(f"bill {bill_id}: posted but not in the journal")
        elif entries.get(bill_id, 0) != want:
            breaks.append(f"bill {bill_id}: {status}, journal holds {money_text(entries.get(bill_id, 0))}, "
                          f"expected {money_text(want)}")
    paid = dict(session.execute(select(JournalEntry.payment_id, func.sum(JournalEntry.amount_cents))
                                .where(JournalEntry.kind == "payment").group_by(JournalEntry.payment_id)).all())
    queued = dict(session.execute(select(UnappliedCash.payment_id, UnappliedCash.resolved_on)).all())
    resolved = dict(session.execute(select(UnappliedResolution.payment_id, UnappliedResolution.action)).all())
    for pid, kind, account, amount, item in session.execute(select(
            Payment.id, Payment.kind, Payment.account_id, Payment.amount_cents, Payment.item_id)):
        if kind == "payment" and account is not None and paid.get(pid) != -amount:
            breaks.append(f"payment {item}: {money_text(amount)} but journal credit {money_text(-(paid.get(pid) or 0))}")
        if kind == "payment" and account is None and pid not in queued:
            breaks.append(f"payment {item}: account unknown and not in the unapplied-cash queue")
        if kind == "payment" and queued.get(pid) is not None and (pid in paid) == (pid in resolved):
            breaks.append(f"payment {item}: left the unapplied-cash queue " + (
                f"{resolved[pid]} but also credited to an account" if pid in paid else "with no journal credit and "
                "no record of a refund or of unclaimed property"))
    breaks += _return_breaks(session)
    breaks += _service_order_breaks(session)
    for side in (PaymentApplication.charge_entry_id, PaymentApplication.credit_entry_id):
        over = session.execute(
            select(JournalEntry.id, JournalEntry.amount_cents, func.sum(PaymentApplication.amount_cents))
            .join(PaymentApplication, side == JournalEntry.id).where(PaymentApplication.reversed.is_(False))
            .group_by(JournalEntry.id, JournalEntry.amount_cents)
            .having(func.sum(PaymentApplication.amount_cents) > func.abs(JournalEntry.amount_cents))).all()
        breaks += [f"journal entry {eid}: {money_text(abs(a))} paired for {money_text(s)}" for eid, a, s in over]
    today = dt.date.today()
    bal = balances(session).set_index("account")["receivable"]
    aged = aging(session, max(today, _last_day(session))).set_index("account")["total"]
    for account in sorted(set(bal.index) | set(aged.index)):
        if int(bal.get(account, 0)) != int(aged.get(account, 0)):
            breaks.append(f"account {account}: balance {money_text(int(bal.get(account, 0)))} but its open items "
                          f"sum to {money_text(int(aged.get(account, 0)))}")
    breaks += _roll_forward_breaks(session)
    return breaks


def _return_breaks(session: Session) -> list[str]:
    """A returned item's journal reversal exists exactly when it reversed a payment (see :func:`check_ledger`)."""
    reversed_ = dict(session.execute(select(JournalEntry.payment_id, func.sum(JournalEntry.amount_cents))
                                     .where(JournalEntry.kind.in_(RETURN_KINDS)).group_by(JournalEntry.payment_id)).all())
    queued = dict(session.execute(select(UnappliedCash.payment_id, UnappliedCash.resolved_on)).all())
    resolved = dict(session.execute(select(UnappliedResolution.payment_id, UnappliedResolution.action)).all())
    breaks = []
    for pid, item, amount in session.execute(select(Payment.id, Payment.item_id, Payment.amount_cents)
                                             .where(Payment.kind == "return")):
        if pid in queued and queued[pid] is not None and pid not in resolved:
            breaks.append(f"returned item {item}: left the unapplied-cash queue with no record of who resolved it")
        reversed_a_payment = pid not in queued or resolved.get(pid) == "applied"
        want = amount if reversed_a_payment else 0
        if int(reversed_.get(pid) or 0) != want:
            breaks.append(f"returned item {item}: journal reversal {money_text(int(reversed_.get(pid) or 0))}, expected "
                          f"{money_text(want)} ({'it reversed a payment' if reversed_a_payment else 'it reversed none'})")
    return breaks


def _service_order_breaks(session: Session) -> list[str]:
    """Each reconnection fee in the journal is the fee of one reconnection order, of its amount; each account's
    orders go disconnect, reconnect, disconnect, ..."""
    fees = dict(session.execute(select(JournalEntry.id, JournalEntry.amount_cents)
                                .where(JournalEntry.kind == "reconnect_fee")).all())
    charged = dict(session.execute(select(ServiceOrder.fee_entry_id, ServiceOrder.fee_cents)
                                   .where(ServiceOrder.fee_entry_id.is_not(None))).all())
    breaks = [f"journal entry {e}: a reconnection fee of {money_text(int(c))} that no reconnection charged"
              for e, c in fees.items() if e not in charged]
    breaks += [f"journal entry {e}: reconnection fee {money_text(int(fees.get(e) or 0))}, the service order says "
               f"{money_text(int(c))}" for e, c in charged.items() if e in fees and fees[e] != c]
    last: dict[int, str] = {}
    for acct, kind, order_id in session.execute(select(ServiceOrder.account_id, ServiceOrder.kind, ServiceOrder.id)
                                                .order_by(ServiceOrder.account_id, ServiceOrder.seq)):
        if kind == last.get(acct, "reconnect"):
            breaks.append(f"service order {order_id}: a {kind} after a {kind} of the same account")
        last[acct] = kind
    return breaks


def _last_day(session: Session) -> dt.date:
    return session.scalar(select(func.max(JournalEntry.posted_on))) or dt.date.today()


def _roll_forward_breaks(session: Session) -> list[str]:
    """Balance at the end of each day = previous day's + the day's entries, for the whole receivables."""
    per_day = session.execute(select(JournalEntry.posted_on, func.sum(JournalEntry.amount_cents))
                              .where(JournalEntry.book == "receivable").group_by(JournalEntry.posted_on)
                              .order_by(JournalEntry.posted_on)).all()
    breaks, running = [], 0
    for day, cents in per_day:
        running += int(cents)
        closing = int(session.scalar(select(func.coalesce(func.sum(JournalEntry.amount_cents), 0)).where(
            JournalEntry.book == "receivable", JournalEntry.posted_on <= day)))
        if closing != running:
            breaks.append(f"receivables on {day}: closing {money_text(closing)} is not the roll-forward {money_text(running)}")
    return breaks


def reconcile_day(session: Session, day: dt.date) -> tuple[pd.DataFrame, list[str]]:
    """The day's reconciliation (rows: section, item, count, cents) and its breaks (empty when it ties)."""
    rows, breaks = [], []

    def add(section, item, count, cents):
        rows.append({"section": section, "item": item, "count": int(count), "cents": int(cents)})

    def total(kinds, book="receivable", before=False):
        query = select(func.count(), func.coalesce(func.sum(JournalEntry.amount_cents), 0)).where(
            JournalEntry.book == book)
        query = query.where(JournalEntry.posted_on < day) if before else query.where(JournalEntry.posted_on == day)
        if kinds is not None:
            query = query.where(JournalEntry.kind.in_(kinds))
        n, cents = session.execute(query).one()
        return int(n), int(cents)

    billed = session.execute(
        select(Bill.customer_class, Bill.rate_code, func.count(func.distinct(Bill.id)),
               func.sum(JournalEntry.amount_cents))
        .join(Bill, Bill.id == JournalEntry.bill_id)
        .where(JournalEntry.posted_on == day, JournalEntry.kind.in_(BILL_KINDS))
        .group_by(Bill.customer_class, Bill.rate_code).order_by(Bill.customer_class, Bill.rate_code)).all()
    for cls, rate, n, cents in billed:
        add("billed revenue", f"{cls} {rate}", n, cents)
    billed_cents = sum(int(c) for *_, c in billed)
    items_cents = int(session.scalar(
        select(func.coalesce(func.sum(BillLineItem.amount_cents), 0)).where(BillLineItem.bill_id.in_(
            select(JournalEntry.bill_id).where(JournalEntry.posted_on == day, JournalEntry.kind == "bill")))))
    if items_cents != billed_cents:
        breaks.append(f"{day}: billed {money_text(billed_cents)} but the line items of those bills sum to "
                      f"{money_text(items_cents)}")
    received = session.execute(select(func.count(), func.coalesce(func.sum(Payment.amount_cents), 0)).where(
        Payment.paid_on == day, Payment.kind == "payment")).one()
    unapplied = session.execute(select(func.count(), func.coalesce(func.sum(Payment.amount_cents), 0))
                                .join(UnappliedCash, UnappliedCash.payment_id == Payment.id)
                                .where(Payment.paid_on == day, Payment.kind == "payment")).one()
    applied = total(PAID_KINDS)
    queued_ids = select(UnappliedCash.payment_id)
    n_late, late = session.execute(select(func.count(), func.coalesce(func.sum(JournalEntry.amount_cents), 0)).where(
        JournalEntry.posted_on == day, JournalEntry.kind.in_(PAID_KINDS),
        JournalEntry.payment_id.in_(queued_ids))).one()  # applied today by hand from the queue
    direct = (applied[0] - int(n_late), applied[1] - int(late))
    add("cash", "received", *received)
    add("cash", "applied to accounts", direct[0], -direct[1])
    add("cash", "unapplied (queue)", *unapplied)
    if received[1] != -direct[1] + unapplied[1] or received[0] != direct[0] + unapplied[0]:
        breaks.append(f"{day}: cash received {money_text(received[1])} ({received[0]}) is not applied "
                      f"{money_text(-direct[1])} ({direct[0]}) + unapplied {money_text(unapplied[1])} ({unapplied[0]})")
    queue_open, queue_close = _queue(session, day, before=True), _queue(session, day)
    add("unapplied cash", "opening", queue_open[0], queue_open[1])
    add("unapplied cash", "received into the queue", *unapplied)
    add("unapplied cash", "applied to accounts", int(n_late), int(late))
    gone = _left_queue(session, day)
    for action, label in PAYMENT_RESOLUTIONS.items():
        add("unapplied cash", label, *gone[action])
    add("unapplied cash", "closing", queue_close[0], queue_close[1])
    out = sum(c for _, c in gone.values())
    if queue_open[1] + unapplied[1] + int(late) + out != queue_close[1] or queue_open[0] + unapplied[0] - int(n_late) \
            - sum(n for n, _ in gone.values()) != queue_close[0]:
        breaks.append(f"{day}: unapplied cash opening {money_text(queue_open[1])} + received {money_text(unapplied[1])} - "
                      f"applied {money_text(-int(late))} - refunded or unclaimed {money_text(-out)} is not the closing "
                      f"{money_text(queue_close[1])}")
    breaks += _returns_queue(session, day, add)
    opening = total(None, before=True)[1]
    closing = opening + total(None)[1]
    returns, fees = total(RETURN_KINDS), total(FEE_KINDS)
    others = total(None)[1] - billed_cents - applied[1] - returns[1] - fees[1]
    add("receivables", "opening", 0, opening)
    add("receivables", "billed", sum(int(n) for _, _, n, _ in billed), billed_cents)
    add("receivables", "paid", applied[0], applied[1])
    add("receivables", "returned payments", returns[0], returns[1])
    add("receivables", "fees", fees[0], fees[1])
    add("receivables", "adjustments and other", 0, others)
    add("receivables", "closing", 0, closing)
    by_account = int(balances(session, as_of=day)["receivable"].sum()) if closing or opening else 0
    if by_account != closing:
        breaks.append(f"{day}: closing receivables {money_text(closing)} but the accounts' balances sum to "
                      f"{money_text(by_account)}")
    if opening + billed_cents + applied[1] + returns[1] + fees[1] + others != closing:
        breaks.append(f"{day}: opening + billed - paid +/- adjustments is not closing")
    return pd.DataFrame(rows, columns=["section", "item", "count", "cents"]), breaks


def _queue(session: Session, day: dt.date, *, before: bool = False, kind: str = "payment") -> tuple[int, int]:
    """The unapplied-cash items of ``kind`` in the queue at the end of ``day`` (``before``: of the day before):
    count, cents."""
    end = day - dt.timedelta(days=1) if before else day
    return tuple(int(v) for v in session.execute(
        select(func.count(), func.coalesce(func.sum(Payment.amount_cents), 0))
        .join(UnappliedCash, UnappliedCash.payment_id == Payment.id)
        .where(Payment.kind == kind, Payment.paid_on <= end,
               (UnappliedCash.resolved_on.is_(None)) | (UnappliedCash.resolved_on > end))).one())


PAYMENT_RESOLUTIONS = {"refunded": "refunded to the payer", "unclaimed": "to unclaimed property"}


def _left_queue(session: Session, day: dt.date, kind: str = "payment") -> dict[str, tuple[int, int]]:
    """The queued items of ``kind`` resolved on ``day`` by a recorded resolution: action -> (count, -cents)."""
    left = dict.fromkeys(RESOLUTIONS if kind == "return" else PAYMENT_RESOLUTIONS, (0, 0))
    for action, n, cents in session.execute(
            select(UnappliedResolution.action, func.count(), func.coalesce(func.sum(Payment.amount_cents), 0))
            .join(Payment, Payment.id == UnappliedResolution.payment_id)
            .where(UnappliedResolution.resolved_on == day, Payment.kind == kind)
            .group_by(UnappliedResolution.action)):
        left[action] = (int(n), -int(cents))
    return left


RESOLUTIONS = {"applied": "applied to accounts", "written_off": "written off", "returned_to_bank": "returned to the bank"}


def _returns_queue(session: Session, day: dt.date, add) -> list[str]:
    """The returned items of the queue, rolled forward over ``day`` (rows added with ``add``); the breaks."""
    opening, closing = _queue(session, day, before=True, kind="return"), _queue(session, day, kind="return")
    came = [int(v) for v in session.execute(
        select(func.count(), func.coalesce(func.sum(Payment.amount_cents), 0))
        .join(UnappliedCash, UnappliedCash.payment_id == Payment.id)
        .where(Payment.kind == "return", Payment.paid_on == day)).one()]
    left = _left_queue(session, day, "return")
    add("returned items (queue)", "opening", *opening)
    add("returned items (queue)", "returned into the queue", *came)
    for action, label in RESOLUTIONS.items():
        add("returned items (queue)", label, *left[action])
    add("returned items (queue)", "closing", *closing)
    moved = opening[1] + came[1] + sum(c for _, c in left.values())
    if moved != closing[1] or opening[0] + came[0] - sum(n for n, _ in left.values()) != closing[0]:
        return [f"{day}: returned items in the queue: opening {money_text(opening[1])} + returned {money_text(came[1])} - "
                f"resolved {money_text(-sum(c for _, c in left.values()))} is not the closing {money_text(closing[1])}"]
    return []


def accounts_by_class(session: Session) -> dict[str, int]:
    """How many accounts of each customer class the ledger holds."""
    out = defaultdict(int)
    for cls, n in session.execute(select(Account.customer_class, func.count()).group_by(Account.customer_class)):
        out[cls] = int(n)
    return dict(out)
