"""The NEM 2.0 vs NEM 3.0 impact study: numbers checked by hand and against ``bill_series`` on the same data.

A tiny utility: three residential customers on RES-TOU for 2025 at 15 minutes (the sample utility's time
axis): two without solar (a small and a large load) that get modelled PV, and one existing solar customer
whose metered channels are kept.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.design.nem_study import (
    TARIFF_BOOK,
    StudyData,
    StudyError,
    add_pv,
    export_value_series,
    pv_kwh_per_kw,
    scale_energy_rates,
    simple_payback,
    summarize,
)
from workbench.nem import load_program
from workbench.sample import utility_time_axis
from workbench.tariffs import load_tariff

TZ = "America/New_York"
SIZES = (0.0, 3.0, 5.0)


@pytest.fixture(scope="module")
def tiny():
    utc = utility_time_axis(2025).astype("datetime64[m]")
    idx = pd.DatetimeIndex(utc).tz_localize("UTC")
    hour = idx.tz_convert(TZ).hour.to_numpy()
    evening = (hour >= 17) & (hour < 22)
    base = np.where(evening, 0.6, 0.2)  # kWh per 15 minutes
    small = (0.5 * base).astype(np.float32)
    large = (1.5 * base).astype(np.float32)
    pv = pv_kwh_per_kw(utc, 15)
    solar_d, solar_r = add_pv(base.astype(np.float32), (4.0 * pv).astype(np.float32))
    delivered = np.stack([small, large, solar_d])
    received = np.stack([np.zeros_like(small), np.zeros_like(small), solar_r])
    study = StudyData.from_arrays(utc, 15, delivered, received, ["RES"] * 3, timezone=TZ, sizes=SIZES,
                                  meter=["SMALL", "LARGE", "SOLAR"])
    return {"utc": utc, "idx": idx, "pv": pv, "delivered": delivered, "received": received, "study": study,
            "tariff": load_tariff(TARIFF_BOOK / "RES-TOU.yaml")}


def annual(bills):
    return round(sum(b.total for b in bills), 2)


def test_pv_model_is_pvlib_on_real_tmy_weather():
    utc = utility_time_axis(2025)
    pv = pv_kwh_per_kw(utc, 15)
    assert pv.shape == (35040,) and (pv >= 0).all()
    # Greensboro NC: PVWatts gives about 1,300-1,400 kWh AC per kW DC a year for a south-facing 25° roof
    assert 1150 < pv.sum() < 1500
    # nothing at local midnight, most around solar noon (17:00 UTC in EST)
    idx = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(TZ)
    assert pv[idx.hour == 0].max() == 0
    by_hour = pd.Series(pv).groupby(idx.hour).sum()
    assert by_hour.idxmax() in (12, 13)
    # at most the inverter's AC rating (1 / 1.15 kW) × 0.25 h per interval
    assert pv.max() <= 0.25 / 1.15 + 1e-9


def test_add_pv_splits_the_net_flow_into_the_two_channels():
    load = np.array([1.0, 2.0, 0.5, 0.0])
    pv = np.array([0.5, 3.0, 0.5, 0.25])
    delivered, received = add_pv(load, pv)
    np.testing.assert_allclose(delivered, [0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(received, [0.0, 1.0, 0.0, 0.25])


def test_bills_match_bill_series_on_the_same_data(tiny):
    """No solar, NEM 2.0 and NEM 3.0 (2025 vintage, PTO 1 January: the ACC Plus adder all year) to the cent."""
    study, idx, tariff = tiny["study"], tiny["idx"], tiny["tariff"]
    case = study.price_case("RES", 5.0, 2025, cost_per_watt=3.00).set_index("meter")
    nem2 = load_program(TARIFF_BOOK / "programs" / "NEM2.yaml")
    nbt = load_program(TARIFF_BOOK / "programs" / "NBT.yaml")
    for i, meter in enumerate(["SMALL", "LARGE"]):
        load = tiny["delivered"][i].astype(float)
        d, r = add_pv(load, 5.0 * tiny["pv"])
        assert case.loc[meter, "bill_no_solar"] == pytest.approx(annual(bill_series(tariff, idx, load)), abs=1e-6)
        assert case.loc[meter, "bill_nem2"] == pytest.approx(
            annual(bill_series(tariff, idx, d, r, program=nem2, pto_date="2025-01-01")), abs=1e-6)
        assert case.loc[meter, "bill_nem3"] == pytest.approx(
            annual(bill_series(tariff, idx, d, r, program=nbt, pto_date="2025-01-01")), abs=1e-6)
        # export share = received / PV generation (the study's channels are float32, as in the cube)
        assert case.loc[meter, "received_kwh"] == pytest.approx(r.sum(), rel=1e-6)
        assert case.loc[meter, "pv_kwh"] == pytest.approx(5.0 * tiny["pv"].sum(), rel=1e-9)
        assert case.loc[meter, "export_share"] == pytest.approx(r.sum() / (5.0 * tiny["pv"].sum()), rel=1e-6)
    # the existing solar customer is billed on its metered channels; no gross load, so no "without solar"
    d, r = tiny["delivered"][2].astype(float), tiny["received"][2].astype(float)
    assert case.loc["SOLAR", "existing_solar"]
    assert case.loc["SOLAR", "bill_nem2"] == pytest.approx(
        annual(bill_series(tariff, idx, d, r, program=nem2, pto_date="2025-01-01")), abs=1e-6)
    assert np.isnan(case.loc["SOLAR", ["bill_no_solar", "savings_nem2", "cost_shift_nem3", "pv_kwh"]].astype(float)).all()


def test_savings_payback_export_share_and_cost_shift_by_definition(tiny):
    study = tiny["study"]
    case = study.price_case("RES", 3.0, 2022, cost_per_watt=2.50)
    modelled = case[~case["existing_solar"]]
    for n in ("2", "3"):
        np.testing.assert_allclose(modelled[f"savings_nem{n}"], modelled["bill_no_solar"] - modelled[f"bill_nem{n}"])
        # a 3 kW system at $2.50/W costs $7,500; payback = cost / annual savings
        assert (modelled["system_cost"] == 7500.0).all()
        np.testing.assert_allclose(modelled[f"payback_nem{n}"], 7500.0 / modelled[f"savings_nem{n}"])
        # cost shift = savings (revenue the utility loses) - the avoided cost of all the PV generation
        np.testing.assert_allclose(modelled[f"cost_shift_nem{n}"], modelled[f"savings_nem{n}"] - modelled["avoided_cost"])
    assert ((modelled["export_share"] > 0) & (modelled["export_share"] <= 1)).all()
    # the larger load uses more of its PV on site
    share = modelled.set_index("meter")["export_share"]
    assert share["LARGE"] < share["SMALL"]
    # avoided cost: every generated kWh at the 2022 export value of its hour, without the first-year adder
    nbt = load_program(TARIFF_BOOK / "programs" / "NBT.yaml")
    scanned = study.classes["RES"]
    from workbench.engine.determinants import schedule_arrays

    local = schedule_arrays(tiny["tariff"], tiny["utc"], 15).local
    acc = export_value_series(nbt, 2022, tiny["utc"], local, 15, adders=False)
    assert modelled["avoided_cost"].iloc[0] == pytest.approx(3.0 * float(tiny["pv"] @ acc), rel=1e-9)
    assert scanned.periods.bounds.shape == (3, 13)  # 12 calendar-month bills


def test_simple_payback_by_hand():
    np.testing.assert_allclose(simple_payback([15000.0, 15000.0, 15000.0], [1000.0, 0.0, -5.0]), [15.0, np.inf, np.inf])
    assert np.isnan(simple_payback([np.nan], [100.0])).all()


def test_repricing_equals_a_fresh_full_computation(tiny):
    """The cached grid priced at (5 kW, 2022, energy × 1.2, no adder) equals a fresh scan at that size only,
    and equals bill_series with the scaled tariff and the 2022 vintage (PTO 2023: the adder expired)."""
    study = tiny["study"]
    cached = study.price_case("RES", 5.0, 2022, rate_multiplier=1.2, first_year_adder=False)
    fresh = StudyData.from_arrays(tiny["utc"], 15, tiny["delivered"], tiny["received"], ["RES"] * 3, timezone=TZ,
                                  sizes=(5.0,), vintages=(2022,), meter=["SMALL", "LARGE", "SOLAR"])
    pd.testing.assert_frame_equal(cached, fresh.price_case("RES", 5.0, 2022, rate_multiplier=1.2, first_year_adder=False))
    scaled = scale_energy_rates(tiny["tariff"], 1.2)
    nbt = load_program(TARIFF_BOOK / "programs" / "NBT.yaml")
    d, r = add_pv(tiny["delivered"][1].astype(float), 5.0 * tiny["pv"])
    bills = bill_series(scaled, tiny["idx"], d, r, program=nbt, pto_date="2023-06-01", true_up_month=12)
    assert cached.set_index("meter").loc["LARGE", "bill_nem3"] == pytest.approx(annual(bills), abs=1e-6)


def test_rate_multiplier_scales_the_energy_lines_only(tiny):
    study = tiny["study"]
    base = study.price_case("RES", 5.0, 2025).set_index("meter")
    up = study.price_case("RES", 5.0, 2025, rate_multiplier=1.5).set_index("meter")
    tariff = tiny["tariff"]
    scaled = scale_energy_rates(tariff, 1.5)
    energy = [c for c in tariff.versions[0].charges if c.kind == "energy_blocks"][0]
    energy_scaled = [c for c in scaled.versions[0].charges if c.kind == "energy_blocks"][0]
    np.testing.assert_allclose(energy_scaled.rates, 1.5 * energy.rates)
    assert energy.rates is not energy_scaled.rates  # the cached tariff is untouched
    assert (up.loc[["SMALL", "LARGE"], "bill_no_solar"] > base.loc[["SMALL", "LARGE"], "bill_no_solar"]).all()


def test_summary_and_size_sweep(tiny):
    study = tiny["study"]
    summary = summarize(study.price_case("RES", 5.0, 2025))
    assert list(summary.index) == ["modelled PV", "existing solar"]
    assert summary.loc["modelled PV", "customers"] == 2 and summary.loc["existing solar", "customers"] == 1
    sweep = study.size_sweep("RES", 2025)
    assert list(sweep["size_kw"]) == [3.0, 5.0]
    # bigger systems save more under both programs
    assert (np.diff(sweep["mean_savings_nem2"]) > 0).all() and (np.diff(sweep["mean_savings_nem3"]) > 0).all()


def test_sizes_off_the_grid_and_unknown_classes_are_clear_errors(tiny):
    with pytest.raises(StudyError, match=r"4.0 kW is not on the scanned grid \[0.0, 3.0, 5.0\]"):
        tiny["study"].price_case("RES", 4.0, 2025)
    with pytest.raises(StudyError, match="customer class 'LGS' was not scanned"):
        tiny["study"].price_case("LGS", 5.0, 2025)
    with pytest.raises(StudyError, match="vintage 2019"):
        tiny["study"].price_case("RES", 5.0, 2019)


@pytest.mark.slow
def test_repricing_time_for_2000_customers(capsys):
    """Scan 2,000 synthetic customers once; time re-pricing per widget change (printed, not asserted)."""
    utc = utility_time_axis(2025).astype("datetime64[m]")
    rng = np.random.default_rng(7)
    hour = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(TZ).hour.to_numpy()
    shape = np.where((hour >= 17) & (hour < 22), 0.6, 0.2).astype(np.float32)
    n = 2000
    delivered = shape[None, :] * rng.lognormal(0, 0.4, (n, 1)).astype(np.float32)
    started = time.perf_counter()
    study = StudyData.from_arrays(utc, 15, delivered, None, ["RES"] * n, timezone=TZ)
    built = time.perf_counter() - started
    changes = [dict(size_kw=5.0), dict(size_kw=7.0), dict(size_kw=7.0, vintage=2022),
               dict(size_kw=7.0, vintage=2022, rate_multiplier=1.1), dict(size_kw=3.0, rate_multiplier=0.9)]
    times = []
    for change in changes:
        t0 = time.perf_counter()
        case = study.price_case("RES", **change)
        summarize(case)
        times.append(time.perf_counter() - t0)
    with capsys.disabled():
        print(f"\nNEM study, {n} customers: scan once {built:.1f} s ({len(study.sizes)} sizes x {len(study.vintages)} "
              f"vintages); re-pricing per change: " + ", ".join(f"{t * 1000:.0f} ms" for t in times))
    assert len(case) == n


def test_summary_money_is_in_cents_and_paybacks_in_tenths(tiny):
    """The headline table shows dollars to the cent (it showed 4 places of a dollar). Bug it catches: the
    table rounded to 4 places again (``round(4)``), so a mean bill of 1/3 cent shows 0.0033."""
    case = tiny["study"].price_case("RES", 5.0, 2025)
    summary = summarize(case)
    modelled = case[~case["existing_solar"]]
    for column, source in (("mean_bill_nem2", "bill_nem2"), ("mean_savings_nem3", "savings_nem3"),
                           ("total_cost_shift_nem2", "cost_shift_nem2")):
        value = summary.loc["modelled PV", column]
        assert value * 100 == pytest.approx(round(value * 100), abs=1e-6), column
        raw = modelled[source].sum() if column.startswith("total") else modelled[source].mean()
        assert abs(value - raw) <= 0.005 + 1e-9, column
    payback = summary.loc["modelled PV", "median_payback_nem2"]
    assert not np.isfinite(payback) or payback * 10 == pytest.approx(round(payback * 10), abs=1e-9)
