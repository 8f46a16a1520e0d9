"""Hostile output folders for `workbench cycle` and `workbench sample`: nothing a command did not write is touched."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time

import pandas as pd
import pyarrow as pa
import pytest

import workbench.billing.cycle as cycle_module
import workbench.billing.cycle_output as cycle_output
import workbench.billing.run_store as run_store
from workbench.ami.cube import open_cube, write_cube
from workbench.billing.cycle_chunk import bill_chunk
from workbench.errors import BillingError
from workbench.sample import generate_sample_utility

from ._cli import REPO, assert_ok, assert_refused, run_in_process

TARIFFS = REPO / "tariffs"
CYCLE_A, CYCLE_B = 1, 2  # cycles with meters in the 20-meter sample (seed 42)


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=20, year=2025, seed=42, meter_chunk=5, progress=False, months=(1, 2))
    return path


@pytest.fixture(scope="module")
def clean(cube, tmp_path_factory):
    """The outputs of an undisturbed run of every cycle (4 meter chunks of 5 meters)."""
    out = tmp_path_factory.mktemp("clean") / "out"
    cycle_module.run_cycle(cube, TARIFFS, out, progress=False)
    return out


def cycle(cube, out, *extra):
    return ["cycle", "--cube", cube, "--tariffs", TARIFFS, "--out", out, "--quiet", *extra]


def tree(path):
    """Every file under ``path`` with its bytes: to show that a refused command changed nothing."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def same_bills(a, b):
    for name in ("bills", "line_items"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet"),
                                      check_exact=True)
    assert (a / "summary.csv").read_text() == (b / "summary.csv").read_text()


def bill_cycles(out):
    return sorted(set(pd.read_parquet(out / "bills.parquet")["cycle"].tolist()))


def test_out_dot_in_a_folder_with_a_user_file_is_refused(cube, tmp_path, capsys):
    """`cycle --out .` in a folder holding notes.txt: refused, the file is still there."""
    (tmp_path / "notes.txt").write_text("my notes")
    outcome = run_in_process(cycle(cube, "."), capsys, cwd=tmp_path)
    assert_refused(outcome, "--out .", "working directory", "name a new folder")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "my notes"


def test_out_is_the_cube_is_refused_and_the_cube_is_intact(cube, tmp_path, capsys):
    """`cycle --out CUBE` (the interval cube it reads): refused, every file of the cube unchanged."""
    before = tree(cube)
    assert_refused(run_in_process(cycle(cube, cube), capsys), str(cube), "overlaps the cube")
    assert_refused(run_in_process(cycle(cube, cube / "bills"), capsys), "bills", "overlaps the cube")
    assert tree(cube) == before


def test_out_is_an_ingested_cube_is_refused(cube, tmp_path, capsys):
    """`cycle --out` another interval cube (not the one billed): refused as files workbench did not write."""
    other = tmp_path / "ingested.zarr"
    write_cube(open_cube(cube, chunks=False), other, meter_chunk=5)
    before = tree(other)
    assert_refused(run_in_process(cycle(cube, other), capsys), "ingested.zarr", "did not write", "account, customer_class")
    assert tree(other) == before


