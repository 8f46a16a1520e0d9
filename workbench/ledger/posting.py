"""The posting API: bill runs, posting a cycle's bills, holds, releases, cancel/rebill, a bill's history.

Used by the audited cycle runs (``workbench.runs``) and by ``workbench bills ...``. Every writing function
takes a :class:`~sqlalchemy.orm.Session` and **commits once at its end**: a call is one transaction, all of
it or nothing (a ``kill -9`` in the middle leaves the ledger as it was before the call).

Idempotence: a bill's key is (account, meter, period_start, version). :func:`post_bills` skips every bill whose
(account, meter, period_start) the ledger already has in any version, so running a batch again, or a whole
run again after a crash, posts nothing twice and leaves no gap.

The bills and line-item tables are the cycle's (``bills.parquet`` / ``line_items.parquet``,
:data:`workbench.billing.cycle_chunk.SCHEMAS`): amounts in dollars rounded to cents, which are posted as
integer cents; a bill whose total is not the sum of its line items is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from workbench.ledger.bulk import insert_rows
from workbench.ledger.carried import carry_charges
from workbench.ledger.db import LedgerError, open_ledger
from workbench.ledger.models import (
    Account,
    Adjustment,
    Bill,
    BillLineItem,
    BillRun,
    BudgetPlan,
    Hold,
    JournalEntry,
)
from workbench.ledger.settle import apply_to, chunks, open_cents_of, settle_accounts

__all__ = ["open_ledger", "start_run", "finish_run", "post_bills", "hold_bill", "release_bill", "cancel_and_rebill",
           "bill_history", "PostResult", "DUE_DAYS"]

DUE_DAYS = 21  #: days from the bill date (the period's last day) to the due date


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def start_run(session: Session, cycle, period: str, run_key: str, code_version: str = "",
              inputs_checksum: str = "") -> int:
    """The id of the bill run ``run_key``, recorded now if new (the same key again returns the same run).

    Commits. Raises :class:`LedgerError` if ``run_key`` is known with another cycle or period.
    """
    run = session.scalars(select(BillRun).where(BillRun.run_key == run_key)).first()
    if run is None:
        run = BillRun(run_key=run_key, cycle=str(cycle), period=str(period), code_version=code_version,
                      inputs_checksum=inputs_checksum)
        session.add(run)
        session.commit()
    elif (run.cycle, run.period) != (str(cycle), str(period)):
        raise LedgerError(f"bill run {run_key}: already recorded for cycle {run.cycle} period {run.period}, "
                          f"not cycle {cycle} period {period}")
    return run.id


def finish_run(session: Session, run_id: int) -> None:
    """Record that the run ``run_id`` finished (commits)."""
    session.execute(update(BillRun).where(BillRun.id == run_id).values(finished_at=_now()))
    session.commit()


@dataclass
class PostResult:
    """What :func:`post_bills` did with each bill it was given (every input bill is in exactly one list)."""

    posted: list[int] = field(default_factory=list)  # bill ids posted to the journal
    held: list[int] = field(default_factory=list)  # bill ids recorded as held (not in the journal)
    already: list[tuple[str, str, dt.date]] = field(default_factory=list)  # (account, meter, period_start)
    unknown_account: list[tuple[str, str, dt.date]] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return len(self.posted) + len(self.held) + len(self.already) + len(self.unknown_account)


def to_cents(dollars) -> np.ndarray:
    """Dollar amounts (already rounded to cents) as integer cents; half a cent rounds away from zero."""
    values = np.asarray(dollars, dtype=np.float64)
    if not np.isfinite(values).all():
        raise LedgerError("a bill amount is not a finite number")
    return (np.sign(values) * np.floor(np.abs(values) * 100 + 0.5 + 1e-9)).astype(np.int64)


def _account_ids(session: Session, numbers) -> dict[str, int]:
    found = {}
    for part in chunks(sorted(set(numbers))):
        found.update(session.execute(select(Account.account_number, Account.id)
                                     .where(Account.account_number.in_(part))).all())
    return found


def _existing_keys(session: Session, account_ids) -> set[tuple[int, str, dt.date]]:
    keys = set()
    for part in chunks(sorted(set(account_ids))):
        keys.update(session.execute(select(Bill.account_id, Bill.meter, Bill.period_start)
                                    .where(Bill.account_id.in_(part))).all())
    return keys


def _budget_plans(session: Session, account_ids, on: dt.date) -> dict[int, BudgetPlan]:
    plans = {}
    for part in chunks(sorted(set(account_ids))):
        for plan in session.scalars(select(BudgetPlan).where(
                BudgetPlan.account_id.in_(part), BudgetPlan.starts_on <= on)):
            if plan.ended_on is None or plan.ended_on > on:
                plans[plan.account_id] = plan
    return plans


def bill_entries(bill_id: int, account_id: int, total_cents: int, on: dt.date, reference: str,
                 plan: BudgetPlan | None) -> list[dict]:
    """The journal entries of posting one bill: the bill, or on budget billing the installment in the
    receivable book and the difference deferred to the budget book (settled in the settle-up month)."""
    if plan is None:
        return [dict(account_id=account_id, book="receivable", posted_on=on, kind="bill", amount_cents=total_cents,
                     reference=reference, bill_id=bill_id)]
    deferred = total_cents - plan.installment_cents
    rows = [dict(account_id=account_id, book="receivable", posted_on=on, kind="bill",
                 amount_cents=plan.installment_cents, reference=reference, bill_id=bill_id),
            dict(account_id=account_id, book="budget", posted_on=on, kind="budget_deferral", amount_cents=deferred,
                 reference=reference, bill_id=bill_id)]
    if on.month == plan.settle_month:  # settle-up: the whole budget book comes due on this bill
        rows.append(dict(account_id=account_id, book="budget", posted_on=on, kind="budget_settle",
                         amount_cents=None, reference=reference, bill_id=bill_id))
        rows.append(dict(account_id=account_id, book="receivable", posted_on=on, kind="budget_settle",
                         amount_cents=None, reference=reference, bill_id=bill_id))
    return rows


def _budget_book(session: Session, account_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(JournalEntry.amount_cents), 0)).where(
        JournalEntry.account_id == account_id, JournalEntry.book == "budget")) or 0)


def _journal(session: Session, rows: list[dict]) -> None:
    """Insert journal rows; a settle-up pair (amount None) moves the budget book's balance to receivable."""
    plain = [r for r in rows if r["amount_cents"] is not None]
    if plain:
        insert_rows(session.connection(), JournalEntry.__table__, plain)
    for row in rows:
        if row["amount_cents"] is None and row["book"] == "budget":
            balance = _budget_book(session, row["account_id"])
            session.execute(insert(JournalEntry), [{**row, "amount_cents": -balance},
                                                   {**row, "book": "receivable", "amount_cents": balance}])


