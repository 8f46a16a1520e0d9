"""Hostile ``ledger gl-export``: a chart that is not YAML, not the right shape, or missing; a kind or a rate
the chart does not map; a range backwards; an --out that exists (a file, a symlink) or whose folder does not.
Each is refused in one line naming the file, key or kind and what was expected, and no file is written or
replaced. The ledger (fresh SQLite): account A1 (RES), one 100.00 bill posted 2025-01-31, paid 40.00 on
2025-02-10; a 12.34 payment of an unknown account queued the same day."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workbench.ledger.db import new_session
from workbench.ledger.payments import apply_payments

from ._cli import assert_ok, assert_refused, run_in_process
from ._ledger import ledger_with_a_bill

CHART = """control: {receivable: AR}
kinds:
  bill: {debit: AR, credit: {by_rate: {RES: REV}}}
  payment: {debit: CASH, credit: AR}
  unapplied_received: {debit: CASH, credit: UNAP}
"""


@pytest.fixture
def wb(tmp_path, capsys):
    url, engine = ledger_with_a_bill(tmp_path)
    with new_session(engine) as session:
        apply_payments(session, pd.DataFrame([
            dict(item_id=i, account=a, amount_cents=c, paid_on=dt.date(2025, 2, 10), kind="payment",
                 original_item_id="") for i, a, c in (("P1", "A1", 4000), ("U1", "Z9", 1234))]), checksum="p")
    engine.dispose()
    (tmp_path / "chart.yaml").write_text(CHART)

    def run(*args, chart=None, out="gl.csv"):
        if chart is not None:
            (tmp_path / "c.yaml").write_text(chart)
        before = sorted(p.name for p in tmp_path.iterdir())
        result = run_in_process(["ledger", "gl-export", "--from", "2025-01-01", "--to", "2025-02-28",
                                 "--chart", tmp_path / ("c.yaml" if chart is not None else "chart.yaml"),
                                 "--out", tmp_path / out, *args, "--db", url], capsys)
        if result.status:
            assert sorted(p.name for p in tmp_path.iterdir()) == before, "a refused export left a file"
        return result

    run.tmp = tmp_path
    return run


def test_export_works(wb):
    """The fixture's ledger exports: 01-31 AR 100.00 / REV 100.00; 02-10 CASH 52.34 / AR 40.00 + UNAP 12.34."""
    out = wb()
    assert_ok(out)
    assert "debits 152.34 = credits 152.34" in out.stdout
    lines = pd.read_csv(wb.tmp / "gl.csv", dtype=str)
    assert list(zip(lines["period"], lines["gl_account"], lines["debit"], lines["credit"], strict=True)) == [
        ("2025-01-31", "AR", "100.00", "0.00"), ("2025-01-31", "REV", "0.00", "100.00"),
        ("2025-02-10", "AR", "0.00", "40.00"), ("2025-02-10", "CASH", "52.34", "0.00"),
        ("2025-02-10", "UNAP", "0.00", "12.34")]


@pytest.mark.parametrize("chart,fragments", [
    ("control: [AR\n", ("c.yaml line", "not YAML")),
    ("- a\n- b\n", ("c.yaml", "list", "control and kinds")),
    ("control: {receivable: AR}\n", ("c.yaml", "exactly the keys control and kinds")),
    ("control: {receivable: AR}\nkinds: {}\naccounts: 1\n", ("c.yaml", "accounts", "control and kinds")),
    ("control: {ledger: AR}\nkinds: {bill: {debit: AR, credit: REV}}\n", ("control", "receivable, budget, deposit")),
    ("control: {receivable: AR}\nkinds: {bill: {debit: AR}}\n", ("kinds.bill", "exactly debit and credit")),
    ("control: {receivable: AR}\nkinds: {bill: {debit: AR, credit: AR}}\n", ("kinds.bill", "same account 'AR'")),
    ("control: {receivable: AR}\nkinds: {bill: {debit: AR, credit: ''}}\n", ("kinds.bill.credit", "GL account")),
    ("control: {receivable: AR}\nkinds: {bill: {debit: AR, credit: {RES: REV}}}\n", ("kinds.bill.credit", "by_rate")),
    ("control: {receivable: AR}\nkinds: {bill: {debit: AR, credit: {by_rate: {RES: null}}}}\n",
     ("kinds.bill.credit.by_rate.RES", "GL account")),
])
def test_chart_not_the_right_shape(wb, chart, fragments):
    """A chart that is not YAML (line named), a list, missing kinds, an extra key, an unknown book, a kind
    without credit, debit = credit, a blank account, a rate map without by_rate, a rate with no account."""
    assert_refused(wb(chart=chart), *fragments)


@pytest.mark.parametrize("chart,fragments", [
    (CHART.replace("  unapplied_received: {debit: CASH, credit: UNAP}\n", ""),
     ("no mapping for kind 'unapplied_received' (1 entries, 12.34)", "add it under kinds:", "nothing was written")),
    (CHART.replace("  payment: {debit: CASH, credit: AR}\n", "").replace("  unapplied_received: {debit: CASH, "
                                                                         "credit: UNAP}\n", ""),
     ("'payment' (1 entries, -40.00)", "'unapplied_received' (1 entries, 12.34)", "add them")),
    (CHART.replace("{RES: REV}", "{GS: REV}"), ("kind bill credit", "no rate 'RES'", "(1 entries, 100.00)")),
    (CHART.replace("payment: {debit: CASH, credit: AR}", "payment: {debit: CASH, credit: AR2}"),
     ("kind payment in book receivable", "neither its debit nor its credit", "control account 'AR'")),
    (CHART.replace("{receivable: AR}", "{deposit: DEP}"), ("book receivable", "no control account")),
])
def test_activity_the_chart_does_not_map(wb, chart, fragments):
    """Unmapped kinds (one, two: each with count and cents), a rate the by-rate map lacks, a kind missing its
    book's control account, a book with no control account: refused, nothing written or dropped."""
    assert_refused(wb(chart=chart), *fragments)


def test_out_exists_or_has_no_folder(wb):
    """--out that exists (a file, a dangling symlink) or in a missing folder: refused, the file untouched."""
    (wb.tmp / "gl.csv").write_text("mine\n")
    assert_refused(wb(), "gl.csv", "already exists", "never replaces")
    assert (wb.tmp / "gl.csv").read_text() == "mine\n"
    (wb.tmp / "link.csv").symlink_to(wb.tmp / "nowhere.csv")
    assert_refused(wb(out="link.csv"), "link.csv", "already exists")
    assert not (wb.tmp / "nowhere.csv").exists()
    assert_refused(wb(out="no/such/gl.csv"), "no folder")


@pytest.mark.parametrize("args,fragments", [
    (["--to", "2024-12-31"], ("--to 2024-12-31", "before --from 2025-01-01")),
    (["--to", "2025-02-30"], ("--to", "2025-02-30")),
    (["--per", "week"], ("--per", "week", "day", "month")),
    (["--chart", "/nonexistent/chart.yaml"], ("/nonexistent/chart.yaml", "no such file")),
])
def test_bad_range_per_or_chart_path(wb, args, fragments):
    """A range backwards, 2025-02-30, --per week, a chart that is not there."""
    assert_refused(wb(*args), *fragments)
