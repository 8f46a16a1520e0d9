"""Two processes post payment files to one SQLite ledger at the same time: the second waits, nothing is lost."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import insert, text

from workbench.ledger.check import check_ledger
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.models import Account, Customer, JournalEntry

POST = """
import datetime as dt, sys
import pandas as pd
from workbench.ledger.db import open_ledger, new_session
from workbench.ledger.payments import apply_payments
tag, url = sys.argv[1], sys.argv[2]
frame = pd.DataFrame({"item_id": [f"{tag}{i}" for i in range(300)], "bank": "B",
                      "account": [f"A{i % 50}" for i in range(300)], "amount_cents": 100,
                      "paid_on": dt.date(2025, 2, 3), "kind": "payment", "source": "x"})
for k in range(3):  # three files each, interleaving with the other process
    post = apply_payments(new_session(open_ledger(url)), frame.iloc[k * 100:(k + 1) * 100], checksum=f"{tag}{k}",
                          today=dt.date(2025, 3, 1))
    assert post.applied == 100, post
"""


def test_two_processes_post_payments_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    engine, _, _ = init_ledger(url)
    session = new_session(engine)
    session.execute(insert(Customer), [{"name": f"C{i}", "mailing_address": ""} for i in range(50)])
    session.execute(insert(Account), [{"account_number": f"A{i}", "customer_id": i + 1, "customer_class": "RES",
                                       "cycle": 1, "status": "active"} for i in range(50)])
    session.execute(insert(JournalEntry), [{"account_id": i + 1, "book": "receivable", "kind": "opening",
                                            "posted_on": dt.date(2025, 1, 1), "amount_cents": 250, "reference": ""}
                                           for i in range(50)])
    session.commit()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", POST, tag, url], env=env, stderr=subprocess.PIPE, text=True)
             for tag in ("X", "Y")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert session.execute(text("select count(*), sum(amount_cents) from payments")).one() == (600, 60000)
    # each account: 2.50 opening, 12 payments of 1.00 -> 9.50 credit
    assert session.execute(text("select sum(amount_cents) from journal where book = 'receivable'")).scalar() == \
        50 * 250 - 60000
    assert check_ledger(session) == []
