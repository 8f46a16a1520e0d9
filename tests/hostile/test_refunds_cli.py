"""Hostile ``payments resolve`` (refund an unidentified payment, or move it to unclaimed property): an unknown
or malformed id, a returned item, a payment applied when posted or from the queue, a second resolution, no
action or two, a blank or over-long --who, a date out of range. Each is refused in one line naming what it
found and what was expected, and neither the journal nor the queue changes. The ledger is the one of
test_returns_cli.py: queued payment U1 (id 1, 40.00 of Z9), P1 (id 2, applied to A1 when posted), queued
returned item R0 (id 4)."""

from __future__ import annotations

import pytest

from ._cli import assert_ok, assert_refused
from .test_returns_cli import WHO, wb  # noqa: F401  (fixture)


@pytest.mark.parametrize("args,fragments", [
    (["99", "--refund"], ("payment 99", "no such item")),
    (["abc", "--refund"], ("payment_id", "whole number")),
    (["-3", "--refund"], ("payment_id", "whole number")),
    (["4", "--refund"], ("item R0", "a returned item, not a payment", "payments resolve-return")),
    (["2", "--unclaimed"], ("item P1", "not in the unapplied-cash queue", "applied to account A1")),
    (["1"], ("one of the arguments", "--refund", "--unclaimed", "required")),
    (["1", "--refund", "--unclaimed"], ("--unclaimed", "not allowed with", "--refund")),
])
def test_resolve_payment_unknown_not_queued_or_no_action(wb, args, fragments):  # noqa: F811
    """Item 99, abc, -3, a returned item, a payment applied when posted, no action, two: refused."""
    assert_refused(wb("payments", "resolve", *args, *WHO), *fragments)


@pytest.mark.parametrize("args,fragments", [
    (["--who", " ", "--why", "stub"], ("--who", "--why")),
    (["--who", "jdoe", "--why", ""], ("--who", "--why")),
    (["--who", "x" * 65, "--why", "stub"], ("--who", "64")),
    (["--who", "jdoe", "--why", "stub", "--on", "2025-02-09"], ("--on 2025-02-09", "before the payment was received")),
    (["--who", "jdoe", "--why", "stub", "--on", "2999-01-01"], ("--on 2999-01-01", "after today")),
    (["--who", "jdoe", "--why", "stub", "--on", "02/14/2025"], ("--on", "02/14/2025")),
])
def test_resolve_payment_with_bad_who_or_date(wb, args, fragments):  # noqa: F811
    """A blank --who or --why, a 65-character --who, a day before the payment or after today, a US date."""
    assert_refused(wb("payments", "resolve", "1", "--refund", *args), *fragments)


def test_resolve_payment_twice_or_after_applying(wb):  # noqa: F811
    """Refunded, then moved to unclaimed property, then applied: both refused, naming who refunded it and when;
    a payment applied from the queue cannot then be refunded. The ledger still checks."""
    assert_ok(wb("payments", "resolve", "1", "--refund", *WHO, "--on", "2025-02-13"))
    assert_refused(wb("payments", "resolve", "1", "--unclaimed", *WHO), "payment 1", "item U1",
                   "already refunded to the payer by jdoe on 2025-02-13")
    assert_refused(wb("payments", "apply", "1", "--account", "A1", *WHO), "item U1", "already refunded by jdoe")
    assert_ok(wb("ledger", "check"))


def test_refund_after_applying(wb):  # noqa: F811
    """Applied from the queue to A1, then refunded: refused, naming the account and the day."""
    assert_ok(wb("payments", "apply", "1", "--account", "A1", *WHO, "--on", "2025-02-13"))
    assert_refused(wb("payments", "resolve", "1", "--refund", *WHO), "item U1",
                   "already applied from the queue to account A1 on 2025-02-13")
    assert_ok(wb("ledger", "check"))
