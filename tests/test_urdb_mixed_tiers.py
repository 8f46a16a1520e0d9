"""URDB tiers whose limits mix units, read tier by tier: bills worked out by hand.

The silently-wrong case of issue 15: a period whose tiers are 350 kWh, then 530 and 685 kWh/kW (APS E-36)
used to be billed as if every limit were kWh (the first tier's unit), putting July's 11,722 kWh in the
cheapest tier. Each limit now keeps its unit: at 49.75 kW the blocks end at 350, 26,367.5 and 34,078.75 kWh.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.errors import BillingError, TariffError
from workbench.tariffs import load_tariff, tariff_from_spec

PHOENIX = "America/Phoenix"  # no DST: every hour of July is one interval


def urdb(structure, **extra):
    return {"label": "mixed", "name": "Mixed-unit tiers", "sector": "Commercial",
            "energyratestructure": structure,
            "energyweekdayschedule": [[0] * 24] * 12, "energyweekendschedule": [[0] * 24] * 12, **extra}


def july(peak_kw, total_kwh):
    """Hourly July 2025: one hour at the peak, the rest sharing the remaining kWh equally."""
    idx = pd.date_range("2025-07-01", "2025-08-01", freq="h", tz=PHOENIX, inclusive="left")
    assert len(idx) == 744
    kwh = np.full(len(idx), (total_kwh - peak_kw) / (len(idx) - 1))
    kwh[100] = peak_kw
    return idx, kwh


def energy(bill):
    return [li.amount for li in bill.line_items if li.category == "energy"]


APS_E36 = [[{"max": 350, "unit": "kWh", "rate": 0.10}, {"max": 530, "unit": "kWh/kW", "rate": 0.08},
            {"max": 685, "unit": "kWh/kW", "rate": 0.06}, {"rate": 0.05}]]


def test_aps_e36_like_tiers_bill_each_limit_in_its_own_unit():
    t = load_tariff(urdb(APS_E36))
    (bill,) = bill_series(t, *july(49.75, 11_722.0))
    assert bill.peak_kw == pytest.approx(49.75)
    # limits: 350 kWh; 530 × 49.75 = 26,367.5 kWh; 685 × 49.75 = 34,078.75 kWh
    # 11,722 kWh: 350 × 0.10 = 35.00; 11,372 × 0.08 = 909.76; nothing in blocks 3 and 4
    assert energy(bill) == [35.00, 909.76]  # empty blocks print no line
    assert bill.total == 944.76
    # read as one unit (all kWh: 350, 530, 685), the bill was 35.00 + 14.40 + 9.30 + 551.85 = 610.55


def test_kwh_per_kw_then_kwh_bills_when_the_limits_increase_on_the_bill():
    structure = [[{"max": 50, "unit": "kWh/kW", "rate": 0.12}, {"max": 3000, "unit": "kWh", "rate": 0.09},
                  {"rate": 0.07}]]
    t = load_tariff(urdb(structure))
    (bill,) = bill_series(t, *july(40.0, 5_000.0))
    # limits: 50 × 40 = 2,000 kWh, then 3,000 kWh (not 3,000 kWh/kW = 120,000 kWh)
    # 2,000 × 0.12 = 240.00; 1,000 × 0.09 = 90.00; 2,000 × 0.07 = 140.00
    assert energy(bill) == [240.00, 90.00, 140.00]
    assert bill.total == 470.00


def test_limits_that_cross_on_a_bill_are_refused_naming_both():
    structure = [[{"max": 50, "unit": "kWh/kW", "rate": 0.12}, {"max": 3000, "unit": "kWh", "rate": 0.09},
                  {"rate": 0.07}]]
    t = load_tariff(urdb(structure))
    # 100 kW: block 1 ends at 5,000 kWh, block 2 at 3,000 kWh; 6,000 kWh pass both
    with pytest.raises(BillingError) as err:
        bill_series(t, *july(100.0, 6_000.0))
    text = str(err.value)
    assert "block 2 ends at 3,000.0 kWh" in text
    assert "block 1 already ends at 50 kWh/kW = 5,000.0 kWh (billing demand 100.00 kW)" in text
    assert "2025-07-01" in text
    # the same bill below both limits is unambiguous: all 2,500 kWh in block 1 at 0.12 = 300.00
    (bill,) = bill_series(t, *july(100.0, 2_500.0))
    assert energy(bill) == [300.00]


def test_kwh_in_summer_and_kwh_daily_in_winter():
    structure = [[{"max": 1000, "unit": "kWh", "rate": 0.10}, {"rate": 0.15}],
                 [{"max": 20, "unit": "kWh daily", "rate": 0.09}, {"rate": 0.11}]]
    schedule = [[1] * 24] * 6 + [[0] * 24] * 3 + [[1] * 24] * 3  # Jul-Sep summer (period 0)
    t = load_tariff(urdb(structure, energyweekdayschedule=schedule, energyweekendschedule=schedule))
    (jul,) = bill_series(t, *july(10.0, 1_500.0))
    # July, kWh: 1,000 × 0.10 = 100.00; 500 × 0.15 = 75.00
    assert energy(jul) == [100.00, 75.00]
    idx = pd.date_range("2025-04-01", "2025-05-01", freq="h", tz=PHOENIX, inclusive="left")
    (apr,) = bill_series(t, idx, np.full(len(idx), 1.0))  # 720 kWh
    # April, kWh daily: 20 × 30 days = 600 kWh: 600 × 0.09 = 54.00; 120 × 0.11 = 13.20
    assert energy(apr) == [54.00, 13.20]


def test_a_tier_without_max_before_the_last_is_open_ended_with_a_warning(caplog):
    structure = [[{"max": 500, "rate": 0.10}, {"rate": 0.12}, {"max": 2000, "rate": 0.5}, {"rate": 0.9}]]
    t = load_tariff(urdb(structure))
    assert "energyratestructure[0][1].max' is missing" in caplog.text
    (bill,) = bill_series(t, *july(10.0, 3_000.0))
    # 500 × 0.10 = 50.00; 2,500 × 0.12 = 300.00 (the tiers after the open-ended one are never reached)
    assert energy(bill) == [50.00, 300.00]


def test_yaml_units_per_limit_and_their_check():
    charge = {"type": "energy", "blocks": {"units": ["kWh", "kWh/kW"], "limits": [3000, 200],
                                           "rates": [0.10, 0.08, 0.06]}}
    spec = {"code": "M", "name": "m", "timezone": PHOENIX, "demand": {"interval_minutes": 60},
            "versions": [{"effective": "2024-01-01", "charges": [charge]}]}
    t = tariff_from_spec(spec)  # 3000 kWh then 200 kWh/kW: not comparable until a bill's demand is known
    (bill,) = bill_series(t, *july(40.0, 10_000.0))
    # limits 3,000 kWh and 200 × 40 = 8,000 kWh: 3,000 × 0.10 = 300.00; 5,000 × 0.08 = 400.00; 2,000 × 0.06 = 120.00
    assert energy(bill) == [300.00, 400.00, 120.00]
    bad = {**charge, "blocks": {**charge["blocks"], "units": ["kWh/kW", "kWh/kW"], "limits": [300, 200]}}
    with pytest.raises(TariffError, match="strictly increasing"):
        tariff_from_spec({**spec, "versions": [{"effective": "2024-01-01", "charges": [bad]}]})
    short = {**charge, "blocks": {**charge["blocks"], "units": ["kWh"]}}
    with pytest.raises(TariffError, match="1 units for 2 block limits"):
        tariff_from_spec({**spec, "versions": [{"effective": "2024-01-01", "charges": [short]}]})
