"""Hostile ``payments resolve-return``: an unknown or malformed item id, a payment instead of a returned item, a
return already reversed, no action or two, a blank or over-long --who, a date out of range, an account with no
payment to reverse, a fee that is not cents. Each is refused in one line naming the argument and what was
expected, and neither the journal nor the queue changes. Each case runs on a fresh SQLite ledger: account A1
(one 100.00 bill, paid 40.00 by P1 and 15.00 by P9 on 02-10), queued payment U1 (id 1, 40.00 of Z9); returned
on 02-12: R0 (id 4, 25.00 of A1, matching none), R1 and R3 (ids 5 and 7, 40.00 of Z9), all queued, and R2
(id 6), which reversed P9 when posted."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from workbench.ledger.db import new_session
from workbench.ledger.models import JournalEntry, UnappliedCash
from workbench.ledger.payments import apply_payments

from ._cli import assert_ok, assert_refused, run_in_process
from ._ledger import ledger_with_a_bill

WHO = ["--who", "jdoe", "--why", "stub"]


def _item(item_id, account, cents, day, kind="payment", original=""):
    return dict(item_id=item_id, account=account, amount_cents=cents, paid_on=dt.date(2025, 2, day), kind=kind,
                original_item_id=original)


@pytest.fixture
def wb(tmp_path, capsys):
    url, engine = ledger_with_a_bill(tmp_path)
    with new_session(engine) as session:
        # ids: U1 1, P1 2, P9 3; R0 4, R1 5, R2 6 (reverses P9 when posted: not queued), R3 7
        apply_payments(session, pd.DataFrame([_item("U1", "Z9", 4000, 10), _item("P1", "A1", 4000, 10),
                                              _item("P9", "A1", 1500, 10)]), checksum="p")
        apply_payments(session, pd.DataFrame([_item("R0", "A1", 2500, 12, "return"),
                                              _item("R1", "Z9", 4000, 12, "return"),
                                              _item("R2", "A1", 1500, 12, "return", "P9"),
                                              _item("R3", "Z9", 4000, 12, "return")]), checksum="r")

    def run(*args):
        before = _state(engine)
        out = run_in_process([*args, "--db", url], capsys)
        if out.status:
            assert _state(engine) == before, "a refused command changed the journal or the queue"
        return out

    yield run
    engine.dispose()


def _state(engine) -> tuple:
    with new_session(engine) as session:
        return (session.scalar(select(func.count()).select_from(JournalEntry)),
                tuple(session.scalars(select(UnappliedCash.resolved_on).order_by(UnappliedCash.id))))


@pytest.mark.parametrize("args,fragments", [
    (["99", "--write-off"], ("payment 99", "no such item")),
    (["abc", "--write-off"], ("payment_id", "whole number")),
    (["0", "--write-off"], ("payment_id", "whole number")),
    (["1", "--write-off"], ("item U1", "a payment, not a returned item", "payments apply")),
    (["6", "--write-off"], ("item R2", "not in the unapplied-cash queue", "reversed a payment")),
])
def test_resolve_unknown_item_or_not_a_queued_return(wb, args, fragments):
    """Item 99 (unknown), abc, 0, a queued payment, a return reversed when posted: refused, naming the item."""
    assert_refused(wb("payments", "resolve-return", *args, *WHO), *fragments)


@pytest.mark.parametrize("args,fragments", [
    ([], ("one of the arguments", "--account", "--write-off", "--returned-to-bank", "required")),
    (["--write-off", "--returned-to-bank"], ("--returned-to-bank", "not allowed with", "--write-off")),
    (["--account", "A1", "--write-off"], ("--write-off", "not allowed with", "--account")),
    (["--write-off", "--payment-item", "P1"], ("--account/--payment-item", "only go with")),
    (["--write-off", "--nsf-fee", "100"], ("--nsf-fee 100", "only with --account", "written off", "no fee")),
    (["--returned-to-bank", "--nsf-fee", "2500"], ("--nsf-fee 2500", "only with --account", "returned to bank")),
])
def test_resolve_without_one_action(wb, args, fragments):
    """No action, two actions, --payment-item or --nsf-fee without --account: refused; one action is taken.

    A fee with a write-off or a return to the bank used to be silently ignored."""
    assert_refused(wb("payments", "resolve-return", "5", *args, *WHO), *fragments)


@pytest.mark.parametrize("args,fragments", [
    (["5", "--account", "NOPE"], ("account NOPE", "not in the ledger")),
    (["4", "--account", "A1"], ("account A1", "has no payment of 25.00", "on or before 2025-02-12",
                                "not already returned", "item R0")),
    (["5", "--account", "A1", "--payment-item", "P9"], ("account A1", "payment item P9 of 40.00", "not already returned")),
    (["5", "--account", "A1", "--payment-item", "NOPE"], ("account A1", "payment item NOPE of 40.00")),
])
def test_resolve_to_an_account_with_no_payment_to_reverse(wb, args, fragments):
    """A returned item applied to an unknown account, to A1 that paid no 25.00, to a named payment already
    returned (P9) or unknown: refused, naming what it looked for."""
    assert_refused(wb("payments", "resolve-return", *args, *WHO), *fragments)


def test_resolve_a_second_return_of_the_same_payment(wb):
    """Two returned items of 40.00 applied to A1, which paid 40.00 once: the first reverses P1, the second is
    refused (P1 is already returned)."""
    assert_ok(wb("payments", "resolve-return", "5", "--account", "A1", *WHO, "--on", "2025-02-13"))
    assert_refused(wb("payments", "resolve-return", "7", "--account", "A1", *WHO),
                   "account A1", "has no payment of 40.00", "not already returned", "item R3")
    assert_ok(wb("ledger", "check"))


@pytest.mark.parametrize("args,fragments", [
    (["--who", " ", "--why", "stub"], ("--who", "--why")),
    (["--who", "x" * 65, "--why", "stub"], ("--who", "64")),
    (["--who", "jdoe", "--why", "stub", "--on", "2025-02-11"], ("--on 2025-02-11", "before the item was returned")),
    (["--who", "jdoe", "--why", "stub", "--on", "2999-01-01"], ("--on 2999-01-01", "after today")),
    (["--who", "jdoe", "--why", "stub", "--on", "2025-13-01"], ("--on", "2025-13-01")),
    (["--who", "jdoe", "--why", "stub", "--nsf-fee", "25.00"], ("--nsf-fee", "25.00", "cents")),
    (["--who", "jdoe", "--why", "stub", "--nsf-fee", "-1"], ("--nsf-fee", "-1", "cents")),
])
def test_resolve_with_bad_who_date_or_fee(wb, args, fragments):
    """A blank or 65-character --who, a day before the return or after today, 2025-13-01, a fee of 25.00 or -1:
    refused in one line."""
    assert_refused(wb("payments", "resolve-return", "5", "--account", "A1", *args), *fragments)


def test_resolve_twice(wb):
    """A returned item resolved twice (written off, then applied): the second is refused, naming who did the
    first; the ledger still checks."""
    assert_ok(wb("payments", "resolve-return", "5", "--write-off", *WHO))
    assert_refused(wb("payments", "resolve-return", "5", "--account", "A1", *WHO),
                   "payment 5", "already written off by jdoe")
    assert_ok(wb("ledger", "check"))
