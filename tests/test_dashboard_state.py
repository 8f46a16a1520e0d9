"""The NEM 2.0 vs 3.0 dashboard without a browser: set the store's parameters, check what the views show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.app.nem_app import create_app
from workbench.app.nem_store import NemStudyStore
from workbench.design.nem_study import StudyData, scale_energy_rates
from workbench.engine.pricing import price
from workbench.sample import utility_time_axis

TZ = "America/New_York"


@pytest.fixture(scope="module")
def study():
    """30 residential and 6 small-commercial customers with synthetic loads, one of them already solar."""
    utc = utility_time_axis(2025).astype("datetime64[m]")
    hour = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(TZ).hour.to_numpy()
    shape = np.where((hour >= 17) & (hour < 22), 0.6, 0.2).astype(np.float32)
    rng = np.random.default_rng(3)
    scale = np.r_[rng.uniform(0.4, 2.0, 30), rng.uniform(4.0, 8.0, 6)].astype(np.float32)
    delivered = shape[None, :] * scale[:, None]
    received = np.zeros_like(delivered)
    received[0, hour == 12] = 0.3  # an existing solar customer
    classes = ["RES"] * 30 + ["SGS"] * 6
    return StudyData.from_arrays(utc, 15, delivered, received, classes, timezone=TZ, sizes=(0, 3, 5, 7))


@pytest.fixture
def app(study):
    return create_app(study=study)


def test_store_starts_on_the_scanned_grid(app):
    store = app.store
    assert (store.customer_class, store.size_kw, store.vintage) == ("RES", 5.0, 2025)
    assert store.param.size_kw.objects == [3.0, 5.0, 7.0]  # 0 kW is the no-solar case, not a choice
    assert store.param.vintage.objects == [2022, 2025]
    assert len(store.case) == 30 and store.summary.loc["modelled PV", "customers"] == 29
    assert store.summary.loc["existing solar", "customers"] == 1


def test_retail_rate_multiplier_raises_no_solar_bills_by_the_energy_lines(app, study):
    store = app.store
    before = store.case.set_index("meter")
    store.rate_multiplier = 1.25
    after = store.case.set_index("meter")
    scanned = study.classes["RES"]
    energy = np.asarray(price(scanned.tariff, scanned.determinants[0.0], scanned.periods).subtotal(("energy",))).sum(axis=1)
    # RES-TOU: 6% tax on fixed + energy + rider, so a bill rises by 1.06 x 0.25 x its energy charges
    # (each of the 12 bills' energy lines and taxes is rounded to the cent: a few cents of slack)
    modelled = ~before["existing_solar"].to_numpy()
    rise = (after["bill_no_solar"] - before["bill_no_solar"]).to_numpy()[modelled]
    np.testing.assert_allclose(rise, 1.06 * 0.25 * energy[modelled], atol=0.25)
    scaled = np.asarray(price(scale_energy_rates(scanned.tariff, 1.25), scanned.determinants[0.0],
                              scanned.periods).subtotal(("energy",))).sum(axis=1)
    np.testing.assert_allclose(scaled, 1.25 * energy, atol=0.12)
    # with solar the bills rise too, by less (fewer kWh billed at retail)
    assert (after["bill_nem3"] > before["bill_nem3"]).to_numpy()[modelled].all()
    assert (after["bill_nem3"] - before["bill_nem3"]).to_numpy()[modelled].sum() < rise.sum()
    assert "Re-priced 30 customers" in app.views["numbers"].status.object


def test_system_size_changes_savings_numbers_and_plot(app):
    store, views = app.store, app.views
    savings5 = store.headline()["mean_savings_nem3"]
    plot5 = views["bills"].pane.object
    store.size_kw = 7.0
    assert store.headline()["mean_savings_nem3"] > savings5
    assert views["bills"].pane.object is not plot5
    assert "7 kW DC" in views["bills"].title and "7 kW DC" in views["numbers"].numbers.object
    assert f"${store.headline()['mean_savings_nem3']:,.0f}" in views["numbers"].numbers.object
    assert views["summary"].pane.object.loc["size_kw", "modelled PV"] == 7.0
    assert store.reprice_ms < 1000


def test_vintage_and_adder_change_only_nem3(app):
    store = app.store
    base = store.case.copy()
    store.vintage = 2022
    other = store.case
    pd.testing.assert_series_equal(base["bill_nem2"], other["bill_nem2"])
    pd.testing.assert_series_equal(base["bill_no_solar"], other["bill_no_solar"])
    assert not np.allclose(base["bill_nem3"], other["bill_nem3"])
    with_adder = store.case["bill_nem3"].to_numpy()
    store.first_year_adder = False
    # without the $0.04/kWh adder exports earn less: NEM 3.0 bills go up wherever the customer exports
    exporting = (store.case["received_kwh"] > 0).to_numpy()
    assert (store.case["bill_nem3"].to_numpy()[exporting] > with_adder[exporting]).all()


def test_cost_per_watt_scales_payback_only(app):
    store = app.store
    before = store.modelled.copy()
    store.cost_per_watt = 6.0
    after = store.modelled
    np.testing.assert_allclose(after["payback_nem2"], 2 * before["payback_nem2"])
    pd.testing.assert_series_equal(after["savings_nem3"], before["savings_nem3"])


def test_customer_class_switches_customers_and_tariff(app):
    store = app.store
    store.customer_class = "SGS"
    assert len(store.case) == 6 and (store.case["customer_class"] == "SGS").all()
    assert store.summary.loc["modelled PV", "customer_class"] == "SGS"
    assert "SGS customers" in app.views["numbers"].numbers.object
    assert app.views["bills"].title.startswith("SGS")


def test_store_works_without_views_and_sessions_are_independent(study):
    one, two = NemStudyStore(study), NemStudyStore(study, size_kw=3.0)
    one.size_kw = 7.0
    assert two.size_kw == 3.0 and one.param.size_kw.objects == two.param.size_kw.objects
