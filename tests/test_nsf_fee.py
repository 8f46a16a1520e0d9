"""The returned-payment (NSF) fee is the utility's own setting (``ledger settings --nsf-fee``), overridden by
``--nsf-fee`` on a run, never a default: posting a returned item and resolving one from the queue, each with the
configured fee, an override and 0, and refused with neither, on SQLite and on a real PostgreSQL server. Every
expected journal entry is worked by hand in the comments."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.hostile._cli import assert_ok, run_in_process
from tests.test_ledger import jan_bills, ledger, pays, url  # noqa: F401  (fixtures)
from tests.test_receivables_cli import _ledger
from workbench.ledger.db import LedgerError, new_session
from workbench.ledger.models import JournalEntry, LedgerSetting, Payment, PaymentFile
from workbench.ledger.payments import apply_payments
from workbench.ledger.posting import post_bills
from workbench.ledger.receivables import aging, assess_late_fees, balances
from workbench.ledger.settings import nsf_fee_setting, set_fee_due_days, set_nsf_fee

TODAY = dt.date(2025, 3, 1)


def _entries(session, since_id: int) -> list[tuple]:
    return [tuple(r) for r in session.execute(select(JournalEntry.kind, JournalEntry.amount_cents,
                                                     JournalEntry.posted_on)
                                              .where(JournalEntry.id > since_id).order_by(JournalEntry.id))]


def _paid_then_returned(session, **fee):
    """A2 (opening 25.50, January bill 70.25) pays 95.75 on 02-10; that payment comes back on 02-14."""
    post_bills(session, None, *jan_bills())
    apply_payments(session, pays(("P1", "A2", 9575, dt.date(2025, 2, 10))), checksum="a", today=TODAY)
    last = session.scalar(select(func.max(JournalEntry.id)))
    post = apply_payments(session, pays(("R1", "A2", 9575, dt.date(2025, 2, 14), "return", "P1")), checksum="b",
                          today=TODAY, **fee)
    return post, _entries(session, last)


def test_the_configured_fee_is_charged(ledger):  # noqa: F811
    _, session = ledger
    assert set_nsf_fee(session, 3000, "ana") is True
    post, new = _paid_then_returned(session)
    # the payment's 95.75 comes back as a charge, and the utility's 30.00 fee on the same day
    assert new == [("payment_return", 9575, dt.date(2025, 2, 14)), ("nsf_fee", 3000, dt.date(2025, 2, 14))]
    assert (post.returns, post.returns_cents, post.fees_cents) == (1, 9575, 3000)
    # A2 owed 25.50 + 70.25 = 95.75, paid it, and owes it again plus the fee: 125.75
    assert balances(session).set_index("account").loc["A2", "receivable"] == 12575


def test_an_override_beats_the_setting(ledger):  # noqa: F811
    _, session = ledger
    set_nsf_fee(session, 3000, "ana")
    post, new = _paid_then_returned(session, nsf_fee_cents=1500)
    assert new == [("payment_return", 9575, dt.date(2025, 2, 14)), ("nsf_fee", 1500, dt.date(2025, 2, 14))]
    assert post.fees_cents == 1500
    assert nsf_fee_setting(session).value_cents == 3000  # the override is for this run only


def test_a_fee_of_zero_charges_nothing(ledger):  # noqa: F811
    _, session = ledger
    set_nsf_fee(session, 0, "ana")
    post, new = _paid_then_returned(session)
    assert new == [("payment_return", 9575, dt.date(2025, 2, 14))]  # no nsf_fee entry at all
    assert (post.returns, post.fees_cents) == (1, 0)
    assert balances(session).set_index("account").loc["A2", "receivable"] == 9575


def test_no_fee_set_and_none_given_is_refused_posting_nothing(ledger):  # noqa: F811
    _, session = ledger
    post_bills(session, None, *jan_bills())
    apply_payments(session, pays(("P1", "A2", 9575, dt.date(2025, 2, 10))), checksum="a", today=TODAY)
    counts = [session.scalar(select(func.count()).select_from(t)) for t in (JournalEntry, Payment, PaymentFile)]
    with pytest.raises(LedgerError) as err:
        apply_payments(session, pays(("P2", "A1", 1000, dt.date(2025, 2, 14)),
                                     ("R1", "A2", 9575, dt.date(2025, 2, 14), "return", "P1")),
                       checksum="b", file_name="lockbox.bai", today=TODAY)
    message = str(err.value)
    assert message.startswith("lockbox.bai: 1 returned item(s)") and "\n" not in message
    assert "workbench ledger settings --nsf-fee CENTS --who NAME" in message and "--nsf-fee CENTS" in message
    session.rollback()
    # nothing of the file was posted: not its payment P2, not the file, not a journal row
    assert [session.scalar(select(func.count()).select_from(t)) for t in (JournalEntry, Payment, PaymentFile)] == counts
    # the same file posts once the utility's fee is set
    set_nsf_fee(session, 2500, "ana")
    post = apply_payments(session, pays(("P2", "A1", 1000, dt.date(2025, 2, 14)),
                                        ("R1", "A2", 9575, dt.date(2025, 2, 14), "return", "P1")),
                          checksum="b", today=TODAY)
    assert (post.applied, post.returns, post.fees_cents) == (1, 1, 2500)


def test_a_file_without_returned_items_needs_no_fee(ledger):  # noqa: F811
    _, session = ledger
    post = apply_payments(session, pays(("P1", "A2", 9575, dt.date(2025, 2, 10))), checksum="a", today=TODAY)
    assert post.applied == 1 and nsf_fee_setting(session) is None


def test_settings_keep_every_change(ledger):  # noqa: F811
    _, session = ledger
    assert nsf_fee_setting(session) is None
    assert set_nsf_fee(session, 2500, "ana") and not set_nsf_fee(session, 2500, "bo")  # the same: no new row
    assert set_nsf_fee(session, 3500, "bo")
    rows = session.execute(select(LedgerSetting.value_cents, LedgerSetting.set_by).order_by(LedgerSetting.id)).all()
    assert [tuple(r) for r in rows] == [(2500, "ana"), (3500, "bo")]
    assert nsf_fee_setting(session).value_cents == 3500


# ------------------------------------------------------------------------------------------ from the command line

PAYMENTS = "item_id,account,amount,paid_on,kind\nP2,B2,30.00,2025-02-10,payment\nR1,OLD-2,30.00,2025-02-12,return\n"
RESOLVE = ["--account", "B2", "--who", "jdoe", "--why", "stub of P2", "--on", "2025-02-14"]


@pytest.mark.parametrize("setting, override, fee", [(4000, None, 4000), (4000, "1200", 1200), (0, None, 0),
                                                     (None, "0", 0), (None, None, None)])
def test_resolve_return_charges_the_utility_fee(url, tmp_path, capsys, setting, override, fee):  # noqa: F811
    """R1 (30.00 of an unknown account) is queued when posted (no fee asked: it reverses nothing), then applied
    to B2, reversing B2's 30.00 payment P2: +30.00 payment_return and the fee, on 02-14; or refused."""
    engine = _ledger(url, tmp_path, nsf_fee_cents=None)

    def wb(*args):
        return run_in_process([*args, "--db", url], capsys)

    try:
        (tmp_path / "pay.csv").write_text(PAYMENTS)
        if setting is not None:
            assert_ok(wb("ledger", "settings", "--nsf-fee", str(setting), "--who", "ana"))
        assert_ok(wb("payments", "post", tmp_path / "pay.csv", "--nsf-fee", "0"))  # returns only queued here
        with new_session(engine) as session:
            rid = session.scalar(select(Payment.id).where(Payment.item_id == "R1"))
            last = session.scalar(select(func.max(JournalEntry.id)))
        out = wb("payments", "resolve-return", str(rid), *RESOLVE, *(["--nsf-fee", override] if override else []))
        with new_session(engine) as session:
            new = _entries(session, last)
        if fee is None:
            assert out.status == 2 and out.stderr.count("\n") == 1
            assert "returned item" in out.stderr and "workbench ledger settings --nsf-fee CENTS" in out.stderr
            assert new == []
            assert "R1" in wb("payments", "unapplied").stdout  # still queued
            return
        assert_ok(out)
        assert f"charged the returned-payment fee {fee / 100:.2f}" in out.stdout
        expected = [("payment_return", 3000, dt.date(2025, 2, 14))]
        assert new == expected + ([("nsf_fee", fee, dt.date(2025, 2, 14))] if fee else [])
    finally:
        engine.dispose()


