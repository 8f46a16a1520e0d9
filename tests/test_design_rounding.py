"""`workbench design solve` writes each solved price rounded to the precision a tariff is filed in, and reports
what the rounded book recovers. Hand-calculated on one customer: 1,234 kWh in each of 12 calendar months,
$10.00/month + $0.10/kWh at present; the engine rounds each line of each bill to the cent."""

from __future__ import annotations

import json

import pytest

from tests.hostile._cli import assert_ok, run_in_process
from tests.test_filing import _book, _hand_folder
from workbench.design.proposal import Proposal
from workbench.design.revreq import round_solution, solve
from workbench.design.scenarios import Study
from workbench.tariffs import load_tariff

OTHER = """\
# a tariff the solve does not move: copied as it is, comments and all
code: OTHER
name: Another rate
timezone: America/New_York
versions:
  - effective: 2020-01-01
    charges:
      - {type: customer, description: Customer charge, amount: 7.5, per: month}   # $7.50
      - {type: energy, description: Energy, rates: 0.2}
"""


@pytest.fixture
def hand(tmp_path):
    _book(tmp_path / "present", 10.0, 0.10)
    (tmp_path / "present" / "OTHER.yaml").write_text(OTHER)
    return _hand_folder(tmp_path, {"M1": [1234.0] * 12}), tmp_path


def _solve(hand, capsys, *extra):
    folder, tmp = hand
    out = run_in_process(["design", "solve", "--determinants", folder, "--class", "RES", "--requirement", "1651",
                          "--charge", "HAND:Energy", "--out", tmp / "book", *extra], capsys)
    return out, tmp / "book"


def test_solved_price_rounded_to_five_decimals_by_default(hand, capsys):
    """Requirement 1,651.00: 120.00 of customer charges, so 1,531.00 of energy, 127.5833 a bill. Each bill's
    energy is rounded to the cent, so the smallest price reaching it bills 127.59 (1,234 p >= 127.585, p >=
    0.1033914...): 12 x 137.59 = 1,651.08 unrounded. Rounded to 5 decimals: 0.10339 x 1,234 = 127.58326 ->
    127.58 a bill: 12 x (10.00 + 127.58) = 1,650.96, a difference of -0.04 (-0.04 / 1,651 = -0.0024%)."""
    out, book = _solve(hand, capsys)
    assert_ok(out)
    assert "HAND Energy: prices rounded to 5 decimals ($/kWh, default" in out.stdout
    assert "revenue $1,650.96 against the requirement $1,651.00: difference -0.04 (-0.0024%)" in out.stdout
    assert "unrounded: " in out.stdout and "$1,651.08" in out.stdout
    energy = load_tariff(book / "HAND.yaml").versions[-1].charges[1]
    assert float(energy.rates.ravel()[0]) == 0.10339
    solution = json.loads((book / "solution.json").read_text())
    assert (solution["revenue"], solution["difference"]) == (1650.96, -0.04)
    assert solution["price_decimals"] == [{"rate_code": "HAND", "charge": "Energy", "unit": "kWh", "decimals": 5,
                                           "from": "default"}]
    # the tariff the solve did not move is the present file, byte for byte; the moved one is written anew
    assert (book / "OTHER.yaml").read_bytes() == (hand[1] / "present" / "OTHER.yaml").read_bytes()
    assert "copied unchanged: OTHER" in out.stdout


def test_price_decimals_overridden_per_unit(hand, capsys):
    """--price-decimals kWh=4: 0.1034 x 1,234 = 127.5956 -> 127.60 a bill: 12 x 137.60 = 1,651.20, +0.20
    (+0.20 / 1,651 = +0.0121%)."""
    out, book = _solve(hand, capsys, "--price-decimals", "kWh=4")
    assert_ok(out)
    assert "prices rounded to 4 decimals ($/kWh, given" in out.stdout
    assert "revenue $1,651.20 against the requirement $1,651.00: difference +0.20 (+0.0121%)" in out.stdout
    assert float(load_tariff(book / "HAND.yaml").versions[-1].charges[1].rates.ravel()[0]) == 0.1034


def test_rounded_book_bills_what_it_reports(hand):
    """The rounded book priced again from its written YAML bills the reported revenue, to the cent (the
    done-when: `workbench cycle` bills the requirement within the reported difference)."""
    folder, tmp = hand
    study = Study(folder, classes=["RES"])
    solution = solve(study, 1651.0, [("HAND", "Energy")])
    rounded = round_solution(study, solution, {"kWh": 3})  # 0.103 x 1,234 = 127.102 -> 127.10: 12 x 137.10
    assert rounded.revenue == 1645.20 and rounded.difference == -5.80
    rounded.proposal.write(tmp / "out")
    book = Proposal.from_book(tmp / "out").compile(["HAND"])
    assert study.price(book, "again", ["HAND"]).total_cents() == 164520


def test_customer_charge_rounded_to_cents(hand):
    """Setting the customer charge to reach 1,500.05 (energy 12 x 123.40 = 1,480.80; 19.25 / 12 = 1.6041...):
    rounded to 2 decimals, as a monthly charge is filed; the customer charge line is then whole cents."""
    folder, _ = hand
    study = Study(folder, classes=["RES"])
    solution = solve(study, 1500.05, [("HAND", "Customer charge")], how="set")
    rounded = round_solution(study, solution)
    amount = rounded.proposal.charge("HAND", "Customer charge")["amount"]
    assert amount == round(amount, 2) and rounded.decimals[0][2:4] == ("month", 2)
    assert rounded.revenue == pytest.approx(1480.80 + 12 * amount, abs=1e-9)