def _bill_ids(session: Session, keys) -> dict[tuple[int, str, dt.date], int]:
    """The ids of the version-1 bills of ``keys`` ((account_id, meter, period_start)), just inserted."""
    ids, wanted = {}, set(keys)
    for part in chunks(sorted({k[0] for k in wanted})):
        for bill_id, account_id, meter, start in session.execute(
                select(Bill.id, Bill.account_id, Bill.meter, Bill.period_start)
                .where(Bill.account_id.in_(part), Bill.version == 1)):
            if (account_id, meter, start) in wanted:
                ids[(account_id, meter, start)] = bill_id
    return ids


def _line_columns(lines: pd.DataFrame) -> dict[str, list]:
    """The line items' columns as plain Python lists (of the types the ledger stores)."""
    out = {n: lines[n].astype(str).tolist() if n in lines else [""] * len(lines) for n in ("description", "category", "unit")}
    out |= {n: lines[n].astype(float).tolist() if n in lines else [0.0] * len(lines) for n in ("quantity", "rate")}
    return out | {"line": lines["line"].astype(int).tolist() if len(lines) else []}


def post_bills(session: Session, run_id: int | None, bills: pd.DataFrame, line_items: pd.DataFrame,
               batch: str = "", *, due_days: int = DUE_DAYS, who: str = "cycle") -> PostResult:
    """Post one batch of a cycle's bills in one transaction (commits); idempotent.

    ``bills``: the cycle's bills table (meter, account, customer_class, rate_code, period_start, period_end,
    days, delivered_kwh, total [$], optional estimated_intervals, and ``hold_reason``: a non-empty reason
    records the bill as held, out of the journal, until :func:`release_bill`). ``line_items``: meter,
    period_start, line, description, category, quantity, unit, rate, amount [$]. The bill date is the
    period's last day, due ``due_days`` later. Bills of accounts not in the ledger are listed, not posted. Credits
    are applied; service charges since the last bill are carried by it (:mod:`workbench.ledger.carried`).
    """
    result = PostResult()
    if bills.empty:
        return result
    bills = bills.reset_index(drop=True)
    accounts = bills["account"].astype(str).tolist()
    meters = bills["meter"].astype(str).tolist()
    starts = pd.to_datetime(bills["period_start"]).dt.date.tolist()
    ends = pd.to_datetime(bills["period_end"]).dt.date.tolist()
    ids = _account_ids(session, accounts)
    existing = _existing_keys(session, ids.values())
    lines = line_items.reset_index(drop=True)
    cents = to_cents(lines["amount"]) if len(lines) else np.zeros(0, np.int64)
    line_keys = list(zip(lines["meter"].astype(str), pd.to_datetime(lines["period_start"]).dt.date, strict=True))
    by_bill: dict[tuple[str, dt.date], list[int]] = {}
    for n, key in enumerate(line_keys):
        by_bill.setdefault(key, []).append(n)
    totals = to_cents(bills["total"])
    reasons = (bills["hold_reason"].fillna("").astype(str).str.strip().tolist() if "hold_reason" in bills
               else [""] * len(bills))
    estimated = (bills["estimated_intervals"].fillna(0).to_numpy() > 0 if "estimated_intervals" in bills
                 else np.zeros(len(bills), bool))
    rate_codes, classes = bills["rate_code"].astype(str).tolist(), bills["customer_class"].astype(str).tolist()
    days, kwh = bills["days"].astype(int).tolist(), bills["delivered_kwh"].astype(float).tolist()
    now = _now()
    rows, todo = [], []
    for i, (account, meter, start, end) in enumerate(zip(accounts, meters, starts, ends, strict=True)):
        if account not in ids:
            result.unknown_account.append((account, meter, start))
            continue
        key = (ids[account], meter, start)
        if key in existing:
            result.already.append((account, meter, start))
            continue
        item_cents = int(cents[by_bill.get((meter, start), [])].sum())
        if item_cents != int(totals[i]):
            raise LedgerError(f"bill of account {account} meter {meter} period {start}: total "
                              f"{totals[i] / 100:.2f} is not the sum of its line items {item_cents / 100:.2f} "
                              f"(batch {batch or '-'}; nothing of the batch was posted)")
        held = bool(reasons[i])
        existing.add(key)
        todo.append((i, key, held))
        rows.append(dict(run_id=run_id, account_id=key[0], meter=meter, period_start=start, period_end=end,
                         version=1, status="held" if held else "posted", rate_code=rate_codes[i],
                         customer_class=classes[i], days=days[i], delivered_kwh=kwh[i], total_cents=int(totals[i]),
                         bill_date=end, due_date=end + dt.timedelta(days=due_days), estimated=bool(estimated[i]),
                         posted_at=None if held else now, replaces_bill_id=None))
    if rows:
        connection = session.connection()
        insert_rows(connection, Bill.__table__, rows)
        bill_ids = _bill_ids(session, (key for _, key, _ in todo))
        plans = _budget_plans(session, ids.values(), max(ends))
        col = _line_columns(lines)
        items, holds, journal_rows, posted_accounts = [], [], [], set()
        for i, key, held in todo:
            bill_id = bill_ids[key]
            items += [dict(bill_id=bill_id, line=col["line"][n], description=col["description"][n],
                           category=col["category"][n], quantity=col["quantity"][n], unit=col["unit"][n],
                           rate=col["rate"][n], amount_cents=int(cents[n])) for n in by_bill.get((meters[i], starts[i]), [])]
            if held:
                holds.append(dict(bill_id=bill_id, held_by=who, reason=reasons[i]))
                result.held.append(bill_id)
            else:
                journal_rows += bill_entries(bill_id, key[0], int(totals[i]), ends[i], f"bill {bill_id} run {run_id}",
                                             plans.get(key[0]))
                posted_accounts.add(key[0])
                result.posted.append(bill_id)
        insert_rows(connection, BillLineItem.__table__, items)
        insert_rows(connection, Hold.__table__, holds)
        _journal(session, journal_rows)
        carry_charges(session, result.posted)  # fees since the last bill: printed on it, due with it
        settle_accounts(session, posted_accounts, max(ends))
    session.commit()
    return result


