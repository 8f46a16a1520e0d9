"""The subledger's activity as general-ledger journal entries (``workbench ledger gl-export``).

:func:`activity` gathers what happened in a date range, one row per (day, kind, book, rate) with the count and
the net cents:

- every journal entry, by its kind and book, with its bill's rate code (the journal's signs: positive is owed
  by the customer; in the deposit book, held). Two kinds are renamed for the GL because their cash side is not
  cash: a ``payment`` credit applied by hand from the unapplied-cash queue is ``unapplied_applied`` (it leaves
  the unapplied liability), and a ``payment_return`` of a returned item resolved from the queue is
  ``return_applied``;
- the unapplied-cash queue, which has no journal entries (its cash is nobody's yet): ``unapplied_received``
  (a payment queued, on the day received), ``unapplied_refunded`` and ``unapplied_unclaimed`` (resolved by
  ``payments resolve``), ``return_received`` (a returned item queued), ``return_written_off`` and
  ``return_to_bank`` (resolved by ``payments resolve-return``); book ``queue``, cents positive.

:func:`gl_lines` posts them with a :class:`~workbench.ledger.gl_chart.Chart`. A journal row posts to its book's
control account and to the other account of its kind, the side taken from the sign (on the receivable and
budget books, assets, a positive amount is a debit of the control account; on the deposit book, a liability,
a credit): a bill debits receivables and credits revenue, a credit bill the other way round. A kind whose
debit and credit are both control accounts (``budget_settle``, ``deposit_refund``: a transfer between books)
posts only each row's own control side; the rows of the pair balance. A queue row debits the kind's debit
account and credits its credit account. Lines are summed per period (day or month) and GL account, debits and
credits apart; every period's debits must equal its credits to the cent (:func:`check_balanced`), or
nothing is written. A kind the chart does not map, or a rate its by-rate mapping lacks, is an error naming
the kind, the count and the cents (:class:`Unmapped`): nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.gl_chart import ANY_RATE, ASSET_BOOKS, Chart
from workbench.ledger.models import Bill, JournalEntry, Payment, UnappliedCash, UnappliedResolution

FROM_QUEUE = {"payment": "unapplied_applied", "payment_return": "return_applied"}
ACTIVITY = ["day", "kind", "book", "rate", "entries", "cents"]
COLUMNS = ["period", "gl_account", "debit", "credit", "entries", "kinds"]
QUEUE_RESOLVED = {("payment", "refunded"): "unapplied_refunded", ("payment", "unclaimed"): "unapplied_unclaimed",
                  ("return", "written_off"): "return_written_off", ("return", "returned_to_bank"): "return_to_bank"}


class Unmapped(LedgerError):
    """Activity the chart does not map (one line listing every kind, with its count and cents)."""


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def activity(session: Session, start: dt.date, end: dt.date) -> pd.DataFrame:
    """What happened from ``start`` to ``end`` (inclusive), summed per (day, kind, book, rate) (``ACTIVITY``)."""
    from_queue = UnappliedCash.id.is_not(None)
    rows = []
    for day, kind, book, rate, from_q, n, cents in session.execute(
            select(JournalEntry.posted_on, JournalEntry.kind, JournalEntry.book, Bill.rate_code, from_queue,
                   func.count(), func.sum(JournalEntry.amount_cents))
            .outerjoin(Bill, Bill.id == JournalEntry.bill_id)
            .outerjoin(UnappliedCash, UnappliedCash.payment_id == JournalEntry.payment_id)
            .where(JournalEntry.posted_on >= start, JournalEntry.posted_on <= end)
            .group_by(JournalEntry.posted_on, JournalEntry.kind, JournalEntry.book, Bill.rate_code, from_queue)):
        kind = FROM_QUEUE.get(kind, kind) if from_q else kind
        rows.append((day, kind, book, rate, int(n), int(cents)))
    for day, pkind, n, cents in session.execute(
            select(Payment.paid_on, Payment.kind, func.count(), func.sum(Payment.amount_cents))
            .join(UnappliedCash, UnappliedCash.payment_id == Payment.id)
            .where(Payment.paid_on >= start, Payment.paid_on <= end).group_by(Payment.paid_on, Payment.kind)):
        rows.append((day, f"{'unapplied' if pkind == 'payment' else 'return'}_received", "queue", None, int(n),
                     int(cents)))
    for day, pkind, action, n, cents in session.execute(
            select(UnappliedResolution.resolved_on, Payment.kind, UnappliedResolution.action, func.count(),
                   func.sum(Payment.amount_cents))
            .join(Payment, Payment.id == UnappliedResolution.payment_id)
            .where(UnappliedResolution.resolved_on >= start, UnappliedResolution.resolved_on <= end)
            .group_by(UnappliedResolution.resolved_on, Payment.kind, UnappliedResolution.action)):
        kind = QUEUE_RESOLVED.get((pkind, action))
        if kind is not None:  # a returned item applied to an account is in the journal (return_applied)
            rows.append((day, kind, "queue", None, int(n), int(cents)))
    frame = pd.DataFrame(rows, columns=ACTIVITY)
    return frame.sort_values(["day", "kind", "book"], kind="stable").reset_index(drop=True)


def _unmapped(chart: Chart, acts: pd.DataFrame) -> None:
    """Refuse activity the chart cannot post: unmapped kinds, by-rate mappings missing a rate, a journal kind
    naming neither control account of its book, a book with no control account."""
    missing: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    problems = []
    for r in acts.itertuples():
        if r.kind not in chart.kinds:
            missing[r.kind][0] += r.entries
            missing[r.kind][1] += r.cents
            continue
        if r.book != "queue":
            control = chart.control.get(r.book)
            if control is None:
                problems.append(f"book {r.book} ({r.kind}) has no control account (add it under control:)")
            elif control not in (chart.kinds[r.kind]["debit"], chart.kinds[r.kind]["credit"]):
                problems.append(f"kind {r.kind} in book {r.book}: neither its debit nor its credit is the {r.book} "
                                f"control account {control!r}")
        for side in ("debit", "credit"):
            if chart.account(r.kind, side, r.rate) is None:
                problems.append(f"kind {r.kind} {side}: by_rate has no rate {r.rate or '(no bill)'!r} and no '*' "
                                f"({r.entries} entries, {_money(r.cents)})")
    if missing:
        listed = ", ".join(f"{kind!r} ({n} entries, {_money(c)})" for kind, (n, c) in sorted(missing.items()))
        problems.insert(0, f"no mapping for kind {listed}; add {'them' if len(missing) > 1 else 'it'} under kinds:")
    if problems:
        unique = list(dict.fromkeys(problems))
        raise Unmapped(f"--chart {chart.path}: {'; '.join(unique)}; nothing was written")


def fell_to_any(chart: Chart, acts: pd.DataFrame) -> list[str]:
    """The bills' rate codes a by-rate mapping did not name and that its ``"*"`` took (``kind side 'RATE' (n
    entries, 12.34)``), for a warning: revenue booked to "every other rate" is a guess the reader should see."""
    caught: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in acts.itertuples():
        if r.rate is None or pd.isna(r.rate) or r.kind not in chart.kinds:
            continue
        for side in ("debit", "credit"):
            spec = chart.kinds[r.kind][side]
            if isinstance(spec, dict) and r.rate not in spec and ANY_RATE in spec:
                caught[(r.kind, side, r.rate)][0] += r.entries
                caught[(r.kind, side, r.rate)][1] += r.cents
    return [f"{kind} {side} {rate!r} ({n} entries, {_money(c)})" for (kind, side, rate), (n, c) in sorted(caught.items())]


def gl_lines(chart: Chart, acts: pd.DataFrame, per: str = "day") -> pd.DataFrame:
    """The GL lines of ``acts`` (see the module docstring), per ``day`` or ``month``: ``COLUMNS``, amounts in
    cents (``debit``, ``credit``: int), sorted by period and account; raises :class:`Unmapped`."""
    _unmapped(chart, acts)
    sums: dict[tuple[str, str], list] = {}

    def post(period, account, side, cents, n, kind):
        line = sums.setdefault((period, account), [0, 0, 0, set()])
        line[0 if side == "debit" else 1] += cents
        line[2] += n
        line[3].add(kind)

    for r in acts.itertuples():
        if r.cents == 0:
            continue
        period = r.day.isoformat() if per == "day" else r.day.strftime("%Y-%m")
        debit, credit = chart.account(r.kind, "debit", r.rate), chart.account(r.kind, "credit", r.rate)
        if r.book == "queue":  # positive: debit the debit account, credit the credit account
            post(period, debit, "debit", r.cents, r.entries, r.kind)
            post(period, credit, "credit", r.cents, r.entries, r.kind)
            continue
        control = chart.control[r.book]
        other = credit if debit == control else debit
        control_side = "debit" if (r.cents > 0) == (r.book in ASSET_BOOKS) else "credit"
        post(period, control, control_side, abs(r.cents), r.entries, r.kind)
        if other not in chart.control.values():  # a transfer between books posts only each row's own side
            post(period, other, "credit" if control_side == "debit" else "debit", abs(r.cents), r.entries, r.kind)
    rows = [{"period": p, "gl_account": a, "debit": d, "credit": c, "entries": n, "kinds": " ".join(sorted(k))}
            for (p, a), (d, c, n, k) in sorted(sums.items())]
    return pd.DataFrame(rows, columns=COLUMNS)


def check_balanced(lines: pd.DataFrame) -> None:
    """Every period's debits equal its credits, to the cent; else a one-line error naming each period off."""
    off = []
    for period, group in lines.groupby("period", sort=True):
        debit, credit = int(group["debit"].sum()), int(group["credit"].sum())
        if debit != credit:
            off.append(f"{period}: debits {_money(debit)} but credits {_money(credit)} (kinds "
                       f"{' '.join(sorted(set(' '.join(group['kinds']).split())))})")
    if off:
        raise LedgerError(f"the GL export does not balance: {'; '.join(off)}; check the chart's transfer kinds; "
                          "nothing was written")


def as_csv_frame(lines: pd.DataFrame) -> pd.DataFrame:
    """``lines`` with the amounts as dollars to the cent, text (``1234.50``), for the CSV."""
    out = lines.copy()
    for col in ("debit", "credit"):
        out[col] = [_money(int(c)) for c in lines[col]]
    return out
