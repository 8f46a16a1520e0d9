"""The disconnect list: the final notices whose disconnection date has come, each re-checked on the day.

A final notice (:mod:`workbench.ledger.collections`) names the earliest disconnection date; by then the customer
may have paid, agreed an arrangement, brought a medical certificate, or the day may fall in the moratorium.
:func:`plan_disconnects` takes every final notice whose disconnection date is on or before ``as_of`` (one row
each: nothing dropped, :func:`check_disconnects`) and either **lists** it for the field crew or says why not,
checked in this order on ``as_of``:

1. *already disconnected*: the account's latest service order by then is a disconnection (this notice's or
   another's); or this notice was acted on already (disconnected and reconnected since);
2. *paid since*: the amount the notice was for (the account's charges past due on the notice date and in the
   ledger when it was issued, less its open credits), what of it is still unpaid on ``as_of``, is under the
   rules' ``final.min_past_due``;
3. *arrangement*: a payment arrangement in good standing (:mod:`workbench.ledger.arrangements`);
4. *medical*: a medical certificate in the rules valid on ``as_of``;
5. *moratorium*: ``as_of`` is a moratorium date or in a moratorium month;
6. an account with two final notices eligible is listed once (the oldest notice); the other says so.

Nothing is written here; :mod:`workbench.ledger.service_orders` records what the crew did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.ledger.amounts import money_text
from workbench.ledger.arrangements import standings
from workbench.ledger.db import LedgerError
from workbench.ledger.models import Account, CollectionNotice, Customer, JournalEntry, Premise, ServiceOrder
from workbench.ledger.notice_rules import NoticeRules
from workbench.ledger.settle import chunks, open_items


@dataclass
class DisconnectRow:
    """One final notice past its disconnection date, and whether it is on the field list that day."""

    notice_id: int
    account: str
    customer: str
    service_address: str
    notice_date: dt.date
    disconnect_on: dt.date
    noticed_cents: int  # the past-due amount the notice was for
    unpaid_cents: int  # what of it is still unpaid on the day
    listed: bool = False
    reason: str = ""  # why it is not listed
    account_id: int = 0



def noticed_unpaid(charges, credits, notice: CollectionNotice, created: dict[int, dt.datetime]) -> int:
    """Of an account's open items on a day (:func:`open_items`), what is still unpaid of the charges the notice
    was for: past due on its notice date (posted by then, due before it) and in the ledger when it was issued
    (``created``: entry id -> when it was written; a bill posted later, even back-dated, was not on the
    notice); less the open credits; at least 0."""
    cents = sum(c.open_cents for c in charges if c.posted_on <= notice.notice_date and c.due_on < notice.notice_date
                and created.get(c.entry_id, dt.datetime.max) <= notice.issued_at)
    return max(0, cents - sum(c.open_cents for c in credits))


def _created(session: Session, items) -> dict[int, dt.datetime]:
    ids = [c.entry_id for charges, _ in items.values() for c in charges]
    out = {}
    for part in chunks(ids):
        out.update(session.execute(select(JournalEntry.id, JournalEntry.created_at).where(JournalEntry.id.in_(part))).all())
    return out


def account_orders(session: Session, account_ids, through: dt.date | None = None) -> dict[int, list[ServiceOrder]]:
    """Each account's service orders (dated ``through`` or before, when given), in order."""
    query = select(ServiceOrder).where(ServiceOrder.account_id.in_(list(account_ids))).order_by(ServiceOrder.seq)
    if through is not None:
        query = query.where(ServiceOrder.order_date <= through)
    out: dict[int, list[ServiceOrder]] = {}
    for order in session.scalars(query):
        out.setdefault(order.account_id, []).append(order)
    return out


def final_notices(session: Session, through: dt.date, account_ids=None):
    """The final notices whose disconnection date is on or before ``through``, with account, customer and
    service address, by account and notice."""
    query = (select(CollectionNotice, Account.account_number, Customer.name, Premise.service_address)
             .join(Account, Account.id == CollectionNotice.account_id)
             .join(Customer, Customer.id == Account.customer_id)
             .outerjoin(Premise, Premise.id == Account.premise_id)
             .where(CollectionNotice.kind == "final", CollectionNotice.disconnect_on <= through)
             .order_by(Account.account_number, CollectionNotice.notice_date, CollectionNotice.id))
    if account_ids is not None:
        query = query.where(CollectionNotice.account_id.in_(list(account_ids)))
    return session.execute(query).all()