def test_out_is_a_user_folder_with_unrelated_files(cube, tmp_path, capsys):
    """`cycle --out reports` where reports/ holds a user's spreadsheet: refused, the spreadsheet untouched."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "budget.xlsx").write_bytes(b"PK\x03\x04 spreadsheet")
    assert_refused(run_in_process(cycle(cube, folder), capsys), "reports", "budget.xlsx", "new or empty folder")
    assert tree(folder) == {"budget.xlsx": b"PK\x03\x04 spreadsheet"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # not even a lock file beside it


def test_out_is_a_file(cube, tmp_path, capsys):
    """`cycle --out bills.csv` (an existing file): refused, the file unchanged."""
    target = tmp_path / "bills.csv"
    target.write_text("meter,total\n")
    assert_refused(run_in_process(cycle(cube, target), capsys), "bills.csv", "is a file")
    assert target.read_text() == "meter,total\n"


def test_out_below_a_file(cube, tmp_path, capsys):
    """`cycle --out notes.txt/out` (a file where a folder is expected): refused naming it, no traceback."""
    (tmp_path / "notes.txt").write_text("x")
    assert_refused(run_in_process(cycle(cube, tmp_path / "notes.txt" / "out"), capsys), "notes.txt",
                   "a file is in the way")
    assert (tmp_path / "notes.txt").read_text() == "x"


@pytest.mark.parametrize("target", ["/proc/workbench-out", "/proc/self/workbench-out"])
def test_out_under_proc(cube, capsys, target):
    """`cycle --out /proc/...` (a folder nobody can write, even root): one error line, exit 2."""
    assert_refused(run_in_process(cycle(cube, target), capsys), target, "cannot write")


def test_rerun_of_the_same_inputs_replaces_its_own_output(cube, clean, tmp_path, capsys):
    """`cycle` twice with the same inputs into one --out: the second replaces the first, nothing else left."""
    out = tmp_path / "out"
    args = cycle(cube, out)
    assert_ok(run_in_process(args, capsys))
    first = json.loads((out / "run.json").read_text())
    assert_ok(run_in_process([*args, "--chunk", "7"], capsys))  # another chunking is the same run
    assert json.loads((out / "run.json").read_text())["chunks"] == 3 != first["chunks"]
    for name in ("bills", "line_items"):  # the same bills (chunk by chunk the rows come in another order)
        keys = ["meter", "period_start"] + (["line"] if name == "line_items" else [])
        mine, ref = (pd.read_parquet(p / f"{name}.parquet").sort_values(keys, ignore_index=True) for p in (out, clean))
        pd.testing.assert_frame_equal(mine, ref, check_exact=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", ".out.lock.holder", "out"]


def test_other_inputs_are_refused_without_replace(cube, tmp_path, capsys):
    """`cycle --cycle 2` into the --out of a `--cycle 1` run: refused (bills of cycle 1 kept); --replace replaces."""
    out = tmp_path / "out"
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys))
    before = tree(out)
    line = assert_refused(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_B)), capsys), str(out),
                          "another run", f"cycles {CYCLE_A} (this run: {CYCLE_B})", "--replace")
    assert "new folder" in line
    assert tree(out) == before
    assert_refused(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A), "--period", "2025-02"), capsys),
                   "period all (this run: 2025-02)")
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_B), "--replace"), capsys))
    assert bill_cycles(out) == [CYCLE_B]


def test_a_file_put_into_an_earlier_output_is_never_deleted(cube, tmp_path, capsys):
    """A user's file saved into an earlier cycle output: the rerun is refused, even with --replace; file kept."""
    out = tmp_path / "out"
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys))
    (out / "review-notes.txt").write_text("call customer M000003")
    assert_refused(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A), "--replace"), capsys),
                   "review-notes.txt", "did not write", "move them out")
    assert (out / "review-notes.txt").read_text() == "call customer M000003"


def test_concurrent_runs_into_one_out_the_second_is_refused(cube, tmp_path, capsys, monkeypatch):
    """Two `cycle` runs (cycles 1 and 2) into one --out at the same time: the second is refused naming the folder."""
    out = tmp_path / "out"
    inside, release = threading.Event(), threading.Event()

    def slow(plan, task, data=None, **kw):  # the first run holds --out while it bills
        inside.set()
        assert release.wait(120)
        return bill_chunk(plan, task, data, **kw)

    monkeypatch.setattr(cycle_module, "bill_chunk", slow)
    first = threading.Thread(target=cycle_module.run_cycle, args=(cube, TARIFFS, out),
                             kwargs={"cycles": [CYCLE_A], "progress": False})
    first.start()
    try:
        assert inside.wait(120)
        outcome = run_in_process(cycle(cube, out, "--cycle", str(CYCLE_B)), capsys)
    finally:
        release.set()
        first.join(120)
    assert_refused(outcome, str(out), "in use by another workbench run", f"process {os.getpid()}")
    assert bill_cycles(out) == [CYCLE_A]  # the first run's bills, complete


