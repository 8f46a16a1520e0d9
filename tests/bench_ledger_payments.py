"""Benchmark: post 100,000 payments to a SQLite ledger (issue 12 target: under 30 s).

    PYTHONPATH=$PWD python -m tests.bench_ledger_payments [N_PAYMENTS] [N_ACCOUNTS]

Set-up (not timed): a fresh ledger, N_ACCOUNTS accounts each owing an opening balance. Timed: one
``apply_payments`` call (validation, inserts, journal, oldest-first pairing, commit). The floor, timed in the
same run: inserting the same N rows with executemany into a bare SQLite table of the same columns (no
journal, no pairing).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

from workbench.ledger.check import check_ledger
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.models import Account, Customer, JournalEntry
from workbench.ledger.payments import apply_payments


def main(n_payments: int = 100_000, n_accounts: int = 20_000) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    engine, _, _ = init_ledger(f"sqlite:///{folder / 'ledger.sqlite'}")
    session = new_session(engine)
    session.execute(insert(Customer), [{"name": f"C{i}", "mailing_address": ""} for i in range(n_accounts)])
    session.execute(insert(Account), [{"account_number": f"A{i:06d}", "customer_id": i + 1, "premise_id": None,
                                       "customer_class": "RES", "cycle": 1, "status": "active",
                                       "opened_on": dt.date(2025, 1, 1)} for i in range(n_accounts)])
    session.execute(insert(JournalEntry), [{"account_id": i + 1, "book": "receivable", "posted_on": dt.date(2025, 1, 1),
                                            "kind": "opening", "amount_cents": 10_000, "reference": ""}
                                           for i in range(n_accounts)])
    session.commit()
    rng = np.random.default_rng(1)
    payments = pd.DataFrame({
        "item_id": [f"I{i:07d}" for i in range(n_payments)], "bank": "B",
        "account": [f"A{i:06d}" for i in rng.integers(0, n_accounts + n_accounts // 100, n_payments)],
        "amount_cents": rng.integers(500, 9000, n_payments), "paid_on": dt.date(2025, 2, 3), "kind": "payment",
        "source": [f"bench.csv:{i + 2}" for i in range(n_payments)]})
    t0, c0 = time.perf_counter(), time.process_time()
    post = apply_payments(session, payments, checksum="bench", file_name="bench.csv", today=dt.date(2025, 3, 1))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    post.check()
    breaks = check_ledger(session)
    floor_db = sqlite3.connect(folder / "floor.sqlite")
    floor_db.execute("create table p (item_id text, bank text, account text, amount_cents integer, paid_on text, "
                     "kind text, source text)")
    rows = list(payments.astype({"paid_on": str}).itertuples(index=False, name=None))
    t1, c1 = time.perf_counter(), time.process_time()
    floor_db.executemany("insert into p values (?, ?, ?, ?, ?, ?, ?)", rows)
    floor_db.commit()
    floor, floor_cpu = time.perf_counter() - t1, time.process_time() - c1
    print(f"payments {n_payments:,} to {n_accounts:,} accounts: {seconds:.2f} s ({n_payments / seconds:,.0f}/s); "
          f"CPU {cpu:.2f} s; applied {post.applied:,}, unapplied {post.unapplied:,}; ledger check breaks: {len(breaks)}")
    print(f"floor (bare executemany insert of the same rows): {floor:.2f} s, CPU {floor_cpu:.2f} s; ratio "
          f"{seconds / floor:.1f}x (CPU {cpu / max(floor_cpu, 1e-9):.1f}x); 1-min load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
