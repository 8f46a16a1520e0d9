"""The ledger on SQLite and on a real PostgreSQL server: init, load, post, hold/release, cancel/rebill, payments,
returns, late fees, deposits, budget billing, aging, check and reconcile. Expected amounts worked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import text

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.check import check_ledger, reconcile_day
from workbench.ledger.db import LedgerError, current_revision, head_revision, init_ledger, new_session
from workbench.ledger.payments import apply_payments
from workbench.ledger.posting import bill_history, cancel_and_rebill, post_bills, release_bill, start_run
from workbench.ledger.receivables import (
    accrue_deposit_interest,
    aging,
    assess_late_fees,
    balances,
    start_budget_plan,
)

ACCOUNTS = """account_number,customer_name,service_address,mailing_address,meter_id,rate_code,customer_class,cycle,opening_balance,opening_date,deposit
A1,Ann Able,1 Elm St,,M1,RES,RES,1,-10.00,2025-01-01,100.00
A2,Bob Best,2 Elm St,PO Box 9,M2,RES,RES,1,25.50,2025-01-01,
A3,Cat Corp,3 Oak Ave,,M3,SGS,SGS,1,,2025-01-01,
"""
JAN, FEB = dt.date(2025, 1, 1), dt.date(2025, 2, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return request.getfixturevalue("fresh_pg_url")


def bills_of(start, end, rows, hold=None):
    """rows: [(account, meter, class, rate, [(description, amount $)])] -> the cycle's two tables."""
    bills, lines = [], []
    for account, meter, cls, rate, items in rows:
        bills.append(dict(meter=meter, account=account, customer_class=cls, rate_code=rate, period_start=start,
                          period_end=end, days=(end - start).days + 1, delivered_kwh=500.0,
                          total=round(sum(a for _, a in items), 2), hold_reason=(hold or {}).get(account, "")))
        for n, (desc, amount) in enumerate(items, start=1):
            lines.append(dict(meter=meter, period_start=start, line=n, description=desc, category="energy",
                              quantity=1.0, unit="", rate=amount, amount=amount))
    return pd.DataFrame(bills), pd.DataFrame(lines)


def pays(*rows):
    """rows: (item_id, account, cents, date[, kind[, original]])."""
    return pd.DataFrame([dict(item_id=r[0], bank="B1", account=r[1], amount_cents=r[2], paid_on=r[3],
                              kind=r[4] if len(r) > 4 else "payment", source=f"test:{i + 1}",
                              original_item_id=r[5] if len(r) > 5 else "") for i, r in enumerate(rows)])


@pytest.fixture
def ledger(url, tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS)
    engine, before, after = init_ledger(url)
    assert (before, after) == (None, head_revision())
    session = new_session(engine)
    counts = load_accounts(session, read_accounts_csv(path))
    assert (counts.accounts, counts.meters, counts.opening_cents) == (3, 3, 1550)
    yield engine, session
    session.close()
    engine.dispose()


def jan_bills():
    return bills_of(JAN, dt.date(2025, 1, 31), [
        ("A1", "M1", "RES", "RES", [("Customer charge", 10.00), ("Energy", 50.50)]),   # 60.50
        ("A2", "M2", "RES", "RES", [("Customer charge", 10.00), ("Energy", 60.25)]),   # 70.25
        ("A3", "M3", "SGS", "SGS", [("Customer charge", 20.00), ("Energy", 180.00)]),  # 200.00
    ], hold={"A3": "high bill: 3x the customer's history"})


def test_init_is_repeatable_and_keeps_data(ledger, url):
    engine, session = ledger
    _, before, after = init_ledger(url)
    assert before == after == head_revision() == current_revision(engine)
    assert session.execute(text("select count(*) from accounts")).scalar() == 3


