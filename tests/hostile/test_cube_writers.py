"""Hostile cases for the writers and readers of the interval cube: one writer at a time, one version per run,
provenance kept, no crash on a cube without its records or behind a link, reports checked first, and nothing
to clean by hand after a killed writer.

Values are hand-made: two meters, hourly reads of 1.0 kWh (M1) and 2.0 kWh (M2) on 2025-01-01; a correction
changes M1's 03:00 read to 9.0 kWh.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.hostile._cli import REPO, assert_ok, assert_refused, run_in_process, run_subprocess
from workbench.ami.cube import open_cube
from workbench.ami.cube_writer import VERSION_FILE, read_version
from workbench.ami.ingest_records import read_log

REG = ("meter_id,service_point,account,customer_class,rate_code,cycle,nem_program,channels,ct_ratio,pt_ratio,"
       "multiplier_applied,install_date,removal_date,timezone")
MDM = "meter_id,interval_start,channel,value,unit,quality,interval_seconds"
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}

HOLD = """import sys, time
from workbench.ami.cube_writer import cube_writer
with cube_writer(sys.argv[1]):
    print("held", flush=True)
    time.sleep(300)
"""

SLOW_SETTLE = """import sys, time
from workbench.ami.ingest_store import ChunkStore
real = ChunkStore.settle
def slow(self, *a, **k):
    print("settling", flush=True)
    time.sleep(300)
    return real(self, *a, **k)
ChunkStore.settle = slow
from workbench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _mdm(path: Path, values: dict) -> Path:
    """values: {meter: [kWh per hour from 2025-01-01T00:00Z]}."""
    lines = [MDM]
    for meter, kwh in values.items():
        for h, v in enumerate(kwh):
            lines.append(f"{meter},2025-01-01T{h:02d}:00Z,delivered,{v},kWh,A,3600")
    path.write_text("\n".join(lines) + "\n")
    return path


def _corrected(tmp: Path) -> Path:
    m1 = [1.0] * 24
    m1[3] = 9.0
    return _mdm(tmp / "v2.csv", {"M1": m1, "M2": [2.0] * 24})


@pytest.fixture
def cube(tmp_path, capsys) -> Path:
    """A two-meter cube of January 2025 from v1.csv (one meter per Zarr chunk)."""
    reg = tmp_path / "meters.csv"
    reg.write_text("\n".join([REG, "M1,,,RES,RES-FLAT,,,,,,,,,UTC", "M2,,,RES,RES-FLAT,,,,,,,,,UTC"]) + "\n")
    v1 = _mdm(tmp_path / "v1.csv", {"M1": [1.0] * 24, "M2": [2.0] * 24})
    path = tmp_path / "c.zarr"
    from workbench.ami.ingest import ingest

    ingest([v1], path, reg, create_period="2025-01", meter_chunk=1)
    capsys.readouterr()
    return path


def _m1_at_3(path: Path) -> float:
    return float(open_cube(path, chunks=False)["delivered_kwh"].values[0, 3])