def _bill(session: Session, bill_id: int) -> Bill:
    bill = session.get(Bill, bill_id)
    if bill is None:
        raise LedgerError(f"bill {bill_id}: no such bill in the ledger")
    return bill


def hold_bill(session: Session, bill_id: int, who: str, why: str) -> None:
    """Hold a bill that is not posted yet (adds a reason to a held bill). Commits.

    A posted bill is in the journal already: correct it with :func:`cancel_and_rebill`.
    """
    bill = _bill(session, bill_id)
    if bill.status != "held":
        raise LedgerError(f"bill {bill_id}: is {bill.status}, not held; a posted bill is corrected with "
                          "cancel and rebill, not held")
    session.add(Hold(bill_id=bill_id, held_by=who, reason=why))
    session.commit()


def _close_holds(session: Session, bill_id: int, who: str, why: str) -> None:
    session.execute(update(Hold).where(Hold.bill_id == bill_id, Hold.released_at.is_(None))
                    .values(released_by=who, released_at=_now(), release_reason=why))


def release_bill(session: Session, bill_id: int, who: str, why: str, on: dt.date | None = None) -> None:
    """Release a held bill: its holds are closed (who, when, why) and it is posted to the journal on ``on``
    (default today: a closed day's reconciliation never changes afterwards). Commits."""
    if not who or not why:
        raise LedgerError(f"bill {bill_id}: a release needs who releases it and why")
    bill = _bill(session, bill_id)
    if bill.status != "held":
        raise LedgerError(f"bill {bill_id}: is {bill.status}, not held; nothing to release")
    _close_holds(session, bill_id, who, why)
    bill.status, bill.posted_at = "posted", _now()
    on = on or dt.date.today()
    plan = _budget_plans(session, [bill.account_id], on).get(bill.account_id)
    _journal(session, bill_entries(bill.id, bill.account_id, bill.total_cents, on,
                                   f"bill {bill.id} released by {who}", plan))
    session.flush()
    carry_charges(session, [bill.id], on)
    settle_accounts(session, [bill.account_id], on)
    session.commit()


