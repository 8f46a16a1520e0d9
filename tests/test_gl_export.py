"""``workbench ledger gl-export`` on a hand-built ledger, on SQLite and on a real PostgreSQL server: the debit
and credit of every GL account each day (and month) worked by hand in the comments, the balance check, a kind
the chart does not map refused with its count and cents, and an existing file never replaced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import yaml

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.test_ledger import bills_of
from tests.test_receivables_cli import ledger_runner
from workbench.ledger.db import new_session
from workbench.ledger.gl_chart import read_chart
from workbench.ledger.posting import post_bills

CHART = """\
control: {receivable: AR, budget: BUD, deposit: DEP}
kinds:
  bill: {debit: AR, credit: {by_rate: {RES: REV-RES, SGS: REV-SGS}}}
  payment: {debit: CASH, credit: AR}
  payment_return: {debit: AR, credit: CASH}
  deposit: {debit: CASH, credit: DEP}
  deposit_refund: {debit: DEP, credit: AR}
  unapplied_received: {debit: CASH, credit: UNAP}
  unapplied_applied: {debit: UNAP, credit: AR}
  unapplied_refunded: {debit: UNAP, credit: CASH}
  unapplied_unclaimed: {debit: UNAP, credit: UNCLAIMED}
  return_received: {debit: RETSUSP, credit: CASH}
  return_written_off: {debit: BADDEBT, credit: RETSUSP}