def _files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def _held(cube: Path):
    """Another process holding the cube's writer lock (as a running ingest or VEE does)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(cube)], stdout=subprocess.PIPE, env=ENV, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_vee_while_another_writer_holds_the_cube_is_refused(cube, capsys):
    """`vee` while another run writes the cube: one line, the cube is in use; cube untouched."""
    before = _files(cube)
    with _held(cube):
        out = run_in_process(["vee", "--cube", cube, "--quiet"], capsys)
    assert_refused(out, "c.zarr", "in use by another workbench run")
    assert _files(cube) == before


def test_corrected_ingest_while_another_writer_holds_the_cube_is_refused_and_not_logged(cube, tmp_path, capsys):
    """Corrected file ingested while VEE writes: refused, not logged; the rerun applies it."""
    v2 = _corrected(tmp_path)
    with _held(cube):
        out = run_in_process(["ingest", v2, "--into", cube], capsys)
    assert_refused(out, "c.zarr", "in use")
    assert len(read_log(cube)) == 1 and _m1_at_3(cube) == 1.0
    again = run_in_process(["ingest", v2, "--into", cube], capsys)
    assert_ok(again)
    assert "1 updated" in again.stdout and "already ingested" not in again.stdout
    assert _m1_at_3(cube) == 9.0


def test_vee_and_corrected_ingest_at_once_lose_no_correction(cube, tmp_path):
    """`vee` and a corrected `ingest` started together: the correction lands (or its rerun does)."""
    v2 = _corrected(tmp_path)
    cmd = [sys.executable, "-m", "workbench.cli"]
    vee = subprocess.Popen([*cmd, "vee", "--cube", str(cube), "--quiet"], env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    ing = subprocess.Popen([*cmd, "ingest", str(v2), "--into", str(cube)], env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    (_, vee_err), (_, ing_err) = vee.communicate(timeout=600), ing.communicate(timeout=600)
    assert vee.returncode in (0, 2) and ing.returncode in (0, 2), (vee_err, ing_err)
    assert "Traceback" not in vee_err + ing_err
    if ing.returncode == 2:
        assert "in use" in ing_err
        assert_ok(run_subprocess(["ingest", v2, "--into", cube]))
    assert _m1_at_3(cube) == 9.0
    assert [e["file"] for e in read_log(cube)] == [str(cube.parent / "v1.csv"), str(v2)]


def test_killed_ingest_leaves_nothing_to_clean_by_hand(cube, tmp_path, capsys):
    """kill -9 of an ingest mid-write: the rerun works; no lock, staging or partial file to delete."""
    v2 = _corrected(tmp_path)
    with open(v2, "a") as fh:
        fh.write("M9,2025-01-01T00:00Z,delivered,1.0,kWh,A,3600\n")  # an unknown meter: one reject
    before = _files(cube)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SETTLE, "ingest", str(v2), "--into", str(cube)], env=ENV,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "settling" in proc.stdout.readline()  # (two settle threads may print on one line)
        assert list(tmp_path.glob(".c.zarr.tmp-*"))  # its staging copy is there
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _files(cube) == before
    assert len(list((tmp_path / "c.ingest" / "rejects").glob(".*.partial"))) == 1  # its rejects, unfinished
    out = run_in_process(["ingest", v2, "--into", cube], capsys)
    assert_ok(out)
    assert "1 updated" in out.stdout and "1 rejected" in out.stdout and _m1_at_3(cube) == 9.0
    assert not list(tmp_path.glob(".c.zarr.tmp-*")) and not list(tmp_path.glob(".c.zarr.scratch-*"))
    rejects = list((tmp_path / "c.ingest" / "rejects").iterdir())
    assert [p.name for p in rejects] == [f"{read_log(cube)[-1]['ingest_id']}.parquet"]
    assert pd.read_parquet(rejects[0])["meter"].tolist() == ["M9"]


def test_writer_killed_between_its_two_renames_gets_the_cube_back(cube, tmp_path, capsys):
    """Writer killed between its two renames (cube moved aside): the next writer puts it back."""
    staged = tmp_path / ".c.zarr.tmp-0123456789ab"
    shutil.copytree(cube, staged)
    os.replace(cube, tmp_path / ".c.zarr.old-0123456789ab")
    out = run_in_process(["ingest", _corrected(tmp_path), "--into", cube], capsys)
    assert_ok(out)
    assert "put back the cube" in out.stderr and _m1_at_3(cube) == 9.0
    assert sorted(p.name for p in tmp_path.glob(".c.zarr.*") if ".lock" not in p.name) == []


def test_stale_staging_folders_removed_and_others_left(cube, tmp_path, capsys):
    """Staging folders of a killed writer removed by the next one; folders of other names kept."""
    for name in (".c.zarr.tmp-deadbeef0000", ".c.zarr.scratch-20250101T000000Z-abcdef", ".c.zarr.notes",
                 ".d.zarr.tmp-deadbeef0000", "mine"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    assert_ok(run_in_process(["vee", "--cube", cube, "--quiet"], capsys))
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert ".c.zarr.tmp-deadbeef0000" not in left and ".c.zarr.scratch-20250101T000000Z-abcdef" not in left
    assert {".c.zarr.notes", ".d.zarr.tmp-deadbeef0000", "mine"} <= set(left)


def test_old_ingest_lock_file_does_not_block(cube, tmp_path, capsys):
    """The former O_EXCL lock file (.c.zarr.ingest.lock) left by a killed ingest blocks nothing."""
    (tmp_path / ".c.zarr.ingest.lock").write_text("12345")
    assert_ok(run_in_process(["ingest", _corrected(tmp_path), "--into", cube], capsys))
    assert _m1_at_3(cube) == 9.0


def test_cube_copied_without_its_ingest_folder(cube, tmp_path):
    """Cube copied without its .ingest folder, then a correction: lands, with a note (was a crash)."""
    copy = tmp_path / "copy" / "c.zarr"
    shutil.copytree(cube, copy)
    out = run_subprocess(["ingest", _corrected(tmp_path), "--into", copy])
    assert_ok(out)  # was: "internal accounting error", then exit 134 (LLVM assertion) or 139 (segfault)
    assert "ingest log is missing" in out.stdout
    assert "1 updated" in out.stdout and "47 unchanged" in out.stdout
    assert _m1_at_3(copy) == 9.0 and _m1_at_3(cube) == 1.0


def test_cube_without_version_record_or_log(cube, tmp_path, capsys):
    """Cube with no version record and no log: its provenance ids are read; same file is unchanged."""
    copy = tmp_path / "old" / "c.zarr"
    shutil.copytree(cube, copy)
    (copy / VERSION_FILE).unlink()
    out = run_in_process(["ingest", cube.parent / "v1.csv", "--into", copy], capsys)
    assert_ok(out)
    assert "0 updated, 48 unchanged" in out.stdout and not (copy / VERSION_FILE).exists()  # nothing changed
    fix = run_in_process(["ingest", _corrected(tmp_path), "--into", copy], capsys)
    assert_ok(fix)
    assert "1 updated, 47 unchanged" in fix.stdout
    assert read_version(copy)["next_source_id"] == 4  # 1 in the cube, 2 v1.csv again, 3 v2.csv, 4 the next


def test_cube_through_a_symbolic_link(cube, tmp_path, capsys):
    """Cube through a symlink: the real cube is updated, the link stays, one lock for both names."""
    link = tmp_path / "link.zarr"
    link.symlink_to(cube)
    out = run_in_process(["ingest", _corrected(tmp_path), "--into", link], capsys)
    assert_ok(out)
    assert "1 updated" in out.stdout
    assert link.is_symlink() and _m1_at_3(cube) == 9.0 and len(read_log(cube)) == 2
    assert not (tmp_path / "link.ingest").exists()
    with _held(cube):
        assert_refused(run_in_process(["vee", "--cube", link, "--quiet"], capsys), "c.zarr", "in use")


def test_unwritable_ingest_report_leaves_the_cube_unchanged(cube, tmp_path, capsys):
    """`ingest --report` to a folder that cannot be made: refused first, the cube unchanged."""
    (tmp_path / "afile").write_text("not a folder")
    before = _files(cube)
    v2 = _corrected(tmp_path)
    out = run_in_process(["ingest", v2, "--into", cube, "--report", tmp_path / "afile" / "rep"], capsys)
    assert_refused(out, "--report", "afile")
    assert _files(cube) == before and len(read_log(cube)) == 1
    good = run_in_process(["ingest", v2, "--into", cube, "--report", tmp_path / "rep"], capsys)
    assert_ok(good)
    doc = json.loads((tmp_path / "rep" / "ingest_accounting.json").read_text())
    assert (doc["updated"], doc["unchanged"]) == (1, 47)


def test_ingest_report_into_a_users_folder_is_refused_first(cube, tmp_path, capsys):
    """`ingest --report` naming a folder of the user's files: refused, cube and folder unchanged."""
    mine = tmp_path / "docs"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    before = _files(cube)
    out = run_in_process(["ingest", _corrected(tmp_path), "--into", cube, "--report", mine], capsys)
    assert_refused(out, "--report", "docs", "did not write")
    assert _files(cube) == before and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_report_failing_after_the_commit_is_written_by_the_rerun(cube, tmp_path, capsys, monkeypatch):
    """Ingest report failing after the commit (disk full): the rerun writes it from the log."""
    import workbench.ami.ingest_report as report

    real = report.atomic_write_text

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "atomic_write_text", full)
    v2 = _corrected(tmp_path)
    out = run_in_process(["ingest", v2, "--into", cube, "--report", tmp_path / "rep"], capsys)
    assert_refused(out, "--report", "no space left", "run the same command again")
    assert _m1_at_3(cube) == 9.0
    monkeypatch.setattr(report, "atomic_write_text", real)
    again = run_in_process(["ingest", v2, "--into", cube, "--report", tmp_path / "rep"], capsys)
    assert_ok(again)
    assert "already ingested" in again.stdout
    doc = json.loads((tmp_path / "rep" / "ingest_accounting.json").read_text())
    assert (doc["reads_in"], doc["updated"], doc["unchanged"]) == (48, 1, 47) and doc["regenerated"]
    audit = pd.read_parquet(tmp_path / "rep" / "ingest_audit.parquet")
    assert list(audit["previous_kwh"]) == [1.0] and list(audit["new_kwh"]) == [9.0]