def cancel_and_rebill(session: Session, bill_id: int, who: str, why: str, bills: pd.DataFrame | None = None,
                      line_items: pd.DataFrame | None = None, on: dt.date | None = None) -> int | None:
    """Cancel a bill (posted: reversed by an adjustment; held: its holds closed) and post its correction.

    The cancelled bill and its entries stay (history is never deleted). ``bills`` (one row, the cycle's
    layout) and ``line_items`` are the corrected bill, posted as the next version (held if it has a
    ``hold_reason``); returns its id, or None when only cancelling. Commits.
    """
    if not who or not why:
        raise LedgerError(f"bill {bill_id}: a cancel/rebill needs who does it and why")
    bill = _bill(session, bill_id)
    on = on or dt.date.today()
    if bill.status == "cancelled":
        raise LedgerError(f"bill {bill_id}: already cancelled")
    if bill.status == "held":
        _close_holds(session, bill_id, who, f"cancelled: {why}")
    else:
        adjustment = Adjustment(account_id=bill.account_id, kind="bill_cancel", amount_cents=-bill.total_cents,
                                bill_id=bill.id, made_by=who, reason=why, made_on=on)
        session.add(adjustment)
        session.flush()
        for entry in session.scalars(select(JournalEntry).where(JournalEntry.bill_id == bill.id).order_by(JournalEntry.id)):
            reversal = session.scalar(insert(JournalEntry).returning(JournalEntry.id), [dict(
                account_id=entry.account_id, book=entry.book, posted_on=on, kind="bill_cancel",
                amount_cents=-entry.amount_cents, reference=f"cancel bill {bill.id}: {why}",
                bill_id=bill.id, adjustment_id=adjustment.id)])
            if entry.book == "receivable" and entry.amount_cents > 0:  # the reversal pays its own bill first
                apply_to(session, reversal, entry.id, min(entry.amount_cents, open_cents_of(session, entry.id)), on)
    bill.status = "cancelled"
    new_id = None
    if bills is not None and len(bills):
        version = session.scalar(select(func.max(Bill.version)).where(
            Bill.account_id == bill.account_id, Bill.meter == bill.meter, Bill.period_start == bill.period_start))
        new_id = _post_version(session, bill, bills.iloc[0], line_items, version + 1, who, on)
    session.flush()
    settle_accounts(session, [bill.account_id], on)
    session.commit()
    return new_id


