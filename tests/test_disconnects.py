"""After the final notice: the disconnect list (``ledger disconnects``), disconnections and reconnections with the
reconnection fee (``ledger disconnect`` / ``ledger reconnect``), on a hand-built ledger, on SQLite and on a real
PostgreSQL server. Every expected amount, date and reason is worked by hand in the comments."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import delete, func, select, update

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.hostile._cli import assert_ok, run_in_process
from tests.test_ledger import bills_of, pays
from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.check import check_ledger, reconcile_day
from workbench.ledger.db import _alembic_config, current_revision, init_ledger, new_session, open_ledger
from workbench.ledger.models import Account, Adjustment, CollectionNotice, JournalEntry, ServiceOrder
from workbench.ledger.payments import apply_payments
from workbench.ledger.posting import post_bills
from workbench.ledger.receivables import aging, balances

ACCOUNTS = """account_number,customer_name,service_address,mailing_address,meter_id,rate_code,customer_class,cycle,opening_balance,opening_date,deposit
D1,Ann Able,1 Elm St,,M1,RES,RES,1,,2025-01-01,
D2,Bob Best,2 Elm St,,M2,RES,RES,1,,2025-01-01,
D3,Cat Cole,3 Oak Ave,,M3,RES,RES,1,,2025-01-01,
D4,Dan Dorr,4 Oak Ave,,M4,RES,RES,1,,2025-01-01,
D5,Eve East,5 Pine Rd,,M5,RES,RES,1,,2025-01-01,
"""
RULES = """reminder: {past_due_days: 15}
final: {past_due_days: 45, min_past_due: 50.00, notice_days: 10}
protections:
  medical_certificates: %s
  moratorium: {months: [12, 1, 2], dates: %s}
