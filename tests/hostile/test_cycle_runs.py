"""Hostile input to the cycle-run commands: run-cycle, bills, compare-bills, ledger assure."""

from __future__ import annotations

import pytest

from tests.hostile._cli import assert_refused, run_in_process
from workbench.ledger.db import init_ledger
from workbench.runs.config import load_rules_config


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    init_ledger(url)[0].dispose()
    return url


def test_run_cycle_bad_period(tmp_path, capsys):
    """`run-cycle --period 2025-13`: refused naming --period and the expected form."""
    out = run_in_process(["run-cycle", "--cycle", "7", "--period", "2025-13", "--cube", tmp_path,
                          "--tariffs", tmp_path], capsys)
    assert_refused(out, "--period", "2025-13", "bill month like 2025-11")


def test_run_cycle_missing_cube(tmp_path, capsys):
    """`run-cycle --cube` that does not exist: refused naming the cube."""
    out = run_in_process(["run-cycle", "--cycle", "7", "--period", "2025-11", "--cube", tmp_path / "nope.zarr",
                          "--tariffs", tmp_path], capsys)
    assert_refused(out, "--cube", "nope.zarr", "not found")


def test_run_cycle_uninitialised_ledger(tmp_path, capsys):
    """`run-cycle --db` on a database `ledger init` never made: refused, says to run ledger init (no posting)."""
    out = run_in_process(["bills", "list", "--db", f"sqlite:///{tmp_path / 'empty.sqlite'}"], capsys)
    assert_refused(out, "ledger init")


def test_release_unknown_bill(url, capsys):
    """`bills release 999` of a bill that does not exist: refused naming the bill."""
    out = run_in_process(["bills", "release", "999", "--who", "a", "--why", "b", "--db", url], capsys)
    assert_refused(out, "bill 999", "no such bill")


def test_release_without_why(url, capsys):
    """`bills release 1 --who a` without --why: a usage error naming --why (a release needs who and why)."""
    out = run_in_process(["bills", "release", "1", "--who", "a", "--db", url], capsys)
    assert_refused(out, "--why")


def test_rules_file_unknown_rule(tmp_path, url, capsys):
    """`run-cycle --rules` naming a rule that does not exist: refused naming the file and the rule."""
    rules = tmp_path / "site.yaml"
    rules.write_text("peer:\n  hold: false\n")
    with pytest.raises(Exception, match="site.yaml: unknown rule 'peer'"):
        load_rules_config(rules)


@pytest.mark.parametrize("body, fragments", [
    ("acct,period,total\n", ("header lacks account",)),
    ("account,period,total\nA1,2025-11,12.3.4\n", ("row 2, total", "not an amount")),
    ("account,period,total\n,2025-11,1\n", ("row 2", "account is empty")),
    ("account,period,total\nA1,Nov 2025,1\n", ("row 2", "not a bill month")),
])
def test_compare_bills_bad_legacy_rows(tmp_path, url, capsys, body, fragments):
    """`compare-bills --legacy` with a bad header, amount, account or month: refused naming the row and field."""
    legacy = tmp_path / "legacy.csv"
    legacy.write_text(body)
    out = run_in_process(["compare-bills", "--legacy", legacy, "--db", url, "--out", tmp_path / "c.csv"], capsys)
    assert_refused(out, *fragments)


def test_assure_bad_period(tmp_path, url, capsys):
    """`ledger assure --period 11/2025`: refused naming --period."""
    out = run_in_process(["ledger", "assure", "--period", "11/2025", "--cube", tmp_path, "--db", url], capsys)
    assert_refused(out, "--period")


def test_assure_cycle_not_a_number(tmp_path, url, capsys):
    """`ledger assure --cycle seven`: refused naming --cycle."""
    out = run_in_process(["ledger", "assure", "--period", "2025-11", "--cycle", "seven", "--cube", tmp_path,
                          "--db", url], capsys)
    assert_refused(out, "--cycle", "seven")
