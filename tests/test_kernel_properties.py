"""Property tests: the numba scan (every path) against the slow reference scan (``tests/reference_scan.py``).

Paths: parallel (prange over meters) and serial; for single-interval demand the run-segment fast path and
the interval-by-interval loop (``runs=False``). Random meters, bill-period bounds (empty periods, periods
not covering the data), energy and demand buckets (-1: no demand period), NaN reads, float32 and float64,
quality flags, block and rolling windows of 1-4 intervals, real-time prices, export values and
coincident-peak flags.
Also run from the threads of a ``ThreadPoolExecutor``, the way dask's threaded scheduler calls it.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reference_scan import reference_scan

from workbench.kernels.scan import scan_determinants

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the default budget without shrinking or the example database: how docs/testing.md counts a mutation as caught
settings.register_profile("mutation", max_examples=60, deadline=None, database=None, print_blob=False,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))  # HYPOTHESIS_PROFILE=deep for a long hunt

RTOL = 1e-9
ATOL = 1e-9  # a rolling window sum that returns to 0 keeps ~1e-15 of float noise
OUTPUTS = ("energy_kwh", "received_kwh", "peak_kw", "tou_peak_kw", "cp_kw", "rtp_cost", "export_credit", "counts")


@st.composite
def scan_inputs(draw):
    """Random but well-formed kernel inputs."""
    n_meters = draw(st.integers(1, 4))
    n_times = draw(st.integers(1, 160))
    n_energy = draw(st.integers(1, 6))
    n_demand = draw(st.integers(0, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    delivered = rng.gamma(1.5, 2.0, (n_meters, n_times)).round(draw(st.sampled_from([1, 3, 6])))
    if draw(st.booleans()):
        delivered[rng.random((n_meters, n_times)) < draw(st.sampled_from([0.02, 0.2, 1.0]))] = np.nan
    if draw(st.booleans()):
        delivered[rng.random((n_meters, n_times)) < 0.1] = 0.0
    received = rng.gamma(1.0, 1.0, (n_meters, n_times))
    received[rng.random((n_meters, n_times)) < 0.1] = np.nan
    # buckets come in runs (as ToU periods do), sometimes changing at every interval
    run = draw(st.sampled_from([1, 3, 8, 40]))
    energy_bucket = np.repeat(rng.integers(0, n_energy, n_times // run + 1), run)[:n_times]
    if n_demand:
        demand_bucket = np.repeat(rng.integers(-1, n_demand, n_times // run + 1), run)[:n_times]
    else:
        demand_bucket = np.full(n_times, -1)
    n_periods = draw(st.integers(1, 5))
    bounds = np.sort(rng.integers(0, n_times + 1, (n_meters, n_periods + 1)), axis=1)
    if draw(st.booleans()):  # periods that cover the data exactly
        bounds[:, 0], bounds[:, -1] = 0, n_times
    window = draw(st.sampled_from([1, 1, 2, 3, 4]))
    rolling = draw(st.booleans())
    block_pos = (draw(st.integers(0, 3)) + np.arange(n_times)) % window
    rtp_price = rng.uniform(-0.05, 0.5, n_times) if draw(st.booleans()) else None
    export_price = rng.uniform(0.0, 0.3, n_times) if draw(st.booleans()) else None
    cp_flag = rng.random(n_times) < 0.05 if draw(st.booleans()) else None
    quality = (rng.random((n_meters, n_times)) < 0.1).astype(np.uint8) if draw(st.booleans()) else None
    kw_factor = 60.0 / (draw(st.sampled_from([5, 15, 30, 60])) * window)
    return dict(
        delivered=delivered.astype(dtype), received=received.astype(dtype), bounds=bounds,
        energy_bucket=energy_bucket.astype(np.int16), demand_bucket=demand_bucket.astype(np.int16),
        n_energy=n_energy, n_demand=n_demand, quality=quality, block_pos=block_pos.astype(np.int16),
        window=window, rolling=rolling, kw_factor=kw_factor, rtp_price=rtp_price, cp_flag=cp_flag,
        export_price=export_price,
    )


def run_kernel(inputs, **kwargs):
    return scan_determinants(
        inputs["delivered"], inputs["received"], inputs["bounds"], inputs["energy_bucket"], inputs["demand_bucket"],
        inputs["n_energy"], inputs["n_demand"], quality=inputs["quality"], block_pos=inputs["block_pos"],
        window=inputs["window"], rolling=inputs["rolling"], kw_factor=inputs["kw_factor"],
        rtp_price=inputs["rtp_price"], cp_flag=inputs["cp_flag"], export_price=inputs.get("export_price"), **kwargs,
    )


def run_reference(inputs):
    per_meter = [
        reference_scan(
            inputs["delivered"][m], inputs["bounds"][m], inputs["energy_bucket"], inputs["demand_bucket"],
            inputs["window"], inputs["rolling"], inputs["kw_factor"], inputs["block_pos"], inputs["rtp_price"],
            inputs["cp_flag"], n_energy=inputs["n_energy"], n_demand=inputs["n_demand"],
            received_row=inputs["received"][m], quality_row=None if inputs["quality"] is None else inputs["quality"][m],
            export_price=inputs.get("export_price"),
        )
        for m in range(inputs["delivered"].shape[0])
    ]
    return {name: np.array([r[name] for r in per_meter]) for name in OUTPUTS}


def assert_same(got, want, context=""):
    for name in OUTPUTS:
        np.testing.assert_allclose(
            got[name], want[name].reshape(got[name].shape), rtol=RTOL, atol=ATOL, err_msg=f"{name} {context}"
        )


@given(scan_inputs(), st.booleans())
def test_kernel_matches_reference(inputs, parallel):
    want = run_reference(inputs)
    assert_same(run_kernel(inputs, parallel=parallel), want, f"parallel={parallel}")


@given(scan_inputs())
def test_run_segments_and_interval_loop_agree(inputs):
    """Single-interval demand: the run-segment fast path, the plain loop and the reference agree."""
    inputs = {**inputs, "window": 1, "kw_factor": 4.0}
    want = run_reference(inputs)
    for parallel in (True, False):
        for runs in (None, True, False):
            assert_same(run_kernel(inputs, parallel=parallel, runs=runs), want, f"parallel={parallel} runs={runs}")


@given(scan_inputs())
def test_serial_and_parallel_identical(inputs):
    """Threads over meters change nothing: the same sums in the same order."""
    a = run_kernel(inputs, parallel=True)
    b = run_kernel(inputs, parallel=False)
    for name in OUTPUTS:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_empty_time_axis():
    out = scan_determinants(np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((2, 3), np.int64), np.zeros(0, np.int16),
                            np.zeros(0, np.int16), 2, 1)
    assert out["energy_kwh"].shape == (2, 2, 2)
    assert not out["energy_kwh"].any() and not out["counts"].any()


def test_hand_worked_block_and_rolling_windows():
    # 6 intervals of 5 minutes, 15-minute demand (window 3, kw_factor 60/15 = 4), one period
    delivered = np.array([[1.0, 2.0, 3.0, 10.0, np.nan, 0.0]])
    common = dict(delivered=delivered, received=np.zeros_like(delivered), bounds=np.array([[0, 6]]),
                  energy_bucket=np.zeros(6, np.int16), demand_bucket=np.array([0, 0, 0, 1, 1, 1], np.int16),
                  n_energy=1, n_demand=2, quality=None, block_pos=np.arange(6, dtype=np.int16) % 3, window=3,
                  kw_factor=4.0, rtp_price=None, cp_flag=None)
    block = run_kernel({**common, "rolling": False}, parallel=False)
    # blocks [1+2+3] = 6 kWh -> 24 kW (bucket 0), [10+NaN(0)+0] = 10 kWh -> 40 kW (bucket 1)
    assert block["peak_kw"][0, 0] == 40.0
    assert list(block["tou_peak_kw"][0, 0]) == [24.0, 40.0]
    assert list(block["counts"][0, 0]) == [5, 1, 0]
    rolling = run_kernel({**common, "rolling": True}, parallel=False)
    # windows ending at t=2..5: 6, 15, 13, 10 kWh -> 24, 60, 52, 40 kW; bucket of the window's last interval
    assert rolling["peak_kw"][0, 0] == 60.0
    assert list(rolling["tou_peak_kw"][0, 0]) == [24.0, 60.0]


# ------------------------------------------------------------------------------------------ thread pools


def _threaded_inputs(seed):
    rng = np.random.default_rng(seed)
    n_meters, n_times = 12, 2880  # a month of hourly data is 720; this is 30 days of 15-minute data
    delivered = rng.gamma(2.0, 0.4, (n_meters, n_times))
    delivered[rng.random(delivered.shape) < 0.01] = np.nan
    return dict(
        delivered=delivered, received=np.zeros_like(delivered),
        bounds=np.tile(np.array([0, 700, 1900, 2880]), (n_meters, 1)),
        energy_bucket=np.repeat(rng.integers(0, 4, 2880 // 16), 16).astype(np.int16),
        demand_bucket=np.repeat(rng.integers(-1, 2, 2880 // 16), 16).astype(np.int16),
        n_energy=4, n_demand=2, quality=None, block_pos=(np.arange(n_times) % 4).astype(np.int16),
        window=int(rng.choice([1, 4])), rolling=bool(seed % 2), kw_factor=1.0,
        rtp_price=rng.uniform(0, 0.2, n_times), cp_flag=rng.random(n_times) < 0.01,
        export_price=rng.uniform(0, 0.1, n_times),
    )


def test_serial_kernel_inside_a_thread_pool():
    """What dask's threaded scheduler does: many chunks scanned at once, each with ``parallel=False``."""
    cases = [_threaded_inputs(seed) for seed in range(8)]
    wants = [run_kernel(c, parallel=False) for c in cases]
    with cf.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(run_kernel, cases[i % 8], parallel=False) for i in range(64)]
        for i, fut in enumerate(futures):
            got = fut.result(timeout=120)
            for name in OUTPUTS:
                np.testing.assert_array_equal(got[name], wants[i % 8][name], err_msg=name)
    # and the serial results are the reference's
    assert_same(wants[0], run_reference(cases[0]))


