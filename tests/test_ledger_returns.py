"""Returned items of the unapplied-cash queue resolved with ``workbench payments resolve-return`` (apply to an
account, write off, return to the bank), on SQLite and on a real PostgreSQL server. Expected balances and the
reconciliation rows are worked by hand in the comments; the journal is checked to be only appended to."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.test_receivables_cli import ledger_runner
from workbench.ledger.check import check_ledger, reconcile_day
from workbench.ledger.db import new_session
from workbench.ledger.models import Adjustment, JournalEntry, UnappliedResolution
from workbench.ledger.receivables import aging, balances

# 02-10: B1 pays 100.00 (P1), B2 pays 30.00 (P2). 02-12, four returned items, none matching a payment when posted:
# R1 30.00 and R4 30.00 of "OLD-2" (unknown account; really B2's check P2), R2 12.34 of Z9, R3 7.77 of B1 (B1 paid
# 100.00, not 7.77). Into the queue: 4 items, 30.00 + 12.34 + 7.77 + 30.00 = 80.11.
PAYMENTS = ("P1,B1,100.00,2025-02-10,payment\nP2,B2,30.00,2025-02-10,payment\n"
            "R1,OLD-2,30.00,2025-02-12,return\nR2,Z9,12.34,2025-02-12,return\n"
            "R3,B1,7.77,2025-02-12,return\nR4,OLD-2,30.00,2025-02-12,return\n")
ON = ["--on", "2025-02-14"]


def _journal(engine) -> list[tuple]:
    with new_session(engine) as session:
        return [tuple(r) for r in session.execute(select(
            JournalEntry.id, JournalEntry.account_id, JournalEntry.posted_on, JournalEntry.kind,
            JournalEntry.amount_cents, JournalEntry.reference).order_by(JournalEntry.id))]


def _rows(report) -> dict:
    return {(r.section, r.item): (r.count, r.cents) for r in report.itertuples()}


def _round_trip(wb, tmp_path):
    (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\n" + PAYMENTS)
    wb("payments", "post", tmp_path / "pay.csv")
    wb("payments", "unapplied", "--out", tmp_path / "u.csv")
    queue = pd.read_csv(tmp_path / "u.csv", dtype=str).set_index("item_id")
    assert sorted(queue.index) == ["R1", "R2", "R3", "R4"] and set(queue["kind"]) == {"return"}
    ids = queue["payment_id"].to_dict()
    before = _journal(wb.engine)

    # B1 has no 7.77 payment: refused, naming what it looked for, nothing written
    out = wb("payments", "resolve-return", ids["R3"], "--account", "B1", "--who", "jdoe", "--why", "x", *ON, ok=False)
    assert out.status == 2 and "account B1: has no payment of 7.77 received on or before 2025-02-12" in out.stderr
    assert "not already returned" in out.stderr and _journal(wb.engine) == before

    out = wb("payments", "resolve-return", ids["R1"], "--account", "B2", "--who", "jdoe", "--why", "stub of P2", *ON)
    assert "applied to account B2 on 2025-02-14 by jdoe; reversed its payment P2" in out.stdout
    assert "fee 25.00" in out.stdout
    # P2 is returned now: R4 (the same 30.00 again) finds no unreturned 30.00 payment on B2
    out = wb("payments", "resolve-return", ids["R4"], "--account", "B2", "--who", "jdoe", "--why", "x", *ON, ok=False)
    assert out.status == 2 and "account B2: has no payment of 30.00" in out.stderr
    again = wb("payments", "resolve-return", ids["R1"], "--write-off", "--who", "kim", "--why", "x", *ON, ok=False)
    assert again.status == 2 and "already applied by jdoe on 2025-02-14" in again.stderr
    wb("payments", "resolve-return", ids["R4"], "--write-off", "--who", "kim", "--why", "duplicate of R1", *ON)
    wb("payments", "resolve-return", ids["R2"], "--write-off", "--who", "kim", "--why", "no customer Z9", *ON)
    out = wb("payments", "resolve-return", ids["R3"], "--returned-to-bank", "--who", "kim", "--why", "bank error", *ON)
    assert "returned to bank on 2025-02-14 by kim (no account charged)" in out.stdout
    out = wb("payments", "unapplied").stdout
    assert "unapplied cash: 0 item(s), 0.00" in out and "matching no payment: 0 item(s), 0.00" in out

    after = _journal(wb.engine)
    assert after[:len(before)] == before  # append-only: every earlier row as it was
    new = [(kind, cents, posted_on) for _, _, posted_on, kind, cents, _ in after[len(before):]]
    assert new == [("payment_return", 3000, dt.date(2025, 2, 14)), ("nsf_fee", 2500, dt.date(2025, 2, 14))]
    with new_session(wb.engine) as session:
        # B1: 100.00 billed - 100.00 paid = 0. B2: 80.00 + 60.00 billed, P2 30.00 paid then returned, fee 25.00
        # = 165.00, all of it open again (the January bill's 80.00 reopened with its age).
        bal = balances(session).set_index("account")["receivable"]
        assert (int(bal["B1"]), int(bal["B2"]), int(bal.get("B3", 0))) == (0, 16500, 0)
        # on 02-14 (the February bill posts on 02-28): B2 owes its January 80.00 again + the 25.00 fee = 105.00
        aged = aging(session, dt.date(2025, 2, 14)).set_index("account")
        assert int(aged.loc["B2", "total"]) == 10500 and int(aged.loc["B2", "credit"]) == 0
        made = sorted((r.action, r.made_by, r.reason, r.fee_cents, r.resolved_on.isoformat())
                      for r in session.scalars(select(UnappliedResolution)))
        assert made == [("applied", "jdoe", "stub of P2", 2500, "2025-02-14"),
                        ("returned_to_bank", "kim", "bank error", 0, "2025-02-14"),
                        ("written_off", "kim", "duplicate of R1", 0, "2025-02-14"),
                        ("written_off", "kim", "no customer Z9", 0, "2025-02-14")]
        assert session.scalar(select(Adjustment.amount_cents).where(Adjustment.kind == "unapplied_return")) == 5500
        report, breaks = reconcile_day(session, dt.date(2025, 2, 12))
        assert breaks == []
        rows = _rows(report)
        assert rows[("returned items (queue)", "opening")] == (0, 0)
        assert rows[("returned items (queue)", "returned into the queue")] == (4, 8011)
        assert rows[("returned items (queue)", "closing")] == (4, 8011)
        assert rows[("receivables", "returned payments")] == (0, 0)
        report, breaks = reconcile_day(session, dt.date(2025, 2, 14))
        assert breaks == []
        rows = _rows(report)
        assert rows[("returned items (queue)", "opening")] == (4, 8011)
        assert rows[("returned items (queue)", "applied to accounts")] == (1, -3000)
        assert rows[("returned items (queue)", "written off")] == (2, -4234)  # 30.00 + 12.34
        assert rows[("returned items (queue)", "returned to the bank")] == (1, -777)
        assert rows[("returned items (queue)", "closing")] == (0, 0)
        assert rows[("receivables", "returned payments")] == (1, 3000) and rows[("receivables", "fees")] == (1, 2500)
        # opening: January's 100.00 + 80.00 - 130.00 paid = 50.00 (B2); + 30.00 returned + 25.00 fee = 105.00
        assert rows[("receivables", "opening")] == (0, 5000) and rows[("receivables", "closing")] == (0, 10500)
        assert check_ledger(session) == []


def test_returned_items_resolved_on_sqlite(wb_sqlite, tmp_path):
    _round_trip(wb_sqlite, tmp_path)


def test_returned_items_resolved_on_postgresql(fresh_pg_url, tmp_path, capsys):  # noqa: F811
    run = ledger_runner(fresh_pg_url, tmp_path, capsys)
    try:
        _round_trip(run, tmp_path)
    finally:
        run.engine.dispose()


def test_check_finds_a_return_reversed_twice_or_resolved_without_a_record(wb_sqlite, tmp_path):
    """``ledger check`` catches what a bug in resolving would leave: a queued return with a journal reversal
    but no resolution, and a resolved queue row with no record of who resolved it."""
    from sqlalchemy import insert, update

    from workbench.ledger.models import Account, Payment, UnappliedCash

    (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\nR9,OLD,9.99,2025-02-12,return\n")
    wb_sqlite("payments", "post", tmp_path / "pay.csv")
    with new_session(wb_sqlite.engine) as session:
        pid = session.scalar(select(Payment.id).where(Payment.item_id == "R9"))
        b1 = session.scalar(select(Account.id).where(Account.account_number == "B1"))
        session.execute(insert(JournalEntry), [{"account_id": b1, "book": "receivable", "posted_on": dt.date(2025, 2, 13),
                                                "kind": "payment_return", "amount_cents": 999, "payment_id": pid}])
        session.execute(update(UnappliedCash).where(UnappliedCash.payment_id == pid)
                        .values(resolved_on=dt.date(2025, 2, 13)))
        session.commit()
        breaks = check_ledger(session)
    assert any("returned item R9: left the unapplied-cash queue with no record" in b for b in breaks)
    assert any("returned item R9: journal reversal 9.99, expected 0.00" in b for b in breaks)


@pytest.fixture
def wb_sqlite(tmp_path, capsys):
    run = ledger_runner(f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path, capsys)
    yield run
    run.engine.dispose()


def test_queue_reason_reads_and_cash_in_and_returns_are_not_added(wb_sqlite, tmp_path):
    # U1 40.00 from unknown Z9 and U2 2.00 from unknown Y8 (cash received: 42.00, 2 items); R3 7.77 of B1 and
    # R5 99.99 of B2 (neither account paid that: taken back by the bank, 107.76, 2 items). Opposite in sign for the
    # utility: no total 149.76 may be printed.
    (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\n"
                                      "U1,Z9,40.00,2025-02-10,payment\nU2,Y8,2.00,2025-02-10,payment\n"
                                      "R3,B1,7.77,2025-02-12,return\nR5,B2,99.99,2025-02-12,return\n")
    wb_sqlite("payments", "post", tmp_path / "pay.csv")
    out = wb_sqlite("payments", "unapplied", "--out", tmp_path / "u.csv").stdout
    assert "unapplied cash: 2 item(s), 42.00" in out
    assert "returned items matching no payment: 2 item(s), 107.76" in out
    assert "149.76" not in out and "4 item(s)" not in out
    reasons = pd.read_csv(tmp_path / "u.csv", dtype=str).set_index("item_id")["reason"]
    assert reasons["R5"] == "return matches no payment of 99.99 not already returned on account B2"
    assert "unreturned a payment" not in " ".join(reasons)
