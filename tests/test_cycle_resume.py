"""Resumable billing runs, chunking invariance, and damaged cubes (missing chunks, inconsistent chunking)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import zarr

import workbench.billing.cycle as cycle_module
from workbench.ami.cube import open_cube, write_cube
from workbench.ami.cube_schema import QUALITY_MISSING
from workbench.ami.cube_store import quiet_zarr
from workbench.billing.cycle import run_cycle
from workbench.billing.cycle_chunk import bill_chunk
from workbench.cli import main
from workbench.errors import BillingError, CubeError, WorkbenchError
from workbench.sample import generate_sample_utility, parse_months

N_METERS, CHUNK = 60, 12  # the cycle_cube of tests/conftest.py: five chunks


@pytest.fixture(scope="module")
def cube(cycle_cube):
    return cycle_cube  # tests/conftest.py: 60 meters in five chunks, October-November 2025


@pytest.fixture(scope="module")
def clean(cube, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "out"
    run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    return out


def assert_same_outputs(a, b):
    for name in ("bills", "line_items"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet"),
                                      check_exact=True)
    for name in ("summary.csv", "exceptions.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name
    run_a, run_b = (json.loads((p / "run.json").read_text()) for p in (a, b))
    for key in ("meters_in", "meters_billed", "meters_held", "bills", "line_items", "revenue", "accounting"):
        assert run_a[key] == run_b[key], key


class Interrupt(Exception):
    pass


def _failing_at(chunk_no, calls):
    def fake(plan, task, data=None, **kw):
        calls.append(task.chunk_no)
        if task.chunk_no == chunk_no:
            raise Interrupt(f"power cut while billing chunk {chunk_no}")
        return bill_chunk(plan, task, data, **kw)
    return fake


def _counting(calls):
    def fake(plan, task, data=None, **kw):
        calls.append(task.chunk_no)
        return bill_chunk(plan, task, data, **kw)
    return fake


def test_one_month_span_sample_bills_every_meter_in_november(clean):
    bills = pd.read_parquet(clean / "bills.parquet")
    assert bills.meter.nunique() == N_METERS
    # every bill ends in November; each meter has the bill from its October read to its November read,
    # except where the read is on the 1st (cycle 1); plus the period clipped at the end of the data
    ends = pd.to_datetime(bills.period_end) - pd.Timedelta(days=1)
    assert (ends.dt.month == 11).all()
    assert (bills.intervals > 0).all() and (bills.missing_intervals == 0).all()


def test_interrupted_run_resumes_from_the_chunks_written(cube, clean, tmp_path, monkeypatch, caplog):
    out = tmp_path / "out"
    calls = []
    monkeypatch.setattr(cycle_module, "bill_chunk", _failing_at(3, calls))
    with pytest.raises(Interrupt):
        run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    assert calls == [0, 1, 2, 3] and not out.exists()
    partial = list(tmp_path.glob(".out.partial-*"))
    assert len(partial) == 1
    assert sorted(p.name for p in (partial[0] / "parts").glob("*.json")) == ["000000.json", "000001.json", "000002.json"]

    calls.clear()
    monkeypatch.setattr(cycle_module, "bill_chunk", _counting(calls))
    with caplog.at_level(logging.INFO, logger="workbench"):  # a note through logging (the CLI prints it)
        result = run_cycle(cube, "tariffs", out, period="2025-11", progress=True)
    assert calls == [3, 4]  # only the chunks not billed before
    assert "resuming: 3 of 5 meter chunks already billed" in caplog.text
    assert (result.chunks, result.chunks_resumed) == (5, 3)
    assert "resumed: 3 of 5" in result.summary_text()
    assert_same_outputs(out, clean)
    assert not list(tmp_path.glob(".out.partial-*"))  # cleaned up once complete


def test_a_chunk_without_its_done_marker_is_billed_again(cube, clean, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(cycle_module, "bill_chunk", _failing_at(4, []))
    with pytest.raises(Interrupt):
        run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    parts = next(tmp_path.glob(".out.partial-*")) / "parts"
    (parts / "000001.json").unlink()  # as if killed between writing the tables and the marker
    (parts / "000002.bills.arrow").write_bytes(b"garbage")  # a table is only trusted with its marker...
    (parts / "000002.json").unlink()
    calls = []
    monkeypatch.setattr(cycle_module, "bill_chunk", _counting(calls))
    run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    assert calls == [1, 2, 4]
    assert_same_outputs(out, clean)


def test_fresh_ignores_kept_chunks_and_other_inputs_do_not_reuse_them(cube, clean, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(cycle_module, "bill_chunk", _failing_at(2, []))
    with pytest.raises(Interrupt):
        run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    calls = []
    monkeypatch.setattr(cycle_module, "bill_chunk", _counting(calls))
    # another period is another run: nothing reused (and the first run's chunks are left alone)
    run_cycle(cube, "tariffs", tmp_path / "out", period="2025-10", progress=False)
    assert calls == [0, 1, 2, 3, 4]
    assert len(list(tmp_path.glob(".out.partial-*"))) == 1
    calls.clear()
    # out now holds the October run's bills: another period does not replace them unless asked to
    with pytest.raises(BillingError, match=r"holds the bills of another run \(period 2025-10 \(this run: 2025-11\)\)"):
        run_cycle(cube, "tariffs", out, period="2025-11", progress=False, fresh=True)
    assert calls == [] and json.loads((out / "run.json").read_text())["period"] == "2025-10"
    run_cycle(cube, "tariffs", out, period="2025-11", progress=False, fresh=True, replace=True)
    assert calls == [0, 1, 2, 3, 4]
    assert_same_outputs(out, clean)


def test_a_second_run_of_the_same_inputs_at_the_same_time_is_refused(cube, clean, tmp_path, monkeypatch):
    import fcntl

    out = tmp_path / "out"
    monkeypatch.setattr(cycle_module, "bill_chunk", _failing_at(1, []))
    with pytest.raises(Interrupt):
        run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    monkeypatch.setattr(cycle_module, "bill_chunk", bill_chunk)
    for lock in (tmp_path / ".out.lock", next(tmp_path.glob(".out.partial-*")) / "lock"):  # the output, the chunks
        with open(lock, "a+") as other:  # another process holding the run, as far as flock can tell
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(WorkbenchError, match=r"is in use by another workbench run"):
                run_cycle(cube, "tariffs", out, period="2025-11", progress=False)
    result = run_cycle(cube, "tariffs", out, period="2025-11", progress=False)  # free again: resumes
    assert result.chunks_resumed == 1
    assert_same_outputs(out, clean)


def test_chunking_of_the_run_does_not_change_the_bills(cube, clean, tmp_path):
    # billing 7 meters at a time (not aligned with the cube's 12-meter chunks) gives the same outputs
    # (the rows come in another order: chunk by chunk, rate code by rate code)
    result = run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False, chunk_meters=7)
    assert result.chunks == -(-N_METERS // 7)
    for name, keys in (("bills", ["meter", "period_start"]), ("line_items", ["meter", "period_start", "line"])):
        mine, ref = (pd.read_parquet(p / f"{name}.parquet").sort_values(keys, ignore_index=True)
                     for p in (tmp_path / "out", clean))
        pd.testing.assert_frame_equal(mine, ref, check_exact=True)
    mine, ref = (pd.read_csv(p / "summary.csv").sort_values("rate_code", ignore_index=True)
                 for p in (tmp_path / "out", clean))
    pd.testing.assert_frame_equal(mine, ref, check_exact=False, rtol=1e-12)


# --- damaged cubes ---------------------------------------------------------------------------------------


@pytest.fixture
def copy(cube, tmp_path):
    path = tmp_path / "cube.zarr"
    write_cube(open_cube(cube, chunks=False), path, meter_chunk=CHUNK)
    return path


def test_missing_chunk_is_an_error_naming_it_never_nan_bills(copy, tmp_path, capsys):
    (copy / "delivered_kwh" / "c" / "2" / "0").unlink()
    with pytest.raises(CubeError) as err:
        run_cycle(copy, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    message = str(err.value)
    assert "chunk c/2/0 of variable 'delivered_kwh'" in message
    assert "meters 24..35 (M000025 to M000036)" in message and "missing on disk" in message
    assert "2 of 5 meter chunks billed so far are kept" in message  # chunks 0 and 1 were fine
    assert not (tmp_path / "out").exists()
    assert main(["cycle", "--cube", str(copy), "--period", "2025-11", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "c/2/0" in capsys.readouterr().err


def test_missing_received_chunk_is_an_error_too(copy, tmp_path):
    (copy / "received_kwh" / "c" / "4" / "0").unlink()
    with pytest.raises(CubeError, match=r"chunk c/4/0 of variable 'received_kwh' \(meters 48\.\.59"):
        run_cycle(copy, "tariffs", tmp_path / "out", progress=False)


def test_a_chunk_that_is_all_missing_data_is_billed_not_refused(cube, tmp_path):
    # Zarr does not write a chunk that is all fill value (NaN): with quality saying "missing" that is valid
    ds = open_cube(cube, chunks=False)
    for name in ("delivered_kwh", "received_kwh"):
        ds[name][12:24] = np.nan
    ds["quality"][12:24] = QUALITY_MISSING
    path = tmp_path / "gappy.zarr"
    write_cube(ds, path, meter_chunk=CHUNK)
    assert not (path / "delivered_kwh" / "c" / "1" / "0").exists()
    result = run_cycle(path, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    gappy = bills[bills.meter.isin(ds["meter"].values[12:24])]
    assert result.meters_in == N_METERS and len(gappy)
    # hand check: no interval read, so every interval of those bills is counted missing and no kWh billed
    assert (gappy.intervals == 0).all() and (gappy.missing_intervals > 0).all()
    assert (gappy.delivered_kwh == 0).all()


def test_inconsistent_chunking_is_an_error_naming_the_variable(copy, tmp_path):
    group = zarr.open_group(copy, mode="r+")
    quality = group["quality"][:]
    attrs = dict(group["quality"].attrs)
    del group["quality"]
    arr = group.create_array("quality", shape=quality.shape, chunks=(5, quality.shape[1]), dtype="uint8",
                             fill_value=0, dimension_names=("meter", "time"))
    arr[:] = quality
    arr.attrs.update(attrs)
    with quiet_zarr():
        zarr.consolidate_metadata(copy)
    with pytest.raises(CubeError, match=r"inconsistent chunking on disk: variable 'quality' is chunked along "
                                        r"'meter' as 5 but 'delivered_kwh' as 12"):
        run_cycle(copy, "tariffs", tmp_path / "out", progress=False)


# --- the sample generator's span of months (what these tests and the scaling benchmark bill) ---------------


def test_span_sample_covers_local_october_and_november(cube):
    ds = open_cube(cube, chunks=False)
    time = ds["time"].values
    # by hand: local 1 Oct 00:00 EDT = 04:00 UTC; local 1 Dec 00:00 EST = 05:00 UTC; 61 days of 96 intervals
    # plus the 4 of the repeated hour at the end of DST (2 Nov)
    assert time[0] == np.datetime64("2025-10-01T04:00")
    assert time[-1] + np.timedelta64(15, "m") == np.datetime64("2025-12-01T05:00")
    assert len(time) == 61 * 96 + 4
    assert ds.attrs["months"] == "2025-10:2025-11" and "months=(10, 11)" in ds.attrs["generator"]
    assert np.isfinite(ds["delivered_kwh"].values).all() and (ds["delivered_kwh"].values >= 0).all()


def test_span_sample_has_the_same_meters_as_the_full_year(cube, tmp_path):
    year = tmp_path / "year.zarr"
    generate_sample_utility(year, n_meters=N_METERS, year=2025, seed=5, meter_chunk=CHUNK, progress=False)
    span, full = open_cube(cube, chunks=False), open_cube(year, chunks=False)
    for name in ("meter", "account", "customer_class", "rate_code", "multiplier", "cycle", "nem_program"):
        np.testing.assert_array_equal(span[name].values, full[name].values, err_msg=name)
    np.testing.assert_array_equal(span["read_date"].values, full["read_date"].values)
    # same customers: a meter's October-November use is of the same size in both (within noise)
    months = full.sel(time=slice(span["time"].values[0], span["time"].values[-1]))
    ratio = span["delivered_kwh"].sum("time") / months["delivered_kwh"].sum("time")
    assert float(ratio.median()) == pytest.approx(1.0, abs=0.35)


@pytest.mark.parametrize("text, year, expected", [
    ("2025-10:2025-11", None, (2025, 10, 11)),
    ("2024-02", None, (2024, 2, 2)),
    ("10:11", 2026, (2026, 10, 11)),
])
def test_parse_months(text, year, expected):
    assert parse_months(text, year) == expected


@pytest.mark.parametrize("text, message", [
    ("2025-12:2026-01", "one calendar year"),
    ("2025-11:2025-10", "first <= last"),
    ("2025-13", "months 1..12"),
    ("autumn", "not a month"),
])
def test_parse_months_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_months(text, 2025)


def test_cli_sample_months_error(tmp_path, capsys):
    assert main(["sample", "--meters", "5", "--months", "2025-12:2026-01", "--out", str(tmp_path / "c.zarr"),
                 "--quiet"]) == 2
    assert "--months: months '2025-12:2026-01': the span must lie in one calendar year" in capsys.readouterr().err


def test_cube_behind_an_fsspec_url_bills_the_same(cube, clean, tmp_path):
    # the in-memory fsspec file system stands in for S3-compatible object storage (same code path: a URL)
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.put(str(cube), "/wb-test/cube.zarr", recursive=True)
    try:
        result = run_cycle("memory://wb-test/cube.zarr", "tariffs", tmp_path / "out", period="2025-11", progress=False)
        assert result.meters_in == N_METERS
        assert_same_outputs(tmp_path / "out", clean)
        fs.rm("/wb-test/cube.zarr/delivered_kwh/c/1/0")
        with pytest.raises(CubeError, match=r"memory://wb-test/cube.zarr: chunk c/1/0 of variable 'delivered_kwh'"):
            run_cycle("memory://wb-test/cube.zarr", "tariffs", tmp_path / "out2", period="2025-11", progress=False)
    finally:
        fs.rm("/wb-test", recursive=True)
