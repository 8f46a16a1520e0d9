"""A proposed tariff file keeps its present file's comments, order and layout; only the edited values change.
Expected texts are written by hand from the sample book's GS-TOU-DEMAND.yaml and RES-TIER.yaml."""

from __future__ import annotations

import difflib
from pathlib import Path

from tests._fixtures import GOOD_TARIFF
from workbench.design.proposal import Proposal
from workbench.tariffs import read_yaml

BOOK = Path(__file__).resolve().parents[1] / "tariffs"


def _changed(book: Path, code: str) -> tuple[list[str], list[str]]:
    old = (BOOK / f"{code}.yaml").read_text().splitlines()
    new = (book / f"{code}.yaml").read_text().splitlines()
    diff = [line for line in difflib.unified_diff(old, new, lineterm="", n=0) if not line.startswith(("---", "+++", "@@"))]
    return [line[1:] for line in diff if line.startswith("-")], [line[1:] for line in diff if line.startswith("+")]


def test_only_the_edited_lines_change_and_comments_stay(tmp_path):
    prop = Proposal.from_book(BOOK).set_customer_charge("GS-TOU-DEMAND", 40).set_price(
        "GS-TOU-DEMAND", "Energy", 0.15, where=("summer", "on_peak"))
    prop.write(tmp_path / "book")
    removed, added = _changed(tmp_path / "book", "GS-TOU-DEMAND")
    assert removed == ["      - {type: customer, description: Customer charge, amount: 35.00, per: month}",
                       "        rates: {summer: {on_peak: 0.1420, off_peak: 0.0780}, winter: {on_peak: 0.1180, "
                       "off_peak: 0.0760}}"]
    assert added == ["# proposed: prices edited by workbench.design",
                     "      - {type: customer, description: Customer charge, amount: 40.0, per: month}",
                     "        rates: {summer: {on_peak: 0.15, off_peak: 0.0780}, winter: {on_peak: 0.1180, "
                     "off_peak: 0.0760}}"]
    text = (tmp_path / "book" / "GS-TOU-DEMAND.yaml").read_text()
    assert "# General service (small commercial) time of use with a facility demand charge" in text
    assert read_yaml(text) == prop.tariffs["GS-TOU-DEMAND"]


def test_a_new_block_keeps_the_lists_flow_style_and_their_comments(tmp_path):
    prop = Proposal.from_book(BOOK).add_block("RES-TIER", "Energy", 2000, 0.2)
    prop.write(tmp_path / "book")
    _, added = _changed(tmp_path / "book", "RES-TIER")
    assert "          limits: {summer: [16.0, 33.0, 2000.0], winter: [20.0, 40.0, 2000.0]}" in added
    assert any(line.strip().startswith("summer: [0.105, 0.132, 0.164, 0.2]") and line.endswith("# inclining")
               for line in added)
    assert read_yaml((tmp_path / "book" / "RES-TIER.yaml").read_text()) == prop.tariffs["RES-TIER"]


def test_an_unedited_tariff_is_copied_byte_for_byte(tmp_path):
    Proposal.from_book(BOOK).scale("RES-TOU", "Energy", 1.1).write(tmp_path / "book")
    assert (tmp_path / "book" / "LGS-TOU.yaml").read_bytes() == (BOOK / "LGS-TOU.yaml").read_bytes()



def test_an_edit_under_a_yaml_alias_changes_only_the_last_version(tmp_path):
    # both versions' charges are one YAML node (an anchor and its alias); the edit is of the last version only:
    # the file is then written plainly (the alias cannot hold two values), the first version still at 10.00
    book = tmp_path / "present"
    book.mkdir()
    (book / "TEST.yaml").write_text(GOOD_TARIFF.split("versions:")[0] + (
        "versions:\n"
        "  - effective: 2024-01-01\n"
        "    charges: &same\n"
        "      - {type: customer, amount: 10.0, per: month}\n"
        "      - {type: energy, rates: 0.1}\n"
        "  - effective: 2025-01-01\n"
        "    charges: *same\n"))
    prop = Proposal.from_book(book).set_customer_charge("TEST", 12.0)
    prop.write(tmp_path / "out")
    written = read_yaml((tmp_path / "out" / "TEST.yaml").read_text())
    assert [v["charges"][0]["amount"] for v in written["versions"]] == [10.0, 12.0]
