"""insert_rows stores exactly what SQLAlchemy Core stores (dates, timestamps, flags, NULLs, column defaults),
and ledger assure's run filter reads only the month's runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from workbench.ledger.bulk import insert_rows
from workbench.ledger.db import init_ledger
from workbench.ledger.models import Account, Customer, JournalEntry
from workbench.runs.assure import runs_not_billed


def test_insert_rows_stores_what_core_stores(tmp_path):
    engine, _, _ = init_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with engine.begin() as conn:
        conn.execute(insert(Customer.__table__), [{"name": "C", "mailing_address": ""}])
        conn.execute(insert(Account.__table__), [{"account_number": "A1", "customer_id": 1, "customer_class": "RES",
                                                  "cycle": 1, "status": "active", "opened_on": dt.date(2025, 1, 1)}])
        row = {"account_id": 1, "book": "receivable", "posted_on": dt.date(2025, 2, 3), "kind": "bill",
               "amount_cents": -1234, "reference": "r", "bill_id": None}
        conn.execute(insert(JournalEntry.__table__), [row])        # Core (reference)
        insert_rows(conn, JournalEntry.__table__, [row, {**row, "amount_cents": 5}])
        raw = conn.exec_driver_sql("select posted_on, amount_cents, bill_id, typeof(created_at), "
                                   "length(created_at) from journal order by id").all()
        typed = conn.execute(select(JournalEntry.posted_on, JournalEntry.created_at).order_by(JournalEntry.id)).all()
    assert [r[:3] for r in raw] == [("2025-02-03", -1234, None), ("2025-02-03", -1234, None), ("2025-02-03", 5, None)]
    assert raw[0][3:] == raw[1][3:] == ("text", 26)               # the default timestamp in SQLAlchemy's format
    assert all(isinstance(t.created_at, dt.datetime) and t.posted_on == dt.date(2025, 2, 3) for t in typed)


def test_runs_not_billed_reads_only_the_month(tmp_path):
    for name, meter in (("cycle7-2025-11-abc", "M1"), ("cycle12-2025-11-def", "M2"), ("cycle7-2025-10-ghi", "M3")):
        (tmp_path / name / "cycle").mkdir(parents=True)
        (tmp_path / name / "cycle" / "exceptions.csv").write_text(f"meter,account,rate_code,reason\n{meter},A,R,why\n")
    assert runs_not_billed(tmp_path, "2025-11") == {"M1", "M2"}
    assert runs_not_billed(tmp_path / "none", "2025-11") == set()