def _post_version(session: Session, old: Bill, row, line_items: pd.DataFrame | None, version: int, who: str,
                  on: dt.date) -> int:
    items = line_items if line_items is not None else pd.DataFrame(columns=["line", "amount"])
    cents = to_cents(items["amount"]) if len(items) else np.zeros(0, np.int64)
    total = int(to_cents([row["total"]])[0])
    if int(cents.sum()) != total:
        raise LedgerError(f"rebill of bill {old.id}: total {total / 100:.2f} is not the sum of its line items "
                          f"{cents.sum() / 100:.2f}")
    reason = str(row.get("hold_reason", "") or "").strip()
    end = pd.Timestamp(row.get("period_end", old.period_end)).date()
    bill = Bill(run_id=old.run_id, account_id=old.account_id, meter=old.meter, period_start=old.period_start,
                period_end=end, version=version, status="held" if reason else "posted",
                rate_code=str(row.get("rate_code", old.rate_code)), customer_class=old.customer_class,
                days=int(row.get("days", old.days)), delivered_kwh=float(row.get("delivered_kwh", old.delivered_kwh)),
                total_cents=total, bill_date=on, due_date=on + dt.timedelta(days=DUE_DAYS),
                estimated=bool(row.get("estimated_intervals", 0) or 0), posted_at=None if reason else _now(),
                replaces_bill_id=old.id)
    session.add(bill)
    session.flush()
    for n, (li, c) in enumerate(zip(items.itertuples(), cents, strict=True), start=1):
        session.add(BillLineItem(bill_id=bill.id, line=int(getattr(li, "line", n)), description=str(li.description),
                                 category=str(getattr(li, "category", "")), quantity=float(getattr(li, "quantity", 0)),
                                 unit=str(getattr(li, "unit", "")), rate=float(getattr(li, "rate", 0)),
                                 amount_cents=int(c)))
    if reason:
        session.add(Hold(bill_id=bill.id, held_by=who, reason=reason))
    else:
        plan = _budget_plans(session, [old.account_id], on).get(old.account_id)
        _journal(session, bill_entries(bill.id, old.account_id, total, on,
                                       f"rebill of bill {old.id} by {who}", plan))
    return bill.id


def bill_history(session: Session, account: str) -> pd.DataFrame:
    """Every bill of ``account`` (account number), every version, with its status and hold reasons."""
    account_id = session.scalar(select(Account.id).where(Account.account_number == str(account)))
    if account_id is None:
        raise LedgerError(f"account {account}: not in the ledger")
    rows = session.execute(select(Bill.id, Bill.meter, Bill.period_start, Bill.period_end, Bill.version, Bill.status,
                                  Bill.total_cents, Bill.due_date, Bill.replaces_bill_id, Bill.run_id)
                           .where(Bill.account_id == account_id).order_by(Bill.period_start, Bill.version)).all()
    frame = pd.DataFrame(rows, columns=["bill_id", "meter", "period_start", "period_end", "version", "status",
                                        "total_cents", "due_date", "replaces_bill_id", "run_id"])
    holds = session.execute(select(Hold.bill_id, Hold.reason, Hold.released_by, Hold.release_reason)
                            .join(Bill, Bill.id == Hold.bill_id).where(Bill.account_id == account_id)).all()
    reasons = {}
    for bill_id, reason, released_by, release_reason in holds:
        text = reason + (f" (released by {released_by}: {release_reason})" if released_by else "")
        reasons.setdefault(bill_id, []).append(text)
    frame["holds"] = [("; ".join(reasons.get(b, []))) for b in frame["bill_id"]]
    return frame
