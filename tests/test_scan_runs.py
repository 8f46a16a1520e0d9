"""The scan's run path on schedules shaped like real ones: 15-minute reads, ToU periods that change on the hour.

Every run of intervals that share their buckets is then a whole number of steps of four (the vector lanes of
``run_sums``); these tests also draw the cases that are not: bill periods or bucket changes off the hour, a
missing read (NaN) or an inf inside a run, a meter that exports beside meters that never do (a row of signed
zeros takes no received sums). Each is checked against the interval-by-interval loop (``runs=False``) and the
plain-Python reference scan, and the first against amounts worked by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_scan import reference_scan

from workbench.kernels.scan import scan_determinants

DAY = 96  # 15-minute intervals
OUTPUTS = ("energy_kwh", "received_kwh", "peak_kw", "tou_peak_kw", "cp_kw", "rtp_cost", "export_credit", "counts")


def hourly_schedule(days):
    """Peak 16:00-21:00 (energy bucket 1, demand bucket 1), off-peak otherwise (0, 0); midnight-to-midnight."""
    hour = np.tile(np.repeat(np.arange(24), 4), days)
    peak = (hour >= 16) & (hour < 21)
    return peak.astype(np.int16), peak.astype(np.int16)


def scan(delivered, received, bounds, energy, demand, **kwargs):
    return scan_determinants(delivered, received, bounds, energy, demand, 2, 2, kw_factor=4.0, **kwargs)


def reference(delivered, received, bounds, energy, demand, **kwargs):
    rows = [reference_scan(delivered[m], bounds[m], energy, demand, 1, False, 4.0, n_energy=2, n_demand=2,
                           received_row=received[m], **kwargs) for m in range(delivered.shape[0])]
    return {name: np.array([r[name] for r in rows]) for name in OUTPUTS}


def assert_agree(delivered, received, bounds, energy, demand, **kwargs):
    """The run path, the interval loop (serial and parallel) and the reference: the same determinants."""
    want = reference(delivered, received, bounds, energy, demand, **kwargs)
    fast = scan(delivered, received, bounds, energy, demand, **kwargs)
    for parallel in (True, False):
        slow = scan(delivered, received, bounds, energy, demand, runs=False, parallel=parallel, **kwargs)
        for name in OUTPUTS:
            np.testing.assert_allclose(fast[name], slow[name], rtol=1e-12, atol=0, err_msg=name)
            np.testing.assert_allclose(fast[name], want[name].reshape(fast[name].shape), rtol=1e-12, atol=0,
                                       err_msg=name)
    return fast


def test_one_day_by_hand_with_a_missing_read_and_an_exporting_meter():
    energy, demand = hourly_schedule(1)
    delivered = np.full((3, DAY), 0.25, np.float32)
    delivered[:, 64:84] = 0.5  # 16:00-21:00
    delivered[1, 70] = np.nan  # meter 1: one missing peak read
    delivered[2, 10] = 1.25  # meter 2: its highest read off-peak
    received = np.zeros((3, DAY), np.float32)
    received[1] = -0.0  # signed zeros: no exports
    received[2, 40:52] = 0.75  # meter 2 exports 9 kWh between 10:00 and 13:00 (off-peak)
    out = assert_agree(delivered, received, np.array([[0, DAY]] * 3), energy, demand)
    # off-peak: 76 intervals x 0.25 = 19 kWh; peak: 20 x 0.5 = 10 kWh (9.5 with one read missing)
    assert out["energy_kwh"][:, 0].tolist() == [[19.0, 10.0], [19.0, 9.5], [20.0, 10.0]]
    assert out["received_kwh"][:, 0].tolist() == [[0.0, 0.0], [0.0, 0.0], [9.0, 0.0]]
    # demand = kWh x 4: 0.5 kWh -> 2 kW on peak, 0.25 -> 1 kW off peak; meter 2's 1.25 kWh off peak -> 5 kW
    assert out["peak_kw"][:, 0].tolist() == [2.0, 2.0, 5.0]
    assert out["tou_peak_kw"][:, 0].tolist() == [[1.0, 2.0], [1.0, 2.0], [5.0, 2.0]]
    assert out["counts"][:, 0].tolist() == [[96, 0, 0], [95, 1, 0], [96, 0, 0]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_month_of_hourly_tou_aligned_and_not(dtype):
    rng = np.random.default_rng(11)
    days = 31
    energy, demand = hourly_schedule(days)
    n = 6
    delivered = rng.gamma(1.5, 0.3, (n, days * DAY)).astype(dtype)
    delivered[2, rng.integers(0, days * DAY, 40)] = np.nan  # missing reads spread over many runs
    delivered[3, 500] = np.inf
    received = np.zeros((n, days * DAY), dtype)
    received[4] = rng.gamma(1.0, 0.2, days * DAY) * (rng.random(days * DAY) < 0.4)  # an exporting meter
    received[5, 100] = np.nan  # a missing received read: this meter takes the received sums
    aligned = np.tile(np.arange(0, days * DAY + 1, 7 * DAY)[[0, 1, 2, 3, 4]], (n, 1))  # weekly, at midnight
    aligned[:, -1] = days * DAY
    assert_agree(delivered, received, aligned, energy, demand, export_price=rng.uniform(0, 0.1, days * DAY))
    odd = np.sort(rng.integers(0, days * DAY + 1, (n, 5)), axis=1)  # bill periods that split runs anywhere
    assert_agree(delivered, received, odd, energy, demand)
    # bucket changes off the hour: runs of 5, 10, 15... intervals (most not whole steps of four), shorter ones
    # where the demand buckets (shifted by 3) change inside them
    energy_odd = np.repeat(rng.integers(0, 2, days * DAY // 5 + 1), 5).astype(np.int16)[: days * DAY]
    demand_odd = np.roll(energy_odd, 3)
    assert_agree(delivered, received, odd, energy_odd, demand_odd)