def test_unwritable_vee_report_leaves_the_cube_unchanged(cube, tmp_path, capsys):
    """`vee --report` to a folder that cannot be made: refused before VEE changes the cube."""
    (tmp_path / "afile").write_text("x")
    before = _files(cube)
    out = run_in_process(["vee", "--cube", cube, "--quiet", "--report", tmp_path / "afile" / "r"], capsys)
    assert_refused(out, "--report", "afile")
    assert _files(cube) == before


def test_provenance_survives_vee(cube, tmp_path, capsys):
    """ingest v1 -> VEE -> corrected v2: the audit names v1.csv as the replaced value's source."""
    assert_ok(run_in_process(["vee", "--cube", cube, "--quiet"], capsys))
    assert (cube / "_ingest" / "delivered_source" / "zarr.json").exists()
    out = run_in_process(["ingest", _corrected(tmp_path), "--into", cube], capsys)
    assert_ok(out)
    audit = pd.concat(pd.read_parquet(p) for p in (cube.parent / "c.ingest" / "audit").glob("*.parquet"))
    assert list(audit["previous_source"]) == [str(cube.parent / "v1.csv")]
    assert list(audit["new_source"]) == [str(tmp_path / "v2.csv")]
    assert (list(audit["previous_kwh"]), list(audit["new_kwh"])) == ([1.0], [9.0])


