"""A banking enrollment with no opening balance is in the run's own outputs, not only in the log: the run
summary (printed, and ``run.json``) counts it and ``exceptions.csv`` lists its meter with the reason and
``held`` no; the bills are the same as with an explicit 0, and the accounting (meters in = billed + held) is
unchanged. With the balance given, none of it appears."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.ami.cube import open_cube
from workbench.billing.cycle import run_cycle
from workbench.billing.cycle_output import held_exceptions
from workbench.cli import main
from workbench.sample import generate_sample_utility


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    """16 meters, January-February 2025 (seed 5: meters 3 and 4 are NEM2 solar customers)."""
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=16, year=2025, seed=5, meter_chunk=16, progress=False, months=(1, 2))
    ds = open_cube(path, chunks=False)
    assert list(ds["nem_program"].values[3:5]) == ["NEM2", "NEM2"]
    return path, [str(m) for m in ds["meter"].values], [str(a) for a in ds["account"].values]


def _enroll(tmp_path, accounts, third: str):
    """Account 4 brings 12.34 of credit; account 3 is on NEM2 since 2020 with ``third`` as its opening credit."""
    path = tmp_path / "enrollments.csv"
    path.write_text("account,program,pto_date,opening_credit\n"
                    f"{accounts[3]},NEM2,2020-08-20,{third}\n{accounts[4]},NEM2,2019-05-10,12.34\n")
    return path


def test_no_opening_balance_is_in_the_summary_and_the_exceptions(cube, tmp_path, capsys):
    path, meters, accounts = cube
    missing = run_cycle(path, "tariffs", tmp_path / "missing", enrollments=_enroll(tmp_path, accounts, ""),
                        progress=False)
    text = missing.summary_text()
    assert ("WARNING: 1 meter(s) of 1 account(s) on a net-metering program that banks were billed with a bank "
            "starting at zero") in text and f"e.g. account {accounts[3]}" in text
    assert "listed in exceptions.csv (held: no)" in text

    listed = pd.read_csv(tmp_path / "missing" / "exceptions.csv", dtype=str)
    review = listed[listed["held"] == "no"]
    assert list(zip(review["meter"], review["account"], strict=True)) == [(meters[3], accounts[3])]
    reason = review["reason"].iloc[0]
    assert "bank starting at zero" in reason and "on NEM2 (banks $ credit) since 2020-08-20" in reason
    assert "before the cube's first day 2025-01-01" in reason and "enrollments.csv gives no opening balance" in reason
    # held rows are the held meters, and only they: the accounting is as before
    assert len(held_exceptions(listed)) == missing.meters_held == (listed["held"] == "yes").sum()
    assert missing.meters_in == missing.meters_billed + missing.meters_held
    run = json.loads((tmp_path / "missing" / "run.json").read_text())
    assert run["review"]["no_opening_bank"]["meters"] == 1 and run["review"]["no_opening_bank"]["accounts"] == 1

    # the bills are what an explicit 0 bills: the outputs say it, the bills do not change
    zero = run_cycle(path, "tariffs", tmp_path / "zero", enrollments=_enroll(tmp_path, accounts, "0"), progress=False)
    assert "WARNING" not in zero.summary_text()
    bills_missing = pd.read_parquet(tmp_path / "missing" / "bills.parquet")
    pd.testing.assert_frame_equal(bills_missing, pd.read_parquet(tmp_path / "zero" / "bills.parquet"))
    assert (bills_missing.meter == meters[3]).sum() >= 1  # billed, not held

    # `workbench cycle` prints the same warning in its summary (the file now says 0 for account 3: give it back
    # the missing balance first)
    _enroll(tmp_path, accounts, "")
    capsys.readouterr()
    assert main(["cycle", "--cube", str(path), "--tariffs", "tariffs", "--out", str(tmp_path / "cli"),
                 "--enrollments", str(tmp_path / "enrollments.csv"), "--quiet"]) == 0
    assert "WARNING: 1 meter(s) of 1 account(s)" in capsys.readouterr().out


def test_with_the_opening_balance_given_nothing_is_listed(cube, tmp_path):
    path, _, accounts = cube
    result = run_cycle(path, "tariffs", tmp_path / "out", enrollments=_enroll(tmp_path, accounts, "5.00"),
                       progress=False)
    assert "WARNING" not in result.summary_text() and result.review == []
    listed = pd.read_csv(tmp_path / "out" / "exceptions.csv", dtype=str)
    assert "no" not in set(listed["held"]) and len(listed) == result.meters_held
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["review"]["no_opening_bank"] == {**run["review"]["no_opening_bank"], "meters": 0, "accounts": 0}


def test_held_exceptions_reads_old_and_new_listings():
    old = pd.DataFrame({"meter": ["M1"], "account": ["A"], "rate_code": ["R"], "reason": ["x"]})
    assert list(held_exceptions(old)["meter"]) == ["M1"]  # written before the held column: every row held
    new = pd.DataFrame({"meter": ["M1", "M2", "M3"], "reason": ["x", "y", "z"], "held": ["yes", "no", None]})
    assert list(held_exceptions(new)["meter"]) == ["M1", "M3"]
