"""The rate-design commands (`workbench design ...`) refuse bad input in one line, exit 2, nothing changed."""

from __future__ import annotations

import pytest

from tests.hostile._cli import REPO, assert_refused, run_in_process
from workbench.sample import generate_sample_utility

TARIFFS = REPO / "tariffs"


@pytest.fixture(scope="module")
def november_cube(tmp_path_factory):
    """Five meters, November 2025 only: not a test year."""
    path = tmp_path_factory.mktemp("design") / "cube.zarr"
    generate_sample_utility(path, n_meters=5, year=2025, meter_chunk=5, progress=False, months=(11, 11))
    return path


def test_test_year_not_in_cube(november_cube, tmp_path, capsys):
    """A test year the cube does not cover: refused, naming the cube's span and the twelve months needed."""
    out = run_in_process(["design", "determinants", "--cube", november_cube, "--tariffs", TARIFFS, "--test-year",
                          "2025", "--out", tmp_path / "ty"], capsys)
    assert_refused(out, "--test-year 2025", "2025-11-01", "twelve months")
    assert not (tmp_path / "ty").exists()


def test_determinants_out_holds_user_files(november_cube, tmp_path, capsys):
    """--out a folder holding the user's files: refused, the files untouched."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    out = run_in_process(["design", "determinants", "--cube", november_cube, "--tariffs", TARIFFS, "--test-year",
                          "2025", "--out", tmp_path / "mine"], capsys)
    assert_refused(out, "mine", "notes.txt")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_price_without_determinants(tmp_path, capsys):
    """--determinants a folder that is not one: refused, saying how to make one."""
    out = run_in_process(["design", "price", "--determinants", tmp_path, "--out", tmp_path / "x"], capsys)
    assert_refused(out, "identity.json", "workbench design determinants")


def test_solve_charge_without_rate_code(tmp_path, capsys):
    """--charge without its rate code: refused, showing the RATE-CODE:description form."""
    out = run_in_process(["design", "solve", "--determinants", tmp_path, "--class", "RES", "--requirement", "1",
                          "--charge", "Energy", "--out", tmp_path / "x"], capsys)
    assert_refused(out, "--charge 'Energy'", "RATE-CODE:")


def test_unknown_basis(tmp_path, capsys):
    """--basis other than billed or calendarized: a usage error naming the choices."""
    out = run_in_process(["design", "price", "--determinants", tmp_path, "--basis", "monthly", "--out", tmp_path / "x"],
                         capsys)
    assert_refused(out, "billed", "calendarized")


@pytest.mark.parametrize("requirement", ["nan", "inf", "-5000", "0"])
def test_solve_requirement_not_a_positive_amount(tmp_path, capsys, requirement):
    """--requirement NaN, inf, negative or 0: refused in one line before anything is read (NaN was an internal
    error, a negative one blamed the tariff's prices)."""
    out = run_in_process(["design", "solve", "--determinants", tmp_path, "--class", "RES",
                          f"--requirement={requirement}", "--charge", "RES-TOU:Energy", "--out", tmp_path / "x"],
                         capsys)
    assert_refused(out, "--requirement", "a finite amount of dollars above 0")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("value", ["kWh", "kWh=", "kWh=-1", "kWh=11", "MWh=3", "kWh=2.5", "=5"])
def test_solve_price_decimals_not_unit_equals_n(tmp_path, capsys, value):
    """--price-decimals without UNIT=N, an unknown unit, a count out of 0-10: refused in one line naming the
    units, before anything is read or written."""
    out = run_in_process(["design", "solve", "--determinants", tmp_path, "--class", "RES", "--requirement", "1",
                          "--charge", "RES-TOU:Energy", "--price-decimals", value, "--out", tmp_path / "x"], capsys)
    assert_refused(out, "--price-decimals", "UNIT=N", "kWh")
    assert not (tmp_path / "x").exists()
