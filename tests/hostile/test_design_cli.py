"""The rate-design commands (`workbench design ...`) refuse bad input in one line, exit 2, nothing changed."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.hostile._cli import REPO, assert_ok, assert_refused, run_in_process
from tests.test_design_rescan import TOU, book, hand_cube
from workbench.design.testyear import build_test_year
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


def test_price_determinants_folder_missing(tmp_path, capsys):
    """--determinants a folder that does not exist (a typo, another working directory): says so, not 'no
    identity.json' as if the folder were there."""
    out = run_in_process(["design", "price", "--determinants", tmp_path / "ty-2052", "--out", tmp_path / "x"], capsys)
    assert_refused(out, "ty-2052", "no such folder", "workbench design determinants")
    assert not (tmp_path / "x").exists()


def test_determinants_tariff_book_missing(november_cube, tmp_path, capsys):
    """--tariffs left at its default `tariffs` in a working directory without one: says there is no such folder
    (it said the folder had no *.yaml tariffs)."""
    out = run_in_process(["design", "determinants", "--cube", november_cube, "--test-year", "2025", "--out",
                          tmp_path / "ty"], capsys, cwd=tmp_path)
    assert_refused(out, "tariffs: no such folder", "tariff book")
    assert not (tmp_path / "ty").exists()


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


@pytest.mark.parametrize(("requirement", "said"), [
    ("5%", "a percent is a change, not a revenue"),
    ("$1,000,000", "no $ sign, thousands separators"),
    ("1,000,000", "no $ sign, thousands separators"),
    ("1.5 million", "a plain number"),
])
def test_solve_requirement_written_as_a_percent_or_with_dollar_signs(tmp_path, capsys, requirement, said):
    """--requirement 5% (meant as an increase) or $1,000,000 (as written in a memo): refused in one line saying
    what to write (it said only "invalid float value"); never guessed into an amount, nothing written."""
    out = run_in_process(["design", "solve", "--determinants", tmp_path, "--class", "RES",
                          f"--requirement={requirement}", "--charge", "RES-TOU:Energy", "--out", tmp_path / "x"],
                         capsys)
    assert_refused(out, "--requirement", repr(requirement), "revenue requirement in dollars", said)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("value", ["kWh", "kWh=", "kWh=-1", "kWh=11", "MWh=3", "kWh=2.5", "=5"])
def test_solve_price_decimals_not_unit_equals_n(tmp_path, capsys, value):
    """--price-decimals without UNIT=N, an unknown unit, a count out of 0-10: refused in one line naming the
    units, before anything is read or written."""
    out = run_in_process(["design", "solve", "--determinants", tmp_path, "--class", "RES", "--requirement", "1",
                          "--charge", "RES-TOU:Energy", "--price-decimals", value, "--out", tmp_path / "x"], capsys)
    assert_refused(out, "--price-decimals", "UNIT=N", "kWh")
    assert not (tmp_path / "x").exists()



@pytest.mark.parametrize("values", [["kWh=4", "kWh=3"], ["kW=2", "kWh=4", "kW=2"]])
def test_solve_price_decimals_for_a_unit_twice(tmp_path, capsys, values):
    """--price-decimals naming a unit twice: refused in one line naming the unit, before anything is read or
    written (the last one was used without a word: kWh=4 then kWh=3 rounded to 3 decimals)."""
    given = [arg for value in values for arg in ("--price-decimals", value)]
    out = run_in_process(["design", "solve", "--determinants", tmp_path, "--class", "RES", "--requirement", "1",
                          "--charge", "RES-TOU:Energy", *given, "--out", tmp_path / "x"], capsys)
    assert_refused(out, "--price-decimals", "given twice", values[-1].split("=")[0])
    assert not (tmp_path / "x").exists()

# -- --proposed-determinants: a proposal that moves the ToU hours, priced on its own scan -------------------------

@pytest.fixture(scope="module")
def two_scans(tmp_path_factory):
    """A two-meter hourly 2025 cube scanned with the present book (peak 14-19) and a proposed one (peak 16-21)."""
    root = tmp_path_factory.mktemp("rescan")
    cube = hand_cube(root / "cube.zarr")
    present = book(root / "present", "14:00-19:00", '["00:00-14:00", "19:00-24:00"]')
    proposed = book(root / "proposed", "16:00-21:00", '["00:00-16:00", "21:00-24:00"]')
    build_test_year(cube, present, 2025, root / "ty", progress=False)
    build_test_year(cube, proposed, 2025, root / "ty-proposed", progress=False)
    return root


def _price_rescanned(root, capsys, out, *extra):
    return run_in_process(["design", "price", "--determinants", root / "ty", "--out", out, *extra], capsys)