"""
# (period, account) -> (debit, credit), worked by hand:
# 01-31 bills: B1 100.00 + B2 80.00 RES, B3 50.00 SGS: AR debit 230.00; REV-RES credit 180.00, REV-SGS 50.00.
# 02-10 P1 100.00 (B1) + P2 30.00 (B2) paid: CASH debit 130.00, AR credit 130.00; U1 45.00 + U2 12.34 queued:
#       CASH debit 57.34, UNAP credit 57.34. Day: debits 187.34 = credits 130.00 + 57.34.
# 02-12 R1 5.00 returned into the queue: RETSUSP debit 5.00, CASH credit 5.00.
# 02-14 U1 applied to B3: UNAP debit 45.00, AR credit 45.00; U2 unclaimed: UNAP debit 12.34, UNCLAIMED credit
#       12.34; R1 written off: BADDEBT debit 5.00, RETSUSP credit 5.00; B1's deposit of 200.00 taken: CASH
#       debit 200.00, DEP credit 200.00. Day: 57.34 + 5.00 + 200.00 = 262.34 each side.
# 02-28 B2's February bill 60.00: AR debit 60.00, REV-RES credit 60.00; B1's deposit refunded to its bill (a
#       transfer between books): DEP debit 200.00 (deposit book -200.00), AR credit 200.00 (receivable -200.00).
DAYS = {("2025-01-31", "AR"): (23000, 0), ("2025-01-31", "REV-RES"): (0, 18000), ("2025-01-31", "REV-SGS"): (0, 5000),
        ("2025-02-10", "AR"): (0, 13000), ("2025-02-10", "CASH"): (18734, 0), ("2025-02-10", "UNAP"): (0, 5734),
        ("2025-02-12", "CASH"): (0, 500), ("2025-02-12", "RETSUSP"): (500, 0),
        ("2025-02-14", "AR"): (0, 4500), ("2025-02-14", "BADDEBT"): (500, 0), ("2025-02-14", "CASH"): (20000, 0),
        ("2025-02-14", "DEP"): (0, 20000), ("2025-02-14", "RETSUSP"): (0, 500), ("2025-02-14", "UNAP"): (5734, 0),
        ("2025-02-14", "UNCLAIMED"): (0, 1234),
        ("2025-02-28", "AR"): (6000, 20000), ("2025-02-28", "DEP"): (20000, 0), ("2025-02-28", "REV-RES"): (0, 6000)}
# the range: 230.00 + 187.34 + 5.00 + 262.34 + 260.00 = 944.68 each side.
# February as one entry: CASH 187.34 + 200.00 debit, 5.00 credit; AR 60.00 debit, 130.00 + 45.00 + 200.00 credit
MONTHS = {("2025-01", "AR"): (23000, 0), ("2025-01", "REV-RES"): (0, 18000), ("2025-01", "REV-SGS"): (0, 5000),
          ("2025-02", "AR"): (6000, 37500), ("2025-02", "BADDEBT"): (500, 0), ("2025-02", "CASH"): (38734, 500),
          ("2025-02", "DEP"): (20000, 20000), ("2025-02", "RETSUSP"): (500, 500), ("2025-02", "REV-RES"): (0, 6000),
          ("2025-02", "UNAP"): (5734, 5734), ("2025-02", "UNCLAIMED"): (0, 1234)}


def _cents(text: str) -> int:
    whole, frac = text.split(".")
    assert len(frac) == 2
    return int(whole) * 100 + int(frac)


def _read(path) -> dict:
    frame = pd.read_csv(path, dtype=str)
    assert list(frame.columns) == ["period", "gl_account", "debit", "credit", "entries", "kinds"]
    return {(r.period, r.gl_account): (_cents(r.debit), _cents(r.credit)) for r in frame.itertuples()}


def _build(wb, tmp_path):
    with new_session(wb.engine) as session:
        post_bills(session, None, *bills_of(dt.date(2025, 1, 1), dt.date(2025, 1, 31), [
            ("B3", "M3", "SGS", "SGS", [("Energy", 50.00)])]))
    (tmp_path / "pay.csv").write_text(
        "item_id,account,amount,paid_on,kind\nP1,B1,100.00,2025-02-10,payment\nP2,B2,30.00,2025-02-10,payment\n"
        "U1,OLD,45.00,2025-02-10,payment\nU2,??,12.34,2025-02-10,payment\nR1,Q,5.00,2025-02-12,return\n")
    wb("payments", "post", tmp_path / "pay.csv")
    wb("payments", "unapplied", "--out", tmp_path / "u.csv")
    ids = pd.read_csv(tmp_path / "u.csv", dtype=str).set_index("item_id")["payment_id"].to_dict()
    who = ["--who", "jdoe", "--why", "test", "--on", "2025-02-14"]
    wb("payments", "apply", ids["U1"], "--account", "B3", *who)
    wb("payments", "resolve", ids["U2"], "--unclaimed", *who)
    wb("payments", "resolve-return", ids["R1"], "--write-off", *who)
    wb("ledger", "deposits", "take", "B1", "200.00", "--on", "2025-02-14")
    wb("ledger", "deposits", "refund", "B1", "--on", "2025-02-28")
    (tmp_path / "chart.yaml").write_text(CHART)


def _export(wb, tmp_path, name, *more, ok=True):
    return wb("ledger", "gl-export", "--from", "2025-01-01", "--to", "2025-02-28", "--chart", tmp_path / "chart.yaml",
              "--out", tmp_path / name, *more, ok=ok)


def _round_trip(wb, tmp_path):
    _build(wb, tmp_path)
    out = _export(wb, tmp_path, "gl.csv")
    assert "5 day(s)" in out.stdout and "debits 944.68 = credits 944.68" in out.stdout
    assert _read(tmp_path / "gl.csv") == DAYS
    _export(wb, tmp_path, "gl-month.csv", "--per", "month")
    assert _read(tmp_path / "gl-month.csv") == MONTHS
    # a day range: 02-14 only
    wb("ledger", "gl-export", "--from", "2025-02-14", "--to", "2025-02-14", "--chart", tmp_path / "chart.yaml",
       "--out", tmp_path / "d.csv")
    assert _read(tmp_path / "d.csv") == {k: v for k, v in DAYS.items() if k[0] == "2025-02-14"}

    # the file exists: refused, left as it was
    before = (tmp_path / "gl.csv").read_bytes()
    out = _export(wb, tmp_path, "gl.csv", ok=False)
    assert out.status == 2 and "already exists" in out.stderr and (tmp_path / "gl.csv").read_bytes() == before

    # unmapped kinds: named with their entries and cents, nothing written
    (tmp_path / "chart.yaml").write_text(CHART.replace("  deposit: {debit: CASH, credit: DEP}\n", "")
                                         .replace("  unapplied_unclaimed: {debit: UNAP, credit: UNCLAIMED}\n", ""))
    out = _export(wb, tmp_path, "x.csv", ok=False)
    assert out.status == 2 and "no mapping for kind 'deposit' (1 entries, 200.00), 'unapplied_unclaimed' " \
        "(1 entries, 12.34); add them under kinds:" in out.stderr and not (tmp_path / "x.csv").exists()
    # a rate the by-rate mapping lacks
    (tmp_path / "chart.yaml").write_text(CHART.replace(", SGS: REV-SGS", ""))
    out = _export(wb, tmp_path, "x.csv", ok=False)
    assert out.status == 2 and "kind bill credit: by_rate has no rate 'SGS'" in out.stderr
    assert "(1 entries, 50.00)" in out.stderr and not (tmp_path / "x.csv").exists()
    # a chart that makes the deposit a transfer between books (AR is a control account): 200.00 has no debit on
    # 02-14, and the balance check refuses it before writing
    (tmp_path / "chart.yaml").write_text(CHART.replace("deposit: {debit: CASH, credit: DEP}",
                                                       "deposit: {debit: AR, credit: DEP}"))
    out = _export(wb, tmp_path, "x.csv", ok=False)
    assert out.status == 2 and "does not balance: 2025-02-14: debits 62.34 but credits 262.34" in out.stderr
    assert not (tmp_path / "x.csv").exists()

    # a rate the by-rate mapping does not name but its "*" takes: exported, and the rate is named in a warning
    (tmp_path / "chart.yaml").write_text(CHART.replace("SGS: REV-SGS", "'*': REV-OTHER"))
    out = _export(wb, tmp_path, "star.csv")
    assert _read(tmp_path / "star.csv")[("2025-01-31", "REV-OTHER")] == (0, 5000)
    assert "booked to its '*' account: bill credit 'SGS' (1 entries, 50.00)" in out.stderr

def test_gl_export_on_sqlite(tmp_path, capsys):
    wb = ledger_runner(f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path, capsys)
    try:
        _round_trip(wb, tmp_path)
    finally:
        wb.engine.dispose()


def test_gl_export_on_postgresql(fresh_pg_url, tmp_path, capsys):  # noqa: F811
    wb = ledger_runner(fresh_pg_url, tmp_path, capsys)
    try:
        _round_trip(wb, tmp_path)
    finally:
        wb.engine.dispose()


def test_sample_chart_maps_every_kind_of_the_scenario(tmp_path, capsys):
    """docs/examples/gl-chart.yaml reads, maps all the scenario's activity, and balances."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    wb = ledger_runner(url, tmp_path, capsys)
    try:
        _build(wb, tmp_path)
        wb("ledger", "gl-export", "--from", "2025-01-01", "--to", "2025-02-28", "--chart",
           "docs/examples/gl-chart.yaml", "--out", tmp_path / "s.csv")
    finally:
        wb.engine.dispose()
    lines = pd.read_csv(tmp_path / "s.csv", dtype=str)
    assert sum(map(_cents, lines["debit"])) == sum(map(_cents, lines["credit"])) == 94468


