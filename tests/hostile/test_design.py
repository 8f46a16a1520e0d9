"""Hostile inputs to the cost-of-service commands (`workbench design allocators`, `workbench design cos`)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hostile._cli import assert_refused, run_in_process
from tests.test_vee_support import make_cube
from workbench.ami.cube import write_cube


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    """Three meters, hourly, all of 2025 in New York time."""
    ds = make_cube(np.ones((3, 8760), np.float32), start="2025-01-01T00:00", step=60)
    return write_cube(ds, tmp_path_factory.mktemp("design") / "cube.zarr")


def _cos(cube, tmp_path, study_text, capsys, *extra):
    study = tmp_path / "study.yaml"
    study.write_text(study_text)
    revenue = tmp_path / "revenue.csv"
    revenue.write_text("class,revenue\nRES,100\n")
    return run_in_process(["design", "cos", "--cube", cube, "--test-year", "2025", "--study", study,
                           "--revenue", revenue, "--out", tmp_path / "out", *extra], capsys)


def test_test_year_outside_the_cube(cube, tmp_path, capsys):
    """A test year the cube does not cover: names the year, the time zone and what the cube holds."""
    run = run_in_process(["design", "allocators", "--cube", cube, "--test-year", "2024", "--out", tmp_path / "o"],
                         capsys)
    assert_refused(run, "test year 2024 needs all 12 months", "America/New_York", "the cube covers")


def test_test_year_not_a_year(cube, tmp_path, capsys):
    """--test-year 25: expected a calendar year like 2025."""
    run = run_in_process(["design", "allocators", "--cube", cube, "--test-year", "25", "--out", tmp_path / "o"], capsys)
    assert_refused(run, "--test-year", "expected a calendar year like 2025")


def test_bad_customer_weights(cube, tmp_path, capsys):
    """--customer-weights SGS=-1: expected CLASS=WEIGHT with a positive weight."""
    run = run_in_process(["design", "allocators", "--cube", cube, "--test-year", "2025", "--out", tmp_path / "o",
                          "--customer-weights", "SGS=-1"], capsys)
    assert_refused(run, "SGS=-1", "positive weight")


def test_system_load_without_the_kw_column(cube, tmp_path, capsys):
    """A system load CSV without its kw column: names the file and the columns expected."""
    series = tmp_path / "system.csv"
    series.write_text("time,load\n2025-01-01T05:00Z,1\n")
    run = run_in_process(["design", "allocators", "--cube", cube, "--test-year", "2025", "--out", tmp_path / "o",
                          "--system-load", series], capsys)
    assert_refused(run, "system.csv", "no column 'kw'", "time,kw")


def test_output_folder_holding_other_files(cube, tmp_path, capsys):
    """--out a folder of someone else's files: refused, nothing changed."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    run = run_in_process(["design", "allocators", "--cube", cube, "--test-year", "2025", "--out", out], capsys)
    assert_refused(run, "holds files workbench did not write")
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(("study", "fragments"), [
    ("functions:\n  - {function: production, classification: demand, cost: 10, allocator: 5cp}\n",
     ["functions[0]", "field 'allocator'", "unknown allocator '5cp'"]),
    ("functions:\n  - {function: production, classification: demand, cost: -1, allocator: cp4}\n",
     ["functions[0]", "field 'cost'", "negative"]),
    ("functions:\n  - {classification: demand, cost: 1, allocator: cp4}\n", ["field 'function' is missing"]),
    ("functions:\n  - {function: p, classification: d, cost: 1, allocator: cp4, owner: me}\n",
     ["unknown field 'owner'"]),
    ("functions: []\n", ["no function rows"]),
    ("name: [unclosed\n", ["not valid YAML"]),
])
def test_bad_study_file(cube, tmp_path, capsys, study, fragments):
    """A study file with an unknown allocator, a negative cost, a missing field, no rows or broken YAML: names
    the row and the field."""
    assert_refused(_cos(cube, tmp_path, study, capsys), "study.yaml", *fragments)


def test_revenue_missing_a_class(cube, tmp_path, capsys):
    """--revenue without a row for a class in the cube: names the class."""
    study = "functions:\n  - {function: customer, classification: customer, cost: 10, allocator: customers}\n"
    ds = make_cube(np.ones((2, 8760), np.float32), start="2025-01-01T00:00", step=60)
    ds = ds.assign_coords(customer_class=("meter", np.array(["RES", "SGS"])))
    two = write_cube(ds, tmp_path / "two.zarr")
    assert_refused(_cos(two, tmp_path, study, capsys), "no revenue at present rates for class 'SGS'")
