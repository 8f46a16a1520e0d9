"""Hostile collections commands: ``ledger notices`` given a rules file with a required line left out, a misspelt
or out-of-range rule, a file that is not YAML, an output folder that holds files; ``ledger arrange`` given an
unknown account, nothing past due, a bad count, no who/why, a start in the past. Each is refused in one line
naming the field and what was expected, and no notice or arrangement is recorded. Each case runs on a fresh
SQLite ledger with one account (A1, one 100.00 bill due 2025-02-21, 45 days past due on 2025-04-07)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from workbench.cli import build_parser
from workbench.ledger.db import new_session
from workbench.ledger.models import CollectionNotice, PaymentArrangement

from ._cli import assert_ok, assert_refused, run_in_process
from ._ledger import ledger_with_a_bill

ACCOUNTS = ("account_number,customer_name,service_address,meter_id,rate_code,customer_class,opening_date\n"
            "A1,Ann Able,1 Elm St,M1,RES,RES,2025-01-01\n"
            "A2,Bob Best,2 Elm St,M2,RES,RES,2025-01-01\n")
GOOD = {"reminder": "{past_due_days: 15}", "final": "{past_due_days: 45, min_past_due: 50.00, notice_days: 10}",
        "protections": "{medical_certificates: {}, moratorium: {months: [12, 1, 2], dates: []}}"}


@pytest.fixture
def wb(tmp_path, capsys):
    url, engine = ledger_with_a_bill(tmp_path, ACCOUNTS)

    def counts():
        with new_session(engine) as session:
            return [session.scalar(select(func.count()).select_from(m)) for m in (CollectionNotice, PaymentArrangement)]

    def run(*args):
        before = counts()
        out = run_in_process([*args, "--db", url], capsys)
        if out.status:
            assert counts() == before, "a refused command recorded a notice or an arrangement"
        return out

    def rules(text):
        path = tmp_path / "rules.yaml"
        path.write_text(text)
        return path

    run.rules, run.tmp = rules, tmp_path
    yield run
    engine.dispose()


def _notices(wb, rules_text):
    return wb("ledger", "notices", "--as-of", "2025-04-07", "--rules", wb.rules(rules_text), "--out", wb.tmp / "out")


def _yaml(**parts) -> str:
    return "".join(f"{k}: {v}\n" for k, v in parts.items() if v is not None)


@pytest.mark.parametrize("missing,field", [
    ({"final": "{past_due_days: 45, min_past_due: 50.00}"}, "final.notice_days"),
    ({"final": "{past_due_days: 45, notice_days: 10}"}, "final.min_past_due"),
    ({"reminder": None}, "reminder"),
    ({"protections": "{medical_certificates: {}}"}, "protections.moratorium"),
    ({"protections": "{moratorium: {months: [], dates: []}}"}, "protections.medical_certificates"),
])
def test_notices_rules_with_a_required_line_left_out(wb, missing, field):
    """A rules file without the notice days, the amount, the notice period or a protection list: refused, naming the field"""
    out = _notices(wb, _yaml(**{**GOOD, **missing}))
    assert_refused(out, "rules.yaml", field, "required")
    assert not (wb.tmp / "out").exists()


@pytest.mark.parametrize("final,field", [
    ("{past_due_days: 45, min_past_due: -5, notice_days: 10}", "final.min_past_due"),
    ("{past_due_days: 45, min_past_due: 50.001, notice_days: 10}", "final.min_past_due"),
    ("{past_due_days: 45, min_past_due: 50, notice_days: 0}", "final.notice_days"),
    ("{past_due_days: '45', min_past_due: 50, notice_days: 10}", "final.past_due_days"),
    ("{past_due_days: 10, min_past_due: 50, notice_days: 10}", "comes after the reminder"),
    ("{past_due_days: 45, min_past_due: 50, notice_days: 10, notice_dayz: 3}", "final.notice_dayz"),
])
def test_notices_rule_out_of_range_or_misspelt(wb, final, field):
    """A negative amount, a fraction of a cent, zero notice days, a quoted number, a final before the reminder, a misspelt rule: refused, naming the field"""
    assert_refused(_notices(wb, _yaml(**{**GOOD, "final": final})), "rules.yaml", field)


@pytest.mark.parametrize("text,says", [("reminder: [unclosed\n", "not YAML"), ("- a list\n", "expected a mapping"),
                                       ("", "expected a mapping")])
def test_notices_rules_not_yaml(wb, text, says):
    """A rules file that is not YAML, a list, or empty: refused"""
    assert_refused(_notices(wb, text), "rules.yaml", says)


def test_notices_rules_file_missing(wb):
    """A rules file that does not exist: refused, naming it"""
    out = wb("ledger", "notices", "--as-of", "2025-04-07", "--rules", wb.tmp / "nope.yaml", "--out", wb.tmp / "o")
    assert_refused(out, "nope.yaml", "cannot be read")


def test_notices_out_folder_holding_files(wb):
    """An --out folder that holds files (or an earlier run's notices): refused, nothing recorded, nothing touched"""
    (wb.tmp / "out").mkdir()
    (wb.tmp / "out" / "mine.txt").write_text("keep")
    assert_refused(_notices(wb, _yaml(**GOOD)), "--out", "holds files")
    assert (wb.tmp / "out" / "mine.txt").read_text() == "keep"
    assert_ok(wb("ledger", "notices", "--as-of", "2025-04-07", "--rules", wb.tmp / "rules.yaml",
                 "--out", wb.tmp / "first"))
    assert_refused(wb("ledger", "notices", "--as-of", "2025-04-08", "--rules", wb.tmp / "rules.yaml",
                      "--out", wb.tmp / "first"), "already holds files")



def test_notices_help_says_a_run_folder_is_refused(capsys):
    """The --out help says a new or empty folder (it said "or one this command wrote", which is refused above)."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ledger", "notices", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a new or empty folder" in text and "one this command wrote" not in text

@pytest.mark.parametrize("args,says", [
    (["--account", "Z9", "--installments", "3", "--start", "2025-05-01"], "account Z9: not in the ledger"),
    (["--account", "A2", "--installments", "3", "--start", "2025-05-01"], "nothing past due"),
    (["--account", "A1", "--installments", "0", "--start", "2025-05-01"], "--installments"),
    (["--account", "A1", "--installments", "61", "--start", "2025-05-01"], "--installments"),
    (["--account", "A1", "--installments", "3", "--start", "2025-04-01"], "before the arrangement is made"),
    (["--account", "A1", "--installments", "3", "--start", "2025-13-01"], "--start"),
    (["--account", "A1", "--start", "2025-05-01"], "--installments"),
])
def test_arrange_refused(wb, args, says):
    """An unknown account, nothing past due, 0 or 61 installments, a first installment in the past, a bad date, no count: refused"""
    assert_refused(wb("ledger", "arrange", *args, "--who", "jdoe", "--why", "hardship", "--on", "2025-04-07"), says)


@pytest.mark.parametrize("who,why", [("", "hardship"), ("jdoe", "  ")])
def test_arrange_without_who_or_why(wb, who, why):
    """An empty --who or --why: refused (both are recorded)"""
    out = wb("ledger", "arrange", "--account", "A1", "--installments", "3", "--start", "2025-05-01", "--who", who,
             "--why", why, "--on", "2025-04-07")
    assert_refused(out, "--who and --why")


def test_arrange_first_installment_years_ahead(wb):
    """`ledger arrange --start` more than 90 days after `--on` (2029-02-01 for 2025-04-07): refused naming the limit and `--max-start-days` (a start years ahead would protect the account from disconnection for years); allowed when the limit is raised explicitly"""
    args = ["ledger", "arrange", "--account", "A1", "--installments", "3", "--who", "jdoe", "--why", "hardship",
            "--on", "2025-04-07"]
    assert_refused(wb(*args, "--start", "2029-02-01"), "--start 2029-02-01", "1396 days after", "90 days",
                   "--max-start-days")
    # 2025-04-07 + 90 days = 2025-07-06: the last day allowed; 07-07 is one too many
    assert_refused(wb(*args, "--start", "2025-07-07"), "91 days after")
    assert_ok(wb(*args, "--start", "2025-09-01", "--max-start-days", "147"))  # 147 days: allowed when stated


def test_arrange_first_installment_on_the_last_day_allowed(wb):
    """`ledger arrange --start` exactly 90 days after `--on`: accepted (the limit is inclusive)"""
    out = wb("ledger", "arrange", "--account", "A1", "--installments", "3", "--who", "jdoe", "--why", "hardship",
             "--on", "2025-04-07", "--start", "2025-07-06")
    assert_ok(out)
    assert "due 2025-07-06" in out.stdout