def test_concurrent_processes_into_one_out(cube, tmp_path):
    """Two `workbench cycle` processes (cycles 1 and 2) into one --out: one exits 0, the other 2; no bills lost."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "workbench.cli", *map(str, cycle(cube, out))]
    first = subprocess.Popen([*command, "--cycle", str(CYCLE_A)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    holder = tmp_path / ".out.lock.holder"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if holder.exists() and holder.read_text().strip() == str(first.pid):
            break
        time.sleep(0.05)
    second = subprocess.run([*command, "--cycle", str(CYCLE_B)], env=env, capture_output=True, text=True, timeout=600)
    stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr
    assert second.returncode == 2 and "Traceback" not in second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    # refused while the first runs (the lock), or after it (its bills are another run's): never replaced
    assert len(errors) == 1 and str(out) in errors[0]
    assert ("in use by another workbench run" in errors[0]) or ("another run" in errors[0])
    assert bill_cycles(out) == [CYCLE_A]


def _interrupted(cube, out, capsys, monkeypatch, at=2):
    """A run stopped at chunk ``at`` (an error), leaving chunks 0..at-1 in the resume folder; its parts folder."""
    def failing(plan, task, data=None, **kw):
        if task.chunk_no == at:
            raise BillingError(f"power cut while billing chunk {at}")
        return bill_chunk(plan, task, data, **kw)

    monkeypatch.setattr(cycle_module, "bill_chunk", failing)
    assert_refused(run_in_process(cycle(cube, out), capsys), "power cut",
                   f"{at} of 4 meter chunks billed so far are kept")
    monkeypatch.setattr(cycle_module, "bill_chunk", bill_chunk)
    return next(out.parent.glob(f".{out.name}.partial-*")) / "parts"


def test_truncated_resume_chunk_is_billed_again(cube, clean, tmp_path, capsys, monkeypatch):
    """A resume chunk whose table file is cut short: the rerun notes it on stderr, bills it again, same bills."""
    out = tmp_path / "out"
    parts = _interrupted(cube, out, capsys, monkeypatch)
    table = parts / "000001.bills.arrow"
    table.write_bytes(table.read_bytes()[:100])
    outcome = run_in_process(cycle(cube, out), capsys)
    assert_ok(outcome)
    notes = [line for line in outcome.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "meter chunk 1" in notes[0] and "000001.bills.arrow" in notes[0]
    assert "billing it again" in notes[0]
    same_bills(out, clean)


def test_bad_json_marker_of_a_resume_chunk_is_billed_again(cube, clean, tmp_path, capsys, monkeypatch):
    """A resume chunk whose done-marker is not JSON (or not a marker): billed again with a note, same bills."""
    out = tmp_path / "out"
    parts = _interrupted(cube, out, capsys, monkeypatch)
    (parts / "000000.json").write_text('{"groups": [')
    (parts / "000001.json").write_text("[1, 2, 3]")
    outcome = run_in_process(cycle(cube, out), capsys)
    assert_ok(outcome)
    notes = [line for line in outcome.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 2 and "000000.json" in notes[0] and "000001.json" in notes[1]
    same_bills(out, clean)


def test_resume_chunk_damaged_inside_is_billed_again_at_assembly(cube, clean, tmp_path, capsys, monkeypatch):
    """A resume chunk whose table footer is intact but whose data is garbage: billed again when read, same bills."""
    out = tmp_path / "out"
    parts = _interrupted(cube, out, capsys, monkeypatch)
    table = parts / "000001.line_items.arrow"
    data = bytearray(table.read_bytes())
    start = len(data) // 2
    data[start:start + 64] = b"\xff" * 64  # the middle of the (LZ4-compressed) data, not the footer
    table.write_bytes(bytes(data))
    assert pa.ipc.open_file(table).num_record_batches  # the cheap check passes...
    outcome = run_in_process(cycle(cube, out), capsys)
    assert_ok(outcome)  # ...and the read at assembly catches it
    assert "note: meter chunk 1" in outcome.stderr and "000001.line_items.arrow" in outcome.stderr
    same_bills(out, clean)


def test_full_disk_while_billing_a_chunk(cube, tmp_path, capsys, monkeypatch):
    """No space left while writing a meter chunk (ENOSPC): one error line saying to free space; no output."""
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_store.pa.ipc, "new_file", full)  # writing a part
    out = tmp_path / "out"
    assert_refused(run_in_process(cycle(cube, out), capsys), "no space left", "free some space")
    assert not out.exists()
    assert not list(tmp_path.glob(".staging-*"))


def test_full_disk_while_assembling_keeps_the_earlier_output(cube, tmp_path, capsys, monkeypatch):
    """ENOSPC while writing run.json over an earlier output: refused, earlier bills intact, no staging left."""
    out = tmp_path / "out"
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys))
    before = tree(out)

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cycle_module, "atomic_write_text", full)
    assert_refused(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys), str(out), "run.json",
                   "no space left")
    assert tree(out) == before
    assert not list(tmp_path.glob(".staging-*"))
    assert len(list(tmp_path.glob(".out.partial-*"))) == 1  # the billed chunks are kept to resume from


def test_read_only_disk_when_moving_the_output_into_place(cube, tmp_path, capsys, monkeypatch):
    """EROFS when renaming the finished output into place: one error line naming the folder, nothing left behind."""
    def read_only(staged, final, kind, option="--out"):
        raise OSError(errno.EROFS, "Read-only file system", str(final))

    monkeypatch.setattr(cycle_output, "replace_dir", read_only)
    out = tmp_path / "out"
    assert_refused(run_in_process(cycle(cube, out), capsys), str(out), "read-only")
    assert not out.exists() and not list(tmp_path.glob(".staging-*"))


def test_staging_left_by_a_killed_run_is_cleaned_up(cube, tmp_path, capsys):
    """Staging folders of a killed run into out/ are removed by the next run; another folder's are left alone."""
    out = tmp_path / "out"
    killed = tmp_path / ".staging-out-0123abcd"
    killed.mkdir()
    (killed / "bills.parquet").write_bytes(b"half written")
    others = [tmp_path / ".staging-outreach-0123abcd", tmp_path / ".staging-out-notes"]
    for other in others:
        other.mkdir()
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys))
    assert not killed.exists() and all(other.exists() for other in others)