def test_returned_item_applied_from_the_queue(tmp_path, capsys):
    """A 30.00 return of "OLD" (02-12) queued, then applied to B2 (02-14), reversing B2's 30.00 payment and
    charging the 25.00 fee. By hand: 02-10 CASH 30.00 / AR 30.00 (P2); 02-12 RETSUSP 30.00 / CASH 30.00 (into
    the queue); 02-14 AR 30.00 + 25.00 debit, RETSUSP 30.00 credit (its reversal clears the suspense, not
    cash), NSF 25.00 credit."""
    wb = ledger_runner(f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path, capsys)
    try:
        (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\nP2,B2,30.00,2025-02-10,payment\n"
                                          "R9,OLD,30.00,2025-02-12,return\n")
        wb("payments", "post", tmp_path / "pay.csv")
        wb("payments", "unapplied", "--out", tmp_path / "u.csv")
        rid = pd.read_csv(tmp_path / "u.csv", dtype=str)["payment_id"].iloc[0]
        wb("payments", "resolve-return", rid, "--account", "B2", "--who", "j", "--why", "w", "--on", "2025-02-14")
        (tmp_path / "chart.yaml").write_text(CHART + "  return_applied: {debit: AR, credit: RETSUSP}\n"
                                             "  nsf_fee: {debit: AR, credit: NSF}\n")
        wb("ledger", "gl-export", "--from", "2025-02-01", "--to", "2025-02-28", "--chart", tmp_path / "chart.yaml",
           "--out", tmp_path / "gl.csv")
        lines = {k: v for k, v in _read(tmp_path / "gl.csv").items() if k[0] < "2025-02-28"}
        assert lines == {("2025-02-10", "AR"): (0, 3000), ("2025-02-10", "CASH"): (3000, 0),
                         ("2025-02-12", "CASH"): (0, 3000), ("2025-02-12", "RETSUSP"): (3000, 0),
                         ("2025-02-14", "AR"): (5500, 0), ("2025-02-14", "NSF"): (0, 2500),
                         ("2025-02-14", "RETSUSP"): (0, 3000)}
    finally:
        wb.engine.dispose()


def test_sample_chart_names_a_revenue_account_for_every_rate_of_the_sample_book():
    # The example chart mapped RES, RES-TOU and GS: on the sample utility's own ledger RES-FLAT and RES-TIER
    # (residential) and GS-TOU-DEMAND (commercial) bills fell through to "*" and were booked as "449 Other
    # sales" without a word. Each rate code of tariffs/ must be named for every by-rate revenue kind.
    chart = read_chart("docs/examples/gl-chart.yaml")
    sectors = {}
    for path in Path("tariffs").glob("*.yaml"):
        tariff = yaml.safe_load(path.read_text())
        sectors[tariff["code"]] = tariff["sector"]
    expected = {"residential": "440 Residential sales", "commercial": "442 Commercial and industrial sales",
                "industrial": "442 Commercial and industrial sales"}
    for kind in ("bill", "bill_cancel", "budget_deferral"):
        by_rate = chart.kinds[kind]["credit"]
        assert {code: by_rate.get(code) for code in sectors} == {c: expected[s] for c, s in sectors.items()}, kind
