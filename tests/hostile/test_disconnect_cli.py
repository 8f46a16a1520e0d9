"""Hostile disconnection commands: ``ledger disconnects`` with a bad day, a broken or missing rules file, an --out
that is not its report; ``ledger disconnect`` of an unknown account, one with no final notice, before the
notice's date, on a day after today, without who, of an account that paid or is already disconnected;
``ledger reconnect`` of an account not disconnected, before its disconnection, with no fee set, a fee not in
cents, --without-payment without --why, the debt unpaid; ``ledger settings --reconnect-fee`` without who or
in dollars; two clerks recording the same disconnection at once. Each is refused in one line naming the
argument and what was expected, and no service order or journal entry is written. Each case runs on a fresh
SQLite ledger: A1 (one 100.00 bill due 2025-02-21) got a final notice on 2025-04-07 (disconnection on or
after 2025-04-17); A2 has nothing past due and no notice; no reconnection fee is set."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

import workbench.ledger.service_orders as service_orders
from workbench.ledger.db import new_session
from workbench.ledger.models import JournalEntry, LedgerSetting, ServiceOrder
from workbench.ledger.payments import apply_payments
from workbench.ledger.posting import post_bills

from ._cli import assert_ok, assert_refused, run_in_process
from ._ledger import ledger_with_a_bill

ACCOUNTS = ("account_number,customer_name,service_address,meter_id,rate_code,customer_class,opening_date\n"
            "A1,Ann Able,1 Elm St,M1,RES,RES,2025-01-01\n"
            "A2,Bob Best,2 Elm St,M2,RES,RES,2025-01-01\n")
RULES = ("reminder: {past_due_days: 15}\nfinal: {past_due_days: 45, min_past_due: 50.00, notice_days: 10}\n"
         "protections: {medical_certificates: {}, moratorium: {months: [12, 1, 2], dates: []}}\n")


@pytest.fixture
def wb(tmp_path, capsys):
    url, engine = ledger_with_a_bill(tmp_path, ACCOUNTS)
    (tmp_path / "rules.yaml").write_text(RULES)
    assert_ok(run_in_process(["ledger", "notices", "--as-of", "2025-04-07", "--rules", tmp_path / "rules.yaml",
                              "--out", tmp_path / "n", "--pdfs", "0", "--db", url], capsys))

    def state():
        with new_session(engine) as session:
            return [session.scalar(select(func.count()).select_from(m)) for m in (ServiceOrder, JournalEntry,
                                                                                  LedgerSetting)]

    def run(*args):
        before = state()
        out = run_in_process([*args, "--db", url], capsys)
        if out.status:
            assert state() == before, "a refused command wrote a service order, a journal entry or a setting"
        return out

    def pay(cents, day):
        with new_session(engine) as session:
            apply_payments(session, pd.DataFrame([dict(item_id=f"P{cents}", account="A1", amount_cents=cents,
                                                       kind="payment", paid_on=day)]), checksum=f"p{cents}")

    def bill(start, end, dollars):
        with new_session(engine) as session:
            post_bills(session, None, pd.DataFrame([dict(
                meter="M1", account="A1", customer_class="RES", rate_code="RES", period_start=start, period_end=end,
                days=(end - start).days + 1, delivered_kwh=400.0, total=dollars)]), pd.DataFrame([dict(
                    meter="M1", period_start=start, line=1, description="Energy", amount=dollars)]))

    run.tmp, run.pay, run.bill = tmp_path, pay, bill
    yield run
    engine.dispose()


def _cut(wb, *extra, on="2025-04-21", account="A1"):
    return wb("ledger", "disconnect", "--account", account, "--on", on, "--who", "crew7", *extra)


def _back(wb, *extra, on="2025-04-22"):
    return wb("ledger", "reconnect", "--account", "A1", "--on", on, "--who", "crew7", *extra)


@pytest.mark.parametrize("args,says", [
    (["--as-of", "2025-04-31"], "--as-of"),
    (["--as-of", "2025-04-21", "--rules", "{tmp}/nope.yaml"], "nope.yaml"),
    (["--as-of", "2025-04-21", "--rules", "{tmp}/accounts.csv"], "accounts.csv"),
])
def test_disconnects_bad_day_or_rules(wb, args, says):
    """`ledger disconnects` on 2025-04-31, with a rules file that does not exist or is not the rules: refused naming it"""
    assert_refused(wb("ledger", "disconnects", *[a.replace("{tmp}", str(wb.tmp)) for a in args]), says)


def test_disconnects_recorded_rules_file_gone(wb):
    """`ledger disconnects` without --rules when the rules file the notices were issued under is gone: refused naming it and --rules"""
    (wb.tmp / "rules.yaml").unlink()
    assert_refused(wb("ledger", "disconnects", "--as-of", "2025-04-21"), "rules.yaml", "give --rules FILE")


def test_disconnects_recorded_relative_rules_from_another_folder(tmp_path, capsys):
    """`ledger disconnects` run from another folder than the `ledger notices` that recorded a relative rules path: refused naming the folder it was read from (a bare 'cannot be read' left the clerk looking at a file that is there)"""
    url, engine = ledger_with_a_bill(tmp_path, ACCOUNTS)
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "elsewhere").mkdir()
    assert_ok(run_in_process(["ledger", "notices", "--as-of", "2025-04-07", "--rules", "rules.yaml", "--out", "n",
                              "--pdfs", "0", "--db", url], capsys, cwd=tmp_path))
    out = run_in_process(["ledger", "disconnects", "--as-of", "2025-04-21", "--db", url], capsys,
                         cwd=tmp_path / "elsewhere")
    assert_refused(out, "rules.yaml", f"a relative path read from this folder ({tmp_path / 'elsewhere'})",
                   "give --rules FILE")
    engine.dispose()


def test_disconnects_out_not_its_report(wb):
    """`ledger disconnects --out` a file that is not this command's report: refused in one line before the list is printed (not the list, then the error), the file kept"""
    (wb.tmp / "mine.csv").write_text("a,b\n1,2\n")
    out = wb("ledger", "disconnects", "--as-of", "2025-04-21", "--out", wb.tmp / "mine.csv")
    assert_refused(out, "mine.csv", "not a report")
    assert out.stdout == ""
    assert (wb.tmp / "mine.csv").read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("account,on,says", [
    ("Z9", "2025-04-21", "account Z9: not in the ledger"),
    ("A2", "2025-04-21", "no final notice was issued"),
    ("A1", "2025-04-16", "before the disconnection date 2025-04-17 of final notice"),
    ("A1", "2099-01-01", "after today"),
    ("A1", "2025-02-30", "--on"),
])
def test_disconnect_refused(wb, account, on, says):
    """`ledger disconnect` of an unknown account, of one never sent a final notice, before the notice's date, in the future, on a day that does not exist"""
    assert_refused(_cut(wb, account=account, on=on), says)


