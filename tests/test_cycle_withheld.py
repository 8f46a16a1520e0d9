"""A read VEE withheld as IMPLAUSIBLE holds its bill in the cycle, even where a site tolerates missing reads.

VEE withholds a read beyond the meter's physical limit as missing (NaN, quality 2) and records why in
``vee_flags`` and ``vee_method``. A site rule that tolerates a few missing intervals must not bill such a
period as merely incomplete: the cycle reads the method and holds it with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.ami.cube import open_cube, write_cube
from workbench.billing.cycle import run_cycle
from workbench.kernels.vee_codes import IMPLAUSIBLE, METHOD_WITHHELD
from workbench.sample import generate_sample_utility


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=12, year=2025, seed=5, meter_chunk=6, progress=False)
    return path


def test_withheld_read_holds_the_bill_and_a_plain_missing_read_does_not(cube, tmp_path):
    ds = open_cube(cube, chunks=False)
    delivered = ds["delivered_kwh"].values.copy()
    quality = ds["quality"].values.copy()
    flags = np.zeros(delivered.shape, np.uint32)
    t = 24 * 4 * 200  # an interval in mid-July
    for row in (1, 7):  # two meters in two chunks: each loses one interval
        delivered[row, t] = np.nan
        quality[row, t] = 2
    method = np.zeros(delivered.shape, np.uint8)
    flags[1, t] = np.uint32(1 << IMPLAUSIBLE)  # meter 1's was withheld as implausible; meter 7's simply missing
    method[1, t] = METHOD_WITHHELD  # as VEE writes it
    edited = ds.assign(delivered_kwh=(("meter", "time"), delivered), quality=(("meter", "time"), quality),
                       vee_flags=(("meter", "time"), flags), vee_method=(("meter", "time"), method))
    path = tmp_path / "cube.zarr"
    write_cube(edited, path, meter_chunk=6)
    site = tmp_path / "site.yaml"
    site.write_text("bill_ready:\n  max_missing_share: 0.01\n")  # tolerate 1 % missing
    run_cycle(path, "tariffs", tmp_path / "out", vee_config=site, progress=False)
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    when = pd.Timestamp(ds["time"].values[t])

    def bill_of(row):
        meter = str(ds["meter"].values[row])
        mine = bills[bills.meter == meter]
        start = pd.to_datetime(mine.period_start)
        end = pd.to_datetime(mine.period_end)
        # the bill whose local read dates hold the instant (a day's margin either side is plenty for mid-July)
        return mine[(start <= when) & (when < end)].iloc[0]

    withheld, missing = bill_of(1), bill_of(7)
    assert not withheld.bill_ready and "implausible" in withheld.hold_reason
    assert missing.bill_ready and missing.missing_intervals == 1
    held = bills[~bills.bill_ready]
    assert len(held) == 1  # only the withheld one, nothing else in the sample
