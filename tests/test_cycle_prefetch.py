"""The in-process cycle reads chunk i + 1 on a reader thread while it bills chunk i: same bills, and a read error
stays the error of its own chunk (the chunks billed before it are kept for a resume).

A plausible one-line bug each test catches: the read-ahead handing chunk i + 1's data to chunk i (every bill of
the run shifted by one chunk: `test_read_ahead_bills_what_it_read`), or a failed read-ahead swallowed or raised
while the previous chunk is still unbilled (`test_a_read_error_is_the_error_of_its_chunk`).
"""

from __future__ import annotations

import numpy as np
import pytest

import workbench.billing.cycle as cycle_module
from workbench.billing.chunk_data import exported as _exported
from workbench.billing.chunk_data import read_task
from workbench.billing.cycle import run_cycle
from workbench.errors import CubeError
from workbench.sample import generate_sample_utility

N_METERS, CHUNK = 36, 12  # three chunks


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=N_METERS, year=2025, seed=11, meter_chunk=CHUNK, progress=False,
                            months=(10, 11))
    return path


def test_read_ahead_bills_what_it_read(cube, tmp_path, monkeypatch):
    seen = []
    real = cycle_module.bill_chunk

    def checking(plan, task, data=None, **kw):
        # the data handed over is this chunk's: the same arrays as reading the chunk now
        assert data is not None
        again = read_task(plan, task)
        for name in ("delivered_kwh", "received_kwh", "quality"):
            np.testing.assert_array_equal(data[name], again[name])
        seen.append(task.chunk_no)
        return real(plan, task, data, **kw)

    monkeypatch.setattr(cycle_module, "bill_chunk", checking)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert seen == [0, 1, 2] and result.meters_in == N_METERS


def test_a_read_error_is_the_error_of_its_chunk(cube, tmp_path, monkeypatch):
    billed = []
    real_bill, real_read = cycle_module.bill_chunk, cycle_module.read_task

    def bill(plan, task, data=None, **kw):
        billed.append(task.chunk_no)
        return real_bill(plan, task, data, **kw)

    def read(plan, task, early=None):
        if task.chunk_no == 2:
            raise CubeError("delivered_kwh: chunk 2 is missing on disk")
        return real_read(plan, task, early)

    monkeypatch.setattr(cycle_module, "bill_chunk", bill)
    monkeypatch.setattr(cycle_module, "read_task", read)
    with pytest.raises(CubeError, match="chunk 2 is missing.*2 of 3 meter chunks billed so far are kept"):
        run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert billed == [0, 1]  # chunk 1 was billed although chunk 2's read (ahead of it) had already failed


def test_exported_is_a_positive_nan_skipping_sum():
    # by hand: [nan, 1] -> 1 > 0; [-1, 1] -> 0; [0, nan] -> 0; [-2, 1, 2] -> 1 > 0; all NaN -> 0
    rows = np.array([[np.nan, 1, 0], [-1, 1, 0], [0, np.nan, 0], [-2, 1, 2], [np.nan] * 3], np.float32)
    want = [True, False, False, True, False]
    assert list(_exported(rows)) == want
    many = np.repeat(rows, 29, axis=0)  # 145 rows
    assert list(_exported(many)) == list(np.repeat(want, 29))


def test_in_process_run_never_reads_its_parts_back_and_a_resume_mixes_both(cube, tmp_path, monkeypatch):
    """In this process each chunk's tables go straight to the output writers; a resumed run reads only the chunks
    an earlier run kept, in chunk order among the ones it bills. Bug it catches: the streamed tables written out
    of chunk order, or a kept chunk skipped (the bills of the resumed run would differ from the clean run's)."""
    import pandas as pd

    from workbench.billing.run_store import RunStore

    clean = run_cycle(cube, "tariffs", tmp_path / "clean", period="2025-11", progress=False).out

    def never(self, chunk_no, **kw):
        raise AssertionError(f"chunk {chunk_no} read back from its parts")

    with monkeypatch.context() as m:
        m.setattr(RunStore, "read_chunk", never)
        streamed = run_cycle(cube, "tariffs", tmp_path / "streamed", period="2025-11", progress=False).out

    real, read = RunStore.read_chunk, []

    def counting(self, chunk_no, **kw):
        if not kw.get("check_only"):
            read.append(chunk_no)
        return real(self, chunk_no, **kw)

    def failing(plan, task, data=None, **kw):
        if task.chunk_no == 1:
            raise KeyboardInterrupt
        return bill_chunk(plan, task, data, **kw)

    from workbench.billing.cycle_chunk import bill_chunk
    with monkeypatch.context() as m:
        m.setattr(cycle_module, "bill_chunk", failing)
        with pytest.raises(KeyboardInterrupt):
            run_cycle(cube, "tariffs", tmp_path / "resumed", period="2025-11", progress=False)
    monkeypatch.setattr(RunStore, "read_chunk", counting)
    resumed = run_cycle(cube, "tariffs", tmp_path / "resumed", period="2025-11", progress=False)
    assert read == [0] and resumed.chunks_resumed == 1
    for out in (streamed, resumed.out):
        for name in ("bills", "line_items"):
            pd.testing.assert_frame_equal(pd.read_parquet(clean / f"{name}.parquet"),
                                          pd.read_parquet(out / f"{name}.parquet"))
