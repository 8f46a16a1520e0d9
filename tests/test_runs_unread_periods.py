"""A run-cycle bill month whose last bill period the cube's data cut short (the meter's next read is after the
data end) must not post that stub: the ledger keys bills by period start, so a posted 13-day stub would make
the next run skip the whole period and the days after the data end would never be billed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.runs.pipeline import bill, cycle_read_dates

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    from workbench.sample import generate_sample_utility

    path = tmp_path_factory.mktemp("unread") / "cube.zarr"
    generate_sample_utility(path, n_meters=40, seed=5, months=(10, 11), progress=False)  # data end 2025-12-01
    return path


def test_periods_cut_by_the_data_end_are_set_aside_not_posted(cube, tmp_path):
    cycle = 15  # the sample's cycle 15 reads on 2025-11-21 and 2025-12-19 (see its read dates)
    reads = cycle_read_dates(cube, cycle)
    assert pd.Timestamp("2025-11-21") in reads and pd.Timestamp("2025-12-19") in reads
    billed = bill(cube, ROOT / "tariffs", cycle, "2025-11", tmp_path / "run")
    # every bill left to post ends on a read date: 2025-10-22 .. 2025-11-21
    assert len(billed.bills) > 0
    assert set(pd.to_datetime(billed.bills["period_end"])) == {pd.Timestamp("2025-11-21")}
    # the stub 2025-11-21 .. 2025-12-01 (10 of the period's 28 days) of every billed meter is set aside
    stub = billed.not_yet_read
    assert len(stub) == len(billed.bills)
    assert set(pd.to_datetime(stub["period_start"])) == {pd.Timestamp("2025-11-21")}
    assert set(pd.to_datetime(stub["period_end"])) == {pd.Timestamp("2025-12-01")}
    assert set(stub["days"]) == {10}
    # and its line items are not posted either
    keys = set(zip(billed.line_items["meter"], pd.to_datetime(billed.line_items["period_start"]), strict=True))
    assert {(m, pd.Timestamp("2025-11-21")) for m in stub["meter"]}.isdisjoint(keys)
