"""PySAM agreement for URDB ``demandratchetpercentage`` where PySAM can express it: a uniform percentage.

PySAM's URDB converter ignores ``demandratchetpercentage`` (a v7 field SAM never read), so the reference
states the ratchet in SAM's own inputs: ``ur_billing_demand_lookback_percentages`` = [35 %, use the current
month's peak] in every month, an 11-month lookback. SAM indexes those percentages by the month looked back
at; with the same percentage in every month that is the same as the workbench's reading by the bill month.
The item is the real Wallingford CT primary-service tariff (tests/data/urdb/real), less its $/kVAR charge
(PySAM has no reactive power) and its effective dates (to bill 2018, PySAM's year).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.tariffs import load_tariff

from .pysam_reference import pysam_monthly_components

pytestmark = pytest.mark.oracle

ITEM = Path(__file__).parents[1] / "data" / "urdb" / "real" / "wallingford_ct_primary_northford_2013.json"
# Monthly peaks [kW]: a winter peak of 900 kW; 35 % of it (315 kW) binds where later months stay below.
PEAKS = [900, 850, 700, 600, 250, 200, 300, 280, 220, 200, 500, 450]


def load_2018():
    idx = pd.date_range("2018-01-01", "2019-01-01", freq="h", tz="Etc/GMT+5", inclusive="left")
    kwh = np.where((idx.hour >= 8) & (idx.hour < 18) & (idx.day_of_week < 5), 120.0, 60.0)
    for m, peak in enumerate(PEAKS):
        kwh[np.flatnonzero(idx.month == m + 1)[14 * 24 + 14]] = peak
    return idx, kwh


def test_wallingford_uniform_monthly_ratchet_agrees_with_pysam():
    item = json.loads(ITEM.read_text())
    for field in ("demandreactivepowercharge", "startdate", "enddate"):
        item.pop(field)
    idx, kwh = load_2018()
    ours = bill_series(load_tariff(item), idx, kwh)
    ref = pysam_monthly_components(item, kwh, None, 1, overrides={
        "ur_enable_billing_demand": 1,
        "ur_billing_demand_lookback_percentages": [[35.0, 1.0]] * 12,
        "ur_billing_demand_lookback_period": 11,
        "ur_billing_demand_minimum": 0,
        "ur_dc_billing_demand_periods": [[1, 1]],
        "ur_monthly_fixed_charge": 275.0,  # the converter reads fixedchargefirstmeter, not v7's fixedmonthlycharge
    })
    # the ratchet binds May, Jun, Sep, Oct (35 % × 900 = 315 kW above their peaks), not the other months
    np.testing.assert_allclose(ref["billing_demand_kw"], [max(p, 315.0) for p in PEAKS])
    demand = [sum(li.amount for li in b.line_items if li.category == "demand") for b in ours]
    np.testing.assert_allclose(demand, ref["dc_fixed"], atol=0.005)
    np.testing.assert_allclose([b.total for b in ours], ref["bill"], atol=0.01)