def test_payments_post_and_settings_from_the_command_line(tmp_path, capsys):
    """``payments post`` of a file with a return that reverses a payment: refused with no fee, then charged the
    fee set with ``ledger settings``; ``ledger settings`` shows the fee in force and who set it."""
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    engine = _ledger(db, tmp_path, nsf_fee_cents=None)

    def wb(*args):
        return run_in_process([*args, "--db", db], capsys)

    try:
        shown = wb("ledger", "settings")
        assert_ok(shown)
        assert "returned-payment (NSF) fee: NOT SET" in shown.stdout
        (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\nP2,B2,30.00,2025-02-10,payment\n"
                                          "R1,B2,30.00,2025-02-12,return\n")
        refused = wb("payments", "post", tmp_path / "pay.csv")
        assert refused.status == 2 and "pay.csv: 1 returned item(s)" in refused.stderr
        set_out = wb("ledger", "settings", "--nsf-fee", "2750", "--who", "ana")
        assert_ok(set_out)
        assert "27.50 (2750 cents), set by ana" in set_out.stdout and "(changed)" in set_out.stdout
        out = wb("payments", "post", tmp_path / "pay.csv")
        assert_ok(out)
        assert "returned-payment fees charged: 27.50" in out.stdout
        with new_session(engine) as session:
            fees = session.scalars(select(JournalEntry.amount_cents).where(JournalEntry.kind == "nsf_fee")).all()
        assert fees == [2750]
    finally:
        engine.dispose()


