"""The annual true-up: one per relevant period, on the bill that closes it, and never placed by a silent guess.

Hand-calculated bills on the ToU tariff of tests/test_nem.py (UTC; on-peak 16:00-21:00 $0.30/kWh, off-peak
$0.10/kWh, customer charge $10.00 per bill period).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from tests.test_nem import TOU, _program_file, line
from workbench.billing import bill_series
from workbench.billing.cycle import run_cycle
from workbench.calendar.periods import BillPeriods
from workbench.nem.true_up import true_up_mask
from workbench.sample import generate_sample_utility
from workbench.tariffs import tariff_from_spec

NEM = {"code": "NEM-T", "name": "NEM test", "kind": "net_metering", "credits": "dollars",
       "true_up": {"month": 2, "surplus_rate": 0.04, "leftover": "forfeit"}}


def _periods(bounds_by_meter):
    """BillPeriods from each meter's list of (start, end) dates (end exclusive), padded."""
    width = max(len(b) for b in bounds_by_meter)
    start = np.full((len(bounds_by_meter), width), np.datetime64("2030-01-01", "D"))
    end = start.copy()
    for m, rows in enumerate(bounds_by_meter):
        for b, (s, e) in enumerate(rows):
            start[m, b], end[m, b] = np.datetime64(s, "D"), np.datetime64(e, "D")
    zeros = np.zeros(start.shape, int)
    return BillPeriods(start, end, zeros + 30, np.zeros((len(bounds_by_meter), width + 1), np.int64))


def test_one_true_up_per_month_on_the_bill_that_closes_it():
    periods = _periods([
        # the trial's case: a cycle read on 12-17, then the short bill at the end of the data (last day 12-31)
        [("2025-10-17", "2025-11-19"), ("2025-11-19", "2025-12-17"), ("2025-12-17", "2026-01-01")],
        # one bill ending in December: it carries the true-up
        [("2025-11-05", "2025-12-05"), ("2025-12-05", "2026-01-05")],
        # two years: one true-up each December (the same month of two years is two relevant periods)
        [("2024-11-20", "2024-12-20"), ("2024-12-20", "2025-12-01"), ("2025-12-01", "2025-12-30")],
    ])
    assert true_up_mask(periods, 12).tolist() == [[False, False, True], [True, False, False],
                                                  [True, False, True]]
    # the old rule (every bill ending in the month) gave [2, 1, 2]: row 0 settled twice in December 2025
    assert true_up_mask(periods, 12).sum(axis=1).tolist() == [1, 1, 2]


def test_two_bills_ending_in_the_true_up_month_settle_once(tmp_path):
    """Reads 01-10, 02-03, 02-24, 03-20; true-up month 2: the 02-03 to 02-24 bill closes the relevant period."""
    idx = pd.date_range("2025-01-10", "2025-03-20", freq="h", tz="UTC", inclusive="left")
    d, r = np.zeros(len(idx)), np.zeros(len(idx))
    at = {t: i for i, t in enumerate(idx)}
    r[at[pd.Timestamp("2025-01-10 12:00", tz="UTC")]] = 300  # bill 1: 300 kWh off-peak out, 300 x 0.10 = 30.00
    d[at[pd.Timestamp("2025-02-03 17:00", tz="UTC")]] = 100  # bill 2: 100 kWh on-peak in: 100 x 0.30 = 30.00
    r[at[pd.Timestamp("2025-02-10 12:00", tz="UTC")]] = 200  # bill 2: 200 kWh off-peak out: 20.00 of credit
    d[at[pd.Timestamp("2025-03-01 03:00", tz="UTC")]] = 50  # bill 3: 50 kWh off-peak in: 5.00
    reads = [pd.Timestamp(x).date() for x in ("2025-01-10", "2025-02-03", "2025-02-24", "2025-03-20")]
    first, second, third = bill_series(tariff_from_spec(TOU), idx, d, r, read_dates=reads,
                                       program=_program_file(tmp_path, NEM))
    # bill 1 ends in February too, but the period goes on: the 30.00 is carried, nothing settled
    assert not first.true_up and first.credit_earned == 30.00 and first.credit_carried == 30.00
    assert first.total == 10.00 and first.credit_settled == 0
    assert not [li for li in first.line_items if "true-up" in li.description or "surplus" in li.description]
    # bill 2 closes it: 30.00 brought + 20.00 earned, 30.00 applied to the energy, 20.00 forfeited
    assert second.true_up and second.credit_brought == 30.00 and second.credit_applied == 30.00
    assert second.credit_settled == 20.00 and line(second, "Credits forfeited").quantity == pytest.approx(20.00)
    # net surplus of the relevant period (bills 1-2): 500 out - 100 in = 400 kWh x 0.04 = 16.00, paid once
    assert line(second, "Net surplus").amount == -16.00
    assert second.total == 10.00 + 30.00 - 30.00 - 16.00 and second.credit_carried == 0
    # bill 3 starts a new period with an empty bank
    assert not third.true_up and third.credit_brought == 0 and third.credit_applied == 0
    assert third.total == 10.00 + 5.00


