"""The in-process cycle decodes the first meter chunk while it plans the run (``EarlyChunk``): the same bills, and
the early arrays used only for the chunk they are and for the cube version the run planned.

A plausible one-line bug each test catches: the early arrays handed to whichever chunk is billed first (a resumed
run billing chunk 1 with chunk 0's intervals: `test_a_resumed_run_whose_first_chunk_is_not_the_first_reads_it`),
used whatever ``--chunk`` says (`test_a_chunk_size_other_than_the_disk_s_is_read_for_its_meters`), used although a
writer committed a new version meanwhile (`test_early_arrays_are_only_for_the_planned_cube_version`), or a failed
early read raised as the run's error (`test_a_failed_early_read_is_read_again`).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

import workbench.billing.chunk_data as chunk_data
import workbench.billing.cycle as cycle_module
from tests.test_cycle_resume import assert_same_outputs
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



def recording(monkeypatch):
    """Record, per chunk read with an early read handed to it, (start, stop, whether its arrays were used); the
    run reads on two threads, so in the order the reads happened to end (compare them sorted)."""
    used, where = [], threading.local()
    real_read, real_early = chunk_data.read_chunk, chunk_data._early_energy

    def read_chunk(cube, start, stop, *args, **kw):
        where.chunk = (start, stop)  # this thread's read
        return real_read(cube, start, stop, *args, **kw)

    def early_energy(early):
        got = real_early(early)
        if early is not None:
            used.append((*where.chunk, got is not None))
        return got

    monkeypatch.setattr(chunk_data, "read_chunk", read_chunk)
    monkeypatch.setattr(chunk_data, "_early_energy", early_energy)
    return used


def test_the_first_chunk_is_read_early_and_bills_the_same(cube, plain, tmp_path, monkeypatch):
    plain_read = chunk_data.read_chunk
    used = recording(monkeypatch)
    real_bill = cycle_module.bill_chunk

    def checking(plan, task, data=None, **kw):
        again = plain_read(plan.cube, task.start, task.stop, task.meter)  # read now, without them
        for name in ENERGY:
            np.testing.assert_array_equal(data[name], again[name])
        return real_bill(plan, task, data, **kw)

    monkeypatch.setattr(cycle_module, "bill_chunk", checking)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert sorted(used) == [(0, 12, True), (12, 24, True)]  # the first two chunks' reads used them, and only those
    assert_same_outputs(plain, result.out)


def test_a_chunk_size_other_than_the_disk_s_is_read_for_its_meters(cube, tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(cycle_module, "EarlyChunk", NoEarly)
        plain7 = run_cycle(cube, "tariffs", tmp_path / "plain", period="2025-11", progress=False, chunk_meters=7)
    used = recording(monkeypatch)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False, chunk_meters=7)
    assert sorted(used) == [(0, 7, True), (7, 14, True)]
    assert_same_outputs(plain7.out, result.out)


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
    assert used == [(12, 24, True)]  # chunk 1 first: its early read used, chunk 0's dropped
    assert_same_outputs(plain, result.out)


def test_a_failed_early_read_is_read_again(cube, plain, tmp_path, monkeypatch):
    real = chunk_data._read_energy

    def broken(cube, start, stop):
        if start == 0:
            raise CubeError("delivered_kwh: chunk 0 could not be read")
        return real(cube, start, stop)

    monkeypatch.setattr(chunk_data, "_read_energy", broken)
    used = recording(monkeypatch)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert sorted(used) == [(0, 12, False), (12, 24, True)]
    assert_same_outputs(plain, result.out)


def task(start, stop):
    return SimpleNamespace(start=start, stop=stop)


def test_early_arrays_are_only_for_the_planned_cube_version(cube):
    early = EarlyChunk(cube)
    assert set(early._futures) == {(0, 12), (12, 24)}
    arrays = early._futures[(0, 12)].result()
    assert set(arrays) == set(ENERGY) and arrays["delivered_kwh"].shape[0] == 12
    # another version (an ingest committed between the early reads and the plan): none is used
    assert early.take(task(0, 12), {**early.state, "version": early.state["version"] + 1}) is None
    assert early.take(task(12, 24), early.state) is None and not early._futures
    again = EarlyChunk(cube)
    assert again.take(task(0, 12), again.state) is not None
    assert again.take(task(0, 12), again.state) is None  # each given once
    assert again.take(task(12, 24), again.state) is not None
    other = EarlyChunk(cube, chunk_meters=7)
    assert other.take(task(0, 12), other.state) is None  # not its meters: 0..6 and 7..13 were read
    assert other.take(task(14, 21), other.state) is None and not other._futures  # the ones before it dropped


def test_no_early_read_while_a_writer_holds_the_cube_nor_for_a_url(cube, tmp_path, monkeypatch):
    assert not EarlyChunk("memory://cube.zarr")._futures
    assert not EarlyChunk(tmp_path / "no-such.zarr")._futures  # nothing there: the plan says so
    monkeypatch.setattr(chunk_data, "writer_active", lambda cube: True)
    held = EarlyChunk(cube)
    assert not held._futures and held.take(task(0, 12), held.state) is None
