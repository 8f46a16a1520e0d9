"""Service fees charged between bills are carried by the customer's next bill: printed on it with their dates
("Other charges since your last bill") and, when they were meant to be due with it, due with it
(``carried_charges``, migration 0007), on SQLite and on a real PostgreSQL server. Every amount and date is worked
by hand in the comments.

The ledger of tests/test_disconnects.py: January bills (bill date 2025-01-31, due 02-21) D1 100.00, D2 120.00,
D3 90.00, D4 150.00, D5 80.00; final notices on 2025-04-07, disconnection from 04-17."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.test_disconnects import FIELD_DAY, wb  # noqa: F401  (the fixture)
from tests.test_documents import pdf_text
from tests.test_ledger import bills_of, pays
from workbench.documents import BillDocument, render_bill_html, render_bill_pdf
from workbench.ledger.carried import CarriedCharge
from workbench.ledger.check import check_ledger
from workbench.ledger.db import new_session
from workbench.ledger.models import JournalEntry
from workbench.ledger.payments import apply_payments
from workbench.ledger.posting import post_bills, start_run
from workbench.ledger.receivables import aging
from workbench.runs.documents import run_documents

MAY = (dt.date(2025, 5, 1), dt.date(2025, 5, 31))  # bill date 05-31, due 05-31 + 21 = 06-21
JUNE = (dt.date(2025, 6, 1), dt.date(2025, 6, 30))


def _post(engine, key, period, rows):
    bills, items = bills_of(*period, rows)
    with new_session(engine) as session:
        run_id = start_run(session, 1, key, key)
        post_bills(session, run_id, bills, items)
    return {d.account_number: d for d in run_documents(engine, run_id, SimpleNamespace(bills=bills, line_items=items))}


def _aging(engine, day) -> dict:
    with new_session(engine) as session:
        frame = aging(session, day).set_index("account")
    return {a: {k: int(v) for k, v in row.items() if k != "total" and int(v)} for a, row in frame.iterrows()}


def _carried(engine) -> list[tuple]:
    with new_session(engine) as session:
        return [tuple(r) for r in session.execute(
            select(JournalEntry.kind, JournalEntry.amount_cents, JournalEntry.posted_on, JournalEntry.due_on,
                   CarriedCharge.carried_on, CarriedCharge.due_on_was, CarriedCharge.due_on)
            .join(CarriedCharge, CarriedCharge.entry_id == JournalEntry.id).order_by(JournalEntry.id))]


def test_fees_since_the_last_bill_are_on_the_next_bill_and_due_with_it(wb, tmp_path):  # noqa: F811
    wb("ledger", "settings", "--reconnect-fee", "3500", "--fee-due-days", "20", "--who", "ana")
    # D1: disconnected 04-21, pays its 100.00 on 04-22, reconnected that day: fee 35.00, due 04-22 + 20 = 05-12.
    # D4: disconnected 04-21, reconnected 04-22 unpaid, the fee due that day (--fee-due-on): 150.00 + 35.00.
    # D5: pays 80.00 on 04-15; it comes back on 04-18: NSF fee 25.00 due 04-18 + 20 = 05-08; owes 80.00 + 25.00.
    for account in ("D1", "D4"):
        wb("ledger", "disconnect", "--account", account, "--on", FIELD_DAY, "--who", "crew7")
    wb.pay(("p1", "D1", 10000, dt.date(2025, 4, 22)))
    wb("ledger", "reconnect", "--account", "D1", "--on", "2025-04-22", "--who", "crew7")
    wb("ledger", "reconnect", "--account", "D4", "--on", "2025-04-22", "--who", "sup", "--without-payment",
       "--why", "heat advisory", "--fee-due-on", "2025-04-22")
    with new_session(wb.engine) as session:
        apply_payments(session, pays(("p5", "D5", 8000, dt.date(2025, 4, 15))))
        apply_payments(session, pays(("r5", "D5", 8000, dt.date(2025, 4, 18), "return", "p5")), nsf_fee_cents=2500)
    # 05-13, no bill since January: D1's fee 1 day past due; D5's NSF fee 5 days, its January bill 81 days (61-90);
    # D4's fee 21 days, its January bill 81 days
    before = _aging(wb.engine, dt.date(2025, 5, 13))
    assert before["D1"] == {"1-30": 3500}
    assert before["D5"] == {"1-30": 2500, "61-90": 8000}
    assert before["D4"] == {"1-30": 3500, "61-90": 15000}

    # the May bills (05-31, due 06-21) carry the fees charged since the January bill
    docs = _post(wb.engine, "2025-05", MAY, [("D1", "M1", "RES", "RES", [("Energy", 60.00)]),
                                            ("D4", "M4", "RES", "RES", [("Energy", 40.00)]),
                                            ("D5", "M5", "RES", "RES", [("Energy", 50.00)])])
    may_31, june_21 = dt.date(2025, 5, 31), dt.date(2025, 6, 21)
    assert _carried(wb.engine) == [
        ("reconnect_fee", 3500, dt.date(2025, 4, 22), dt.date(2025, 5, 12), may_31, dt.date(2025, 5, 12), june_21),
        ("reconnect_fee", 3500, dt.date(2025, 4, 22), dt.date(2025, 4, 22), may_31, dt.date(2025, 4, 22),
         dt.date(2025, 4, 22)),  # due the day charged: printed, its due date kept
        ("nsf_fee", 2500, dt.date(2025, 4, 18), dt.date(2025, 5, 8), may_31, dt.date(2025, 5, 8), june_21)]
    # history is kept: on 05-13 (before the bill) the fees were past due and still are, as of that day
    assert _aging(wb.engine, dt.date(2025, 5, 13)) == before
    # 06-01: D1's fee is due with the bill (06-21): current with it, 35.00 + 60.00; D5 likewise 25.00 + 50.00
    # (its January bill 100 days past due, 90+); D4's fee stays due 04-22: 40 days (31-60)
    june_1 = _aging(wb.engine, dt.date(2025, 6, 1))
    assert june_1["D1"] == {"current": 9500}
    assert june_1["D5"] == {"current": 7500, "90+": 8000}
    assert june_1["D4"] == {"current": 4000, "31-60": 3500, "90+": 15000}
    assert _aging(wb.engine, dt.date(2025, 6, 22))["D1"] == {"1-30": 9500}

    # the documents: previous balance - payments + adjustments + other charges + current charges = amount due
    d1, d4, d5 = docs["D1"], docs["D4"], docs["D5"]
    # D1: balance 100.00 - 100.00 + 35.00 + 60.00 = 95.00; previous balance 95.00 - 60.00 - 35.00 = 0.00
    assert [(c.description, c.charged_on, c.amount_cents) for c in d1.other_charges] == [
        ("Reconnection fee", dt.date(2025, 4, 22), 3500)]
    assert (d1.previous_balance_cents, d1.other_charges_cents, d1.current_charges_cents, d1.amount_due_cents,
            d1.due_date) == (0, 3500, 6000, 9500, june_21)
    # D5: 80.00 (January, its payment returned) + 25.00 + 50.00 = 155.00; previous balance 80.00
    assert [(c.description, c.charged_on, c.amount_cents) for c in d5.other_charges] == [
        ("Returned payment fee", dt.date(2025, 4, 18), 2500)]
    assert (d5.previous_balance_cents, d5.other_charges_cents, d5.amount_due_cents) == (8000, 2500, 15500)
    # D4: 150.00 + 35.00 + 40.00 = 225.00; previous balance 150.00
    assert (d4.previous_balance_cents, d4.other_charges_cents, d4.amount_due_cents) == (15000, 3500, 22500)

    # read back from the page and the PDF
    html = " ".join(render_bill_html(d1).split())
    assert "Other charges since your last bill" in html and "Reconnection fee" in html
    assert "Apr 22, 2025</td><td class=\"num\">$35.00" in html
    render_bill_pdf(d1, tmp_path / "d1.pdf")
    text = " ".join(pdf_text(tmp_path / "d1.pdf")[0].split())
    assert "Reconnection fee Apr 22, 2025 $35.00" in text
    assert "Total other charges, due with this bill $35.00" in text
    assert "Amount due by Jun 21, 2025 $95.00" in text

    # the model checks the sums: a fee left out of the stated total, or out of the amount due, is refused
    fields = d1.model_dump()
    with pytest.raises(ValidationError, match="other charges since the last bill add up to 3500 cents but 0"):
        BillDocument.model_validate({**fields, "other_charges_cents": 0, "amount_due_cents": 6000})
    with pytest.raises(ValidationError, match=r"other charges 3500 \+ current charges 6000 = 9500 cents, but the "
                                              r"amount due is 6000"):
        BillDocument.model_validate({**fields, "amount_due_cents": 6000})

    # the June bill carries nothing again; the links cannot be edited or removed
    june = _post(wb.engine, "2025-06", JUNE, [("D1", "M1", "RES", "RES", [("Energy", 10.00)])])
    assert june["D1"].other_charges == [] and len(_carried(wb.engine)) == 3
    with new_session(wb.engine) as session:
        assert check_ledger(session) == []
        with pytest.raises(Exception, match="append-only"):
            session.execute(update(CarriedCharge).values(due_on=dt.date(2025, 7, 1)))
    with new_session(wb.engine) as session:
        assert session.scalar(select(func.count()).select_from(CarriedCharge)) == 3


def test_no_fees_no_section(wb):  # noqa: F811
    # D2 had no fee since January: its May bill has no other charges and the page no such section
    docs = _post(wb.engine, "2025-05", MAY, [("D2", "M2", "RES", "RES", [("Energy", 20.00)])])
    assert docs["D2"].other_charges == [] and docs["D2"].previous_balance_cents == 12000
    assert "Other charges" not in render_bill_html(docs["D2"])


def test_a_ledger_at_0006_upgrades_keeping_every_balance_and_its_aging(tmp_path):
    # A ledger as the previous version (schema 0006) left it: the January bills, D1's 100.00 paid on 04-22 and a
    # 35.00 reconnection fee charged that day, due 05-12 (--fee-due-days 20); D2's 120.00 paid 80.00. Written
    # with this version, then given 0006's schema (no carried_charges, alembic at 0006). `ledger init` adds the
    # table, empty: every balance is kept (D1 35.00, D2 40.00, D3 90.00, D4 150.00, D5 80.00) and the fee is
    # still due 05-12 (1 day past due on 05-13). The May bill posted after the upgrade carries it (due 06-21).
    from tests.test_disconnects import ACCOUNTS
    from workbench.ledger.accounts import load_accounts, read_accounts_csv
    from workbench.ledger.db import init_ledger
    from workbench.ledger.models import Account
    from workbench.ledger.receivables import balances

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine, _, _ = init_ledger(url)
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    january = [(a, f"M{a[1]}", "RES", "RES", [("Energy", x)]) for a, x in
               (("D1", 100.00), ("D2", 120.00), ("D3", 90.00), ("D4", 150.00), ("D5", 80.00))]
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
        post_bills(session, None, *bills_of(dt.date(2025, 1, 1), dt.date(2025, 1, 31), january))
        apply_payments(session, pays(("p1", "D1", 10000, dt.date(2025, 4, 22)), ("p2", "D2", 8000, dt.date(2025, 4, 15))))
        session.add(JournalEntry(account_id=session.scalar(select(Account.id).where(Account.account_number == "D1")),
                                 book="receivable", posted_on=dt.date(2025, 4, 22), kind="reconnect_fee",
                                 amount_cents=3500, due_on=dt.date(2025, 5, 12)))
        session.commit()
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE carried_charges")  # its triggers and index go with it
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0006'")
    engine.dispose()
    engine, before, after = init_ledger(url)
    assert (before, after) == ("0006", "0007")
    with new_session(engine) as session:
        bal = balances(session).set_index("account")["receivable"]
        assert {k: int(v) for k, v in bal.items()} == {"D1": 3500, "D2": 4000, "D3": 9000, "D4": 15000, "D5": 8000}
        assert session.scalar(select(func.count()).select_from(CarriedCharge)) == 0
    assert _aging(engine, dt.date(2025, 5, 13))["D1"] == {"1-30": 3500}
    docs = _post(engine, "2025-05", MAY, [("D1", "M1", "RES", "RES", [("Energy", 60.00)])])
    assert (docs["D1"].previous_balance_cents, docs["D1"].other_charges_cents, docs["D1"].amount_due_cents) == (
        0, 3500, 9500)
    assert _aging(engine, dt.date(2025, 6, 1))["D1"] == {"current": 9500}
    with new_session(engine) as session, pytest.raises(Exception, match="append-only"):
        session.execute(update(CarriedCharge).values(due_on=dt.date(2025, 7, 1)))
    engine.dispose()


def test_a_fee_dated_before_a_bill_but_recorded_after_it_goes_on_the_next_one(wb):  # noqa: F811
    # D2's May bill (05-31) is posted; then a 35.00 late fee dated 05-20 (before it), due 06-09, is recorded: the
    # May bill never showed it, so the June bill (06-30, due 07-21) carries it and its due date becomes 07-21.
    # A fee dated 05-25 recorded before the May bill was posted went on the May bill (not on June's again).
    with new_session(wb.engine) as session:
        from workbench.ledger.models import Account
        d2 = session.scalar(select(Account.id).where(Account.account_number == "D2"))
        session.add(JournalEntry(account_id=d2, book="receivable", posted_on=dt.date(2025, 5, 25), kind="late_fee",
                                 amount_cents=1000, due_on=dt.date(2025, 6, 14)))
        session.commit()
    may = _post(wb.engine, "2025-05", MAY, [("D2", "M2", "RES", "RES", [("Energy", 20.00)])])
    assert [(c.charged_on, c.amount_cents) for c in may["D2"].other_charges] == [(dt.date(2025, 5, 25), 1000)]
    with new_session(wb.engine) as session:
        session.add(JournalEntry(account_id=d2, book="receivable", posted_on=dt.date(2025, 5, 20), kind="late_fee",
                                 amount_cents=3500, due_on=dt.date(2025, 6, 9)))
        session.commit()
    june = _post(wb.engine, "2025-06", JUNE, [("D2", "M2", "RES", "RES", [("Energy", 30.00)])])
    assert [(c.description, c.charged_on, c.amount_cents) for c in june["D2"].other_charges] == [
        ("Late fee", dt.date(2025, 5, 20), 3500)]
    # balance 120.00 + 10.00 + 20.00 + 35.00 + 30.00 = 215.00; previous balance 215.00 - 30.00 - 35.00 = 150.00
    assert (june["D2"].previous_balance_cents, june["D2"].amount_due_cents) == (15000, 21500)
    assert _carried(wb.engine)[-1][-1] == dt.date(2025, 7, 21)
