"""The net-metering credit bank on a customer's bill: brought forward + earned - applied - settled = carried.

A bill showed the credit applied ($36.63) but not the balance it came from; the settlement now carries the
balance brought in beside the one carried out (``bills.parquet``), the document prints both and refuses a
bank that does not add up. Expected amounts are worked out by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from tests.test_documents import make_doc
from tests.test_nem import FLAT, TOU, _program_file
from workbench.billing import bill_series
from workbench.billing.cycle import run_cycle
from workbench.documents import documents_from_cycle_output, render_bill_html
from workbench.documents.model import NemCredits
from workbench.sample import generate_sample_utility
from workbench.tariffs import tariff_from_spec

# $50.00 brought in + $12.34 earned - $36.63 applied = $25.71 carried
DOLLARS = dict(program="NEM2", received_kwh=123.4, credit_brought_cents=5000, credit_earned_cents=1234,
               credit_applied_cents=3663, balance_carried_cents=2571)
# 120 kWh banked before + 30.5 kWh surplus - 100.25 kWh used = 50.25 kWh carried
KWH = dict(program="NM", received_kwh=30.5, kwh_brought=120.0, kwh_banked=30.5, kwh_used=100.25, kwh_carried=50.25)


def test_a_credit_bank_that_adds_up_is_accepted_and_printed():
    doc = make_doc(nem_credits=DOLLARS)
    assert doc.nem_credits.credit_brought_cents == 5000
    html = render_bill_html(doc)
    text = " ".join(html.split())
    assert "Credit brought forward from your last bill</th><td>$50.00" in text
    assert "+ Credit earned this period</th><td>$12.34" in text
    assert "Credit applied to this bill</th><td>$36.63" in text
    assert "= Credit balance carried forward to your next bill</th><td>$25.71" in text
    assert "Banked kWh" not in text  # a dollar-credit program prints no kWh bank
    kwh = " ".join(render_bill_html(make_doc(nem_credits=KWH)).split())
    assert "Banked kWh brought forward from your last bill</th><td>120" in kwh
    assert "= Banked kWh carried forward to your next bill</th><td>50.25" in kwh


@pytest.mark.parametrize("change, message", [
    ({"balance_carried_cents": 2572}, r"brought forward 5000 \+ earned 1234 - applied 3663 - settled at true-up 0 "
                                      r"= 2571 cents, but the balance carried forward is 2572"),
    ({"credit_brought_cents": 0}, r"brought forward 0 .* = -2429 cents, but the balance carried forward is 2571"),  # the old bill
])
def test_a_credit_bank_that_does_not_add_up_is_refused(change, message):
    with pytest.raises(ValidationError, match=r"bill B-2025-0001 \(account A1234567\): net-metering credit " + message):
        make_doc(nem_credits=DOLLARS | change)


def test_a_kwh_bank_that_does_not_add_up_is_refused():
    with pytest.raises(ValidationError, match=r"= 50.250 kWh, but 50.3 kWh are carried forward"):
        make_doc(nem_credits=KWH | {"kwh_carried": 50.3})
    # a true-up clears the bank: 120 + 30.5 - 100.25 - 50.25 settled = 0 carried
    assert NemCredits(**KWH | {"kwh_settled": 50.25, "kwh_carried": 0.0, "true_up": True}).bank_error() == ""


def test_settlement_brings_each_bill_the_last_bills_balance(tmp_path):
    # dollar credits, forfeit at a February true-up: January exports 300 kWh at the 0.10 off-peak rate = $30.00
    program = {"code": "NEM2", "name": "NEM 2.0", "kind": "net_metering", "credits": "dollars",
               "true_up": {"month": 2, "surplus_rate": 0.04, "leftover": "forfeit"}}
    idx = pd.date_range("2025-01-01", "2025-03-01", freq="h", tz="UTC", inclusive="left")
    d, r = np.zeros(len(idx)), np.zeros(len(idx))
    r[12] = 300
    d[24 * 31 + 17] = 50  # February: 50 kWh on-peak x 0.30 = $15.00 of energy to offset
    jan, feb = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program))
    assert (jan.credit_brought, jan.credit_earned, jan.credit_carried) == (0, 30.00, 30.00)
    # February: $30.00 brought + $0 earned - $15.00 applied - $15.00 forfeited at the true-up = $0 carried
    assert (feb.credit_brought, feb.credit_applied, feb.credit_settled, feb.credit_carried) == (30.00, 15.00, 15.00, 0)
    # kWh netting: January banks 150 kWh, February brings them in and uses them on its 200 kWh
    program = {"code": "NM", "name": "monthly netting", "kind": "net_metering", "credits": "kwh",
               "true_up": {"month": 12, "kwh_rate": 0.05}}
    idx = pd.date_range("2025-01-01", "2025-03-01", freq="h", tz="UTC", inclusive="left")
    d, r = np.zeros(len(idx)), np.zeros(len(idx))
    r[12] = 150
    d[24 * 31] = 200
    jan, feb = bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, program))
    assert (jan.kwh_brought, jan.kwh_banked, jan.kwh_used, jan.kwh_carried) == (0, 150, 0, 150)
    assert (feb.kwh_brought, feb.kwh_banked, feb.kwh_used, feb.kwh_carried) == (150, 0, 150, 0)


@pytest.mark.slow
def test_a_cycle_bill_shows_the_last_bills_carried_credit_as_brought_forward(tmp_path):
    """40 sample meters, April to June, through the cycle to documents: a NEM meter's next bill brings in what
    its bill before carried out, and every NEM document's bank adds up (the model would refuse it)."""
    cube = tmp_path / "cube.zarr"
    generate_sample_utility(cube, n_meters=40, year=2025, seed=11, meter_chunk=40, progress=False, months=(4, 6))
    run_cycle(cube, "tariffs", tmp_path / "cycle", progress=False)
    docs = [d for d in documents_from_cycle_output(tmp_path / "cycle") if d.nem_credits]
    assert docs, "the sample has a net-metered meter"
    by_meter: dict[str, list] = {}
    for doc in sorted(docs, key=lambda d: (d.meter_number, d.period_start)):
        by_meter.setdefault(doc.meter_number, []).append(doc)
    pairs = [(a, b) for bills in by_meter.values() for a, b in zip(bills[:-1], bills[1:], strict=True)
             if a.period_end == b.period_start]
    assert pairs
    for before, after in pairs:
        assert after.nem_credits.credit_brought_cents == before.nem_credits.balance_carried_cents
    shown = [(a, b) for a, b in pairs if a.nem_credits.balance_carried_cents > 0]
    assert shown, "some NEM bill carries a credit into the next"
    before, after = shown[0]
    carried = f"${before.nem_credits.balance_carried_cents / 100:,.2f}"
    assert f"= Credit balance carried forward to your next bill</th><td>{carried}" in " ".join(
        render_bill_html(before).split())
    assert f"Credit brought forward from your last bill</th><td>{carried}" in " ".join(
        render_bill_html(after).split())
