"""The command line's last line of defence: pipes, numbers out of range, paths that fail, usage errors, bugs.

``workbench.cli.main`` turns whatever reaches it into one ``error:`` line and exit status 2 (70 for a bug of
the workbench); a reader that closes the pipe ends the command quietly (141). The VEE report renders without
matplotlib. The dashboard's WebSocket accepts only the origins of its allow-list.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import socket
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from tests.hostile._cli import REPO, assert_ok, assert_refused, run_in_process, run_subprocess
from workbench import cli

TARIFF = REPO / "tariffs" / "RES-TOU.yaml"


@pytest.fixture(scope="module")
def year_csv(tmp_path_factory):
    """One meter, 15-minute reads of 0.5 kWh for 2025 (EST offsets): 35,040 rows, a bill per month."""
    path = tmp_path_factory.mktemp("bill") / "year.csv"
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    rows = ["timestamp,delivered_kwh"] + [f"{(start + dt.timedelta(minutes=15 * i)).isoformat()},0.5"
                                          for i in range(96 * 365)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


# ------------------------------------------------------------------------------------------------- pipes


def test_bill_into_a_pipe_closed_before_the_output_ends_quietly(year_csv):
    """`workbench bill` whose reader closed the pipe: no traceback, no message, exit 141 (128 + SIGPIPE)."""
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "bill", "--tariff", TARIFF, "--intervals",
                             year_csv, "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env())
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "error:" not in err, err


def test_bill_piped_into_head_shows_the_first_line_and_no_traceback(year_csv):
    """`workbench bill ... | head -1` in a shell with pipefail: the CSV header, exit 0 or 141, nothing on stderr."""
    cmd = (f"set -o pipefail; {sys.executable} -m workbench.cli bill --tariff {TARIFF} --intervals {year_csv} "
           "--format csv | head -1")
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode in (0, 141), done.stderr
    assert done.stdout == "start,end,days,description,category,quantity,unit,rate,amount\n"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr and "error:" not in done.stderr


def test_a_broken_pipe_that_is_not_stdout_is_an_error_line():
    """A BrokenPipeError from another pipe (a scheduler's socket) while stdout is fine: one `error:` line, exit 2."""
    script = ("import sys, workbench.cli as cli\n"
              "def bill(args):\n    raise BrokenPipeError(32, 'Broken pipe')\n"
              "cli.HANDLERS['bill'] = bill\n"
              "sys.exit(cli.main(['bill', '--tariff', 't.yaml', '--intervals', 'i.csv']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["error: [Errno 32] Broken pipe; the other end closed the connection; retry"]


# ------------------------------------------------------------------------------------- usage and numbers


def test_unknown_subcommand_is_one_usage_line(capsys):
    """`workbench frobnicate`: one `error:` line naming the choices, exit 2."""
    assert_refused(run_in_process(["frobnicate"], capsys), "invalid choice: 'frobnicate'", "bill", "ingest")


def test_no_subcommand_is_one_usage_line():
    """`workbench` alone (a real process): one `error:` line saying a command is required, exit 2."""
    assert_refused(run_subprocess([]), "workbench", "required")


def test_a_word_for_a_number_is_one_usage_line(capsys):
    """`sample --meters abc`: one line naming the option and the bad value, exit 2."""
    assert_refused(run_in_process(["sample", "--meters", "abc"], capsys), "--meters", "invalid int value: 'abc'")


@pytest.mark.parametrize("meters", ["0", "-3"])
def test_sample_with_no_or_negative_meters_is_refused(tmp_path, capsys, meters):
    """`sample --meters 0` / `--meters -3`: refused naming --meters and the range 1..999999; nothing written."""
    out = tmp_path / "cube.zarr"
    assert_refused(run_in_process(["sample", "--meters", meters, "--out", out, "--quiet"], capsys),
                   f"--meters: {meters} is out of range", "between 1 and 999999")
    assert not out.exists()


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--chunk", "0", "at least 1"), ("--seed", "-1", "at least 0"), ("--year", "3000", "between 1901 and 2099")])
def test_sample_numbers_out_of_range_are_refused(tmp_path, capsys, option, value, expected):
    """`sample --chunk 0` / `--seed -1` / `--year 3000`: refused naming the option and its range."""
    assert_refused(run_in_process(["sample", option, value, "--out", tmp_path / "c.zarr", "--quiet"], capsys),
                   f"{option}: {value} is out of range", expected)


@pytest.mark.parametrize(("months", "expected"), [
    ("2025-13", "expected months 1..12"), ("2025-10:2026-02", "one calendar year"),
    ("2025-11:2025-10", "first <= last"), ("soon", "is not a month like 2025-10")])
def test_sample_invalid_months_are_refused(tmp_path, capsys, months, expected):
    """`sample --months 2025-13` (and a span across years, backwards, a word): refused naming --months."""
    assert_refused(run_in_process(["sample", "--months", months, "--out", tmp_path / "c.zarr", "--quiet"], capsys),
                   "--months", expected)


def test_sample_months_with_ami_export_works(tmp_path, capsys):
    """`sample --months 2025-11 --ami DIR` (3 meters): the export is written and every read is in its files."""
    out, ami = tmp_path / "cube.zarr", tmp_path / "ami"
    outcome = run_in_process(["sample", "--meters", 3, "--months", "2025-11", "--out", out, "--ami", ami,
                              "--quiet"], capsys)
    assert_ok(outcome)
    truth = json.loads((ami / "faults.json").read_text())
    files = sorted(ami.glob("reads-*.parquet"))
    assert [f.name for f in files] == [f"reads-{m}.parquet" for m in truth["months"]]
    assert "2025-11" in truth["months"]
    assert truth["reads_written"] == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    # local November 2025 in New York: 30 days + the fall-back hour = 721 h = 2,884 intervals; 3 meters x 2
    # channels x 2,884 = 17,304 interval reads at most (the injected gaps remove some), plus the file faults
    # 6 + 3 + 96 + 96 + 4 + 8 = 213
    assert truth["reads_written"] <= 17_304 + 213
    for when in truth["exchanges"].values():  # the exchanges lie inside the cube's November
        assert "2025-11-01" <= when[:10] <= "2025-11-30"


def test_serve_port_out_of_range_is_refused(capsys):
    """`serve nem --port 70000`: refused naming --port and 1..65535 before any cube is generated."""
    assert_refused(run_in_process(["serve", "nem", "--port", 70000], capsys), "--port: 70000", "between 1 and 65535")


def test_serve_port_in_use_is_refused(tmp_path, capsys):
    """`serve nem --port P` with P already listening: one line naming the port, before generating the cube."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cube = tmp_path / "nem.zarr"
        assert_refused(run_in_process(["serve", "nem", "--port", port, "--cube", cube], capsys),
                       f"--port {port}", "pick another --port")
    assert not cube.exists()


def test_serve_allow_origin_that_is_a_page_url_is_refused(capsys):
    """`serve nem --allow-origin http://x.org/page`: refused, an origin has no path."""
    assert_refused(run_in_process(["serve", "nem", "--allow-origin", "http://x.org/page"], capsys),
                   "--allow-origin", "is not an origin")


# --------------------------------------------------------------------------------- paths that fail (OSError)


def test_tariff_under_proc_that_cannot_be_read(tmp_path, year_csv, capsys):
    """`bill --tariff /proc/self/mem`: the read fails (EIO); one line naming /proc/self/mem, exit 2."""
    assert_refused(run_in_process(["bill", "--tariff", "/proc/self/mem", "--intervals", year_csv], capsys),
                   "/proc/self/mem")


def test_directory_given_as_the_interval_file(tmp_path, capsys):
    """`bill --intervals <a directory>`: one line naming the directory and that it is one."""
    assert_refused(run_in_process(["bill", "--tariff", TARIFF, "--intervals", tmp_path], capsys),
                   str(tmp_path), "is a directory")


def test_nonexistent_tariff(tmp_path, year_csv, capsys):
    """`bill --tariff <missing file>`: one line naming the file and that it is not found."""
    missing = tmp_path / "nope.yaml"
    assert_refused(run_in_process(["bill", "--tariff", missing, "--intervals", year_csv], capsys),
                   str(missing), "not found")


def test_sample_out_where_no_folder_can_be_made(capsys):
    """`sample --out /proc/s.zarr`: one line naming /proc/s.zarr (not only its temporary copy), exit 2."""
    line = assert_refused(run_in_process(["sample", "--meters", 2, "--months", "2025-11", "--out", "/proc/s.zarr",
                                          "--quiet"], capsys), "/proc/s.zarr")
    assert line.startswith(("error: /proc/s.zarr", "error: --out /proc/s.zarr"))


def test_tariff_that_is_not_utf8_names_the_file(tmp_path, year_csv, capsys):
    """A tariff YAML holding the byte 0xff: one line naming the file, 'not UTF-8' and what to do."""
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"code: X\nname: Caf\xe9 tariff\n")
    assert_refused(run_in_process(["bill", "--tariff", bad, "--intervals", year_csv], capsys),
                   str(bad), "not UTF-8 text", "0xe9", "UTF-8")


@pytest.mark.parametrize(("error", "expected"), [
    (OSError(errno.ENOSPC, "No space left on device", "/data/out/bills.csv"),
     "/data/out/bills.csv: no space left on the device; free some space"),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/report"),
     "/mnt/ro/report: read-only file system; write the output to a folder on a writable disk"),
    (OSError(errno.ENOTDIR, "Not a directory", "/etc/passwd/x.csv"),
     "/etc/passwd/x.csv: a part of the path is not a directory"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/secret.yaml"),
     "/root/secret.yaml: permission denied; check its permissions"),
    (OSError(errno.ENOSPC, "No space left on device"), "writing the output: no space left on the device"),
    (OSError(errno.EACCES, "Permission denied", "/out/.cube.zarr.tmp-0123456789ab"),
     "/out/cube.zarr (writing its temporary copy /out/.cube.zarr.tmp-0123456789ab): permission denied"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
     "[Errno 111] Connection refused; check the address and that the server there runs"),
])
def test_os_errors_reaching_main_are_one_line(monkeypatch, capsys, error, expected):
    """An OSError (no space, read-only, not a directory, permission) escaping a command: one line, exit 2."""

    def failing(args):
        raise error

    monkeypatch.setitem(cli.HANDLERS, "bill", failing)
    line = assert_refused(run_in_process(["bill", "--tariff", "t.yaml", "--intervals", "i.csv"], capsys))
    assert line.startswith(f"error: {expected}"), line


def test_a_bug_is_one_line_with_exit_70_and_debug_shows_the_traceback(monkeypatch, capsys):
    """A KeyError escaping a command (a bug): `error: internal error (KeyError ...)`, exit 70; WORKBENCH_DEBUG=1 re-raises."""

    def buggy(args):
        raise KeyError("rate_code")

    monkeypatch.setitem(cli.HANDLERS, "bill", buggy)
    monkeypatch.delenv("WORKBENCH_DEBUG", raising=False)
    outcome = run_in_process(["bill", "--tariff", "t.yaml", "--intervals", "i.csv"], capsys)
    assert outcome.status == 70
    assert outcome.stderr.splitlines() == [
        "error: internal error (KeyError: 'rate_code'); please report it with the command and this line "
        "(WORKBENCH_DEBUG=1 shows the traceback)"]
    monkeypatch.setenv("WORKBENCH_DEBUG", "1")
    with pytest.raises(KeyError):
        run_in_process(["bill", "--tariff", "t.yaml", "--intervals", "i.csv"], capsys)


# ---------------------------------------------------------------------------------------- optional libraries


def test_vee_report_without_matplotlib_is_written_without_the_heat_map(tmp_path, monkeypatch, capsys):
    """`vee --report` where matplotlib cannot be imported: the report is written, says why it has no heat map."""
    cube, report = tmp_path / "cube.zarr", tmp_path / "report"
    assert_ok(run_in_process(["sample", "--meters", 3, "--months", "2025-11", "--out", cube, "--quiet"], capsys))
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    outcome = run_in_process(["vee", "--cube", cube, "--report", report, "--inject-faults", 3, "--quiet"], capsys)
    assert_ok(outcome)
    html = (report / "vee_report.html").read_text()
    assert "heat map not drawn: matplotlib is not installed (pip install matplotlib)" in html
    assert "data:image/png" not in html
    assert "Worst meters" in html and (report / "rules.csv").exists()
    warnings = [line for line in outcome.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {report / 'vee_report.html'}: heat map not drawn: matplotlib is not installed "
                        "(pip install matplotlib); the counts per rule, the worst meters and the exceptions below "
                        "are complete without it"]
