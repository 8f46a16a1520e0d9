"""Hostile receivables commands: ``ledger late-fees``, ``ledger deposits``, ``ledger budget``, ``payments apply``
given a rate without its % sign, a money-costing default left out, an amount of three decimals, an unknown
account or payment. Each is refused in one line naming the argument and what was expected, and the journal is
left as it was. Each case runs on a fresh SQLite ledger with one account (A1, one 100.00 bill) and one
payment in the unapplied-cash queue."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from workbench.ledger.db import new_session
from workbench.ledger.models import JournalEntry
from workbench.ledger.payments import apply_payments

from ._cli import assert_ok, assert_refused, run_in_process
from ._ledger import ledger_with_a_bill

LATE = ["ledger", "late-fees", "--as-of", "2025-03-23"]


@pytest.fixture
def wb(tmp_path, capsys):
    url, engine = ledger_with_a_bill(tmp_path)
    with new_session(engine) as session:
        apply_payments(session, pd.DataFrame([dict(item_id="U1", account="Z9", amount_cents=4000,
                                                   paid_on=dt.date(2025, 2, 10), kind="payment")]), checksum="u")

    def run(*args):
        before = _journal(engine)
        out = run_in_process([*args, "--db", url], capsys)
        if out.status:
            assert _journal(engine) == before, "a refused command changed the journal"
        return out

    yield run
    engine.dispose()


def _journal(engine) -> int:
    with new_session(engine) as session:
        return session.scalar(select(func.count()).select_from(JournalEntry))


@pytest.mark.parametrize("rate", ["1.5", "0.015", "abc%", "nan%", "inf%", "-1%", "100%", "1.5%%", "%", "1e1", "1e1%", "0x10%", " 1.5 %"])
def test_late_fee_rate_without_a_percent_sign_or_out_of_range(wb, rate):
    """A late-fee rate of 1.5, 0.015, nan%, -1%, 100%, 1.5%%, %, 1e1% or 0x10%: refused naming --rate and 'e.g. 1.5%'."""
    assert_refused(wb(*LATE, f"--rate={rate}", "--grace-days", "5"), "--rate", "with a % sign", "e.g. 1.5%")


@pytest.mark.parametrize("missing,named", [(["--rate", "1.5%"], "--grace-days"), (["--grace-days", "5"], "--rate")])
def test_late_fees_without_a_rate_or_grace_days(wb, missing, named):
    """Late fees with no --rate or no --grace-days (a default that costs customers money): refused naming it."""
    assert_refused(wb(*LATE, *missing), named, "required")


@pytest.mark.parametrize("days", ["-1", "five", "2.5", "400"])
def test_late_fee_grace_days_not_a_day_count(wb, days):
    """Grace days of -1, five, 2.5 or 400: refused naming --grace-days and the range 0 to 365."""
    assert_refused(wb(*LATE, "--rate", "1.5%", "--grace-days", days), "--grace-days", "0 to 365")


def test_deposit_interest_without_a_rate(wb):
    """Deposit interest with no --rate, or --rate 2 (no % sign): refused naming --rate."""
    assert_refused(wb("ledger", "deposits", "interest", "--as-of", "2025-03-01"), "--rate", "required")
    assert_refused(wb("ledger", "deposits", "interest", "--as-of", "2025-03-01", "--rate", "2"), "--rate", "% sign")


@pytest.mark.parametrize("amount", ["12.345", "1e3", "-5", "NaN", "inf", "0", "0.00", "12,00", "$12", " ", "1" * 12])
def test_deposit_amount_not_dollars_and_cents(wb, amount):
    """A deposit of 12.345, 1e3, -5, NaN, inf, 0, 12,00, $12, blank or 12 digits: refused naming the amount."""
    assert_refused(wb("ledger", "deposits", "take", "A1", amount, "--on", "2025-01-01"), "amount",
                   "at most two decimals")


def test_deposit_of_an_unknown_account(wb):
    """A deposit taken or refunded for an account not in the ledger: refused naming the account."""
    assert_refused(wb("ledger", "deposits", "take", "NOPE", "200", "--on", "2025-01-01"), "account NOPE",
                   "not in the ledger")
    assert_refused(wb("ledger", "deposits", "refund", "NOPE", "--on", "2025-01-01"), "account NOPE", "not in the ledger")


def test_deposit_date_not_a_date(wb):
    """A deposit --on 2025-02-30: refused naming --on and YYYY-MM-DD."""
    assert_refused(wb("ledger", "deposits", "take", "A1", "200", "--on", "2025-02-30"), "--on", "YYYY-MM-DD")


@pytest.mark.parametrize("extra,fragments", [
    ([], ("one of the arguments --installment --levelize is required",)),
    (["--installment", "80", "--levelize", "12"], ("--levelize", "not allowed with", "--installment")),
    (["--installment", "80.001"], ("--installment", "at most two decimals")),
    (["--levelize", "0"], ("--levelize", "1 to 36")),
])
def test_budget_start_without_one_installment_rule(wb, extra, fragments):
    """A budget plan with neither or both of --installment/--levelize, 80.001 dollars or 0 months: refused."""
    assert_refused(wb("ledger", "budget", "start", "A1", "--settle-month", "9", "--on", "2025-03-01", *extra),
                   *fragments)


@pytest.mark.parametrize("month", ["0", "13", "sept"])
def test_budget_settle_month_not_a_month(wb, month):
    """A settle-up month of 0, 13 or sept: refused naming --settle-month and 1 to 12."""
    assert_refused(wb("ledger", "budget", "start", "A1", "--settle-month", month, "--installment", "80",
                      "--on", "2025-03-01"), "--settle-month", "1 to 12")


def test_budget_levelized_with_no_bills(wb):
    """Levelizing an account with no posted bill, or an unknown one: refused naming the account."""
    assert_refused(wb("ledger", "budget", "start", "Z9", "--settle-month", "9", "--levelize", "12", "--on",
                      "2025-03-01"), "account Z9", "not in the ledger")


@pytest.mark.parametrize("args,fragments", [
    (["99", "--account", "A1"], ("payment 99", "no such payment")),
    (["abc", "--account", "A1"], ("payment_id", "whole number")),
    (["1", "--account", "NOPE"], ("account NOPE", "not in the ledger")),
    (["1", "--account", "A1", "--on", "2025-02-01"], ("--on 2025-02-01", "before the payment was received")),
    (["1", "--account", "A1", "--on", "2999-01-01"], ("--on 2999-01-01", "after today")),
])
def test_apply_unknown_payment_or_account(wb, args, fragments):
    """Applying payment 99 (unknown), abc, to account NOPE, before it came in or in the future: refused."""
    assert_refused(wb("payments", "apply", *args, "--who", "jdoe", "--why", "stub"), *fragments)


def test_apply_twice_and_without_who_why(wb):
    """A queued payment applied twice, or with a blank --who/--why: refused in one line; the first applies."""
    assert_refused(wb("payments", "apply", "1", "--account", "A1", "--who", " ", "--why", "stub"), "--who", "--why")
    assert_refused(wb("payments", "apply", "1", "--account", "A1", "--who", "x" * 65, "--why", "stub"), "--who", "64")
    assert_ok(wb("payments", "apply", "1", "--account", "A1", "--who", "jdoe", "--why", "stub"))
    assert_refused(wb("payments", "apply", "1", "--account", "A1", "--who", "jdoe", "--why", "again"),
                   "payment 1", "already applied", "account A1")
    assert_ok(wb("ledger", "check"))


def test_report_over_a_file_it_did_not_write(wb, tmp_path):
    """`payments unapplied --out` naming an existing file of other content: refused; the file is kept."""
    precious = tmp_path / "notes.csv"
    precious.write_text("my,own\nnotes,here\n")
    assert_refused(wb("payments", "unapplied", "--out", precious), "--out", "not a report this command wrote")
    assert precious.read_text() == "my,own\nnotes,here\n"


@pytest.mark.parametrize("command", [
    [*LATE, "--rate", "1.5%", "--grace-days", "5"],
    ["ledger", "deposits", "interest", "--as-of", "2025-12-31", "--rate", "2%"],
])
def test_charge_with_an_out_it_may_not_write(wb, tmp_path, command):
    """`ledger late-fees` / `deposits interest` with --out naming a file of other content: refused before anything is charged or credited (it used to charge the fees, then refuse the file saying "nothing was changed"); the file is kept."""
    assert_ok(wb("ledger", "deposits", "take", "A1", "200", "--on", "2025-01-02"))
    precious = tmp_path / "notes.csv"
    precious.write_text("my,own\nnotes,here\n")
    assert_refused(wb(*command, "--out", precious), "--out", "not a report this command wrote", "nothing was changed")
    assert precious.read_text() == "my,own\nnotes,here\n"
    assert_ok(wb(*command, "--out", tmp_path / "report.csv"))  # the same charge, to a new file: something to charge
    assert_ok(wb(*command, "--out", tmp_path / "report.csv"))  # and its own report is replaced


@pytest.mark.parametrize("command", [
    ["ledger", "aging", "--as-of", "2025-03-23"],
    ["ledger", "arrange", "list", "--as-of", "2025-03-23"],
    ["ledger", "late-fees", "--as-of", "2025-03-23", "--rate", "1.5%", "--grace-days", "5", "--dry-run"],
])
def test_listing_with_an_out_it_may_not_write_prints_one_line(wb, tmp_path, command):
    """`ledger aging` / `arrange list` / `late-fees --dry-run` with --out naming a file of other content: one line on stderr and nothing on stdout (not the table, then the error)"""
    precious = tmp_path / "notes.csv"
    precious.write_text("my,own\nnotes,here\n")
    out = wb(*command, "--out", precious)
    assert_refused(out, "--out", "not a report this command wrote")
    assert out.stdout == ""
    assert precious.read_text() == "my,own\nnotes,here\n"