def test_post_hold_release_rebill_and_history(ledger):
    engine, session = ledger
    bills, lines = jan_bills()
    run = start_run(session, 1, "2025-01", "run-1")
    assert start_run(session, 1, "2025-01", "run-1") == run
    first = post_bills(session, run, bills, lines)
    assert (len(first.posted), len(first.held)) == (2, 1)
    again = post_bills(session, run, bills, lines)
    assert (again.posted, again.held, len(again.already)) == ([], [], 3)
    bal = balances(session).set_index("account")
    # A1: -10.00 opening + 60.50 = 50.50; A2: 25.50 + 70.25 = 95.75; A3 held: 0
    assert bal.loc["A1", "receivable"] == 5050 and bal.loc["A2", "receivable"] == 9575
    assert "A3" not in bal.index or bal.loc["A3", "receivable"] == 0
    held = first.held[0]
    release_bill(session, held, "jsmith", "read verified in the field", on=dt.date(2025, 2, 3))
    assert balances(session).set_index("account").loc["A3", "receivable"] == 20000
    # rebill A3 at 180.00 (energy 160.00): the 200.00 is reversed by an adjustment, the 180.00 posted
    fix_b, fix_l = bills_of(JAN, dt.date(2025, 1, 31), [("A3", "M3", "SGS", "SGS",
                                                         [("Customer charge", 20.00), ("Energy", 160.00)])])
    new = cancel_and_rebill(session, held, "jsmith", "wrong multiplier", fix_b, fix_l, on=dt.date(2025, 2, 4))
    history = bill_history(session, "A3")
    assert list(history["status"]) == ["cancelled", "posted"] and list(history["version"]) == [1, 2]
    assert history["bill_id"].iloc[1] == new and "released by jsmith" in history["holds"].iloc[0]
    assert balances(session).set_index("account").loc["A3", "receivable"] == 18000
    assert check_ledger(session) == []
    with pytest.raises(LedgerError, match="already cancelled"):
        cancel_and_rebill(session, held, "jsmith", "again")


def test_a_bill_that_does_not_add_up_is_refused(ledger):
    _, session = ledger
    bills, lines = jan_bills()
    bills.loc[0, "total"] = 60.51
    with pytest.raises(LedgerError, match="not the sum of its line items"):
        post_bills(session, None, bills, lines)
    session.rollback()
    assert session.execute(text("select count(*) from bills")).scalar() == 0


def test_payments_oldest_first_partial_over_unknown_and_twice(ledger):
    _, session = ledger
    bills, lines = jan_bills()
    post_bills(session, None, bills, lines)
    feb_b, feb_l = bills_of(FEB, dt.date(2025, 2, 28), [("A2", "M2", "RES", "RES", [("Energy", 40.00)])])
    post_bills(session, None, feb_b, feb_l)
    # A2 owes opening 25.50 (2025-01-01), Jan 70.25, Feb 40.00; pays 50.00: opening paid, 24.50 on Jan
    # A1 owes 50.50, pays 80.00: 29.50 credit. Unknown account Z9 -> unapplied. A future-dated item rejected.
    items = pays(("P1", "A2", 5000, dt.date(2025, 3, 5)), ("P2", "A1", 8000, dt.date(2025, 3, 5)),
                 ("P3", "Z9", 1234, dt.date(2025, 3, 5)), ("P4", "A1", 100, dt.date(2099, 1, 1)),
                 ("P1", "A2", 5000, dt.date(2025, 3, 5)))
    post = apply_payments(session, items, checksum="sha-1", file_name="f.csv", today=dt.date(2025, 3, 6))
    assert (post.items_in, post.cents_in) == (5, 19334)
    assert (post.applied, post.applied_cents, post.unapplied, post.unapplied_cents) == (2, 13000, 1, 1234)
    assert sorted(r["reason"][:8] for r in post.rejected) == ["dated 20", "item P1 "]
    assert apply_payments(session, items, checksum="sha-1").already_posted_file
    again = apply_payments(session, items.iloc[:1], checksum="sha-2", today=dt.date(2025, 3, 6))
    assert again.applied == 0 and "already posted" in again.rejected[0]["reason"]
    aged = aging(session, dt.date(2025, 3, 6)).set_index("account")
    # Jan bills due 2025-02-21 (13 days past due on 03-06), Feb due 2025-03-21 (current)
    assert aged.loc["A2", "1-30"] == 7025 - 2450 and aged.loc["A2", "current"] == 4000
    assert aged.loc["A1", "credit"] == -2950 and aged.loc["A1", "total"] == -2950
    # the credit goes to A1's next bill: March 40.00 -> owes 10.50
    mar_b, mar_l = bills_of(dt.date(2025, 3, 1), dt.date(2025, 3, 31), [("A1", "M1", "RES", "RES", [("Energy", 40.0)])])
    post_bills(session, None, mar_b, mar_l)
    aged = aging(session, dt.date(2025, 4, 1)).set_index("account")
    assert aged.loc["A1", "current"] == 1050 and aged.loc["A1", "credit"] == 0
    assert check_ledger(session) == []


