"""What a rate analyst trying the design, cost-of-service and filing commands on real input ran into
(docs/rate-design.md, docs/cost-of-service.md, docs/filing.md): each case hand-checked, each small."""

from __future__ import annotations

import logging
import math

import pytest

from tests.test_cos_study import allocators, cube  # noqa: F401  (module fixtures: the hand cube)
from tests.test_design import FLAT, _one_meter
from workbench.design.cos_study import StudyFileError, load_study
from workbench.design.cost_of_service import allocate, class_table
from workbench.design.proposal import Proposal
from workbench.design.revreq import solve
from workbench.design.scenarios import price_rate_code
from workbench.design.testyear_store import excluded_note
from workbench.errors import WorkbenchError
from workbench.tariffs import load_tariff_book


class HandStudy:
    """A study of one meter on the hand-checked flat rate (customer $10/month, energy $0.10/kWh): two monthly
    bills of 500 and 250 kWh, so revenue = 2 x 10 + 750 x price."""

    def __init__(self):
        self.rcd = _one_meter([("2025-01-01", "2025-02-01", 31, 500.0), ("2025-02-01", "2025-03-01", 28, 250.0)])

    def price(self, book, name, codes=None):
        return price_rate_code(book["HAND"], self.rcd, "billed")


@pytest.fixture()
def hand(tmp_path):
    (tmp_path / "HAND.yaml").write_text(FLAT)
    return HandStudy(), Proposal.from_book(tmp_path)


def test_the_hand_study_prices_as_by_hand(hand):
    study, base = hand
    assert study.price(base.compile(), "x").total_cents() == 9500  # 2 x $10 + 750 kWh x $0.10


@pytest.mark.parametrize("requirement", [math.nan, math.inf, -5000.0, 0.0])
def test_a_non_finite_or_non_positive_requirement_is_one_line(hand, requirement):
    """Before: NaN and inf were an internal error (int(round(nan))) and -5000 blamed the tariff YAML."""
    study, base = hand
    with pytest.raises(WorkbenchError, match="expected a finite amount of dollars above 0"):
        solve(study, requirement, [("HAND", "Energy")], base=base)


def test_a_requirement_below_the_fixed_charges_says_so(hand):
    """$15 < $20, what the two customer charges bill with energy at 0: no energy price reaches it. Before, the
    solve tried a negative price and the line said to add 'allow_negative: true' to the tariff."""
    study, base = hand
    with pytest.raises(WorkbenchError, match=r"requirement \$15\.00 is below \$20\.00, what these customers pay"):
        solve(study, 15.0, [("HAND", "Energy")], base=base)


def test_a_requirement_near_the_floor_still_solves(hand):
    """$27.50 = $20 + 750 kWh x $0.01: energy scaled by 0.1 (the first chord lands near 0, not below)."""
    study, base = hand
    sol = solve(study, 27.50, [("HAND", "Energy")], base=base)
    assert sol.residual == 0.0 and sol.x == pytest.approx(0.1, rel=1e-6)
    assert sol.implausible()  # 27.50 against 95.00 at the starting prices: less than half


def test_an_absurd_requirement_is_warned(hand):
    """$95 at present: $190 (2x) is plausible, $1,000,000 is not (likely cents or the wrong classes)."""
    study, base = hand
    assert solve(study, 190.0, [("HAND", "Energy")], base=base).implausible() == ""
    sol = solve(study, 1_000_000.0, [("HAND", "Energy")], base=base)
    assert sol.start_revenue == 95.0
    assert "the requirement $1,000,000.00 is" in sol.implausible() and "($95.00)" in sol.implausible()


def test_excluded_meters_are_said(tmp_path):
    (tmp_path / "excluded.csv").write_text(
        "meter,account,rate_code,reason\n"
        "M1,A1,RES-TOU,net-metering customer (program NEM2): not in this version of the rate-design study\n"
        "M2,A2,RES-TOU,net-metering customer (program NEM2): not in this version of the rate-design study\n")
    note = excluded_note(tmp_path, "ty")
    assert note.startswith("2 meters of the test year (RES-TOU) are not in these figures")
    assert "2 net-metering customer (program NEM2)" in note and "ty/excluded.csv" in note
    (tmp_path / "excluded.csv").write_text("meter,account,rate_code,reason\n")
    assert excluded_note(tmp_path) == ""


def test_a_urdb_item_or_yml_in_a_tariff_book_is_warned(tmp_path, caplog):
    """Before: silently left out of the book (the analyst believed it priced)."""
    (tmp_path / "HAND.yaml").write_text(FLAT)
    (tmp_path / "RES-URDB.json").write_text('{"label": "x", "energyratestructure": [[{"rate": 0.1}]]}')
    (tmp_path / "solution.json").write_text('{"x": 1.07}')  # a workbench output: not a tariff, not warned
    (tmp_path / "OTHER.yml").write_text(FLAT.replace("HAND", "OTHER"))
    with caplog.at_level(logging.WARNING):
        book = load_tariff_book(tmp_path)
    assert list(book) == ["HAND"]
    said = [r.getMessage() for r in caplog.records]
    assert any("RES-URDB.json: a URDB item is not read as part of the tariff book" in m for m in said)
    assert any("OTHER.yml: not read" in m and "rename it OTHER.yaml" in m for m in said)
    assert not any("solution.json" in m for m in said)


def test_thousands_separators_in_a_yaml_study_row_get_a_hint(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("functions:\n  - {function: production, classification: energy, cost: 9,800,000.00, "
                    "allocator: kwh}\n")
    with pytest.raises(StudyFileError, match=r"functions\[0\]: unknown field .*write 9800000\.00"):
        load_study(path)


def test_relative_rate_of_return_is_empty_when_the_system_return_is_negative(tmp_path, allocators):  # noqa: F811
    """Costs 400 (return 100, rate base 2000) split by customers 2:1:1; revenue RES 100, SGS 50, LGS 50.
    System: (200 - 300) / 2000 = -0.05; RES: (100 - 150) / 1000 = -0.05; LGS: (50 - 75) / 500 = -0.05.
    A ratio over a negative system return ranks the worst class first: left empty."""
    path = tmp_path / "study.csv"
    path.write_text("function,classification,cost,allocator,rate_base,return\n"
                    "customer,customer,400.00,customers,2000.00,100.00\n")
    study = load_study(path)
    table = class_table(study, allocate(study, allocators), {"RES": 10000, "SGS": 5000, "LGS": 5000}).set_index("class")
    assert table.loc["TOTAL", "rate_of_return"] == pytest.approx(-0.05)
    assert table.loc["RES", "rate_of_return"] == pytest.approx(-0.05)
    assert table["relative_rate_of_return"].isna().all()



def test_a_requirement_equal_to_the_fixed_charges_sets_energy_to_zero(hand):
    """$20.00: exactly the two customer charges, reached at an energy price of 0."""
    study, base = hand
    sol = solve(study, 20.0, [("HAND", "Energy")], base=base)
    assert sol.x == 0.0 and sol.residual == 0.0 and sol.revenue == 20.0