def test_disconnect_without_who(wb):
    """`ledger disconnect --who ' '`: refused (who disconnected it is recorded)"""
    assert_refused(wb("ledger", "disconnect", "--account", "A1", "--on", "2025-04-21", "--who", " "), "--who: empty")


def test_disconnect_an_account_that_paid(wb):
    """`ledger disconnect` of an account that paid its past-due amount after the notice: refused with the reason"""
    wb.pay(10000, dt.date(2025, 4, 18))
    assert_refused(_cut(wb), "not on the disconnect list on 2025-04-21", "paid since: 0.00 of the 100.00 noticed")


def test_disconnect_before_a_newer_notices_date(wb):
    """`ledger disconnect` of an account whose first final notice was paid and whose second one's date has not come: refused naming the second notice's date, not the paid one"""
    wb.pay(10000, dt.date(2025, 4, 18))
    wb.bill(dt.date(2025, 2, 1), dt.date(2025, 2, 28), 80.0)  # due 2025-03-21; 45 days past due on 05-05
    assert_ok(wb("ledger", "notices", "--as-of", "2025-05-05", "--rules", wb.tmp / "rules.yaml", "--out",
                 wb.tmp / "n2", "--pdfs", "0"))
    assert_refused(_cut(wb, on="2025-05-10"), "--on 2025-05-10 is before the disconnection date 2025-05-15 of "
                   "final notice 2")


def test_disconnect_twice(wb):
    """`ledger disconnect` of an account already disconnected: refused, naming the day"""
    assert_ok(_cut(wb))
    assert_refused(_cut(wb, on="2025-04-22"), "already disconnected on 2025-04-21")


