"""Reactive power in the bill: kVA demand, $/kVAR, power-factor adjustments, and the refusal without kVARh.

Every expected amount is worked out by hand in the comments (not by the code under test).

The load: 48 hours of January 2024 (UTC), 10 kWh and 10 kVARh each hour, except hour 5 with 20 kWh (the
kW peak: 20 kW, 10 kVAR) and hour 30 with 30 kVARh (the kVAR peak: 10 kW, 30 kVAR).
Period: kWh = 47 × 10 + 20 = 490; kVARh = 47 × 10 + 30 = 500.
"""

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.errors import BillingError, TariffError
from workbench.tariffs import tariff_from_spec

TIMES = pd.date_range("2024-01-10", periods=48, freq="h", tz="UTC")
KWH = np.full(48, 10.0)
KWH[5] = 20.0
KVARH = np.full(48, 10.0)
KVARH[30] = 30.0


def _tariff(*charges, unit="kW", partial="full"):
    return tariff_from_spec({
        "code": "PF", "name": "reactive test", "timezone": "UTC",
        # two days billed as a whole month (partial_periods: full), so the amounts below are the measurement's;
        # test_reactive_charges_of_a_partial_period_are_prorated bills them prorated
        "demand": {"interval_minutes": 60, "unit": unit, "partial_periods": partial},
        "versions": [{"effective": "2020-01-01", "charges": list(charges)}],
    }, "pf.yaml")


DEMAND = {"type": "demand", "rates": 10.0}  # $10/kW


def _lines(tariff, reactive=KVARH):
    (bill,) = bill_series(tariff, TIMES, KWH, reactive_kvarh=reactive)
    assert round(sum(li.amount for li in bill.line_items), 2) == bill.total
    return {li.description: li for li in bill.line_items}, bill


def test_power_factor_demand_multiplier_period_basis():
    # PF = 490 / sqrt(490² + 500²) = 490 / 700.0714 = 0.699929 < 0.90
    # billing demand 20 kW × 0.90 / 0.699929 = 25.71690 kW; × $10 = $257.17
    lines, bill = _lines(_tariff(DEMAND, {"type": "power_factor", "method": "demand_multiplier"}))
    assert lines["Demand"].quantity == pytest.approx(25.71690, abs=1e-4)
    assert lines["Demand"].amount == 257.17
    assert bill.total == 257.17


def test_power_factor_demand_multiplier_peak_basis_and_target():
    # at the kW peak: 20 kW, 10 kVAR: PF = 20 / sqrt(500) = 0.894427 < 0.90
    # target 0.95: 20 × 0.95 / 0.894427 = 21.24265 kW; × $10 = $212.43
    lines, _ = _lines(_tariff(DEMAND, {"type": "power_factor", "method": "demand_multiplier", "basis": "peak",
                                       "target": 0.95}))
    assert lines["Demand"].quantity == pytest.approx(21.24265, abs=1e-4)
    assert lines["Demand"].amount == 212.43


def test_power_factor_above_threshold_leaves_demand():
    # PF at the peak 0.894427 is above a 0.85 threshold: 20 kW × $10 = $200.00, no PF line
    lines, _ = _lines(_tariff(DEMAND, {"type": "power_factor", "method": "demand_multiplier", "basis": "peak",
                                       "threshold": 0.85}))
    assert lines["Demand"].amount == 200.00
    assert len(lines) == 1


def test_kva_demand():
    # kVA of each hour: sqrt(20² + 10²) = 22.3607, sqrt(10² + 30²) = 31.6228, others sqrt(200) = 14.1421
    # max 31.6228 kVA × $10 = $316.23
    lines, bill = _lines(_tariff(DEMAND, unit="kVA"))
    assert lines["Demand"].unit == "kVA"
    assert lines["Demand"].quantity == pytest.approx(31.6228, abs=1e-4)
    assert lines["Demand"].amount == 316.23
    assert bill.peak_kw == 20.0  # the bill's kW peak stays kW


