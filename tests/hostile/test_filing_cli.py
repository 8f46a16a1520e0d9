"""The filing command (`workbench filing`) refuses bad input in one line, exit 2, nothing changed."""

from __future__ import annotations

import json

import pytest

from tests.hostile._cli import REPO, assert_refused, run_in_process

TARIFFS = REPO / "tariffs"


@pytest.fixture
def cube(tmp_path):
    """A folder standing for the cube (each case is refused before the cube is read)."""
    path = tmp_path / "cube.zarr"
    path.mkdir()
    return path


def _filing(cube, out, *extra):
    return ["filing", "--cube", cube, "--test-year", "2025", "--present", TARIFFS, "--proposed", TARIFFS,
            "--out", out, *extra]


def test_out_holds_user_files(tmp_path, capsys):
    """--out a folder holding the user's files: refused before anything is read, the files untouched."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    out = run_in_process(_filing(tmp_path / "no-cube", tmp_path / "mine"), capsys)
    assert_refused(out, "mine", "notes.txt")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_out_is_the_working_directory(tmp_path, capsys):
    """--out . (the working directory): refused, naming it."""
    out = run_in_process(_filing(tmp_path / "no-cube", "."), capsys, cwd=tmp_path)
    assert_refused(out, "--out .", "working directory")


def test_missing_cube(tmp_path, capsys):
    """--cube that does not exist: refused, saying how to make one."""
    out = run_in_process(_filing(tmp_path / "no-cube", tmp_path / "f"), capsys)
    assert_refused(out, "--cube", "no-cube", "workbench sample")
    assert not (tmp_path / "f").exists()


def test_cost_of_service_without_cost(cube, tmp_path, capsys):
    """--cost-of-service without an allocated_cost column: refused, naming the columns expected."""
    (tmp_path / "cos.csv").write_text("class,cost\nRES,100\n")
    out = run_in_process(_filing(cube, tmp_path / "f", "--cost-of-service", tmp_path / "cos.csv"), capsys)
    assert_refused(out, "cos.csv", "allocated_cost")


def test_cost_of_service_bad_amount(cube, tmp_path, capsys):
    """--cost-of-service with a cost that is not a positive amount: refused, naming the row and field."""
    (tmp_path / "cos.csv").write_text("class,allocated_cost\nRES,12O0\n")
    out = run_in_process(_filing(cube, tmp_path / "f", "--cost-of-service", tmp_path / "cos.csv"), capsys)
    assert_refused(out, "row 2", "allocated_cost", "positive amount")


def test_determinants_not_a_folder_of_them(cube, tmp_path, capsys):
    """--determinants a folder that is not one: refused, saying how to make one."""
    (tmp_path / "ty").mkdir()
    out = run_in_process(_filing(cube, tmp_path / "f", "--determinants", tmp_path / "ty"), capsys)
    assert_refused(out, "identity.json", "workbench design determinants")


def test_determinants_of_another_year(cube, tmp_path, capsys):
    """--determinants kept for another test year: refused, naming both years."""
    (tmp_path / "ty").mkdir()
    (tmp_path / "ty" / "identity.json").write_text(json.dumps({"test_year": 2024, "rate_codes": {}}))
    out = run_in_process(_filing(cube, tmp_path / "f", "--determinants", tmp_path / "ty"), capsys)
    assert_refused(out, "test year 2024", "--test-year 2025")


@pytest.mark.parametrize("option", ["--present", "--proposed"])
def test_tariff_book_typo(cube, tmp_path, capsys, option):
    """A typo'd tariff book folder: refused naming the option and the path, nothing written."""
    args = _filing(cube, tmp_path / "f")
    args[args.index(option) + 1] = tmp_path / "propsed"
    out = run_in_process(args, capsys)
    assert_refused(out, f"{option} {tmp_path / 'propsed'}", "no such folder")
    assert not (tmp_path / "f").exists()


@pytest.fixture(scope="module")
def sample_cube(tmp_path_factory):
    """A small real cube (its meters on the sample book's rate codes)."""
    from workbench.sample import generate_sample_utility

    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=6, year=2025, meter_chunk=6, progress=False)
    return path


def test_proposed_book_missing_a_rate_code_is_refused_before_the_scan(sample_cube, tmp_path, capsys, monkeypatch):
    """A proposed book without a tariff for a rate code the cube's meters are on (RES-FLAT): refused in one line
    naming the code and the book, and the test-year scan never runs (it took minutes on a big cube)."""
    import shutil

    import xarray as xr

    import workbench.cli_filing as cli_filing

    on_meters = {str(code) for code in xr.open_zarr(sample_cube)["rate_code"].values}
    assert "RES-FLAT" in on_meters  # the code dropped below is one the meters are on
    proposed = tmp_path / "proposed"
    shutil.copytree(TARIFFS, proposed)
    (proposed / "RES-FLAT.yaml").unlink()

    def no_scan(*args, **kwargs):
        raise AssertionError("the test year was scanned before the proposed book was checked")

    monkeypatch.setattr(cli_filing, "build_test_year", no_scan)
    args = _filing(sample_cube, tmp_path / "f")
    args[args.index("--proposed") + 1] = proposed
    out = run_in_process(args, capsys)
    assert_refused(out, f"--proposed {proposed}", "'RES-FLAT'", "nothing was scanned")
    assert not (tmp_path / "f").exists()