def test_two_clerks_disconnect_at_once(wb, monkeypatch):
    """Two clerks record the same disconnection at once (the second read the account before the first committed): the ledger's unique key refuses the second, nothing of it recorded"""
    assert_ok(_cut(wb))
    stale = service_orders.plan_disconnects  # what the second clerk saw: the list before the first committed
    monkeypatch.setattr(service_orders, "plan_disconnects", lambda s, r, on, ids: [
        type(row)(**{**row.__dict__, "listed": True, "reason": ""}) for row in stale(s, r, on, ids)])
    monkeypatch.setattr(service_orders, "account_orders", lambda s, ids, through=None: {})
    assert_refused(_cut(wb), "another service order was recorded for it at the same time")


def test_reconnect_not_disconnected(wb):
    """`ledger reconnect` of an account never disconnected: refused"""
    assert_refused(_back(wb, "--fee-cents", "3500"), "account A1: not disconnected", "no disconnection is recorded")


def test_reconnect_refused_after_a_disconnection(wb):
    """`ledger reconnect` before the disconnection, with no fee set, with a fee in dollars, --without-payment without --why, --why alone, the debt unpaid, no due date for the fee, a due date before the reconnection, more than 90 days after it or not a date: each refused"""
    assert_ok(_cut(wb))
    assert_refused(_back(wb, "--fee-cents", "3500", on="2025-04-20"), "before its disconnection on 2025-04-21")
    assert_refused(_back(wb, "--without-payment", "--why", "heat advisory"),
                   "reconnection fee, but this ledger has none set", "--reconnect-fee CENTS --who NAME",
                   "--fee-cents CENTS")
    assert_refused(_back(wb, "--fee-cents", "35.00"), "--fee-cents", "a fee in cents")
    assert_refused(_back(wb, "--fee-cents", "3500", "--without-payment"), "--without-payment needs --why")
    assert_refused(_back(wb, "--fee-cents", "3500", "--why", "x"), "--why goes with --without-payment")
    assert_refused(_back(wb, "--fee-cents", "3500"), "100.00 still past due on 2025-04-22", "--without-payment")
    assert_refused(_back(wb, "--fee-cents", "3500", "--without-payment", "--why", "supervisor: heat advisory"),
                   "does not say when service charges are due", "--fee-due-days N --who NAME", "--fee-due-on")
    assert_refused(_back(wb, "--fee-cents", "3500", "--without-payment", "--why", "heat", "--fee-due-on",
                         "2025-04-21"), "--fee-due-on 2025-04-21 is before the reconnection on 2025-04-22")
    assert_refused(_back(wb, "--fee-cents", "3500", "--without-payment", "--why", "heat", "--fee-due-on",
                         "12 May"), "--fee-due-on")
    assert_refused(_back(wb, "--fee-cents", "3500", "--without-payment", "--why", "heat", "--fee-due-on",
                         "2026-05-12"), "--fee-due-on 2026-05-12 is 385 days after the reconnection", "at most 90")
    assert_ok(_back(wb, "--fee-cents", "3500", "--without-payment", "--why", "supervisor: heat advisory",
                    "--fee-due-on", "2025-05-12"))
    assert_refused(_back(wb, "--fee-cents", "3500", on="2025-04-23"), "not disconnected",
                   "reconnection on 2025-04-22")


def test_reconnect_unpaid_with_no_fee_set_names_the_debt(wb):
    """`ledger reconnect` of an account whose debt is unpaid, on a ledger with no reconnection fee set: refused naming the 100.00 past due (what stops it), not the missing fee (setting one would not let it through)"""
    assert_ok(_cut(wb))
    out = _back(wb)
    assert_refused(out, "100.00 still past due on 2025-04-22", "--without-payment")
    assert "reconnection fee" not in out.stderr


@pytest.mark.parametrize("args,says", [
    (["--reconnect-fee", "3500"], "--reconnect-fee and --who go together"),
    (["--reconnect-fee", "35.00", "--who", "ana"], "--reconnect-fee"),
    (["--reconnect-fee", "3500", "--who", "  "], "--who: empty"),
    (["--fee-due-days", "20"], "--fee-due-days and --who go together"),
    (["--fee-due-days", "91", "--who", "ana"], "--fee-due-days"),
    (["--fee-due-days", "-1", "--who", "ana"], "--fee-due-days"),
    (["--fee-due-days", "20", "--who", "  "], "--who: empty"),
])
def test_settings_reconnect_fee_refused(wb, args, says):
    """`ledger settings --reconnect-fee` / `--fee-due-days` without who, out of range, with a blank who: refused"""
    assert_refused(wb("ledger", "settings", *args), says)