def test_sample_out_onto_a_user_folder_is_refused(tmp_path, capsys):
    """`sample --out photos` where photos/ holds a user's file: refused before generating, the file intact."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8 cat")
    outcome = run_in_process(["sample", "--meters", "5", "--months", "2025-01", "--out", folder, "--quiet"], capsys)
    assert_refused(outcome, "--out", "photos", "cat.jpg", "sample utility")
    assert tree(folder) == {"cat.jpg": b"\xff\xd8 cat"}


def test_sample_out_onto_a_cycle_output_or_an_ingested_cube_is_refused(cube, tmp_path, capsys):
    """`sample --out` onto bill cycle output, or onto a cube not made by sample: refused, both unchanged."""
    out = tmp_path / "bills"
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys))
    ds = open_cube(cube, chunks=False)
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("generator", "synthetic")}
    ingested = write_cube(ds, tmp_path / "ingested.zarr", meter_chunk=5)
    for target, found in ((out, "holds a bill cycle output"), (ingested, "did not write")):
        before = tree(target)
        outcome = run_in_process(["sample", "--meters", "5", "--out", target, "--quiet"], capsys)
        assert_refused(outcome, str(target), found)
        assert tree(target) == before


def test_sample_ami_onto_a_user_folder_is_refused_before_anything_is_written(tmp_path, capsys):
    """`sample --out new.zarr --ami docs` where docs/ holds a user file: refused first, no cube generated."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text("keep")
    outcome = run_in_process(["sample", "--meters", "5", "--months", "2025-01", "--out", tmp_path / "new.zarr",
                              "--ami", docs, "--quiet"], capsys)
    assert_refused(outcome, "--ami", "docs", "README.md")
    assert not (tmp_path / "new.zarr").exists() and tree(docs) == {"README.md": b"keep"}


def test_sample_rerun_replaces_its_own_cube_and_ami_export(tmp_path, capsys):
    """`sample --out c.zarr --ami ami` twice: the second run replaces both of its own folders."""
    args = ["sample", "--meters", "4", "--months", "2025-01", "--out", tmp_path / "c.zarr", "--ami", tmp_path / "ami",
            "--quiet"]
    assert_ok(run_in_process(args, capsys))
    assert_ok(run_in_process([*args, "--seed", "7"], capsys))
    assert open_cube(tmp_path / "c.zarr").attrs["seed"] == 7
    assert json.loads((tmp_path / "ami" / "faults.json").read_text())["months"] == ["2025-01"]
    assert not list(tmp_path.glob(".staging-*"))