def test_returned_payment_reopens_the_debt_and_charges_the_fee(ledger):
    _, session = ledger
    bills, lines = jan_bills()
    post_bills(session, None, bills, lines)
    apply_payments(session, pays(("P1", "A2", 9575, dt.date(2025, 2, 10))), checksum="a", today=dt.date(2025, 3, 1))
    assert "A2" not in set(aging(session, dt.date(2025, 2, 10))["account"])  # nothing open: not listed
    post = apply_payments(session, pays(("R1", "A2", 9575, dt.date(2025, 2, 14), "return", "P1")), checksum="b",
                          nsf_fee_cents=2500, today=dt.date(2025, 3, 1))
    assert (post.returns, post.fees_cents) == (1, 2500)
    aged = aging(session, dt.date(2025, 3, 1)).set_index("account")
    # 95.75 owed again (opening 25.50 dated 2025-01-01: 59 days; Jan bill due 02-21: 8 days) + 25.00 fee
    assert aged.loc["A2", "31-60"] == 2550 and aged.loc["A2", "1-30"] == 7025 + 2500
    assert balances(session).set_index("account").loc["A2", "receivable"] == 9575 + 2500
    assert check_ledger(session) == []


def test_late_fee_on_the_overdue_portion_only(ledger):
    _, session = ledger
    bills, lines = jan_bills()
    post_bills(session, None, bills, lines)
    # A2 pays 50.00 on 02-10: 25.50 opening, then 24.50 of Jan's 70.25 -> 45.75 of the bill overdue
    apply_payments(session, pays(("P1", "A2", 5000, dt.date(2025, 2, 10))), checksum="a", today=dt.date(2025, 3, 1))
    # due 02-21 + 5 grace days: nothing on 02-26, fees on 02-27. A1: 60.50 - 10.00 credit = 50.50 overdue
    assert assess_late_fees(session, dt.date(2025, 2, 26), rate=0.015, grace_days=5) == 0
    fees = assess_late_fees(session, dt.date(2025, 2, 27), rate=0.015, grace_days=5)
    # 1.5% x 45.75 = 0.68625 -> 0.69; 1.5% x 50.50 = 0.7575 -> 0.76
    assert fees == 69 + 76
    assert assess_late_fees(session, dt.date(2025, 3, 27), rate=0.015, grace_days=5) == 0  # once per bill
    assert check_ledger(session) == []


def test_deposit_interest_and_budget_billing(ledger):
    _, session = ledger
    # A1's 100.00 deposit at 2% simple for 365 days: 2.00, credited to the bill
    assert accrue_deposit_interest(session, dt.date(2026, 1, 1), annual_rate=0.02) == 200
    assert balances(session).set_index("account").loc["A1", "receivable"] == -1000 - 200
    # A2 on a 60.00 budget with settle-up in March: Jan 70.25 and Feb 40.00 bill 60.00 each; March 55.00
    # bills 60.00 + the deferred (10.25 - 20.00 - 5.00 = -14.75) -> 45.25 due in March
    start_budget_plan(session, "A2", 6000, 3, JAN)
    for start, end, amount in ((JAN, dt.date(2025, 1, 31), 70.25), (FEB, dt.date(2025, 2, 28), 40.00),
                               (dt.date(2025, 3, 1), dt.date(2025, 3, 31), 55.00)):
        b, li = bills_of(start, end, [("A2", "M2", "RES", "RES", [("Energy", amount)])])
        post_bills(session, None, b, li)
    bal = balances(session).set_index("account")
    assert bal.loc["A2", "budget"] == 0
    assert bal.loc["A2", "receivable"] == 2550 + 6000 + 6000 + 6000 - 1475
    assert check_ledger(session) == []


