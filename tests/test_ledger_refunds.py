"""Unidentified payments of the unapplied-cash queue refunded to the payer or moved to unclaimed property with
``workbench payments resolve``, on SQLite and on a real PostgreSQL server. The queue's roll-forward in
``ledger reconcile`` is worked by hand in the comments; the journal is checked to be left as it was."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import insert, select

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.test_ledger_returns import _journal, _rows
from tests.test_receivables_cli import ledger_runner, wb  # noqa: F401  (fixture)
from workbench.ledger.check import check_ledger, reconcile_day
from workbench.ledger.db import new_session
from workbench.ledger.models import Account, JournalEntry, Payment, UnappliedResolution

# 02-10: B1 pays 100.00 (P1); U1 45.00 of "OLD-7" and U2 12.34 of "??" go to the queue. 02-11: U3 20.00 of "Z"
# queued. 02-12: R1, a 5.00 return matching nothing, queued too.
PAYMENTS = ("P1,B1,100.00,2025-02-10,payment\nU1,OLD-7,45.00,2025-02-10,payment\nU2,??,12.34,2025-02-10,payment\n"
            "U3,Z,20.00,2025-02-11,payment\nR1,Q,5.00,2025-02-12,return\n")
ON = ["--on", "2025-02-14"]


def _round_trip(wb, tmp_path):  # noqa: F811
    (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\n" + PAYMENTS)
    wb("payments", "post", tmp_path / "pay.csv")
    wb("payments", "unapplied", "--out", tmp_path / "u.csv")
    ids = pd.read_csv(tmp_path / "u.csv", dtype=str).set_index("item_id")["payment_id"].to_dict()
    assert sorted(ids) == ["R1", "U1", "U2", "U3"]
    with new_session(wb.engine) as session:
        p1 = str(session.scalar(select(Payment.id).where(Payment.item_id == "P1")))
    before = _journal(wb.engine)

    out = wb("payments", "resolve", ids["U1"], "--refund", "--who", "jdoe", "--why", "payer asked", *ON)
    assert "item U1, 45.00, payer reference 'OLD-7'): refunded to the payer on 2025-02-14 by jdoe" in out.stdout
    out = wb("payments", "resolve", ids["U2"], "--unclaimed", "--who", "kim", "--why", "escheat", *ON)
    assert "moved to unclaimed property on 2025-02-14 by kim" in out.stdout
    wb("payments", "apply", ids["U3"], "--account", "B2", "--who", "jdoe", "--why", "found", *ON)

    refusals = [  # each names what it found
        (["resolve", ids["U1"], "--unclaimed"], "already refunded to the payer by jdoe on 2025-02-14"),
        (["resolve", ids["U3"], "--refund"], "already applied from the queue to account B2 on 2025-02-14"),
        (["resolve", ids["R1"], "--refund"], "a returned item, not a payment; resolve it with `workbench payments "
                                             "resolve-return`"),
        (["resolve", p1, "--refund"], "not in the unapplied-cash queue; it was applied to account B1"),
        (["apply", ids["U2"], "--account", "B2"], "already unclaimed by kim on 2025-02-14"),
        (["resolve", "999", "--refund"], "payment 999: no such item"),
    ]
    for args, fragment in refusals:
        out = wb("payments", *args, "--who", "x", "--why", "y", *ON, ok=False)
        assert out.status == 2 and fragment in out.stderr, (args, out.stderr)
    out = wb("payments", "resolve", ids["R1"], "--refund", "--who", "x", "--why", "y", "--on", "2025-02-01", ok=False)
    assert out.status == 2 and "a returned item" in out.stderr

    after = _journal(wb.engine)
    assert after[:len(before)] == before and [r[3:5] for r in after[len(before):]] == [("payment", -2000)]
    with new_session(wb.engine) as session:
        made = sorted((r.action, r.made_by, r.reason, r.resolved_on.isoformat())
                      for r in session.scalars(select(UnappliedResolution)))
        assert made == [("refunded", "jdoe", "payer asked", "2025-02-14"), ("unclaimed", "kim", "escheat", "2025-02-14")]
        # 02-10: 45.00 + 12.34 = 57.34 into the queue (2 items)
        rows, breaks = reconcile_day(session, dt.date(2025, 2, 10))
        rows = _rows(rows)
        assert breaks == [] and rows[("unapplied cash", "received into the queue")] == (2, 5734)
        assert rows[("unapplied cash", "closing")] == (2, 5734)
        # 02-14: 57.34 + 20.00 = 77.34 opening - 20.00 applied - 45.00 refunded - 12.34 unclaimed = 0
        rows, breaks = reconcile_day(session, dt.date(2025, 2, 14))
        rows = _rows(rows)
        assert breaks == []
        assert rows[("unapplied cash", "opening")] == (3, 7734)
        assert rows[("unapplied cash", "applied to accounts")] == (1, -2000)
        assert rows[("unapplied cash", "refunded to the payer")] == (1, -4500)
        assert rows[("unapplied cash", "to unclaimed property")] == (1, -1234)
        assert rows[("unapplied cash", "closing")] == (0, 0)
        assert rows[("returned items (queue)", "closing")] == (1, 500)
        assert check_ledger(session) == []
        # a bug that also credited the refunded U1 to an account: ledger check names it
        b1 = session.scalar(select(Account.id).where(Account.account_number == "B1"))
        session.execute(insert(JournalEntry), [{"account_id": b1, "book": "receivable", "kind": "payment",
                                                "posted_on": dt.date(2025, 2, 15), "amount_cents": -4500,
                                                "payment_id": int(ids["U1"])}])
        session.flush()
        assert any("payment U1: left the unapplied-cash queue refunded but also credited" in b
                   for b in check_ledger(session))
        session.rollback()


def test_unapplied_payments_refunded_or_unclaimed_on_sqlite(wb, tmp_path):  # noqa: F811
    _round_trip(wb, tmp_path)


def test_unapplied_payments_refunded_or_unclaimed_on_postgresql(fresh_pg_url, tmp_path, capsys):  # noqa: F811
    run = ledger_runner(fresh_pg_url, tmp_path, capsys)
    try:
        _round_trip(run, tmp_path)
    finally:
        run.engine.dispose()