def test_parallel_kernel_from_several_threads(tmp_path):
    """``parallel=True`` entered from several threads at once must not crash or mix results up.

    In a subprocess: if numba's threading layer cannot be entered concurrently it aborts the process, which
    must fail this test rather than kill the test run.
    """
    script = tmp_path / "threads.py"
    script.write_text(textwrap.dedent(f"""
        import concurrent.futures as cf, sys
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_kernel_properties import OUTPUTS, _threaded_inputs, run_kernel
        cases = [_threaded_inputs(seed) for seed in range(8)]
        wants = [run_kernel(c, parallel=False) for c in cases]
        with cf.ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(run_kernel, cases[i % 8], parallel=True) for i in range(64)]
            for i, fut in enumerate(futures):
                got = fut.result(timeout=120)
                for name in OUTPUTS:
                    np.testing.assert_array_equal(got[name], wants[i % 8][name], err_msg=name)
        print("threads ok")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[1])
    assert done.returncode == 0 and "threads ok" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("window,rolling", [(1, False), (3, False), (3, True)])
def test_many_meters_parallel_equals_reference(window, rolling):
    """More meters than threads: every meter's row is scanned once, by exactly one thread."""
    rng = np.random.default_rng(7)
    n_meters, n_times = 37, 300
    delivered = rng.gamma(2.0, 1.0, (n_meters, n_times))
    inputs = dict(
        delivered=delivered, received=rng.gamma(1.0, 1.0, (n_meters, n_times)),
        bounds=np.sort(rng.integers(0, n_times + 1, (n_meters, 4)), axis=1),
        energy_bucket=rng.integers(0, 3, n_times).astype(np.int16),
        demand_bucket=rng.integers(-1, 2, n_times).astype(np.int16), n_energy=3, n_demand=2,
        quality=(rng.random((n_meters, n_times)) < 0.2).astype(np.uint8),
        block_pos=(np.arange(n_times) % window).astype(np.int16), window=window, rolling=rolling, kw_factor=4.0,
        rtp_price=rng.uniform(0, 0.3, n_times), cp_flag=rng.random(n_times) < 0.03,
        export_price=rng.uniform(0, 0.1, n_times),
    )
    assert_same(run_kernel(inputs, parallel=True), run_reference(inputs))