def test_outputs_written_before_the_marker_existed_are_recognised(cube, tmp_path, capsys):
    """A cycle output and a sample cube without the marker (older workbench): rerun replaces them, marks them."""
    out = tmp_path / "out"
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys))
    run = json.loads((out / "run.json").read_text())
    del run["inputs"]  # what an older workbench wrote: no marker, no inputs record
    (out / "run.json").write_text(json.dumps(run))
    (out / ".workbench-output.json").unlink()
    assert_refused(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_B)), capsys),
                   f"cycles {CYCLE_A} (this run: {CYCLE_B})")
    assert_ok(run_in_process(cycle(cube, out, "--cycle", str(CYCLE_A)), capsys))
    assert json.loads((out / ".workbench-output.json").read_text())["kind"] == "bill cycle output"

    sample = ["sample", "--meters", "3", "--months", "2025-01", "--out", tmp_path / "s.zarr", "--quiet"]
    assert_ok(run_in_process(sample, capsys))
    (tmp_path / "s.zarr" / ".workbench-output.json").unlink()
    assert_ok(run_in_process([*sample[:-1], "--seed", "9", "--quiet"], capsys))
    assert open_cube(tmp_path / "s.zarr").attrs["seed"] == 9
    assert (tmp_path / "s.zarr" / ".workbench-output.json").exists()


def test_sample_out_onto_a_sample_cube_with_ingested_reads_is_refused(tmp_path, capsys):
    """`sample --out s.zarr` after real reads were ingested into s.zarr: refused, the ingested value kept."""
    from workbench.ami.ingest import ingest

    cube = tmp_path / "s.zarr"
    args = ["sample", "--meters", "4", "--months", "2025-01", "--out", cube, "--quiet"]
    assert_ok(run_in_process(args, capsys))
    t0 = pd.Timestamp(open_cube(cube)["time"].values[0]).strftime("%Y-%m-%dT%H:%MZ")
    reads = tmp_path / "fix.csv"
    reads.write_text(f"meter_id,interval_start,channel,value,unit\nM000002,{t0},delivered,1.5,kWh\n")
    ingest([reads], cube, reader_options={"interval_seconds": 900})
    assert_refused(run_in_process(args, capsys), "s.zarr", "ingest", "new folder")
    assert float(open_cube(cube, chunks=False)["delivered_kwh"].values[1, 0]) == 1.5


@pytest.mark.parametrize("where, expected", [
    ("file", "is a file"), ("below_file", "a file is in the way"), ("/proc/workbench-sample.zarr", "cannot write"),
])
def test_sample_out_where_no_folder_can_be(tmp_path, capsys, where, expected):
    """`sample --out` a file, a path below a file, or under /proc: one error line, the file unchanged."""
    (tmp_path / "data.csv").write_text("a,b\n")
    target = {"file": tmp_path / "data.csv", "below_file": tmp_path / "data.csv" / "c.zarr"}.get(where, where)
    outcome = run_in_process(["sample", "--meters", "2", "--months", "2025-01", "--out", target, "--quiet"], capsys)
    assert_refused(outcome, "--out", expected)
    assert (tmp_path / "data.csv").read_text() == "a,b\n"


def test_sample_full_disk_keeps_the_earlier_cube(tmp_path, capsys, monkeypatch):
    """ENOSPC while `sample` puts a new cube in place of its earlier one: one error line, earlier cube intact."""
    import workbench.outputs.guard as output_guard

    args = ["sample", "--meters", "3", "--months", "2025-01", "--out", tmp_path / "s.zarr", "--quiet"]
    assert_ok(run_in_process(args, capsys))
    before = tree(tmp_path / "s.zarr")

    def full(staged, final, kind, option="--out"):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output_guard, "replace_dir", full)
    assert_refused(run_in_process([*args[:-1], "--seed", "3", "--quiet"], capsys), "s.zarr", "no space left")
    assert tree(tmp_path / "s.zarr") == before
    assert not list(tmp_path.glob(".staging-*"))


def test_a_run_refused_for_its_inputs_leaves_nothing_beside_out(tmp_path, capsys):
    """`cycle --cube missing.zarr --out reports/cycle`: refused for the cube; no folder or lock file appears."""
    outcome = run_in_process(cycle(tmp_path / "missing.zarr", tmp_path / "reports" / "cycle"), capsys)
    assert_refused(outcome, "missing.zarr")
    assert list(tmp_path.iterdir()) == []