def test_every_writer_bumps_the_version(cube, tmp_path, capsys):
    """ingest, VEE and a corrected ingest each commit a new version; a no-change rerun does not."""
    assert read_version(cube)["version"] == 1
    assert_ok(run_in_process(["vee", "--cube", cube, "--quiet"], capsys))
    assert read_version(cube)["version"] == 2 and read_version(cube)["writer"] == "vee"
    assert_ok(run_in_process(["ingest", _corrected(tmp_path), "--into", cube], capsys))
    assert_ok(run_in_process(["ingest", tmp_path / "v2.csv", "--into", cube], capsys))  # already ingested
    assert read_version(cube)["version"] == 3 and read_version(cube)["writer"] == "ingest"


def test_cycle_while_a_writer_holds_the_cube_is_refused(cube, tmp_path, capsys):
    """`cycle` while an ingest or VEE writes the cube: refused at the start, no outputs."""
    with _held(cube):
        out = run_in_process(["cycle", "--cube", cube, "--tariffs", REPO / "tariffs", "--out", tmp_path / "out",
                              "--quiet"], capsys)
    assert_refused(out, "c.zarr", "being written by another run")
    assert not (tmp_path / "out").exists()


def test_cycle_whose_cube_changes_mid_run_fails_and_writes_nothing(cube, tmp_path, capsys, monkeypatch):
    """Ingest commits between two chunks of a cycle: one line, no outputs, no chunks kept."""
    import workbench.billing.cycle as cycle
    from workbench.ami.ingest import ingest

    real, calls = cycle.bill_chunk, []

    def chunk_then_ingest(plan, task, data=None, **kw):
        billed = real(plan, task, data, **kw)
        calls.append(task.chunk_no)
        if len(calls) == 1:
            ingest([_corrected(tmp_path)], cube)
        return billed

    monkeypatch.setattr(cycle, "bill_chunk", chunk_then_ingest)
    out = run_in_process(["cycle", "--cube", cube, "--tariffs", REPO / "tariffs", "--out", tmp_path / "out",
                          "--chunk", 1, "--quiet"], capsys)
    assert_refused(out, "the cube changed during the run", "run the cycle again")
    assert calls == [0, 1] and not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
    monkeypatch.setattr(cycle, "bill_chunk", real)
    assert_ok(run_in_process(["cycle", "--cube", cube, "--tariffs", REPO / "tariffs", "--out", tmp_path / "out",
                              "--chunk", 1, "--quiet"], capsys))
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    m1 = bills[bills["meter"] == "M1"]
    assert np.isclose(m1["delivered_kwh"].sum(), 23 * 1.0 + 9.0)  # the corrected version, all of it