"""
# The January bills (bill date 2025-01-31) are due 2025-02-21; on 2025-04-07 they are 45 days past due and every
# one is at least 50.00: five final notices, disconnection on or after 2025-04-17 (04-07 + 10 days).
NOTICE_DAY, CUT_FROM, FIELD_DAY = dt.date(2025, 4, 7), dt.date(2025, 4, 17), dt.date(2025, 4, 21)


@pytest.fixture(params=["sqlite", "postgresql"])
def wb(request, tmp_path, capsys):
    url = (f"sqlite:///{tmp_path / 'ledger.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("fresh_pg_url"))
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    engine, _, _ = init_ledger(url)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
        post_bills(session, None, *bills_of(dt.date(2025, 1, 1), dt.date(2025, 1, 31), [
            ("D1", "M1", "RES", "RES", [("Energy", 100.00)]),    # unpaid: on the list
            ("D2", "M2", "RES", "RES", [("Energy", 120.00)]),    # pays 80.00: 40.00 left < 50.00
            ("D3", "M3", "RES", "RES", [("Energy", 90.00)]),     # arrangement after the notice
            ("D4", "M4", "RES", "RES", [("Energy", 150.00)]),    # medical certificate after the notice
            ("D5", "M5", "RES", "RES", [("Energy", 80.00)])]))   # pays in full

    rules_file = tmp_path / "notices.yaml"
    rules_file.write_text(RULES % ("{}", "[]"))

    def rules(certificates="{}", dates="[]"):
        path = tmp_path / f"rules-{len(list(tmp_path.glob('rules-*')))}.yaml"
        path.write_text(RULES % (certificates, dates))
        return path

    def run(*args, ok=True):
        out = run_in_process([*args, "--db", url], capsys)
        if ok:
            assert_ok(out)
        return out

    def pay(*rows):
        with new_session(engine) as session:
            apply_payments(session, pays(*rows))

    run("ledger", "notices", "--as-of", NOTICE_DAY, "--rules", rules_file, "--out", tmp_path / "n", "--pdfs", "0")
    run.engine, run.rules, run.tmp, run.pay = engine, rules, tmp_path, pay
    yield run
    engine.dispose()


def _list(wb, day, *extra) -> pd.DataFrame:
    out = wb.tmp / f"disconnects-{day}-{len(list(wb.tmp.glob('disconnects-*')))}.csv"
    wb("ledger", "disconnects", "--as-of", day, "--out", out, *extra)
    return pd.read_csv(out, dtype=str, keep_default_na=False).set_index("account")


def _orders(engine) -> list[tuple]:
    with new_session(engine) as session:
        return [tuple(r) for r in session.execute(select(
            ServiceOrder.seq, ServiceOrder.kind, ServiceOrder.order_date, ServiceOrder.made_by,
            ServiceOrder.past_due_cents, ServiceOrder.fee_cents, ServiceOrder.without_payment)
            .order_by(ServiceOrder.id))]


def _state(engine) -> tuple:
    with new_session(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (ServiceOrder, JournalEntry))


def test_the_list_rechecks_each_final_notice_on_the_day(wb):
    # before the disconnection date: no final notice is past it, the list is empty
    early = wb("ledger", "disconnects", "--as-of", CUT_FROM - dt.timedelta(days=1))
    assert "0 final notice(s) past their disconnection date" in early.stdout
    wb.pay(("p2", "D2", 8000, dt.date(2025, 4, 15)),   # 120.00 - 80.00 = 40.00 unpaid, under 50.00
           ("p5", "D5", 8000, dt.date(2025, 4, 16)))   # paid in full
    # D3: 90.00 in 3 installments from 05-01: none due by 04-21, past due 90.00 <= 90.00 not yet due: good standing
    wb("ledger", "arrange", "--account", "D3", "--installments", "3", "--start", "2025-05-01", "--who", "jdoe",
       "--why", "agreed by phone", "--on", "2025-04-10")
    before = _state(wb.engine)
    shown = wb("ledger", "disconnects", "--as-of", FIELD_DAY)
    assert f"rules: {wb.tmp / 'notices.yaml'} (recorded with the notices)" in shown.stdout
    assert "5 final notice(s) past their disconnection date: 2 to disconnect" in shown.stdout
    assert "not in the ledger" not in shown.stderr
    table = _list(wb, FIELD_DAY)  # the rules the notices were issued under (recorded), read again
    assert _state(wb.engine) == before  # nothing written
    assert list(table.index) == ["D1", "D4", "D2", "D3", "D5"]  # the listed first, then the others; all five
    assert table.loc["D1", "disconnect"] == "yes" and table.loc["D1", "unpaid"] == "100.00"
    assert table.loc["D1", "disconnect_on"] == str(CUT_FROM) and table.loc["D1", "reason"] == ""
    assert table.loc["D4", "disconnect"] == "yes" and table.loc["D4", "unpaid"] == "150.00"
    assert table.loc["D2", "disconnect"] == "no" and table.loc["D2", "noticed"] == "120.00"
    assert table.loc["D2", "reason"] == "paid since: 40.00 of the 120.00 noticed still unpaid, under the minimum 50.00"
    assert table.loc["D3", "reason"].startswith("payment arrangement ")
    assert table.loc["D3", "reason"].endswith(" in good standing")
    assert table.loc["D5", "reason"].startswith("paid since: 0.00 of the 80.00 noticed")
    # a medical certificate brought after the notice, valid on the day: D4 is off the list
    later = _list(wb, FIELD_DAY, "--rules", wb.rules(certificates="{D4: 2025-06-30}"))
    assert later.loc["D4", "disconnect"] == "no" and later.loc["D4", "reason"] == \
        "medical certificate valid through 2025-06-30"
    # "D04" for D4: the certificate protects no one and D4 stays on the list: said, on stderr
    typo = wb("ledger", "disconnects", "--as-of", FIELD_DAY, "--rules", wb.rules(certificates="{D04: 2025-06-30}"))
    assert "medical_certificates names 1 account(s) not in the ledger (D04): they protect no one" in typo.stderr
    assert "2 to disconnect" in typo.stdout
    # ... and a moratorium date: nobody is disconnected that day
    none = _list(wb, FIELD_DAY, "--rules", wb.rules(dates="[2025-04-21]"))
    assert (none["disconnect"] == "no").all()
    assert none.loc["D1", "reason"] == "the day 2025-04-21 is a moratorium date"
    # D3 misses its first installment (30.00 due 05-01): on 05-02 it is back on the list with its 90.00
    again = _list(wb, dt.date(2025, 5, 2))
    assert again.loc["D3", "disconnect"] == "yes" and again.loc["D3", "unpaid"] == "90.00"


def test_disconnect_reconnect_and_the_fee(wb):
    # disconnection before the notice's date: refused
    early = wb("ledger", "disconnect", "--account", "D1", "--on", CUT_FROM - dt.timedelta(days=1), "--who", "crew7",
               ok=False)
    assert early.status == 2 and "before the disconnection date 2025-04-17" in early.stderr
    wb.pay(("p2", "D2", 8000, dt.date(2025, 4, 15)))
    paid = wb("ledger", "disconnect", "--account", "D2", "--on", FIELD_DAY, "--who", "crew7", ok=False)
    assert paid.status == 2 and "not on the disconnect list on 2025-04-21: paid since" in paid.stderr
    wb("ledger", "disconnect", "--account", "D1", "--on", FIELD_DAY, "--who", "crew7")
    wb("ledger", "disconnect", "--account", "D4", "--on", FIELD_DAY, "--who", "crew7")
    assert _orders(wb.engine) == [(1, "disconnect", FIELD_DAY, "crew7", 10000, 0, False),
                                  (1, "disconnect", FIELD_DAY, "crew7", 15000, 0, False)]
    twice = wb("ledger", "disconnect", "--account", "D1", "--on", dt.date(2025, 4, 22), "--who", "crew7", ok=False)
    assert twice.status == 2 and "already disconnected on 2025-04-21" in twice.stderr
    assert _list(wb, dt.date(2025, 4, 22)).loc["D1", "reason"].startswith("already disconnected on 2025-04-21")

    # reconnection: D1 still owes 100.00: refused naming that, first (no fee is set, but setting one would not help);
    # paid or not, with no fee set and none given: refused
    no_fee = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7", ok=False)
    assert no_fee.status == 2 and "100.00 still past due on 2025-04-22" in no_fee.stderr
    no_fee = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7", "--without-payment",
                "--why", "x", ok=False)
    assert no_fee.status == 2 and "reconnection fee, but this ledger has none set" in no_fee.stderr
    wb("ledger", "settings", "--reconnect-fee", "3500", "--who", "ana")
    # the fee set but not when it is due: refused (paid up, so the due date is what stops it), nothing recorded
    wb.pay(("p1", "D1", 10000, dt.date(2025, 4, 22)))
    undated = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7", ok=False)
    assert undated.status == 2 and "does not say when service charges are due" in undated.stderr
    assert len(_orders(wb.engine)) == 2
    # due 20 days after it is charged (with the next bill): 2025-04-22 + 20 = 2025-05-12
    wb("ledger", "settings", "--fee-due-days", "20", "--who", "ana")
    owes = wb("ledger", "reconnect", "--account", "D4", "--on", "2025-04-22", "--who", "crew7", ok=False)
    assert owes.status == 2 and "150.00 still past due on 2025-04-22" in owes.stderr
    assert _state(wb.engine)[0] == 2
    # D1 paid its 100.00 on 04-22 and is reconnected the same day: the 35.00 fee is its only balance, due 05-12
    done = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7")
    assert "past-due amount paid; reconnection fee 35.00 charged, due 2025-05-12" in done.stdout
    # D4 is reconnected with its 150.00 unpaid (a heat advisory), no fee for it: recorded as such
    wb("ledger", "reconnect", "--account", "D4", "--on", "2025-04-22", "--who", "sup", "--without-payment",
       "--why", "heat advisory", "--fee-cents", "0")
    assert _orders(wb.engine)[2:] == [(2, "reconnect", dt.date(2025, 4, 22), "crew7", 0, 3500, False),
                                      (2, "reconnect", dt.date(2025, 4, 22), "sup", 15000, 0, True)]
    with new_session(wb.engine) as session:
        fees = session.execute(select(JournalEntry.kind, JournalEntry.amount_cents, JournalEntry.posted_on,
                                      JournalEntry.due_on, Adjustment.made_by)
                               .join(Adjustment, Adjustment.id == JournalEntry.adjustment_id)
                               .where(JournalEntry.kind == "reconnect_fee")).all()
        assert [tuple(f) for f in fees] == [("reconnect_fee", 3500, dt.date(2025, 4, 22), dt.date(2025, 5, 12), "crew7")]
        bal = balances(session).set_index("account")["receivable"]
        assert int(bal["D1"]) == 3500 and int(bal["D4"]) == 15000  # 100.00 - 100.00 + 35.00; 150.00 unpaid
        assert check_ledger(session) == []
        day, breaks = reconcile_day(session, dt.date(2025, 4, 22))
        assert breaks == []
        fee_row = day[(day.section == "receivables") & (day.item == "fees")].iloc[0]
        assert (fee_row["count"], fee_row["cents"]) == (1, 3500)
        reason = session.scalar(select(ServiceOrder.reason).where(ServiceOrder.made_by == "sup"))
        assert reason == "without payment (150.00 past due): heat advisory"
    again = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-23", "--who", "crew7", ok=False)
    assert again.status == 2 and "not disconnected (its last service order is a reconnection on 2025-04-22" in again.stderr
    # the notice D1 was disconnected for is used: it is not listed again
    assert _list(wb, dt.date(2025, 4, 23)).loc["D1", "reason"].startswith("acted on: disconnected on 2025-04-21")
    # the GL export of the example chart maps the new fee (debits = credits checked)
    wb("ledger", "gl-export", "--from", "2025-04-22", "--to", "2025-04-22", "--chart", "docs/examples/gl-chart.yaml",
       "--out", wb.tmp / "gl.csv")
    gl = pd.read_csv(wb.tmp / "gl.csv", dtype=str)
    assert "451 Miscellaneous service revenues" in set(gl["gl_account"])
    # the record of work done cannot be edited or removed, in the database itself
    for change in (update(ServiceOrder).values(made_by="someone else"), delete(ServiceOrder)):
        with new_session(wb.engine) as session, pytest.raises(Exception, match="append-only"):
            session.execute(change)
    assert len(_orders(wb.engine)) == 4
    # `ledger check` finds a reconnection fee in the journal that no reconnection charged
    with new_session(wb.engine) as session:
        session.add(JournalEntry(account_id=session.scalar(select(Account.id).where(Account.account_number == "D2")),
                                 book="receivable", posted_on=dt.date(2025, 4, 22), kind="reconnect_fee",
                                 amount_cents=3500))
        session.commit()
        assert [b for b in check_ledger(session) if "reconnection" in b] == [
            f"journal entry {session.scalar(select(func.max(JournalEntry.id)))}: a reconnection fee of 35.00 that "
            "no reconnection charged"]


def test_the_recorded_rules_file_gone_is_refused_naming_it(wb):
    (wb.tmp / "notices.yaml").unlink()
    out = wb("ledger", "disconnects", "--as-of", FIELD_DAY, ok=False)
    assert out.status == 2 and "notices.yaml" in out.stderr and "give --rules FILE" in out.stderr
    with new_session(wb.engine) as session:
        assert session.scalar(select(func.count()).select_from(CollectionNotice)) == 5


def test_a_ledger_at_0004_upgrades_keeping_its_data(tmp_path):
    # a ledger made before the service orders (schema 0004) with its accounts: `ledger init` adds the table
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = open_ledger(url, create=True)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0004")
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
    engine.dispose()
    engine, before, after = init_ledger(url)
    assert (before, after) == ("0004", "0007") and current_revision(engine) == "0007"
    with new_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ServiceOrder)) == 0
        assert session.scalar(select(func.count()).select_from(Account)) == 5
    engine.dispose()


def test_reconnected_on_an_arrangement_the_fee_is_warned_of(wb):
    # D1 (100.00 unpaid) is disconnected on 04-21; on 04-22 it agrees 2 installments of 50.00 from 05-01 and is
    # reconnected on that arrangement. The 35.00 fee is charged on 04-22, due that day, and is not in the
    # arrangement: on 04-23 the account is 35.00 past due while no installment is due yet, so the arrangement is
    # broken (behind 35.00). The clerk is told so at the reconnection, not by the next disconnect list.
    wb("ledger", "disconnect", "--account", "D1", "--on", FIELD_DAY, "--who", "crew7")
    wb("ledger", "arrange", "--account", "D1", "--installments", "2", "--start", "2025-05-01", "--on", "2025-04-22",
       "--who", "ana", "--why", "hardship")
    # the utility's rule here: the fee is paid with the reconnection (due the same day)
    done = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7", "--fee-cents", "3500",
              "--fee-due-on", "2025-04-22")
    assert "payment arrangement 1 in good standing; reconnection fee 35.00 charged, due 2025-04-22" in done.stdout
    assert ("warning: account D1: the reconnection fee 35.00 is due on 2025-04-22 and is not part of payment "
            "arrangement 1: unless it is paid that day, the arrangement is broken from 2025-04-23") in done.stderr
    standing = wb("ledger", "arrange", "list", "--as-of", "2025-04-23")
    assert "broken (behind 35.00)" in standing.stdout
    # the fee paid the same day: the arrangement stands, and the same reconnection would have said nothing
    wb.pay(("p1", "D1", 3500, dt.date(2025, 4, 22)))
    assert "good standing" in wb("ledger", "arrange", "list", "--as-of", "2025-04-23").stdout


def test_reconnected_on_an_arrangement_with_no_fee_no_warning(wb):
    wb("ledger", "disconnect", "--account", "D1", "--on", FIELD_DAY, "--who", "crew7")
    wb("ledger", "arrange", "--account", "D1", "--installments", "2", "--start", "2025-05-01", "--on", "2025-04-22",
       "--who", "ana", "--why", "hardship")
    done = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7", "--fee-cents", "0")
    assert "payment arrangement 1 in good standing; no reconnection fee (0)" in done.stdout
    assert "warning" not in done.stderr


def test_reconnected_on_an_arrangement_the_fee_due_with_the_next_bill(wb):
    # As above, but the ledger says service charges are due 20 days after they are charged: the 35.00 fee charged
    # on 04-22 is due 05-12. On 04-23 it is current (aging) and the arrangement (2 x 50.00, 05-01 and 06-01) stands;
    # no warning. The January bill (due 02-21) is 61 days past due on 04-23: 61-90.
    # D1 pays the 05-01 installment (50.00) on 05-01; payments go oldest first, so the January bill has 50.00
    # left. On 05-12 the fee is due that day, not past due: past due 50.00 <= the 50.00 not yet due: good.
    # On 05-13 the fee is 1 day past due (1-30): past due 50.00 + 35.00 = 85.00 > 50.00: broken, behind 35.00.
    wb("ledger", "settings", "--fee-due-days", "20", "--who", "ana")
    wb("ledger", "disconnect", "--account", "D1", "--on", FIELD_DAY, "--who", "crew7")
    wb("ledger", "arrange", "--account", "D1", "--installments", "2", "--start", "2025-05-01", "--on", "2025-04-22",
       "--who", "ana", "--why", "hardship")
    done = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7", "--fee-cents", "3500")
    assert "reconnection fee 35.00 charged, due 2025-05-12" in done.stdout and "warning" not in done.stderr
    assert "good standing" in wb("ledger", "arrange", "list", "--as-of", "2025-04-23").stdout
    with new_session(wb.engine) as session:
        row = aging(session, dt.date(2025, 4, 23)).set_index("account").loc["D1"]
        assert (row["current"], row["1-30"], row["61-90"]) == (3500, 0, 10000)
    wb.pay(("p1", "D1", 5000, dt.date(2025, 5, 1)))
    assert "good standing" in wb("ledger", "arrange", "list", "--as-of", "2025-05-12").stdout
    assert "broken (behind 35.00)" in wb("ledger", "arrange", "list", "--as-of", "2025-05-13").stdout
    with new_session(wb.engine) as session:
        row = aging(session, dt.date(2025, 5, 12)).set_index("account").loc["D1"]
        assert (row["current"], row["1-30"]) == (3500, 0)
        row = aging(session, dt.date(2025, 5, 13)).set_index("account").loc["D1"]
        assert (row["current"], row["1-30"]) == (0, 3500)
        assert check_ledger(session) == []


def test_a_fee_due_before_it_is_charged_is_refused(wb):
    wb("ledger", "disconnect", "--account", "D1", "--on", FIELD_DAY, "--who", "crew7")
    wb.pay(("p1", "D1", 10000, dt.date(2025, 4, 22)))
    out = wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7", "--fee-cents", "3500",
             "--fee-due-on", "2025-04-21", ok=False)
    assert out.status == 2 and "--fee-due-on 2025-04-21 is before the reconnection on 2025-04-22" in out.stderr
    assert len(_orders(wb.engine)) == 1



def test_a_ledger_at_0005_upgrades_keeping_every_balance_and_its_aging(tmp_path):
    # A ledger as the previous version (schema 0005) left it: the January bills (due 2025-02-21), D1's paid 100.00
    # on 04-22 and a 35.00 late fee charged that day with no due date (due when posted), D2's 120.00 paid
    # 80.00. It is written with this version and then given 0005's journal (no due_on column, alembic at 0005).
    # `ledger init` adds the column back; every balance is kept (D1 35.00, D2 40.00, D3 90.00, D4 150.00,
    # D5 80.00) and the old fee is still due when posted: 1 day past due on 04-23 (1-30).
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine, _, _ = init_ledger(url)
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
        post_bills(session, None, *bills_of(dt.date(2025, 1, 1), dt.date(2025, 1, 31), [
            ("D1", "M1", "RES", "RES", [("Energy", 100.00)]), ("D2", "M2", "RES", "RES", [("Energy", 120.00)]),
            ("D3", "M3", "RES", "RES", [("Energy", 90.00)]), ("D4", "M4", "RES", "RES", [("Energy", 150.00)]),
            ("D5", "M5", "RES", "RES", [("Energy", 80.00)])]))
        apply_payments(session, pays(("p1", "D1", 10000, dt.date(2025, 4, 22)), ("p2", "D2", 8000, dt.date(2025, 4, 15))))
        session.add(JournalEntry(account_id=session.scalar(select(Account.id).where(Account.account_number == "D1")),
                                 book="receivable", posted_on=dt.date(2025, 4, 22), kind="late_fee", amount_cents=3500))
        session.commit()
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE carried_charges")  # 0007's, not in a 0005 ledger
        connection.exec_driver_sql("ALTER TABLE journal DROP COLUMN due_on")
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0005'")
    engine.dispose()
    engine, before, after = init_ledger(url)
    assert (before, after) == ("0005", "0007")
    with new_session(engine) as session:
        bal = balances(session).set_index("account")["receivable"]
        assert {k: int(v) for k, v in bal.items()} == {"D1": 3500, "D2": 4000, "D3": 9000, "D4": 15000, "D5": 8000}
        row = aging(session, dt.date(2025, 4, 23)).set_index("account").loc["D1"]
        assert (row["current"], row["1-30"], row["total"]) == (0, 3500, 3500)
        assert session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.due_on.is_not(None))) == 0
    # the journal is still append-only after the column was added
    with new_session(engine) as session, pytest.raises(Exception, match="append-only"):
        session.execute(update(JournalEntry).values(due_on=dt.date(2025, 5, 12)))
    engine.dispose()