def test_reconcile_a_day_ties_out(ledger):
    _, session = ledger
    bills, lines = jan_bills()
    post_bills(session, None, bills, lines)
    day = dt.date(2025, 1, 31)
    report, breaks = reconcile_day(session, day)
    assert breaks == []
    rows = {(r.section, r.item): r.cents for r in report.itertuples()}
    # opening: -10.00 + 25.50; billed RES 60.50 + 70.25 (the SGS bill is held)
    assert rows[("receivables", "opening")] == 1550 and rows[("billed revenue", "RES RES")] == 13075
    assert rows[("receivables", "closing")] == 1550 + 13075
    apply_payments(session, pays(("P1", "A2", 1000, dt.date(2025, 2, 3)), ("P2", "ZZ", 500, dt.date(2025, 2, 3))),
                   checksum="x", today=dt.date(2025, 3, 1))
    report, breaks = reconcile_day(session, dt.date(2025, 2, 3))
    rows = {(r.section, r.item): (r.count, r.cents) for r in report.itertuples()}
    assert breaks == [] and rows[("cash", "received")] == (2, 1500)
    assert rows[("cash", "applied to accounts")] == (1, 1000) and rows[("cash", "unapplied (queue)")] == (1, 500)


def test_check_finds_a_tampered_line_item(ledger):
    _, session = ledger
    bills, lines = jan_bills()
    post_bills(session, None, bills, lines)
    session.execute(text("update bill_line_items set amount_cents = amount_cents + 1 where id = 1"))
    session.commit()
    assert any("line items sum to" in b for b in check_ledger(session))


def test_the_journal_is_append_only(ledger):
    _, session = ledger
    with pytest.raises(Exception, match="append-only"):
        session.execute(text("delete from journal"))
        session.commit()
    session.rollback()


def test_bad_accounts_rows_name_file_row_field(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS.replace("25.50,2025-01-01", "25.5x,2025-01-01"))
    with pytest.raises(LedgerError, match=r"accounts.csv, row 3, opening_balance: '25.5x'"):
        read_accounts_csv(path)
    path.write_text(ACCOUNTS.replace("SGS,SGS", "SGS,XXL"))
    with pytest.raises(LedgerError, match=r"row 4, customer_class"):
        read_accounts_csv(path)


def test_sample_accounts_file_loads(tmp_path):
    """The sample utility's accounts.csv (written beside its registry) loads: one account per service point."""
    from workbench.sample.accounts import sample_accounts

    registry = pd.DataFrame({"meter_id": ["M1", "M2", "M2-B", "M3"], "service_point": ["M1", "M2", "M2", "M3"],
                             "account": ["A1", "A2", "A2", "A3"], "customer_class": ["RES", "SGS", "SGS", "RES"],
                             "rate_code": ["RES", "SGS", "SGS", "RES"], "cycle": [1, 2, 2, 3],
                             "nem_program": ["", "", "", "NEM2"], "ct_ratio": [1.0, 40.0, 40.0, 1.0], "pt_ratio": 1.0})
    path = tmp_path / "accounts.csv"
    sample_accounts(registry, seed=3).to_csv(path, index=False)
    rows = read_accounts_csv(path)
    engine, _, _ = init_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    counts = load_accounts(new_session(engine), rows)
    assert (counts.accounts, counts.meters) == (3, 4)
