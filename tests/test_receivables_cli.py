"""Receivables from the command line: ``ledger late-fees``, ``ledger deposits``, ``ledger budget``, ``payments
unapplied`` and ``payments apply``, through :func:`workbench.cli.main` on SQLite (and the unapplied-cash round
trip on a real PostgreSQL server). Expected amounts are worked by hand in the comments."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.hostile._cli import assert_ok, run_in_process
from tests.test_ledger import bills_of
from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.check import check_ledger, reconcile_day
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.models import JournalEntry, LateFee
from workbench.ledger.posting import post_bills
from workbench.ledger.receivables import balances
from workbench.ledger.settings import set_nsf_fee

ACCOUNTS = """account_number,customer_name,service_address,mailing_address,meter_id,rate_code,customer_class,cycle,opening_balance,opening_date,deposit
B1,Ann Able,1 Elm St,,M1,RES,RES,1,,2025-01-01,
B2,Bob Best,2 Elm St,,M2,RES,RES,1,,2025-01-01,
B3,Cat Corp,3 Oak Ave,,M3,SGS,SGS,1,,2025-01-01,
"""
JAN_END = dt.date(2025, 1, 31)  # the bill date; due 21 days later: 2025-02-21


def _ledger(url, tmp_path, nsf_fee_cents: int | None = 2500):
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS)
    engine, _, _ = init_ledger(url)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(path))
        if nsf_fee_cents is not None:  # the test utility's returned-payment fee (None: a ledger with none set)
            set_nsf_fee(session, nsf_fee_cents, "test setup")
        # B1 100.00 and B2 80.00 in January; B2 also 60.00 in February (due 2025-03-21)
        post_bills(session, None, *bills_of(dt.date(2025, 1, 1), JAN_END, [
            ("B1", "M1", "RES", "RES", [("Customer charge", 10.00), ("Energy", 90.00)]),
            ("B2", "M2", "RES", "RES", [("Energy", 80.00)])]))
        post_bills(session, None, *bills_of(dt.date(2025, 2, 1), dt.date(2025, 2, 28), [
            ("B2", "M2", "RES", "RES", [("Energy", 60.00)])]))
    return engine


def ledger_runner(url, tmp_path, capsys):
    """``run(*args)``: ``workbench ARGS --db URL`` in process on the ledger :func:`_ledger` builds at ``url``
    (SQLite or the tests' PostgreSQL); ``run.engine`` (dispose it at the end) and ``run.url``."""
    engine = _ledger(url, tmp_path)

    def run(*args, ok=True):
        out = run_in_process([*map(str, args), "--db", url], capsys)
        if ok:
            assert_ok(out)
        return out

    run.engine, run.url = engine, url
    return run


@pytest.fixture
def wb(tmp_path, capsys):
    """``wb(*args)``: run ``workbench ARGS --db <a fresh SQLite ledger with three accounts and bills>``."""
    run = ledger_runner(f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path, capsys)
    yield run
    run.engine.dispose()


def _count(engine, model) -> int:
    with new_session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def _check(engine) -> None:
    with new_session(engine) as session:
        assert check_ledger(session) == []


def _receivable(engine, account) -> int:
    with new_session(engine) as session:
        return int(balances(session).set_index("account").loc[account, "receivable"])


def _post_payments(wb, tmp_path, rows: str, name="pay.csv"):
    path = tmp_path / name
    path.write_text("item_id,account,amount,paid_on,kind\n" + rows)
    return wb("payments", "post", path)


def test_late_fees_by_hand_dry_run_and_once_per_bill(wb, tmp_path):
    # B2 pays 30.00 on 02-10: applied to January's 80.00 -> 50.00 of it overdue
    _post_payments(wb, tmp_path, "P1,B2,30.00,2025-02-10,payment\n")
    journal = _count(wb.engine, JournalEntry)
    # 2025-03-23 is 30 days after the 02-21 due date; February's bill (due 03-21) is within 5 grace days
    # B1: 1.5% x 100.00 = 1.50; B2: 1.5% x 50.00 = 0.75; total 2.25
    args = ("ledger", "late-fees", "--as-of", "2025-03-23", "--rate", "1.5%", "--grace-days", "5")
    out = wb(*args, "--dry-run", "-v")
    assert "would charge 2 fee(s), 2.25 on 2 account(s) (dry run: nothing written)" in out.stdout
    assert "1.50" in out.stdout and "0.75" in out.stdout
    assert _count(wb.engine, JournalEntry) == journal and _count(wb.engine, LateFee) == 0
    out = wb(*args, "--out", tmp_path / "fees.csv")
    assert "charged 2 fee(s), 2.25 on 2 account(s)" in out.stdout
    fees = pd.read_csv(tmp_path / "fees.csv", dtype=str)
    assert fees[["account", "overdue", "fee"]].values.tolist() == [["B1", "100.00", "1.50"], ["B2", "50.00", "0.75"]]
    assert _count(wb.engine, JournalEntry) == journal + 2
    assert _receivable(wb.engine, "B1") == 10000 + 150
    _check(wb.engine)
    out = wb(*args)  # the same day again: every overdue bill has its fee
    assert "charged 0 fee(s), 0.00" in out.stdout and _count(wb.engine, JournalEntry) == journal + 2
    # a month later February's bill (60.00, due 03-21) is charged: 0.90; January's never again
    out = wb("ledger", "late-fees", "--as-of", "2025-04-23", "--rate", "1.5%", "--grace-days", "5")
    assert "charged 1 fee(s), 0.90 on 1 account(s)" in out.stdout
    _check(wb.engine)


def test_deposit_take_interest_refund_and_list(wb, tmp_path):
    wb("ledger", "deposits", "take", "B3", "200", "--on", "2025-01-01")
    refused = wb("ledger", "deposits", "take", "B3", "200.00", "--on", "2025-01-01", ok=False)
    assert refused.status == 2 and "--another" in refused.stderr
    out = wb("ledger", "deposits", "list")
    assert "deposits held: 1, 200.00 on 1 account(s)" in out.stdout
    # 200.00 x 2% x 73 / 365 days (2025-01-01 to 2025-03-15) = 0.80, credited to B3's receivable
    journal = _count(wb.engine, JournalEntry)
    out = wb("ledger", "deposits", "interest", "--as-of", "2025-03-15", "--rate", "2%", "--dry-run")
    assert "would credit 0.80 to 1 account(s)" in out.stdout and _count(wb.engine, JournalEntry) == journal
    out = wb("ledger", "deposits", "interest", "--as-of", "2025-03-15", "--rate", "2%")
    assert "credited 0.80 to 1 account(s)" in out.stdout and _receivable(wb.engine, "B3") == -80
    out = wb("ledger", "deposits", "interest", "--as-of", "2025-03-15", "--rate", "2%")
    assert "credited 0.00" in out.stdout  # paid to that day already
    _check(wb.engine)
    out = wb("ledger", "deposits", "refund", "B3", "--on", "2025-04-01")
    assert "deposits of 200.00 refunded" in out.stdout and _receivable(wb.engine, "B3") == -80 - 20000
    assert "nothing refunded" in wb("ledger", "deposits", "refund", "B3", "--on", "2025-04-02").stdout
    out = wb("ledger", "deposits", "list", "--all", "--out", tmp_path / "d.csv")
    assert "deposits held: 0, 0.00" in out.stdout and "refunded: 1, 200.00" in out.stdout
    assert pd.read_csv(tmp_path / "d.csv", dtype=str)["refunded_on"].tolist() == ["2025-04-01"]
    _check(wb.engine)


def test_budget_start_levelized_and_given(wb):
    # B2's posted bills: 80.00 and 60.00 -> levelized 70.00
    out = wb("ledger", "budget", "start", "B2", "--settle-month", "9", "--levelize", "12", "--on", "2025-03-01")
    assert "installment 70.00 (levelized" in out.stdout
    wb("ledger", "budget", "start", "B1", "--settle-month", "6", "--installment", "85.50", "--on", "2025-03-01")
    out = wb("ledger", "budget", "list")
    assert "budget plans in force: 2, installments 155.50 a month" in out.stdout
    # a new plan ends the old one
    wb("ledger", "budget", "start", "B1", "--settle-month", "6", "--installment", "90", "--on", "2025-04-01")
    out = wb("ledger", "budget", "list", "--all")
    assert "in force: 2, installments 160.00 a month; ended: 1" in out.stdout
    _check(wb.engine)


def _unapplied_round_trip(wb, tmp_path):
    _post_payments(wb, tmp_path, "U1,Z9,40.00,2025-02-10,payment\nU2,OLD-77,12.34,2025-02-10,payment\n"
                                 "P1,B1,5.00,2025-02-10,payment\n")
    out = wb("payments", "unapplied", "--out", tmp_path / "u.csv")
    assert "unapplied cash: 2 item(s), 52.34" in out.stdout
    queue = pd.read_csv(tmp_path / "u.csv", dtype=str)
    assert queue[["item_id", "payer_reference", "amount"]].fillna("").values.tolist() == [
        ["U1", "Z9", "40.00"], ["U2", "OLD-77", "12.34"]]
    assert "Z9 is not in the ledger" in queue["reason"][0]
    pid = queue["payment_id"][0]
    before = _receivable(wb.engine, "B1")
    out = wb("payments", "apply", pid, "--account", "B1", "--who", "jdoe", "--why", "stub shows B1",
             "--on", "2025-02-12")
    assert "applied to account B1 on 2025-02-12 by jdoe" in out.stdout
    assert _receivable(wb.engine, "B1") == before - 4000
    out = wb("payments", "unapplied")
    assert "unapplied cash: 1 item(s), 12.34" in out.stdout and "U1" not in out.stdout
    wb("ledger", "check")
    refused = wb("payments", "apply", pid, "--account", "B1", "--who", "jdoe", "--why", "again", ok=False)
    assert refused.status == 2 and "already applied" in refused.stderr
    with new_session(wb.engine) as session:
        # the day received: 45.34 in, 5.00 applied, 52.34 into the queue (ties); the day applied: 40.00 leaves it
        report, breaks = reconcile_day(session, dt.date(2025, 2, 10))
        assert breaks == []
        rows = {(r.section, r.item): (r.count, r.cents) for r in report.itertuples()}
        assert rows[("cash", "received")] == (3, 5734) and rows[("unapplied cash", "closing")] == (2, 5234)
        report, breaks = reconcile_day(session, dt.date(2025, 2, 12))
        assert breaks == []
        rows = {(r.section, r.item): (r.count, r.cents) for r in report.itertuples()}
        assert rows[("cash", "received")] == (0, 0) and rows[("cash", "applied to accounts")] == (0, 0)
        assert rows[("unapplied cash", "opening")] == (2, 5234)
        assert rows[("unapplied cash", "applied to accounts")] == (1, -4000)
        assert rows[("unapplied cash", "closing")] == (1, 1234)
        assert rows[("receivables", "paid")] == (1, -4000)
        assert check_ledger(session) == []


def test_unapplied_cash_listed_applied_and_reconciled(wb, tmp_path):
    _unapplied_round_trip(wb, tmp_path)


def test_unapplied_cash_on_postgresql(fresh_pg_url, tmp_path, capsys):  # noqa: F811
    run = ledger_runner(fresh_pg_url, tmp_path, capsys)
    try:
        _unapplied_round_trip(run, tmp_path)
    finally:
        run.engine.dispose()


def test_payments_post_summary_counts_a_return_on_its_own_line(wb, tmp_path):
    """A lockbox BAI2 of two payments and one returned item (type 555): the printed summary says the return on
    its own line with the fee, and applied + unapplied + returns + rejected + ignored = items in, in count and
    cents. By hand: B1 pays 100.00 and B2 30.00 on 02-10; B2's 30.00 comes back on 02-12 (NSF fee 25.00)."""
    from workbench.ledger.payment_sample import write_bai2

    path = write_bai2(tmp_path / "lockbox.bai", [("B1", 10000, "P1", dt.date(2025, 2, 10)),
                                                 ("B2", 3000, "P2", dt.date(2025, 2, 10))],
                      returns=[("B2", 3000, "R1", dt.date(2025, 2, 12))])
    out = wb("payments", "post", path, "--nsf-fee", "2500").stdout
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line.startswith("  ")}
    counts = {}
    for label, line in lines.items():
        count, cents = line[len("  " + label):].split()[:2]
        counts[label] = (int(count), round(float(cents.replace(",", "")) * 100))
    assert "lockbox.bai: 3 items, 160.00" in out  # 100.00 + 30.00 + 30.00
    assert counts == {"applied to accounts": (2, 13000), "unapplied (queue)": (0, 0),
                      "returns (reversed)": (1, 3000), "rejected": (0, 0), "ignored": (0, 0)}
    assert "returned-payment fees charged: 25.00" in lines["returns (reversed)"]
    assert tuple(map(sum, zip(*counts.values(), strict=True))) == (3, 16000)
    # B1 100.00 paid in full; B2 80.00 + 60.00 owed again (its 30.00 returned) + the 25.00 fee
    assert _receivable(wb.engine, "B1") == 0 and _receivable(wb.engine, "B2") == 8000 + 6000 + 2500
    _check(wb.engine)