def test_the_fee_is_due_with_the_next_bill_when_the_ledger_says_so(ledger):  # noqa: F811
    # --fee-due-days 20: the fee charged on 02-14 is due 02-14 + 20 = 03-06; the returned payment itself is
    # what the bills owed (their own due dates), so it records none. On 03-06 the fee is current; on 03-07 it is
    # 1 day past due (1-30). A late fee assessed on 03-20 is due 04-09.
    _, session = ledger
    set_nsf_fee(session, 3000, "ana")
    set_fee_due_days(session, 20, "ana")
    _paid_then_returned(session)
    due = dict(session.execute(select(JournalEntry.kind, JournalEntry.due_on)
                               .where(JournalEntry.kind.in_(["payment_return", "nsf_fee"]))).all())
    assert due == {"payment_return": None, "nsf_fee": dt.date(2025, 3, 6)}
    # A2's reopened debts keep their age: the opening 25.50 (posted 01-01) is 64/65 days past due (61-90), the
    # January bill 70.25 (due 02-21) 13/14 days (1-30)
    row = aging(session, dt.date(2025, 3, 6)).set_index("account").loc["A2"]
    assert (row["current"], row["1-30"], row["61-90"]) == (3000, 7025, 2550)
    row = aging(session, dt.date(2025, 3, 7)).set_index("account").loc["A2"]
    assert (row["current"], row["1-30"], row["61-90"]) == (0, 7025 + 3000, 2550)
    assess_late_fees(session, dt.date(2025, 3, 20))
    late = session.scalars(select(JournalEntry.due_on).where(JournalEntry.kind == "late_fee")).all()
    assert late and set(late) == {dt.date(2025, 4, 9)}