def _why_not(notice: CollectionNotice, orders: list[ServiceOrder], unpaid: int, plan, rules: NoticeRules,
             number: str, as_of: dt.date) -> str:
    last = orders[-1] if orders else None
    if last is not None and last.kind == "disconnect":
        return f"already disconnected on {last.order_date} (service order {last.id})"
    done = [o for o in orders if o.notice_id == notice.id]
    if done:
        return "acted on: " + ", ".join(f"{o.kind}ed on {o.order_date} (service order {o.id})" for o in done)
    if unpaid < rules.min_past_due_cents:
        return (f"paid since: {money_text(unpaid)} of the {money_text(notice.past_due_cents)} noticed still unpaid, under "
                f"the minimum {money_text(rules.min_past_due_cents)}")
    if plan is not None and plan.good and not plan.complete:
        return f"payment arrangement {plan.arrangement_id} in good standing"
    until = rules.protections.medical_certificates.get(number)
    if until is not None and until >= as_of:
        return f"medical certificate valid through {until}"
    moratorium = rules.moratorium_reason(as_of)
    if moratorium:
        return moratorium.replace("disconnection date", "the day")
    return ""


def plan_disconnects(session: Session, rules: NoticeRules | None, as_of: dt.date, account_ids=None) -> list[DisconnectRow]:
    """Every final notice whose disconnection date is on or before ``as_of``: listed, or why not (the module
    docstring). ``rules`` may be None only when there is no such notice. Nothing is written."""
    found = final_notices(session, as_of, account_ids)
    accounts = {n.account_id for n, *_ in found}
    if not accounts:
        return []
    if rules is None:
        raise LedgerError("the disconnect list needs the collections rules (--rules)")
    items = open_items(session, accounts, as_of=as_of)
    created = _created(session, items)
    plans = standings(session, as_of, accounts)
    orders = account_orders(session, accounts, through=as_of)
    rows, listed = [], {}
    for notice, number, name, address in found:
        charges, credits = items.get(notice.account_id, ([], []))
        unpaid = noticed_unpaid(charges, credits, notice, created)
        row = DisconnectRow(notice.id, number, name or "", address or "", notice.notice_date, notice.disconnect_on,
                            int(notice.past_due_cents), unpaid, account_id=notice.account_id)
        row.reason = _why_not(notice, orders.get(notice.account_id, []), unpaid, plans.get(notice.account_id),
                              rules, number, as_of)
        if not row.reason and notice.account_id in listed:
            row.reason = f"the account is listed once, for final notice {listed[notice.account_id]}"
        if not row.reason:
            row.listed = True
            listed[notice.account_id] = notice.id
        rows.append(row)
    return rows


def check_disconnects(session: Session, rows: list[DisconnectRow], as_of: dt.date) -> None:
    """Nothing silently dropped: one row per final notice past its date; each listed or with its reason."""
    expected = sorted(n.id for n, *_ in final_notices(session, as_of))
    if sorted(r.notice_id for r in rows) != expected:
        raise LedgerError(f"disconnects on {as_of}: {len(rows)} row(s) for {len(expected)} final notice(s) past "
                          "their disconnection date")
    silent = [r.notice_id for r in rows if r.listed == bool(r.reason)]
    if silent:
        raise LedgerError(f"disconnects on {as_of}: final notice {silent[0]} is neither listed nor given a reason")


def as_frame(rows: list[DisconnectRow]) -> pd.DataFrame:
    """The list for people: one row per final notice past its date, the listed ones first (amounts in cents)."""
    columns = ["account", "customer", "service_address", "notice_id", "notice_date", "disconnect_on",
               "noticed_cents", "unpaid_cents", "disconnect", "reason"]
    records = [{**{k: v for k, v in asdict(r).items() if k in columns}, "disconnect": "yes" if r.listed else "no"}
               for r in sorted(rows, key=lambda r: (not r.listed, r.account, r.notice_id))]
    return pd.DataFrame(records, columns=columns)


def unknown_certificates(session: Session, rules: NoticeRules) -> list[str]:
    """The account numbers of the rules' medical certificates that are not in the ledger: a mistyped number
    protects no one, and the customer it was meant for would be on the list."""
    certified = list(rules.protections.medical_certificates)
    known = set(session.scalars(select(Account.account_number).where(Account.account_number.in_(certified))))
    return [number for number in certified if number not in known]


def recorded_rules(session: Session, as_of: dt.date, account_ids=None) -> list[str]:
    """The rules files the final notices past their date on ``as_of`` were issued under (as recorded), sorted."""
    return sorted({n.rules for n, *_ in final_notices(session, as_of, account_ids)})
