"""Re-pricing with the charge memo gives the engine's own bills, and the rate-design dashboard's store agrees
with a cold pricing of the same proposal (slow: a 40-meter sample utility and its test-year determinants)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.app.rates_store import RatesStore, price_fields
from workbench.design.proposal import Proposal
from workbench.design.scenarios import Study
from workbench.design.testyear import build_test_year
from workbench.engine.pricing import price
from workbench.engine.pricing_memo import ChargeMemo, rider_rates
from workbench.errors import WorkbenchError
from workbench.sample import generate_sample_utility

REPO = Path(__file__).resolve().parents[1]


def test_rider_rates_by_month():
    """The monthly rider's array lookup: month 1-12 in order; a month the tariff omits is NaN (as the
    dict.get lookup it replaces gave None -> NaN)."""
    table = rider_rates({1: 0.004, 12: 0.002, 6: 0.0055})
    assert table[0] == 0.004 and table[5] == 0.0055 and table[11] == 0.002
    assert np.isnan(table[1:5]).all()


@pytest.fixture(scope="module")
def determinants(tmp_path_factory):
    root = tmp_path_factory.mktemp("repricing")
    generate_sample_utility(root / "cube.zarr", n_meters=40, year=2025, meter_chunk=40, progress=False)
    build_test_year(root / "cube.zarr", REPO / "tariffs", 2025, root / "ty", progress=False)
    return root / "ty"


def _edits():
    base = Proposal.from_book(REPO / "tariffs")
    yield "present", base
    yield "energy x1.07", base.scale("RES-TOU", "Energy", 1.07).scale("RES-FLAT", "Energy", 1.07)
    yield "customer charge", base.set_customer_charge("RES-TIER", 19.5).set_customer_charge("GS-TOU-DEMAND", 40.0)
    yield "a new block", base.add_block("RES-TIER", "Energy", 55.0, 0.25)
    yield "demand", (base.scale("GS-TOU-DEMAND", "Facility demand", 0.8).scale("LGS-TOU", "Facility demand", 1.3)
                     .scale("LGS-TOU", "On-peak demand", 1.1))
    yield "present again", base


@pytest.mark.slow
def test_memo_gives_the_engines_line_items(determinants):
    """A sequence of edits priced through one memo = each edit priced cold, line for line, bit for bit.
    Catches: a memo key of the charge's kind and description only (a stale energy line after a price change;
    checked: that key fails here)."""
    study = Study(determinants)
    memos = {code: ChargeMemo() for code in study.rate_codes}
    for label, proposal in _edits():
        book = proposal.compile()
        for code, rcd in study.data.items():
            cold = price(book[code], rcd.det, rcd.periods)
            warm = price(book[code], rcd.det, rcd.periods, memo=memos[code])
            assert warm.description == cold.description, (label, code)
            for a, b in zip(warm.amount, cold.amount, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=f"{label} {code}")
            for a, b in zip(warm.quantity, cold.quantity, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=f"{label} {code}")
    assert sum(m.hits for m in memos.values()) > 0  # the memo was used, not bypassed


@pytest.mark.slow
def test_study_cache_equals_a_cold_study(determinants):
    """Study.price after several scenarios (cached lines and rate codes) = a fresh Study's price, to the cent."""
    warm = Study(determinants)
    for label, proposal in _edits():
        book = proposal.compile()
        got = warm.price(book, label)
        cold = Study(determinants).price(book, label)
        assert got.total_cents() == cold.total_cents(), label
        assert got.customers()["annual_bill"].tolist() == cold.customers()["annual_bill"].tolist(), label
        assert got.components().equals(cold.components()), label


@pytest.mark.slow
def test_dashboard_store_reprices_like_the_proposal_api(determinants, tmp_path):
    """An edit in the store moves the class's revenue by exactly what a cold pricing of the same proposal
    says; saving writes a new YAML file only (an existing one needs 'replace')."""
    store = RatesStore(determinants, customer_class="RES", rate_code="RES-TOU")
    before = store.revenue["proposed"]
    assert before == store.revenue["present"] == store.requirement
    field = next(f for f in store.fields if f.where == ("summer", "on_peak", 0))
    assert field.value == 0.2650  # the present RES-TOU summer on-peak first-block price (tariffs/RES-TOU.yaml)
    store.set_price(field.component, field.where, 0.30)
    proposal = Proposal.from_book(REPO / "tariffs").set_price("RES-TOU", "Energy", 0.30, where=("summer", "on_peak", 0))
    cold = Study(determinants, classes=["RES"]).price(proposal.compile(), "cold")
    assert round(store.revenue["proposed"] * 100) == cold.total_cents()
    assert store.revenue["proposed"] > before
    assert store.customers["change"].min() >= 0 and store.customers["change"].max() > 0
    assert [f.value for f in price_fields(store.proposal, "RES-TOU") if f.where == field.where] == [0.30]
    # requirement: the residual follows it
    store.requirement = before
    assert store.revenue["residual"] == round(store.revenue["proposed"] - before, 2)
    # save: a new file; an existing one only with replace
    out = tmp_path / "RES-TOU.yaml"
    store.save(out)
    assert "0.3" in out.read_text() and out.read_text().startswith("# RES-TOU")
    with pytest.raises(WorkbenchError, match="exists"):
        store.save(out)
    store.save(out, replace=True)
    store.reset()
    assert store.revenue["proposed"] == before