def test_proposed_determinants_not_a_determinants_folder(two_scans, tmp_path, capsys):
    """--proposed-determinants a folder that is not one: refused, saying how to make one, nothing written."""
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed-determinants", tmp_path)
    assert_refused(run, "identity.json", "workbench design determinants")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("field", "value", "said"), [
    ("test_year", 2024, "different test years: 2025 against 2024"),
    ("cube_version", {"version": 7, "run": "other", "inode": 1}, "different cubes"),
])
def test_proposed_determinants_of_another_test_year_or_cube(two_scans, tmp_path, capsys, field, value, said):
    """The proposed set scanned for another test year or from another cube: refused naming both, nothing written
    (a comparison of two different years' or cubes' bills would look like a rate impact)."""
    copy = tmp_path / "ty-other"
    shutil.copytree(two_scans / "ty-proposed", copy)
    identity = json.loads((copy / "identity.json").read_text())
    identity[field] = value
    (copy / "identity.json").write_text(json.dumps(identity))
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed-determinants", copy)
    assert_refused(run, "--proposed-determinants", said)
    assert not (tmp_path / "x").exists()


def test_proposed_book_not_the_proposed_scan(two_scans, tmp_path, capsys):
    """--proposed the present book (peak 14-19) on determinants scanned for 16-21: needs a re-scan, refused."""
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed-determinants", two_scans / "ty-proposed",
                           "--proposed", two_scans / "present")
    assert_refused(run, "HAND-TOU.yaml", "ToU hours", "needs a re-scan")
    assert not (tmp_path / "x").exists()


def test_moved_peak_without_proposed_determinants(two_scans, tmp_path, capsys):
    """The moved peak priced on the present determinants: refused as before, naming the new option."""
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed", two_scans / "proposed")
    assert_refused(run, "needs a re-scan", "--proposed-determinants")
    assert not (tmp_path / "x").exists()


def test_proposed_determinants_class_not_there(two_scans, tmp_path, capsys):
    """--class a class neither set holds: refused naming the class."""
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed-determinants", two_scans / "ty-proposed",
                           "--class", "LGS")
    assert_refused(run, "no customers of classes", "LGS")


@pytest.mark.parametrize("what,said", [("nosuch", "no such folder"), ("afile.yaml", "not a folder")])
def test_proposed_book_not_a_folder(two_scans, tmp_path, capsys, what, said):
    """--proposed a folder that does not exist, or a tariff file instead of the book: refused saying so (it said "no *.yaml tariffs in the tariff book folder", as if the folder were there and empty)"""
    (tmp_path / "afile.yaml").write_text("code: X\n")
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed", tmp_path / what)
    assert_refused(run, f"{what}: {said}", "expected the tariff book folder")
    assert not (tmp_path / "x").exists()


def test_cycle_tariff_book_missing(november_cube, tmp_path, capsys):
    """`cycle --tariffs` a folder that does not exist: refused saying so"""
    out = run_in_process(["cycle", "--cube", november_cube, "--tariffs", tmp_path / "nosuch", "--out", tmp_path / "c"],
                         capsys)
    assert_refused(out, "nosuch: no such folder", "expected the tariff book folder")


@pytest.mark.parametrize("command", [
    ["design", "determinants", "--tariffs", TARIFFS],
    ["filing", "--present", TARIFFS, "--proposed", TARIFFS],
])
@pytest.mark.parametrize("year", ["25", "20255", "2025.0"])
def test_test_year_not_four_digits(november_cube, tmp_path, capsys, command, year):
    """--test-year 25: refused as not a calendar year (it was read as the year 25 and reported as a cube that does not cover 0025-01-01 to 0025-12-31)"""
    out = run_in_process([*command, "--cube", november_cube, "--test-year", year, "--out", tmp_path / "x"], capsys)
    assert_refused(out, "--test-year", f"'{year}': expected a calendar year like 2025")


# -- a proposal written as a new version: which of the test year's bills it prices ---------------------------------

def _with_version(folder, effective, on_rate):
    """The present HAND-TOU book (one version from 2020, on-peak $0.30) plus a version effective ``effective``
    with on-peak ``on_rate``: a proposal written the way it is filed."""
    folder.mkdir()
    (folder / "HAND-TOU.yaml").write_text(_present_book_text() + _version_text(effective, on_rate))
    return folder


def _present_book_text() -> str:
    return TOU.format(on="14:00-19:00", off='["00:00-14:00", "19:00-24:00"]', on_rate=0.30)


