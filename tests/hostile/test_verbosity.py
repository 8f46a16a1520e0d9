"""Hostile command lines for the shared conventions: -q/-v on every command (wings too), a bad or misleading
``ingest --delimiter``, and an optional library that is missing. Each ends as docs/command-line.md says: one
``error:`` line and exit 2 for a refusal; warnings kept with ``-q``, hidden only with ``-qq``.
"""

from __future__ import annotations

import json
import sys

import pytest

from hostile._cli import REPO, assert_ok, assert_refused, run_in_process
from workbench.cli import build_parser

REG = "meter_id,customer_class,rate_code,timezone\nM1,RES,RES-FLAT,UTC\n"
TARIFF = REPO / "tariffs" / "RES-FLAT.yaml"


def _mdm(path, sep=",", values=(1.0, 2.0, 3.0)):
    lines = [sep.join(["meter_id", "interval_start", "channel", "value", "unit"])]
    lines += [sep.join(["M1", f"2025-01-01T{h:02d}:00:00Z", "delivered", str(v), "kWh"]) for h, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ingest_args(tmp_path, data, *extra):
    reg = tmp_path / "meters.csv"
    reg.write_text(REG, encoding="utf-8")
    return ["ingest", data, "--into", tmp_path / "c.zarr", "--registry", reg, "--period", "2025-01",
            "--report", tmp_path / "rep", *extra]


# ------------------------------------------------------------------------------------------- -q and -v


def test_every_subcommand_takes_q_and_v_including_wings():
    """Every subcommand the parser knows (the wings' listed in cli_wings.WINGS too) accepts -q, -qq, -v, -vv."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"bill", "sample", "cycle", "serve", "vee", "ingest"} <= set(sub.choices)
    for name, command in sub.choices.items():
        options = command._option_string_actions
        assert {"-q", "--quiet", "-v", "--verbose"} <= set(options), name


def test_a_wing_that_adds_the_common_options_itself_gets_them_once():
    """A wing passing parents=[common_options()] itself: no 'conflicting option string' crash."""
    from workbench import cli_parser
    from workbench.cli_logging import common_options

    def wing(sub):
        p = sub.add_parser("wingtest", parents=[common_options()], help="a wing")
        p.set_defaults(func=lambda args: 0)

    parser = cli_parser.build_parser({k: (lambda a: 0) for k in ("bill", "sample", "cycle", "serve", "vee",
                                                                 "ingest")}, wings=[wing])
    args = parser.parse_args(["wingtest", "-qq"])
    assert args.quiet == 2 and args.verbose == 0


def test_quiet_keeps_the_warning_and_qq_hides_it(tmp_path, capsys):
    """A warning (a negative read kept for VEE) shows by default and with -q, not with -qq; stdout unchanged."""
    data = _mdm(tmp_path / "reads.csv", values=(1.0, -2.0, 3.0))
    outs = {}
    for flag in ("", "-q", "-qq"):
        case = tmp_path / (flag or "plain")
        case.mkdir()
        outcome = run_in_process(_ingest_args(case, data, *([flag] if flag else [])), capsys)
        assert_ok(outcome)
        outs[flag] = outcome
    warning = [line for line in outs[""].stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "1 negative delivered read(s) (first on row 3)" in warning[0]
    assert [x for x in outs["-q"].stderr.splitlines() if x.startswith("warning:")] == warning
    assert outs["-qq"].stderr == ""
    # what the command answers does not depend on -q (the ids and paths of each run differ, the counts do not)
    assert [x for x in outs["-qq"].stdout.splitlines() if "reads" in x][:1] == \
        [x for x in outs[""].stdout.splitlines() if "reads" in x][:1]


def test_v_shows_the_libraries_debug_output_only_with_vv(tmp_path, capsys):
    """-v: workbench debug records; -vv: a library's debug record too (through the root logger)."""
    import logging

    from workbench.cli_logging import configured

    for level, expect_library in ((1, False), (2, True)):
        with configured(level):
            logging.getLogger("workbench.test").debug("workbench detail")
            logging.getLogger("somelibrary").debug("library detail")
        err = capsys.readouterr().err
        assert "workbench detail" in err
        assert ("library detail" in err) is expect_library
    assert logging.getLogger("workbench").handlers == []  # nothing left behind for the next call


def test_q_and_v_are_counted_not_valued(capsys):
    """-q takes no value: `-q 2` is a usage error naming the stray argument, not a crash."""
    outcome = run_in_process(["cycle", "-q", "2"], capsys)
    assert_refused(outcome, "unrecognized arguments: 2")


# ------------------------------------------------------------------------------------------- --delimiter


@pytest.mark.parametrize("bad", ["ab", "x", "1", '"', ""])
def test_bad_delimiter_is_refused_before_the_cube_changes(tmp_path, capsys, bad):
    """--delimiter that is not one separator character: one line naming the option, no cube written."""
    data = _mdm(tmp_path / "reads.csv")
    outcome = run_in_process(_ingest_args(tmp_path, data, "--delimiter", bad), capsys)
    assert_refused(outcome, "--delimiter", "not a field separator")
    assert not (tmp_path / "c.zarr").exists()


def test_semicolon_csv_with_explicit_delimiter(tmp_path, capsys):
    """A semicolon CSV with --delimiter ';': every read lands."""
    data = _mdm(tmp_path / "reads.csv", sep=";")
    assert_ok(run_in_process(_ingest_args(tmp_path, data, "--delimiter", ";"), capsys))
    acct = json.loads((tmp_path / "rep" / "ingest_accounting.json").read_text())
    assert (acct["reads_in"], acct["accepted"]) == (3, 3)


def test_pipe_csv_is_sniffed(tmp_path, capsys):
    """A pipe-separated export without --delimiter: sniffed, every read lands."""
    data = _mdm(tmp_path / "reads.txt", sep="|")
    assert_ok(run_in_process(_ingest_args(tmp_path, data), capsys))
    acct = json.loads((tmp_path / "rep" / "ingest_accounting.json").read_text())
    assert (acct["reads_in"], acct["accepted"]) == (3, 3)


def test_wrong_explicit_delimiter_is_refused_naming_the_option(tmp_path, capsys):
    """A comma CSV read with --delimiter tab: the header is one column; refused in one line, nothing ingested."""
    data = _mdm(tmp_path / "reads.csv")
    outcome = run_in_process(_ingest_args(tmp_path, data, "--delimiter", "tab"), capsys)
    assert_refused(outcome, "reads.csv")
    assert not (tmp_path / "c.zarr").exists()


# ------------------------------------------------------------------------------------------- missing extras


def test_serve_without_panel_names_the_extra(monkeypatch, capsys):
    """panel not installed: `workbench serve nem` says which extra to install, in one line, exit 2."""
    monkeypatch.setitem(sys.modules, "panel", None)
    outcome = run_in_process(["serve", "nem", "--port", 5999], capsys)
    assert_refused(outcome, "needs the python package panel", "pip install 'rate-workbench[notebooks]'")


def test_cycle_on_s3_without_s3fs_names_the_extra(monkeypatch, tmp_path, capsys):
    """An s3:// cube without s3fs: one line naming the URL and the s3 extra (no fsspec traceback)."""
    monkeypatch.setitem(sys.modules, "s3fs", None)
    outcome = run_in_process(["cycle", "--cube", "s3://utility-bucket/cube.zarr", "--out", tmp_path / "out"], capsys)
    assert_refused(outcome, "s3://utility-bucket/cube.zarr", "s3fs", "pip install 'rate-workbench[s3]'")


def test_scheduler_without_distributed_names_the_extra(monkeypatch, tmp_path, capsys):
    """`cycle --scheduler local` without dask.distributed: one line naming the distributed extra."""
    from workbench.billing.distributed import cluster_client
    from workbench.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rate-workbench\[distributed\]'"):
        with cluster_client("local"):
            pass


def test_postgresql_url_without_psycopg_names_the_extra(monkeypatch):
    """A postgresql:// URL without psycopg: the one line names the postgres extra and not the password."""
    from workbench.errors import MissingExtraError, require_for_url

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtraError) as caught:
        require_for_url("postgresql://billing:secret@db.example/ledger", "the ledger")
    assert "pip install 'rate-workbench[postgres]'" in str(caught.value) and "secret" not in str(caught.value)


def test_run_cycle_without_papermill_names_the_extra(monkeypatch, tmp_path, capsys):
    """`workbench run-cycle` on a core install (no papermill): one line naming the notebooks extra, exit 2."""
    monkeypatch.setitem(sys.modules, "papermill", None)
    outcome = run_in_process(["run-cycle", "--cycle", 1, "--period", "2025-11", "--cube", tmp_path / "c.zarr",
                              "--db", f"sqlite:///{tmp_path / 'ledger.sqlite'}", "--reports", tmp_path / "runs"],
                             capsys)
    assert_refused(outcome, "workbench run-cycle", "needs the python package papermill",
                   "pip install 'rate-workbench[notebooks]'")
    assert not (tmp_path / "runs").exists()


def test_ledger_on_postgresql_without_psycopg_names_the_extra(monkeypatch, capsys):
    """`workbench ledger init --db postgresql://...` without psycopg: one line naming the postgres extra.

    Neither the password nor a SQLAlchemy traceback is shown."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    outcome = run_in_process(["ledger", "init", "--db", "postgresql://billing:secret@db.example/ledger"], capsys)
    line = assert_refused(outcome, "the ledger database", "psycopg", "pip install 'rate-workbench[postgres]'")
    assert "secret" not in line
