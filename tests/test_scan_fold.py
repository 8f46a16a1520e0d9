"""The lockstep scan's folded passes (``scan_block.quad4_runs``): maxima kept per demand bucket across a period's
runs, the received rows' bits ORed in the same walk, and the outputs cut from one block.

Each case is a plausible bug of that design, checked against the one-meter path (``block=False``, which takes
each run's own maximum and tests the whole received row with ``run_sums._no_reads``) and the interval loop.
"""

from __future__ import annotations

import numpy as np

from tests.test_scan_block import assert_same_bits, data
from tests.test_scan_runs import DAY, OUTPUTS, hourly_schedule, scan


def test_received_reads_outside_the_periods_take_no_sums():
    # the block ORs only the intervals inside the bill periods; a read outside them must not make sums
    # appear (nor one inside be missed: meter 2's single read, in a run's last step)
    energy, demand = hourly_schedule(2)
    delivered, received = data(4, 2, 5)
    bounds = np.array([[8, DAY, 2 * DAY - 8]] * 4)
    received[0, 3] = 1.5  # before the first period
    received[1, 2 * DAY - 2] = np.nan  # after the last
    received[2, 2 * DAY - 9] = 0.25  # the last interval of the last period
    received[3, 50] = -0.0
    out = assert_same_bits(delivered, received, bounds, energy, demand)
    assert out["received_kwh"].sum(axis=(1, 2)).tolist() == [0.0, 0.0, 0.25, 0.0]


def test_a_received_read_in_a_run_tail_makes_a_meter_export():
    # runs of 5 reads: the fifth is read by the scalar tail, which must OR its bits too
    energy = np.repeat(np.arange(DAY // 5 + 1) % 2, 5).astype(np.int16)[:DAY]
    delivered, received = data(4, 1, 6)
    received[1, 4] = 0.5  # the tail of the first run
    received[3, 9] = np.nan  # the tail of the second: a missing received read
    out = assert_same_bits(delivered, received, np.array([[0, DAY]] * 4), energy, energy)
    assert out["received_kwh"][1].sum() == 0.5 and out["received_kwh"][[0, 2]].sum() == 0.0


def test_peaks_per_demand_bucket_and_without_demand_buckets():
    # catches maxima folded into the wrong bucket's block, a bucket that never occurs in a period left at its
    # last period's peak (the blocks are reset per period), and a peak that skips runs in no demand bucket
    energy, demand = hourly_schedule(2)
    demand = demand.astype(np.int16) - 1  # off-peak runs: no demand bucket (-1); peak runs: bucket 0
    delivered, received = data(4, 2, 7)
    delivered[:, DAY + 64:DAY + 84] = 0.0  # no peak-hour use on day 2
    delivered[2, 10] = 9.0  # meter 2: its highest read off-peak on day 1
    bounds = np.array([[0, DAY, 2 * DAY]] * 4)
    out = assert_same_bits(delivered, received, bounds, energy, demand)
    assert out["peak_kw"][2, 0] == 36.0
    assert (out["tou_peak_kw"][:, 1, 0] == 0.0).all() and (out["tou_peak_kw"][:, 0, 0] > 0).all()
    none = assert_same_bits(delivered, received, bounds, energy, np.full(2 * DAY, -1, np.int16))
    np.testing.assert_array_equal(none["peak_kw"], out["peak_kw"])
    assert (none["tou_peak_kw"] == 0.0).all()


def test_outputs_are_separate_zeroed_arrays():
    # the eight outputs share one allocation: they must not overlap, and counts must be integers
    energy, demand = hourly_schedule(1)
    delivered, received = data(5, 1, 8)
    out = scan(delivered, received, np.array([[0, DAY]] * 5), energy, demand)
    for i, a in enumerate(OUTPUTS):
        assert out[a].flags.c_contiguous
        for b in OUTPUTS[i + 1:]:
            assert not np.shares_memory(out[a], out[b]), (a, b)
    assert out["counts"].dtype == np.int64 and out["counts"][:, 0].tolist() == [[DAY, 0, 0]] * 5
    assert (out["cp_kw"] == 0.0).all() and (out["export_credit"] == 0.0).all()