def _version_text(effective, on_rate) -> str:
    return (f"  - effective: {effective}\n    charges:\n"
            "      - {type: customer, description: Customer charge, amount: 10.00, per: month}\n"
            f"      - {{type: energy, description: Energy, rates: {{on_peak: {on_rate}, off_peak: 0.10}}}}\n")


def test_proposed_version_after_the_test_year_is_warned(two_scans, tmp_path, capsys):
    """A proposed version effective 2026-01-01 on a 2025 test year prices none of its bills: the proposed
    revenue is the present $3,379.00 to the cent (tests/test_design_rescan.py), and a warning names the file,
    the date and the version to edit (it was silent: proposed = present, change 0.00)."""
    proposed = _with_version(tmp_path / "filed", "2026-01-01", 0.40)
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed", proposed)
    assert_ok(run)
    rev = pd.read_csv(tmp_path / "x" / "revenue.csv").iloc[0]
    assert (rev["revenue_present"], rev["revenue_proposed"]) == (3379.00, 3379.00)
    warned = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1, run.stderr
    for fragment in ("HAND-TOU.yaml", "effective 2026-01-01", "after the test year 2025", "prices none",
                     "effective 2020-01-01"):
        assert fragment in warned[0], warned[0]


def test_proposed_version_inside_the_test_year_is_warned(two_scans, tmp_path, capsys):
    """A proposed version effective 2025-07-01 prices the bills from July only. By hand: on-peak $0.40 instead of
    $0.30 on July-December's on-peak kWh, M1 9 a day x 184 days = 1,656 (+$165.60), M2 5 x 184 = 920 (+$92.00):
    $3,379.00 + $257.60 = $3,636.60, not a whole year's; the warning says so."""
    proposed = _with_version(tmp_path / "mid", "2025-07-01", 0.40)
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed", proposed)
    assert_ok(run)
    rev = pd.read_csv(tmp_path / "x" / "revenue.csv").iloc[0]
    assert (rev["revenue_present"], rev["revenue_proposed"]) == (3379.00, 3636.60)
    warned = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "from 2025-07-01" in warned[0] and "not a whole year" in warned[0], run.stderr


def test_proposed_edits_of_a_version_in_force_all_year_are_not_warned(two_scans, tmp_path, capsys):
    """The proposal edits the version in force all the test year: priced on every bill, no warning."""
    proposed = tmp_path / "edited"
    proposed.mkdir()
    (proposed / "HAND-TOU.yaml").write_text(_present_book_text().replace("on_peak: 0.3,", "on_peak: 0.4,"))
    run = _price_rescanned(two_scans, capsys, tmp_path / "x", "--proposed", proposed)
    assert_ok(run)
    assert "warning:" not in run.stderr, run.stderr
    # on-peak +$0.10 on 5,110 kWh a year: +$511.00
    assert pd.read_csv(tmp_path / "x" / "revenue.csv").iloc[0]["revenue_proposed"] == 3890.00


def test_solve_on_a_book_whose_last_version_is_after_the_test_year(two_scans, tmp_path, capsys):
    """design solve edits the last version; one effective after the test year moves no revenue. Refused naming
    the tariff, its date and the test year (it said 'choose charges they pay', and they do pay them)."""
    book = _with_version(tmp_path / "filed", "2026-01-01", 0.40)
    run = run_in_process(["design", "solve", "--determinants", two_scans / "ty", "--tariffs", book, "--class", "RES",
                          "--requirement", "3500", "--charge", "HAND-TOU:Energy", "--out", tmp_path / "x"], capsys)
    assert_refused(run, "HAND-TOU", "takes effect 2026-01-01", "after the test year 2025")
    assert not (tmp_path / "x").exists()


def test_solve_charge_of_a_rate_code_the_class_is_not_on(two_scans, tmp_path, capsys):
    """A charge of a tariff in the book that none of the class's customers is on (HAND-TOU2, beside HAND-TOU):
    refused naming the charge and the class's rate codes (it was an internal error, KeyError, exit 70)."""
    book = tmp_path / "book"
    book.mkdir()
    (book / "HAND-TOU.yaml").write_text(_present_book_text())
    (book / "HAND-TOU2.yaml").write_text(_present_book_text().replace("code: HAND-TOU", "code: HAND-TOU2"))
    run = run_in_process(["design", "solve", "--determinants", two_scans / "ty", "--tariffs", book, "--class", "RES",
                          "--requirement", "3500", "--charge", "HAND-TOU:Energy", "--charge", "HAND-TOU2:Energy",
                          "--out", tmp_path / "x"], capsys)
    assert_refused(run, "--charge HAND-TOU2:Energy", "no customer of classes ['RES']", "rate code of theirs: HAND-TOU")
    assert not (tmp_path / "x").exists()
