"""The scan's four-meter lockstep path (``workbench.kernels.scan_block``) and its fallbacks.

Blocks of four meters that share their bill-period bounds walk the runs together; each meter's sums must be
identical to the bit to the one-meter run path (``block=False``), which the tests of ``test_scan_runs`` check
against the interval loop and the reference. Drawn here: amounts by hand for one block; a NaN or an inf in
one meter of a block (that meter's run is redone exactly, its neighbours keep the vector sums); a meter that
exports; a meter whose bounds differ from its block's (the whole block falls back); a tail of fewer than four
meters; runs off the hour (a remainder of 1-3 reads); negative reads; rows given out of order.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from tests.test_scan_runs import DAY, OUTPUTS, hourly_schedule, scan
from workbench.kernels.run_sums import quad_sum_max
from workbench.kernels.scan_block import _same_bounds, quad4_sum_max


@njit
def _four(x, a, n):
    return quad4_sum_max(x[0], x[1], x[2], x[3], a, n)


@njit
def _one(x, a, n):
    return quad_sum_max(x, a, n)


def assert_same_bits(delivered, received, bounds, energy, demand, **kwargs):
    """Lockstep blocks, one meter at a time, serial and parallel, and the interval loop: the same values."""
    fast = scan(delivered, received, bounds, energy, demand, **kwargs)
    for other in (dict(block=False), dict(parallel=False), dict(block=False, parallel=False)):
        one = scan(delivered, received, bounds, energy, demand, **other, **kwargs)
        for name in OUTPUTS:
            np.testing.assert_array_equal(fast[name], one[name], err_msg=f"{name} {other}")
    loop = scan(delivered, received, bounds, energy, demand, runs=False, **kwargs)
    for name in OUTPUTS:
        np.testing.assert_allclose(fast[name], loop[name], rtol=1e-12, atol=0, err_msg=name)
    return fast


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a, n", [(0, 0), (0, 1), (3, 2), (5, 3), (1, 8), (7, 11)])
def test_four_rows_at_once_equal_one_row_at_a_time_to_the_bit(dtype, a, n):
    # catches a transposition that pairs the wrong lanes, or one accumulator where quad_sum_max has two
    rng = np.random.default_rng(a * 100 + n)
    x = (rng.random((4, 64)) * 10 ** rng.uniform(-3, 3, (4, 64))).astype(dtype)
    x[2, ::3] *= -1.0
    got = _four(x, a, n)
    for j in range(4):
        total, top = _one(x[j], a, n)
        assert (got[j], got[4 + j]) == (total, top), j


def test_a_block_by_hand():
    energy, demand = hourly_schedule(1)
    delivered = np.repeat(np.array([[0.25], [0.5], [0.75], [1.0]], np.float32), DAY, axis=1)
    delivered[3, 10] = 2.0  # meter 3: its highest read off-peak
    received = np.zeros((4, DAY), np.float32)
    bounds = np.array([[0, DAY]] * 4)
    out = assert_same_bits(delivered, received, bounds, energy, demand)
    c = np.array([0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(out["energy_kwh"][:, 0, 1], 20 * c)  # 16:00-21:00: 20 reads
    np.testing.assert_array_equal(out["energy_kwh"][:, 0, 0], 76 * c + [0, 0, 0, 1.0])
    np.testing.assert_array_equal(out["peak_kw"][:, 0], 4 * c + [0, 0, 0, 4.0])
    np.testing.assert_array_equal(out["tou_peak_kw"][:, 0, 1], 4 * c)
    np.testing.assert_array_equal(out["counts"][:, 0], [[DAY, 0, 0]] * 4)


def data(n_meters, days, seed):
    rng = np.random.default_rng(seed)
    delivered = rng.gamma(2.0, 0.2, (n_meters, days * DAY)).astype(np.float32)
    received = np.zeros_like(delivered)
    return delivered, received


def test_a_missing_read_an_inf_and_an_export_in_one_block():
    energy, demand = hourly_schedule(3)
    delivered, received = data(8, 3, 1)
    delivered[1, 70] = np.nan  # meter 1: a missing read, redone exactly for meter 1 only
    delivered[2, 150:160] = np.nan
    delivered[5, 200] = np.inf  # meter 5 (second block): an inf
    delivered[6, 17] = -0.75  # a negative read never makes a peak
    received[3, 40:52] = 0.5  # meter 3 exports
    bounds = np.array([[0, 100, 2 * DAY, 3 * DAY]] * 8)
    out = assert_same_bits(delivered, received, bounds, energy, demand)
    np.testing.assert_array_equal(out["counts"][:, :, 1].sum(axis=1), [0, 1, 10, 0, 0, 0, 0, 0])
    assert out["received_kwh"][3].sum() == 6.0 and out["received_kwh"][[0, 1, 2, 4]].sum() == 0.0
    assert np.isinf(out["energy_kwh"][5]).any() and np.isfinite(out["energy_kwh"][4]).all()


def test_bounds_that_differ_and_a_tail_of_fewer_than_four():
    # catches a block that takes its first meter's bounds for all four, or a tail scanned as a whole block
    energy, demand = hourly_schedule(4)
    delivered, received = data(11, 4, 2)
    bounds = np.array([[0, DAY, 2 * DAY, 4 * DAY]] * 11)
    bounds[2] = [0, DAY + 5, 2 * DAY - 3, 4 * DAY]  # the first block falls back, off the hour
    bounds[9] = [0, 0, 3 * DAY, 4 * DAY]  # the tail (meters 8-10): an empty period
    out = assert_same_bits(delivered, received, bounds, energy, demand)
    assert out["counts"][2, 0, 0] == DAY + 5 and out["counts"][9, 0, 0] == 0
    # each meter alone: the same as in its block
    for m in (0, 2, 5, 9, 10):
        alone = scan(delivered[m:m + 1], received[m:m + 1], bounds[m:m + 1], energy, demand)
        for name in OUTPUTS:
            np.testing.assert_array_equal(out[name][m], alone[name][0], err_msg=f"{name} {m}")


def test_rows_out_of_order_and_runs_off_the_hour():
    rng = np.random.default_rng(3)
    days = 2
    energy = rng.integers(0, 2, days * DAY).astype(np.int16).repeat(1)  # runs of 1..n reads
    demand = energy.copy()
    delivered, received = data(9, days, 4)
    rows = np.array([8, 3, 0, 5, 1, 7, 2])
    bounds = np.array([[0, 37, days * DAY - 1]] * len(rows))
    fast = assert_same_bits(delivered, received, bounds, energy, demand, rows=rows)
    direct = scan(delivered[rows], received[rows], bounds, energy, demand)
    for name in OUTPUTS:
        np.testing.assert_array_equal(fast[name], direct[name], err_msg=name)


def test_same_bounds():
    # six meters in the memory of eight equal rows: reading past the sixth (numba checks no bounds) would
    # find rows that match, so a tail taken for a block is caught
    bounds = np.array([[0, 5, 9]] * 8)[:6]
    assert _same_bounds(bounds, 0)
    assert not _same_bounds(bounds, 4)  # only two meters left
    for j in (1, 2, 3):  # catches a check that skips a meter or a bound
        for b in (0, 1, 2):
            other = bounds.copy()
            other[j, b] += 1
            assert not _same_bounds(other, 0), (j, b)
