"""The command line teaches itself: every option has help, defaults are shown, each subcommand has examples;
CSV for people are rounded (kWh to 3 decimals, $ to cents) by one rule."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from workbench.cli import build_parser, main
from workbench.outputs import people_decimals, write_csv_for_people


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _commands(parser=None, path=()):
    """Every command a user can run, with its words (``("ledger", "deposits", "take")``) and its parser."""
    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _commands(child, (*path, name))


COMMANDS = dict(_commands())


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_option_has_help_and_the_help_has_an_example(path):
    """Every command of every wing, walked from the parser (a new command cannot be left off a list)."""
    command, name = COMMANDS[path], " ".join(path)
    for action in command._actions:
        assert action.help, f"workbench {name} {action.option_strings or action.dest}: no help text"
    text = command.format_help()
    assert "\nexample" in text and f"workbench {name} " in text[text.index("\nexample"):]
    assert "-q, --quiet" in text and "-v, --verbose" in text


def test_defaults_are_shown(capsys):
    text = _subcommands()["sample"].format_help()
    assert "(default: 2000)" in text and "(default: 2025)" in text and "(default: 42)" in text
    text = _subcommands()["serve"].format_help()
    assert "(default: 5006)" in text
    # a flag (store_true) and an option without a default get no "(default: None/False)"
    text = _subcommands()["cycle"].format_help()
    assert "default: None" not in text and "default: False" not in text


def test_version_and_python_m_workbench(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("workbench (rate-workbench) ")


def test_people_decimals_by_column_name():
    assert [people_decimals(c) for c in ("kwh", "delivered_kwh", "peak_kw", "kvarh")] == [3, 3, 3, 3]
    assert [people_decimals(c) for c in ("revenue", "average_bill", "amount", "total")] == [2, 2, 2, 2]
    # prices and ratios keep what was computed: $0.123456/kWh is not a cent amount
    assert [people_decimals(c) for c in ("energy_rate", "rate", "share_estimated", "meter")] == [None] * 4


def test_write_csv_for_people_rounds_only_floats_of_energy_and_money(tmp_path):
    frame = pd.DataFrame({"rate_code": ["RES"], "meters": [3], "kwh": [88222.55100291222],
                          "revenue": [12345.678901], "rate": [0.123456789]})
    write_csv_for_people(frame, tmp_path / "s.csv")
    text = (tmp_path / "s.csv").read_text()
    assert text == "rate_code,meters,kwh,revenue,rate\nRES,3,88222.551,12345.68,0.123456789\n"
    assert "88222.55100291222" not in text
    assert frame.kwh[0] == 88222.55100291222  # the caller's frame (for the Parquet) is not changed


def test_the_command_line_starts_without_the_notebook_machinery():
    """papermill pulls nbformat and jsonschema (~1.5 s here): only the commands that execute a notebook load it,
    so `workbench bill` or `workbench --help` do not pay for it."""
    import subprocess
    import sys

    code = "import sys, workbench.cli; print(sorted(m for m in ('papermill', 'nbformat') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
