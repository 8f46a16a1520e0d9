"""`workbench bills ...` and `workbench compare-bills` on a small SQLite ledger; amounts worked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import text

from workbench.cli import main
from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.posting import post_bills, start_run
from workbench.runs.compare import compare_bills, legacy_bills, workbench_bills_from_dir

ACCOUNTS = """account_number,customer_name,service_address,meter_id,rate_code,customer_class,cycle,opening_date
A1,Ann Able,1 Elm St,M1,RES,RES,1,2025-01-01
A2,Bob Best,2 Elm St,M2,RES,RES,1,2025-01-01
"""
JAN, FEB = dt.date(2025, 1, 1), dt.date(2025, 2, 1)


def _cycle_tables(rows, hold=None):
    """rows: (account, meter, [(category, amount $)]) -> bills and line items of the period Jan 1 - Feb 1."""
    bills, lines = [], []
    for account, meter, items in rows:
        bills.append(dict(meter=meter, account=account, customer_class="RES", rate_code="RES", period_start=JAN,
                          period_end=FEB, days=31, delivered_kwh=500.0, total=round(sum(a for _, a in items), 2),
                          hold_reason=(hold or {}).get(account, "")))
        lines += [dict(meter=meter, period_start=JAN, line=n, description=cat.title(), category=cat, quantity=1.0,
                       unit="", rate=a, amount=a) for n, (cat, a) in enumerate(items, start=1)]
    return pd.DataFrame(bills), pd.DataFrame(lines)


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    engine, _, _ = init_ledger(url)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
        session.commit()
        bills, lines = _cycle_tables([("A1", "M1", [("fixed", 10.0), ("energy", 50.5)]),
                                      ("A2", "M2", [("fixed", 10.0), ("energy", 60.25)])], hold={"A2": "HIGH_PEER: test"})
        post_bills(session, start_run(session, 1, "2025-01", "r1"), bills, lines)
    yield url, engine
    engine.dispose()


def _sql(engine, query):
    with engine.connect() as c:
        return c.execute(text(query)).all()


def test_hold_release_rebill_from_the_command_line(db, tmp_path, capsys):
    url, engine = db
    held_id, posted_id = (_sql(engine, "select id from bills where status = 'held'")[0][0],
                          _sql(engine, "select id from bills where status = 'posted'")[0][0])
    assert main(["bills", "list", "--status", "held", "--db", url]) == 0
    assert "HIGH_PEER: test" in capsys.readouterr().out
    # a release needs who and why; without them nothing changes
    with pytest.raises(SystemExit) as stop:
        main(["bills", "release", str(held_id), "--who", "jdoe", "--db", url])
    assert stop.value.code == 2
    assert _sql(engine, f"select status from bills where id = {held_id}")[0][0] == "held"
    assert main(["bills", "release", str(held_id), "--who", "jdoe", "--why", "read verified", "--db", url]) == 0
    assert _sql(engine, f"select released_by, release_reason from holds where bill_id = {held_id}") == [
        ("jdoe", "read verified")]
    # rebill A1 from a corrected cycle output: 60.50 reversed, 55.50 posted as version 2; both kept
    fixed, lines = _cycle_tables([("A1", "M1", [("fixed", 10.0), ("energy", 45.5)])])
    out = tmp_path / "corrected"
    out.mkdir()
    fixed.to_parquet(out / "bills.parquet")
    lines.to_parquet(out / "line_items.parquet")
    assert main(["bills", "rebill", str(posted_id), "--who", "jdoe", "--why", "misread", "--from", str(out),
                 "--db", url]) == 0
    rows = _sql(engine, "select version, status, total_cents from bills where meter = 'M1' order by version")
    assert rows == [(1, "cancelled", 6050), (2, "posted", 5550)]
    assert _sql(engine, "select amount_cents, made_by, reason from adjustments") == [(-6050, "jdoe", "misread")]
    # A1's receivable: 60.50 - 60.50 + 55.50
    assert _sql(engine, "select sum(amount_cents) from journal j join accounts a on a.id = j.account_id "
                        "where a.account_number = 'A1' and book = 'receivable'")[0][0] == 5550
    assert main(["bills", "rebill", str(posted_id), "--who", "x", "--why", "y", "--db", url]) == 2  # no --from


def test_compare_bills_by_category_with_tolerance(db, tmp_path, capsys):
    url, engine = db
    legacy = tmp_path / "legacy.csv"
    # A1: total and energy 0.005 off (within $0.01); A2: energy $1.25 more in the workbench; A9: legacy only
    legacy.write_text("account,period,total,energy,fixed\nA1,2025-01,60.495,50.495,10.00\n"
                      "A2,2025-01,69.00,59.00,10.00\nA9,2025-01,12.00,2.00,10.00\n")
    assert main(["compare-bills", "--legacy", str(legacy), "--db", url, "--out", str(tmp_path / "cmp.csv")]) == 0
    printed = capsys.readouterr().out
    assert "matched within $0.01: 1; differ: 1; legacy only: 1; workbench only: 0" in printed
    table = pd.read_csv(tmp_path / "cmp.csv").set_index("account")
    assert table.loc["A2", "diff_energy"] == pytest.approx(1.25) and table.loc["A2", "diff_fixed"] == 0
    assert table.loc["A2", "diff_total"] == pytest.approx(1.25)
    assert table.loc["A9", "status"] == "legacy_only"


def test_compare_from_a_cycle_folder_and_bad_rows(tmp_path):
    bills, lines = _cycle_tables([("A1", "M1", [("fixed", 10.0), ("energy", 5.0)]),
                                  ("A1", "M1b", [("fixed", 10.0)])])
    bills.to_parquet(tmp_path / "bills.parquet")
    lines.to_parquet(tmp_path / "line_items.parquet")
    ours = workbench_bills_from_dir(tmp_path)
    assert ours.set_index("account").loc["A1", "total"] == 25.0  # two meters of one account and month, summed
    legacy = tmp_path / "legacy.csv"
    legacy.write_text("account,period,total\nA1,2025-01,25.00\nA7,2025-01,9.00\n")
    result = compare_bills(legacy_bills(legacy), ours)
    assert result.counts() == {"match": 1, "legacy_only": 1}
    legacy.write_text("account,period,total\nA1,2025-01,abc\n")
    with pytest.raises(Exception, match=r"legacy.csv row 2, total: 'abc' is not an amount"):
        legacy_bills(legacy)
    legacy.write_text("account,period,total\nA1,2025-1,1\n")
    with pytest.raises(Exception, match=r"row 2: period '2025-1' is not a bill month"):
        legacy_bills(legacy)
    legacy.write_text("account,period,total\nA1,2025-01,1\nA1,2025-01,2\n")
    with pytest.raises(Exception, match=r"row 3: account A1 period 2025-01 again \(first on row 2\)"):
        legacy_bills(legacy)


def test_compare_bills_leaves_out_the_ledgers_other_months(db, tmp_path, capsys):
    """A legacy file of February compared with a ledger holding January's bills: nothing is 'workbench only'
    (before, every bill of every other month in the ledger was listed as billed by the workbench alone)."""
    url, _ = db
    legacy = tmp_path / "legacy-feb.csv"
    legacy.write_text("account,period,total\nA1,2025-02,61.00\n")
    assert main(["compare-bills", "--legacy", str(legacy), "--db", url, "--out", str(tmp_path / "cmp.csv")]) == 0
    printed = capsys.readouterr().out
    assert "legacy only: 1; workbench only: 0" in printed
    assert "2 of months the legacy file does not give are left out" in printed
    assert list(pd.read_csv(tmp_path / "cmp.csv")["status"]) == ["legacy_only"]