def test_reactive_demand_charge_max_and_at_peak():
    # max kVAR 30 × $0.50 = $15.00; kVAR at the kW peak 10 × $0.50 = $5.00
    lines, _ = _lines(_tariff({"type": "reactive_demand", "rate": 0.5}))
    assert (lines["Reactive demand"].quantity, lines["Reactive demand"].amount) == (30.0, 15.00)
    lines, _ = _lines(_tariff({"type": "reactive_demand", "rate": 0.5, "measure": "at_peak"}))
    assert (lines["Reactive demand"].quantity, lines["Reactive demand"].amount) == (10.0, 5.00)


def test_reactive_charges_of_a_partial_period_are_prorated():
    # 10-11 January: 2 of January's 31 days pay 2/31 of a month's demand charges (docs/tariff-format.md)
    # reactive demand: max 30 kVAR × $0.50 = $15.00 a month; × 2/31 = 0.9677 -> $0.97 (quantity 30 × 2/31)
    lines, _ = _lines(_tariff({"type": "reactive_demand", "rate": 0.5}, partial="prorate"))
    (line,) = lines.values()
    assert line.description == "Reactive demand (prorated 2/31 days)"
    assert line.quantity == pytest.approx(30 * 2 / 31, abs=1e-6) and line.amount == 0.97
    # excess kVAR, period basis: 10.72172 kVAR × $1 × 2/31 = 0.6917 -> $0.69
    lines, _ = _lines(_tariff({"type": "power_factor", "method": "excess_kvar", "rate": 1.0}, partial="prorate"))
    (line,) = lines.values()
    assert line.amount == 0.69
    # kVA demand: 31.6228 kVA × $10 × 2/31 = 20.4018 -> $20.40
    lines, _ = _lines(_tariff(DEMAND, unit="kVA", partial="prorate"))
    assert lines["Demand (prorated 2/31 days)"].amount == 20.40


def test_excess_kvar_charge():
    # allowed at PF 0.90: kW × tan(acos 0.9) = kW × sqrt(0.19) / 0.9 = kW × 0.484322
    # peak basis: 10 − 20 × 0.484322 = 0.31356 kVAR × $1 = $0.31
    # period basis: kVAR = 20 × 500 / 490 = 20.40816; 20.40816 − 9.68644 = 10.72172 kVAR × $1 = $10.72
    peak, _ = _lines(_tariff({"type": "power_factor", "method": "excess_kvar", "rate": 1.0, "basis": "peak"}))
    (line,) = peak.values()
    assert line.quantity == pytest.approx(0.31356, abs=1e-5) and line.amount == 0.31
    period, _ = _lines(_tariff({"type": "power_factor", "method": "excess_kvar", "rate": 1.0}))
    (line,) = period.values()
    assert line.quantity == pytest.approx(10.72172, abs=1e-5) and line.amount == 10.72


def test_meter_without_reactive_is_refused_never_billed_at_pf_1():
    tariff = _tariff(DEMAND, {"type": "power_factor", "method": "demand_multiplier"})
    with pytest.raises(BillingError, match="reactive channel .kVARh reads.; the meter has none"):
        bill_series(tariff, TIMES, KWH)
    with pytest.raises(BillingError, match="demand in kVA"):
        bill_series(_tariff(DEMAND, unit="kVA"), TIMES, KWH)


def test_missing_kvarh_interval_refused_with_period():
    gappy = KVARH.copy()
    gappy[7] = np.nan
    with pytest.raises(BillingError, match="misses 1 interval.s. in the bill period 2024-01-10"):
        bill_series(_tariff({"type": "reactive_demand", "rate": 0.5}), TIMES, KWH, reactive_kvarh=gappy)


def test_tariff_without_reactive_charges_ignores_and_needs_no_kvarh():
    # no reactive charge: 20 kW × $10 with or without kVARh
    tariff = _tariff(DEMAND)
    assert not tariff.needs_reactive
    assert bill_series(tariff, TIMES, KWH)[0].total == 200.00


def test_excess_kvar_needs_a_rate():
    with pytest.raises(TariffError, match="positive 'rate'"):
        _tariff({"type": "power_factor", "method": "excess_kvar"})
