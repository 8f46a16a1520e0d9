"""``workbench.heap.keep_freed_memory``: glibc keeps freed chunk buffers, so the next chunk decodes into pages
already there; skipped off glibc and when the user set glibc's malloc variables; the command bills the same.

Each probe runs in its own process (the settings last for the process). Plausible one-line bugs caught: the call
moved after ``from workbench.billing.cycle import run_cycle`` (pyarrow's thread takes an arena first, and
half the decoding threads still map fresh pages: `test_no_thread_arena_before_the_cycle_starts`); ``M_ARENA_MAX``
dropped from the settings (the decoding thread's arena maps every chunk afresh:
`test_the_second_chunk_reuses_the_first_ones_pages` with its baseline); a user's ``MALLOC_ARENA_MAX`` overridden
(`test_users_malloc_variables_win`); a ctypes lookup that raises off glibc (`test_skipped_off_glibc`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from workbench import heap
from workbench.sample import generate_sample_utility

ROOT = Path(__file__).resolve().parents[1]
GLIBC = heap.glibc() is not None
needs_glibc = pytest.mark.skipif(not GLIBC, reason="the malloc settings are glibc's")

# two chunks of 1,000 x 24,000 float32 (96 MB each: above a thread arena's 64 MB heap, where glibc always maps a
# block of its own); chunk k holds k + 1 + (column / 1,000), and one NaN per row (a missing interval)
CHUNKS = textwrap.dedent("""
    import resource, sys
    from workbench.heap import keep_freed_memory
    applied = keep_freed_memory() if sys.argv[2] == "keep" else False
    import numpy as np, zarr
    rows, cols = 1000, 24000
    a = zarr.create_array(sys.argv[1], shape=(2 * rows, cols), chunks=(rows, cols), dtype="float32")
    expected = lambda k: np.broadcast_to((k + 1 + np.arange(cols) // 1000).astype("float32"), (rows, cols)).copy()
    for k in range(2):
        block = expected(k)
        block[:, 7 + k] = np.nan
        a[k * rows:(k + 1) * rows] = block
    faults = []
    for k in range(2):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = a[k * rows:(k + 1) * rows]
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        want = expected(k)
        want[:, 7 + k] = np.nan
        assert np.array_equal(block, want, equal_nan=True), k
        # a range that is not chunk aligned: rows from both chunks
        if k == 1:
            part = a[rows - 3:rows + 2, 5:9]
            assert np.array_equal(part[:3], np.array([[1, 1, np.nan, 1]] * 3, "float32"), equal_nan=True)
            assert np.array_equal(part[3:], np.array([[2, 2, 2, np.nan]] * 2, "float32"), equal_nan=True)
        del block
    print(applied, *faults)
""")


def _run(code: str, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in heap.USER_VARIABLES}
    full.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=full, cwd=ROOT,
                          timeout=300)


@needs_glibc
def test_the_second_chunk_reuses_the_first_ones_pages(tmp_path):
    out = _run(CHUNKS, str(tmp_path / "kept.zarr"), "keep")
    assert out.returncode == 0, out.stderr
    applied, first, second = out.stdout.split()
    pages = 1000 * 24000 * 4 // 4096  # one decoded chunk: 23,437 pages
    assert applied == "True"
    assert int(second) < pages // 10, (first, second)  # reused, not faulted in again
    # the baseline (no settings) faults every page of the second chunk at least once: the test can fail
    base = _run(CHUNKS, str(tmp_path / "fresh.zarr"), "default")
    assert base.returncode == 0, base.stderr
    assert int(base.stdout.split()[2]) > pages


@needs_glibc
def test_no_thread_arena_before_the_cycle_starts(tmp_path):
    """The cycle command calls keep_freed_memory before it imports the billing package (pyarrow starts a thread
    there): so every thread, pyarrow's too, allocates from glibc's main arena, the only arena in the process."""
    probe = ("import ctypes, sys; from workbench.cli import main; "
             "status = main(['cycle', '--cube', sys.argv[1], '--quiet']); "
             "assert 'pyarrow' in sys.modules; print(status); ctypes.CDLL(None).malloc_stats()")
    out = _run(probe, str(tmp_path / "no-such.zarr"))
    assert out.stdout.split() == ["2"], out.stderr  # refused: no such cube, after the billing package was loaded
    assert out.stderr.count("Arena ") == 1, out.stderr
    baseline = _run(probe, str(tmp_path / "no-such.zarr"), env={"MALLOC_ARENA_MAX": "8"})  # skipped: two arenas
    assert baseline.stderr.count("Arena ") == 2, baseline.stderr


def test_users_malloc_variables_win(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "glibc", lambda: calls.append(1))
    for name in heap.USER_VARIABLES:
        assert heap.keep_freed_memory({name: "1"}) is False
    assert calls == []  # not even looked up


def test_skipped_off_glibc(monkeypatch):
    monkeypatch.setattr(heap.sys, "platform", "darwin")
    assert heap.glibc() is None
    assert heap.keep_freed_memory({}) is False


@pytest.mark.slow
def test_cycle_bills_the_same_with_and_without_the_settings(tmp_path):
    cube = tmp_path / "cube.zarr"
    generate_sample_utility(cube, n_meters=60, year=2025, seed=5, meter_chunk=25, progress=False)
    command = textwrap.dedent("""
        import sys
        from workbench.cli import main
        sys.exit(main(["cycle", "--cube", sys.argv[1], "--out", sys.argv[2], "--quiet"]))
    """)
    kept = _run(command, str(cube), str(tmp_path / "kept"))
    plain = _run(command, str(cube), str(tmp_path / "plain"), env={"MALLOC_ARENA_MAX": "8"})  # the user's: skipped
    assert kept.returncode == 0 and plain.returncode == 0, kept.stderr + plain.stderr
    for name in ("bills.parquet", "line_items.parquet"):
        a, b = pd.read_parquet(tmp_path / "kept" / name), pd.read_parquet(tmp_path / "plain" / name)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, check_exact=True)
