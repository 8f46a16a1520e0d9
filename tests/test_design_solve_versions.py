"""`design solve` on a tariff with a version taking effect inside the test year: the solve edits the last version
only, so it meets the requirement with the earlier months at the old prices; a warning gives what the solved book
brings in when billed the whole year on the solved prices (the rate year), so that is never a silent surprise.

By hand (the two-meter hourly cube of tests/test_design_rescan.py, 2025, monthly bills): energy is the same all
year, M1 3,285 on-peak x 0.30 + 6,935 off-peak x 0.10 = 1,679.00, M2 1,825 x 0.30 + 9,125 x 0.10 = 1,460.00:
3,139.00. The customer charge is $10.00 a month until 2025-06-30 (12 bills, 120.00) and x from 2025-07-01 (12
bills). A requirement of 3,499.00 sets x = (3,499 - 3,139 - 120) / 12 = 20.00; billed the whole year at 20.00 the
book brings in 3,139.00 + 24 x 20.00 = 3,619.00, +120.00 over the requirement.
"""

from __future__ import annotations

import json

import pytest

from tests.hostile._cli import assert_ok, run_in_process
from tests.test_design_rescan import TOU, hand_cube
from workbench.cli import main

SECOND = """  - effective: 2025-07-01
    charges:
      - {type: customer, description: Customer charge, amount: 10.00, per: month}
      - {type: energy, description: Energy, rates: {on_peak: 0.30, off_peak: 0.10}}
"""


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    root = tmp_path_factory.mktemp("versions")
    cube = hand_cube(root / "cube.zarr")
    (root / "book").mkdir()
    text = TOU.format(on="14:00-19:00", off='["00:00-14:00", "19:00-24:00"]', on_rate=0.30)
    (root / "book" / "HAND-TOU.yaml").write_text(text + SECOND)
    assert main(["design", "determinants", "--cube", str(cube), "--tariffs", str(root / "book"), "--test-year",
                 "2025", "--out", str(root / "ty"), "--quiet"]) == 0
    return root


def test_a_version_inside_the_test_year_is_warned_with_the_whole_year_revenue(scanned, tmp_path, capsys):
    out = run_in_process(["design", "solve", "--determinants", scanned / "ty", "--requirement", "3499",
                          "--class", "RES", "--charge", "HAND-TOU:Customer charge", "--how", "set",
                          "--out", tmp_path / "book"], capsys)
    assert_ok(out)
    solution = json.loads((tmp_path / "book" / "solution.json").read_text())
    assert solution["revenue"] == 3499.00 and round(solution["x"], 6) == 20.0
    assert "last version's (HAND-TOU from 2025-07-01)" in out.stderr
    assert "billed the whole test year on the solved prices the book would bring in $3,619.00 (+120.00)" in out.stderr


def test_one_version_in_the_test_year_gives_no_warning(scanned, tmp_path, capsys):
    one = tmp_path / "one"
    one.mkdir()
    (one / "HAND-TOU.yaml").write_text((scanned / "book" / "HAND-TOU.yaml").read_text().replace(SECOND, ""))
    out = run_in_process(["design", "solve", "--determinants", scanned / "ty", "--tariffs", one, "--requirement",
                          "3499", "--class", "RES", "--charge", "HAND-TOU:Customer charge", "--how", "set",
                          "--out", tmp_path / "book"], capsys)
    assert_ok(out)
    assert "last version" not in out.stderr


def test_a_rate_code_of_the_class_left_out_of_the_solve_is_warned(tmp_path, capsys):
    # The same two meters, M2 on a second rate code: a RES requirement solved on HAND-TOU's charge alone is
    # HAND-TOU's revenue (M1's), not the class's; the help said "the classes' revenue requirement" and nothing
    # said M2's 1,580.00 was not in it. Set: M1's customer charge x with 1,679.00 of energy: 1,799.00 needs x = 10.
    hand_cube(tmp_path / "two.zarr", rate_codes=["HAND-TOU", "HAND-TOU2"])
    (tmp_path / "book").mkdir()
    text = TOU.format(on="14:00-19:00", off='["00:00-14:00", "19:00-24:00"]', on_rate=0.30)
    (tmp_path / "book" / "HAND-TOU.yaml").write_text(text)
    (tmp_path / "book" / "HAND-TOU2.yaml").write_text(text.replace("code: HAND-TOU", "code: HAND-TOU2"))
    assert main(["design", "determinants", "--cube", str(tmp_path / "two.zarr"), "--tariffs", str(tmp_path / "book"),
                 "--test-year", "2025", "--out", str(tmp_path / "ty"), "--quiet"]) == 0
    out = run_in_process(["design", "solve", "--determinants", tmp_path / "ty", "--requirement", "1799",
                          "--class", "RES", "--charge", "HAND-TOU:Customer charge", "--how", "set",
                          "--out", tmp_path / "solved"], capsys)
    assert_ok(out)
    assert round(json.loads((tmp_path / "solved" / "solution.json").read_text())["x"], 6) == 10.0
    assert ("--requirement $1,799.00 is the revenue of HAND-TOU only: the class's other rate codes (HAND-TOU2) are "
            "not in it") in out.stderr


def test_the_whole_year_revenue_is_of_the_moved_rate_codes_only(tmp_path, capsys):
    """M1 on HAND-TOU (the version from 2025-07-01), M2 on HAND-TOU2 (not moved). Solve HAND-TOU's customer charge
    for 1,859.00 of M1: energy 1,679.00 + 6 x 10.00 (Jan-Jun) + 6 x x = 1,859.00 gives x = 20.00; billed the whole
    year at 20.00, M1 brings in 1,679.00 + 12 x 20.00 = 1,919.00 (+60.00). The warning counted M2's $1,580.00
    too, which the requirement does not: $3,499.00 (+1,640.00)."""
    hand_cube(tmp_path / "two.zarr", rate_codes=["HAND-TOU", "HAND-TOU2"])
    (tmp_path / "book").mkdir()
    text = TOU.format(on="14:00-19:00", off='["00:00-14:00", "19:00-24:00"]', on_rate=0.30)
    (tmp_path / "book" / "HAND-TOU.yaml").write_text(text + SECOND)
    (tmp_path / "book" / "HAND-TOU2.yaml").write_text(text.replace("code: HAND-TOU", "code: HAND-TOU2"))
    assert main(["design", "determinants", "--cube", str(tmp_path / "two.zarr"), "--tariffs", str(tmp_path / "book"),
                 "--test-year", "2025", "--out", str(tmp_path / "ty"), "--quiet"]) == 0
    out = run_in_process(["design", "solve", "--determinants", tmp_path / "ty", "--requirement", "1859",
                          "--class", "RES", "--charge", "HAND-TOU:Customer charge", "--how", "set",
                          "--out", tmp_path / "solved"], capsys)
    assert_ok(out)
    assert round(json.loads((tmp_path / "solved" / "solution.json").read_text())["x"], 6) == 20.0
    assert "billed the whole test year on the solved prices the book would bring in $1,919.00 (+60.00)" in out.stderr