def test_vee_report_failing_after_the_commit_says_how_to_get_it(cube, tmp_path, capsys, monkeypatch):
    """VEE report failing after the commit: one line saying to rerun `vee --report`, which writes it."""
    import workbench.vee.store as report  # where vee_cube looks the writer up

    real = report.write_report

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_report", full)
    out = run_in_process(["vee", "--cube", cube, "--quiet", "--report", tmp_path / "rep"], capsys)
    assert_refused(out, "--report", "no space left", "workbench vee --report")
    assert read_version(cube)["writer"] == "vee"
    monkeypatch.setattr(report, "write_report", real)
    assert_ok(run_in_process(["vee", "--cube", cube, "--quiet", "--report", tmp_path / "rep"], capsys))
    assert (tmp_path / "rep" / "vee_report.html").exists()


def test_ingest_then_vee_is_one_writer(cube, tmp_path, capsys):
    """`ingest --vee --report`: one writer (no self-refusal), provenance kept, both reports."""
    out = run_in_process(["ingest", _corrected(tmp_path), "--into", cube, "--vee", "--report", tmp_path / "rep"],
                         capsys)
    assert_ok(out)
    assert read_version(cube)["version"] == 3 and read_version(cube)["writer"] == "vee"
    assert (cube / "_ingest" / "received_source" / "zarr.json").exists() and _m1_at_3(cube) == 9.0
    assert {"ingest_accounting.json", "vee_report.html"} <= {p.name for p in (tmp_path / "rep").iterdir()}


def test_sample_over_a_cube_another_run_writes_is_refused(cube, capsys):
    """`sample --out` naming a cube an ingest or VEE is writing: refused, the cube unchanged."""
    before = _files(cube)
    with _held(cube):
        out = run_in_process(["sample", "--meters", 3, "--months", "2025-01:2025-01", "--out", cube, "--quiet"],
                             capsys)
    line = assert_refused(out, "c.zarr")
    assert "in use" in line or "_ingest" in line  # the lock, or (checked first) the reads a sample would delete
    assert _files(cube) == before


def test_audit_of_an_ingest_killed_after_its_commit_is_kept(cube, tmp_path, capsys):
    """Partial audit of an ingest killed after its commit: kept by the next writer; others removed."""
    audit = tmp_path / "c.ingest" / "audit"
    audit.mkdir(parents=True, exist_ok=True)
    run = read_version(cube)["run"]
    (audit / f".{run}.parquet.partial").write_bytes(b"committed")
    (audit / ".20250101T000000Z-000000.parquet.partial").write_bytes(b"never committed")
    assert_ok(run_in_process(["vee", "--cube", cube, "--quiet"], capsys))
    assert sorted(p.name for p in audit.iterdir()) == [f"{run}.parquet"]
    assert (audit / f"{run}.parquet").read_bytes() == b"committed"


def test_version_record_that_understates_the_sources_is_refused_not_a_crash(cube, tmp_path):
    """Version record understating the provenance ids in use: one line, exit 2 (was a crash)."""
    copy = tmp_path / "bad" / "c.zarr"
    shutil.copytree(cube, copy)
    meta = json.loads((copy / VERSION_FILE).read_text())
    meta["attributes"]["workbench_version"]["next_source_id"] = 1
    (copy / VERSION_FILE).write_text(json.dumps(meta))
    before = _files(copy)
    out = run_subprocess(["ingest", _corrected(tmp_path), "--into", copy])
    assert_refused(out, "c.zarr", "provenance names source 1", "numbers its files from 1")
    assert _files(copy) == before
