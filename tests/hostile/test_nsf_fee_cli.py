"""Hostile returned-payment fee: a ledger with no fee set asked to charge one (``payments post`` of a file with a
returned item, ``payments resolve-return --account``), a fee that is not whole cents, ``ledger settings`` without
who or with a blank one. Each is refused in one line naming what to set or the argument and what was expected,
and nothing is posted. Each case runs on a fresh SQLite ledger with no fee set: account A1 (one 100.00 bill,
paid 40.00 by P1 on 02-10), and R1 (id 2, 40.00 of Z9, returned on 02-12) in the unapplied-cash queue."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from workbench.ledger.db import new_session
from workbench.ledger.models import JournalEntry, LedgerSetting, Payment, UnappliedCash
from workbench.ledger.payments import apply_payments

from ._cli import assert_ok, assert_refused, run_in_process
from ._ledger import ledger_with_a_bill

RETURN_OF_P1 = "item_id,account,amount,paid_on,kind,original_item_id\nR2,A1,40.00,2025-02-12,return,P1\n"


@pytest.fixture
def wb(tmp_path, capsys):
    url, engine = ledger_with_a_bill(tmp_path, nsf_fee_cents=None)
    with new_session(engine) as session:  # ids: P1 1, R1 2 (matches no payment: queued; no fee asked)
        apply_payments(session, pd.DataFrame([dict(item_id="P1", account="A1", amount_cents=4000, kind="payment",
                                                   paid_on=dt.date(2025, 2, 10))]), checksum="p")
        apply_payments(session, pd.DataFrame([dict(item_id="R1", account="Z9", amount_cents=4000, kind="return",
                                                   paid_on=dt.date(2025, 2, 12))]), checksum="r", nsf_fee_cents=0)
    (tmp_path / "return.csv").write_text(RETURN_OF_P1)

    def run(*args):
        before = _state(engine)
        out = run_in_process([*args, "--db", url], capsys)
        if out.status:
            assert _state(engine) == before, "a refused command changed the ledger"
        return out

    run.file = tmp_path / "return.csv"
    yield run
    engine.dispose()


def _state(engine) -> tuple:
    with new_session(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(t))
                     for t in (JournalEntry, Payment, LedgerSetting)) + tuple(
            session.scalars(select(UnappliedCash.resolved_on).order_by(UnappliedCash.id)))


def test_post_a_return_with_no_fee_set(wb):
    """`payments post` of a file whose returned item reverses a payment, on a ledger with no fee set and no --nsf-fee."""
    assert_refused(wb("payments", "post", wb.file), "return.csv: 1 returned item(s)", "none set",
                   "workbench ledger settings --nsf-fee CENTS --who NAME", "--nsf-fee CENTS")


def test_resolve_return_with_no_fee_set(wb):
    """`payments resolve-return --account` on a ledger with no fee set and no --nsf-fee."""
    assert_refused(wb("payments", "resolve-return", "2", "--account", "A1", "--who", "j", "--why", "w"),
                   "returned item 2 (item R1) applied to account A1", "none set", "ledger settings --nsf-fee")


@pytest.mark.parametrize("fee", ["-1", "25.00", "1e3", "100001", "", "nan", "2,500", "0x10"])
def test_post_fee_not_whole_cents(wb, fee):
    """`payments post --nsf-fee` negative, in dollars, in exponent form, over 1,000.00, empty, NaN, with a comma, hex."""
    assert_refused(wb("payments", "post", wb.file, "--nsf-fee", fee), "--nsf-fee", "a fee in cents", "0 to 100000")


@pytest.mark.parametrize("args, fragments", [
    (["--nsf-fee", "2500"], ("--nsf-fee and --who go together",)),
    (["--who", "ana"], ("--nsf-fee and --who go together",)),
    (["--nsf-fee", "2500", "--who", "   "], ("--who: empty",)),
    (["--nsf-fee", "-5", "--who", "ana"], ("--nsf-fee", "'-5'", "0 to 100000")),
    (["--nsf-fee", "25.00", "--who", "ana"], ("--nsf-fee", "'25.00'", "2500 is 25.00")),
])
def test_settings_refused(wb, args, fragments):
    """`ledger settings` with a fee and no who, a who and no fee, a blank who, a negative fee, a fee in dollars."""
    assert_refused(wb("ledger", "settings", *args), *fragments)


def test_a_file_of_payments_only_needs_no_fee(wb, tmp_path):
    """`payments post` of payments only on a ledger with no fee set: posted (no fee would be charged)."""
    (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\nP7,A1,10.00,2025-02-13,payment\n")
    assert_ok(wb("payments", "post", tmp_path / "pay.csv"))
