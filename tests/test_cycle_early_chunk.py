"""The in-process cycle decodes the first meter chunk while it plans the run (``EarlyChunk``): the same bills, and
the early arrays used only for the chunk they are and for the cube version the run planned.

A plausible one-line bug each test catches: the early arrays handed to whichever chunk is billed first (a resumed
run billing chunk 1 with chunk 0's intervals: `test_a_resumed_run_whose_first_chunk_is_not_the_first_reads_it`),
used whatever ``--chunk`` says (`test_a_chunk_size_other_than_the_disk_s_is_read_for_its_meters`), used although a
writer committed a new version meanwhile (`test_early_arrays_are_only_for_the_planned_cube_version`), or a failed
early read raised as the run's error (`test_a_failed_early_read_is_read_again`).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import workbench.billing.chunk_data as chunk_data
import workbench.billing.cycle as cycle_module
from workbench.billing.chunk_data import ENERGY, EarlyChunk
from workbench.billing.cycle import run_cycle
from workbench.errors import CubeError
from workbench.sample import generate_sample_utility

N_METERS, CHUNK = 36, 12  # three chunks


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=N_METERS, year=2025, seed=13, meter_chunk=CHUNK, progress=False,
                            months=(10, 11))
    return path


class NoEarly:
    """An EarlyChunk that never reads: the run reads every chunk on its reader thread, as before."""

    def __init__(self, *args):
        pass

    def take(self, task, state):
        return None


@pytest.fixture(scope="module")
def plain(cube, tmp_path_factory):
    """The outputs of a run without the early read."""
    out = tmp_path_factory.mktemp("plain") / "out"
    with pytest.MonkeyPatch.context() as m:
        m.setattr(cycle_module, "EarlyChunk", NoEarly)
        run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    return out


def same_outputs(a, b):
    for name in ("bills", "line_items"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet"),
                                      check_exact=True)
    for name in ("summary.csv", "exceptions.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name
    run_a, run_b = (json.loads((p / "run.json").read_text()) for p in (a, b))
    for key in ("meters_in", "meters_billed", "meters_held", "bills", "line_items", "revenue"):
        assert run_a[key] == run_b[key], key


def recording(monkeypatch):
    """Record, per chunk read, (start, stop, whether the early arrays were used)."""
    used = []
    real = chunk_data._early_energy

    def early_energy(early, start, stop):
        got = real(early, start, stop)
        used.append((start, stop, got is not None))
        return got

    monkeypatch.setattr(chunk_data, "_early_energy", early_energy)
    return used


def test_the_first_chunk_is_read_early_and_bills_the_same(cube, plain, tmp_path, monkeypatch):
    used = recording(monkeypatch)
    real_bill = cycle_module.bill_chunk

    def checking(plan, task, data=None, **kw):
        again = chunk_data.read_chunk(plan.cube, task.start, task.stop, task.meter)  # read now, without it
        for name in ENERGY:
            np.testing.assert_array_equal(data[name], again[name])
        return real_bill(plan, task, data, **kw)

    monkeypatch.setattr(cycle_module, "bill_chunk", checking)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert (0, 12, True) in used  # chunk 0's read used them
    assert not any(flag for start, _, flag in used if start)  # and no other chunk's
    same_outputs(plain, result.out)


def test_a_chunk_size_other_than_the_disk_s_is_read_for_its_meters(cube, tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(cycle_module, "EarlyChunk", NoEarly)
        plain7 = run_cycle(cube, "tariffs", tmp_path / "plain", period="2025-11", progress=False, chunk_meters=7)
    used = recording(monkeypatch)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False, chunk_meters=7)
    assert (0, 7, True) in used and not any(flag for start, _, flag in used if start)
    same_outputs(plain7.out, result.out)


def test_a_resumed_run_whose_first_chunk_is_not_the_first_reads_it(cube, plain, tmp_path, monkeypatch):
    real_bill = cycle_module.bill_chunk

    def failing(plan, task, data=None, **kw):
        if task.chunk_no == 1:
            raise KeyboardInterrupt
        return real_bill(plan, task, data, **kw)

    with monkeypatch.context() as m:
        m.setattr(cycle_module, "bill_chunk", failing)
        with pytest.raises(KeyboardInterrupt):
            run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    used = recording(monkeypatch)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert result.chunks_resumed == 1
    assert not any(flag for *_, flag in used)  # chunk 1 first: the early chunk 0 is dropped, chunk 1 read
    same_outputs(plain, result.out)


def test_a_failed_early_read_is_read_again(cube, plain, tmp_path, monkeypatch):
    def broken(cube, chunk_meters):
        raise CubeError("delivered_kwh: chunk 0 could not be read")

    monkeypatch.setattr(chunk_data, "_read_first", broken)
    used = recording(monkeypatch)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert (0, 12, False) in used
    same_outputs(plain, result.out)


def test_early_arrays_are_only_for_the_planned_cube_version(cube):
    first = SimpleNamespace(start=0, stop=12)
    early = EarlyChunk(cube)
    start, stop, arrays = early._future.result()
    assert (start, stop) == (0, 12) and set(arrays) == set(ENERGY)
    # another version (an ingest committed between the early read and the plan): not used
    assert early.take(first, {**early.state, "version": early.state["version"] + 1}) is None
    assert early.take(first, early.state) is None  # and given once only: dropped after the first chunk
    again = EarlyChunk(cube)
    assert again.take(first, again.state) is not None
    assert EarlyChunk(cube).take(SimpleNamespace(start=12, stop=24), again.state) is None


def test_no_early_read_while_a_writer_holds_the_cube_nor_for_a_url(cube, monkeypatch):
    assert EarlyChunk("memory://cube.zarr")._future is None
    monkeypatch.setattr(chunk_data, "writer_active", lambda cube: True)
    held = EarlyChunk(cube)
    assert held._future is None and held.take(SimpleNamespace(start=0, stop=12), held.state) is None
