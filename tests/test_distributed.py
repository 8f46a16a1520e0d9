"""Billing runs on a real dask LocalCluster (several worker processes): same outputs as in-process, a worker
killed mid-run, errors from workers, the command line."""

from __future__ import annotations

import logging
import os
import re

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from workbench.billing.cycle import run_cycle
from workbench.billing.cycle_chunk import KILL_ENV
from workbench.cli import main
from workbench.errors import BillingError, CubeError
from workbench.sample import generate_sample_utility

pytestmark = pytest.mark.slow  # worker processes start and compile the scan: ~10-30 s in all

N_METERS, CHUNK = 60, 12


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=N_METERS, year=2025, seed=3, meter_chunk=CHUNK, progress=False,
                            months=(10, 11))
    return path


@pytest.fixture(scope="module")
def serial(cube, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "out"
    run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    return out


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
        yield c


def assert_same_outputs(a, b):
    for name in ("bills", "line_items"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet"),
                                      check_exact=True)
    for name in ("summary.csv", "exceptions.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name


def test_two_worker_processes_give_the_serial_outputs(cube, serial, client, tmp_path):
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False, scheduler=client)
    assert "2 workers" in result.scheduler and result.chunks == N_METERS // CHUNK
    assert_same_outputs(tmp_path / "out", serial)
    # the chunks were billed in the worker processes, not here
    assert result.meters_billed == N_METERS


def test_chunks_are_billed_in_the_workers(cube, client, tmp_path, monkeypatch):
    # keep the parts: stop before assembly by making the assembly fail, then read the done-markers' pids
    import workbench.billing.cycle as cycle_module

    def no_assembly(*args, **kwargs):
        raise RuntimeError("stop before assembly")

    monkeypatch.setattr(cycle_module, "_assemble", no_assembly)
    with pytest.raises(RuntimeError):
        run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False, scheduler=client)
    import json

    parts = next(tmp_path.glob(".out.partial-*")) / "parts"
    pids = {json.loads(p.read_text())["pid"] for p in parts.glob("*.json")}
    worker_pids = set(client.run(os.getpid).values())
    assert pids and pids <= worker_pids and os.getpid() not in pids


def test_worker_killed_mid_run_the_run_completes_with_the_same_outputs(cube, serial, tmp_path, monkeypatch):
    flag = tmp_path / "killed"
    monkeypatch.setenv(KILL_ENV, f"2@{flag}")  # set before the cluster starts: its workers inherit it
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False, scheduler="local",
                       workers=2)
    assert flag.exists(), "the first attempt at chunk 2 ran and killed its worker"
    assert int(flag.read_text()) != os.getpid()
    assert result.chunks == N_METERS // CHUNK
    assert_same_outputs(tmp_path / "out", serial)


def test_an_error_in_a_worker_reaches_the_user_and_the_rerun_resumes(cube, serial, client, tmp_path):
    from workbench.ami.cube import open_cube, write_cube

    damaged = tmp_path / "cube.zarr"
    write_cube(open_cube(cube, chunks=False), damaged, meter_chunk=CHUNK)
    chunk_file = damaged / "delivered_kwh" / "c" / "3" / "0"
    saved = chunk_file.read_bytes()
    chunk_file.unlink()
    with pytest.raises(CubeError, match=r"chunk c/3/0 of variable 'delivered_kwh' \(meters 36\.\.47") as failed:
        run_cycle(damaged, "tariffs", tmp_path / "out", period="2025-11", progress=False, scheduler=client)
    assert not (tmp_path / "out").exists()
    # how many of the other four chunks finished is a race: the error says how many were kept when it was
    # raised, and a chunk already running on a worker may still finish after it (cancelling does not stop it)
    kept = int(re.search(r"(\d+) of 5 meter chunks billed so far are kept", str(failed.value)).group(1))
    assert kept <= 4
    chunk_file.write_bytes(saved)  # restored in place: the same cube, so the rerun resumes
    result = run_cycle(damaged, "tariffs", tmp_path / "out", period="2025-11", progress=False, scheduler=client)
    assert kept <= result.chunks_resumed <= 4
    assert_same_outputs(tmp_path / "out", serial)


def test_cli_on_a_scheduler_address(cube, serial, client, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cycle", "--cube", str(cube), "--period", "2025-11", "--out", str(out),
                 "--scheduler", client.scheduler.address]) == 0
    captured = capsys.readouterr()
    assert "Billed 60 of 60 meters" in captured.out
    assert "dashboard: http" in captured.err
    assert_same_outputs(out, serial)


def test_cli_bad_scheduler_arguments(cube, tmp_path, capsys):
    assert main(["cycle", "--cube", str(cube), "--out", str(tmp_path / "o"), "--scheduler", "nowhere",
                 "--quiet"]) == 2
    assert "expected 'local' or a dask scheduler address" in capsys.readouterr().err
    assert main(["cycle", "--cube", str(cube), "--out", str(tmp_path / "o"), "--workers", "3", "--quiet"]) == 2
    assert "--workers: only with --scheduler local" in capsys.readouterr().err
    with pytest.raises(BillingError, match="cannot connect to the dask scheduler"):
        run_cycle(cube, "tariffs", tmp_path / "o", progress=False, scheduler="tcp://127.0.0.1:9")
