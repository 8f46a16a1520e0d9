"""Hostile inputs to `workbench serve rates`: each refused in one line before anything is served."""

from __future__ import annotations

from _fixtures import free_port

from tests.hostile._cli import assert_refused, run_in_process


def test_rates_without_determinants(capsys):
    """`serve rates` without --determinants: names the option and the command that makes the folder."""
    outcome = run_in_process(["serve", "rates", "--port", free_port()], capsys)
    assert_refused(outcome, "--determinants", "workbench design determinants")


def test_rates_determinants_not_a_folder_of_determinants(tmp_path, capsys):
    """`serve rates --determinants` on a folder without identity.json: names the folder and what it lacks."""
    outcome = run_in_process(["serve", "rates", "--determinants", tmp_path, "--port", free_port()], capsys)
    assert_refused(outcome, str(tmp_path), "identity.json", "workbench design determinants")