def test_bill_without_pto_date_says_the_true_up_month_is_assumed(tmp_path, caplog):
    idx = pd.date_range("2025-01-01", "2025-02-01", freq="h", tz="UTC", inclusive="left")
    d, r = np.full(len(idx), 0.5), np.zeros(len(idx))
    anniversary = {**NEM, "true_up": {"month": "anniversary"}}
    program = _program_file(tmp_path, anniversary)
    with caplog.at_level(logging.WARNING, logger="workbench"):
        bill_series(tariff_from_spec(TOU), idx, d, r, program=program)
    said = [rec.getMessage() for rec in caplog.records if "assumed" in rec.getMessage()]
    assert len(said) == 1 and said[0].startswith("WARNING: NEM-T trues up on the PTO anniversary")
    assert "month assumed to be 12 (December)" in said[0]
    for given in ({"pto_date": "2019-05-10"}, {"true_up_month": 12}):  # known: nothing said
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="workbench"):
            bill_series(tariff_from_spec(TOU), idx, d, r, program=program, **given)
        assert not [rec for rec in caplog.records if "assumed" in rec.getMessage()]


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    """16 meters, January-February 2025 (seed 5: meters 3 and 4 are its only NEM2 customers)."""
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=16, year=2025, seed=5, meter_chunk=16, progress=False, months=(1, 2))
    from workbench.ami.cube import open_cube

    ds = open_cube(path, chunks=False)
    assert [i for i, p in enumerate(ds["nem_program"].values) if p] == [3, 4]
    return path, [str(m) for m in ds["meter"].values], [str(a) for a in ds["account"].values]


def test_cycle_without_pto_dates_lists_the_meters_and_warns(cube, tmp_path, caplog):
    path, meters, accounts = cube
    with caplog.at_level(logging.WARNING, logger="workbench"):
        result = run_cycle(path, "tariffs", tmp_path / "guess", progress=False)
    warned = [rec.getMessage() for rec in caplog.records if "true-up month assumed" in rec.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("WARNING: 2 meter(s) on NEM2")
    text = result.summary_text()
    assert "WARNING: 2 meter(s) on NEM2 (true-up on the PTO anniversary) have no PTO date" in text
    assert "(e.g. meter " + meters[3] in text and "listed in exceptions.csv (held: no)" in text
    assert "bank starting at zero" not in text  # not the other review's warning
    run = json.loads((tmp_path / "guess" / "run.json").read_text())
    assumed = run["review"]["true_up_month_assumed"]
    assert assumed["meters"] == 2 and assumed["month"] == 12 and assumed["examples"] == meters[3:5]
    assert run["review"]["no_opening_bank"]["meters"] == 0
    listed = pd.read_csv(tmp_path / "guess" / "exceptions.csv", dtype=str)
    review = listed[listed["held"] == "no"]
    assert list(review["meter"]) == meters[3:5] and review["reason"].str.contains("true-up month assumed").all()
    assert result.meters_in == result.meters_billed + result.meters_held  # billed, not held

    # with the PTO dates given, nothing is assumed and nothing is said
    enrollments = tmp_path / "enrollments.csv"
    enrollments.write_text("account,program,pto_date,opening_credit\n"
                           f"{accounts[3]},NEM2,2020-08-20,0\n{accounts[4]},NEM2,2019-05-10,0\n")
    known = run_cycle(path, "tariffs", tmp_path / "known", enrollments=enrollments, progress=False)
    assert "WARNING" not in known.summary_text() and known.review == []
    run = json.loads((tmp_path / "known" / "run.json").read_text())
    assert run["review"]["true_up_month_assumed"]["meters"] == 0
