"""The present tariff book of a determinants set (``Study`` without ``tariffs_dir``): found from any working
directory, and refused when it is no longer the book the set was scanned with (its sha256 is recorded), so the
present revenue of a rate case is never priced on other tariffs without a word.

Data: the hand-built cube of tests/test_design_rescan.py (two meters, a year of hours) under HAND-TOU, $10.00 a
month, on-peak (14-19) $0.30, off-peak $0.10: the class's present revenue is 1,799.00 + 1,580.00 = 3,379.00,
worked there by hand. The same book with on-peak at $0.40 bills 3,379.00 + (3,285 + 1,825) x 0.10 = 3,890.00.
"""

from __future__ import annotations

import json

import pytest

from tests.test_design_rescan import book, hand_cube
from workbench.cli import main
from workbench.design.scenarios import Study
from workbench.errors import WorkbenchError

ON, OFF = "14:00-19:00", '["00:00-14:00", "19:00-24:00"]'


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    root = tmp_path_factory.mktemp("scanned-book")
    cube = hand_cube(root / "cube.zarr")
    book(root / "tariffs", ON, OFF)
    return root, cube


def _scan(root, cube, out, monkeypatch):
    monkeypatch.chdir(root)  # the book given as a relative path, as `--tariffs tariffs` from the repo
    assert main(["design", "determinants", "--cube", str(cube), "--tariffs", "tariffs", "--test-year", "2025",
                 "--out", str(out), "--quiet"]) == 0


def _present_cents(study: Study) -> int:
    return study.price(study.present_book(), "present").total_cents()


def test_the_scanned_book_is_found_from_another_directory(scanned, tmp_path, monkeypatch):
    # It was recorded as "tariffs": run elsewhere, a folder of that name there (on-peak $0.40) priced the present
    # revenue at 3,890.00 instead of 3,379.00, silently.
    root, cube = scanned
    _scan(root, cube, tmp_path / "ty", monkeypatch)
    assert json.loads((tmp_path / "ty" / "identity.json").read_text())["tariffs"] == str((root / "tariffs").resolve())
    elsewhere = tmp_path / "elsewhere"
    book(elsewhere / "tariffs", ON, OFF, on_rate=0.40)
    monkeypatch.chdir(elsewhere)
    assert _present_cents(Study(tmp_path / "ty")) == 337900
    assert _present_cents(Study(tmp_path / "ty", tariffs_dir="tariffs")) == 389000  # named: that book


def test_a_book_changed_since_the_scan_is_refused_unless_named(scanned, tmp_path, monkeypatch):
    root, cube = scanned
    _scan(root, cube, tmp_path / "ty", monkeypatch)
    identity = tmp_path / "ty" / "identity.json"
    # a set scanned before paths were recorded whole: "tariffs", relative to where the scan ran
    identity.write_text(json.dumps({**json.loads(identity.read_text()), "tariffs": "tariffs"}))
    elsewhere = tmp_path / "elsewhere"
    book(elsewhere / "tariffs", ON, OFF, on_rate=0.40)
    monkeypatch.chdir(elsewhere)
    with pytest.raises(WorkbenchError, match=r"the tariff book it was scanned with, tariffs \(as recorded in "
                       r"identity.json\), now holds other tariffs .*; pass --tariffs"):
        Study(tmp_path / "ty")
    monkeypatch.chdir(tmp_path)  # no such folder here
    with pytest.raises(WorkbenchError, match="tariffs .* is not there; pass --tariffs"):
        Study(tmp_path / "ty")
    monkeypatch.chdir(root)  # where the scan ran: the same book, priced as scanned
    assert _present_cents(Study(tmp_path / "ty")) == 337900
