"""Demand charges on a partial bill period, by hand: prorated by the share of the period the data cover, as the
monthly customer charge is (DESIGN.md "partial periods ... prorated by days"; docs/tariff-format.md "How a bill
is computed"), unless the tariff says ``demand: {partial_periods: full}``.

Every expected amount below is worked out in the comment above it, rounded half-up to the cent once per line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.engine.render import bills_as_text
from workbench.errors import TariffError
from workbench.tariffs import tariff_from_spec

NY = "America/New_York"
ON_PEAK = {"periods": {"on_peak": [{"days": ["weekday"], "hours": "07:00-11:00"}]}}


def tariff(charges, versions=None, **demand):
    spec = {"code": "LGS-7", "name": "LGS-style test tariff", "timezone": NY, "holidays": "none",
            "demand": {"interval_minutes": 60, **demand},
            "versions": versions or [{"effective": "2024-01-01", "charges": charges}]}
    return tariff_from_spec(spec, source="<test>")


def hourly(start, end, kw=600.0):
    idx = pd.date_range(start, end, freq="60min", tz=NY, inclusive="left")
    return idx, np.full(len(idx), kw)


def lines(bill, category):
    return [(li.description, li.quantity, li.amount) for li in bill.line_items if li.category == category]


LGS_CHARGES = [
    {"type": "customer", "description": "Customer charge", "amount": 250.00, "per": "month"},
    {"type": "energy", "rates": 0.05},
    {"type": "demand", "description": "Facility demand", "measure": "max",
     "blocks": {"limits": [500], "rates": [11.40, 10.10]}},
    {"type": "demand", "description": "On-peak demand", "measure": "tou", "rates": {"on_peak": 3.40}},
]


def seven_days_of_march():
    """25-31 March 2025 (7 of March's 31 days), 600 kW every hour but 800 kW at 02:00 on the 26th (off-peak)."""
    idx, kw = hourly("2025-03-25", "2025-04-01")
    kw[np.flatnonzero(idx == pd.Timestamp("2025-03-26 02:00", tz=NY))[0]] = 800.0
    return idx, kw


def test_a_seven_day_lgs_bill_pays_seven_days_of_demand():
    (bill,) = bill_series(tariff(LGS_CHARGES, time_of_use=ON_PEAK), *seven_days_of_march())
    assert (bill.days, bill.partial) == (7, True)
    # customer: 250.00 × 7/31 = 56.4516 -> 56.45
    assert lines(bill, "fixed") == [("Customer charge", pytest.approx(7 / 31, abs=1e-6), 56.45)]
    # facility: billing demand 800 kW, blocks 500 + 300 kW; 500 × 11.40 × 7/31 = 1,287.0968 -> 1,287.10;
    # 300 × 10.10 × 7/31 = 684.1935 -> 684.19. On-peak: 600 kW × 3.40 × 7/31 = 460.6452 -> 460.65.
    # Each line's quantity is the kW × 7/31 (as the customer charge's is 7/31 of a month), so quantity × rate
    # is the amount on paper.
    assert lines(bill, "demand") == [
        ("Facility demand, block 1 (prorated 7/31 days)", pytest.approx(500 * 7 / 31, abs=1e-6), 1287.10),
        ("Facility demand, block 2 (prorated 7/31 days)", pytest.approx(300 * 7 / 31, abs=1e-6), 684.19),
        ("On-peak demand (prorated 7/31 days)", pytest.approx(600 * 7 / 31, abs=1e-6), 460.65),
    ]
    # energy: (167 × 600 + 800) kWh = 101,000 kWh × 0.05 = 5,050.00; total 56.45 + 5,050.00 + 2,431.94
    assert bill.total == 7538.39


def test_a_tariff_may_say_demand_is_not_prorated():
    t = tariff(LGS_CHARGES, time_of_use=ON_PEAK, partial_periods="full")
    (bill,) = bill_series(t, *seven_days_of_march())
    # a whole month of demand: 500 × 11.40 = 5,700.00; 300 × 10.10 = 3,030.00; 600 × 3.40 = 2,040.00;
    # the customer charge is still 7/31 of a month (56.45)
    assert lines(bill, "demand") == [("Facility demand, block 1", 500.0, 5700.00),
                                     ("Facility demand, block 2", 300.0, 3030.00),
                                     ("On-peak demand", 600.0, 2040.00)]
    assert bill.total == 15876.45  # 56.45 + 5,050.00 + 10,770.00


def test_full_months_are_not_touched():
    (bill,) = bill_series(tariff(LGS_CHARGES, time_of_use=ON_PEAK), *hourly("2025-03-01", "2025-04-01"))
    # 31 of 31 days: 600 kW in one block (500 + 100): 5,700.00 + 1,010.00; on-peak 2,040.00; customer 250.00
    assert not bill.partial
    assert lines(bill, "demand") == [("Facility demand, block 1", 500.0, 5700.00),
                                     ("Facility demand, block 2", 100.0, 1010.00),
                                     ("On-peak demand", 600.0, 2040.00)]


def test_the_ratchet_sets_billing_demand_and_the_partial_period_prorates_its_charge():
    t = tariff([{"type": "demand", "description": "Demand", "measure": "max", "rates": 10.0}],
               ratchet={"percent": 80, "months": 11})
    idx, kw = hourly("2025-07-01", "2025-08-08", kw=20.0)
    kw[np.flatnonzero(idx == pd.Timestamp("2025-07-10 15:00", tz=NY))[0]] = 100.0
    july, august = bill_series(t, idx, kw)
    # July (full): 100 kW × 10.00 = 1,000.00
    assert lines(july, "demand") == [("Demand", 100.0, 1000.00)]
    # August 1-7 (7 of 31 days): peak 20 kW, billing demand the ratchet's 80 % × 100 = 80 kW, as for a full
    # month; its charge is 7/31 of a month's: 80 × 10.00 × 7/31 = 180.6452 -> 180.65
    assert lines(august, "demand") == [("Demand (prorated 7/31 days)", pytest.approx(80 * 7 / 31, abs=1e-6), 180.65)]


def test_a_partial_period_across_a_rate_change_composes_both_shares():
    versions = [
        {"effective": "2024-01-01", "charges": [{"type": "customer", "amount": 30.00, "per": "month"},
                                                {"type": "demand", "description": "Demand", "rates": 10.0}]},
        {"effective": "2025-04-05", "charges": [{"type": "customer", "amount": 36.00, "per": "month"},
                                                {"type": "demand", "description": "Demand", "rates": 12.0}]},
    ]
    (bill,) = bill_series(tariff(None, versions=versions), *hourly("2025-04-01", "2025-04-11", kw=30.0))
    # 10 days of April's 30 (share 1/3); the old rates 4 of the 10 days, the new ones 6:
    # customer 30 × 1/3 × 4/10 = 4.00 and 36 × 1/3 × 6/10 = 7.20; demand 30 kW × 10 × 1/3 × 4/10 = 40.00 and
    # 30 × 12 × 1/3 × 6/10 = 72.00
    assert [li.amount for li in bill.line_items] == [4.00, 40.00, 7.20, 72.00]
    assert lines(bill, "demand")[0][0] == "Demand (rates of 2024-01-01) (prorated 10/30 days)"
    assert bill.total == 123.20


def test_hours_use_blocks_of_a_partial_period_scale_with_it():
    t = tariff([{"type": "energy", "blocks": {"unit": "kWh/kW", "limits": [200], "rates": [0.10, 0.05]}}])
    (bill,) = bill_series(t, *hourly("2025-03-25", "2025-04-01", kw=10.0))
    # 7 × 24 × 10 = 1,680 kWh at a billing demand of 10 kW; a month's first block is 200 × 10 = 2,000 kWh, a
    # 7/31 period's 2,000 × 7/31 = 451.6129 kWh: 451.6129 × 0.10 = 45.16; 1,228.3871 × 0.05 = 61.4194 -> 61.42
    assert [li.amount for li in bill.line_items] == [45.16, 61.42]


def test_a_monthly_minimum_of_a_partial_period_was_already_prorated():
    t = tariff([{"type": "energy", "rates": 0.01}, {"type": "minimum", "amount": 50.00, "per": "month"}])
    (bill,) = bill_series(t, *hourly("2025-03-25", "2025-04-01", kw=1.0))
    # energy 168 kWh × 0.01 = 1.68; floor 50.00 × 7/31 = 11.29; top-up 11.29 - 1.68 = 9.61
    assert [li.amount for li in bill.line_items] == [1.68, 9.61]


def test_three_hours_of_data_pay_three_hours_of_demand():
    t = tariff([{"type": "demand", "description": "Demand", "rates": 10.0}])
    (bill,) = bill_series(t, *hourly("2025-01-01", "2025-01-01 03:00", kw=10.0))
    # 3 of January's 744 hours: 10 kW × 10.00 × 3/744 = 0.4032 -> 0.40
    assert lines(bill, "demand") == [("Demand (prorated 3/744 hours)", pytest.approx(30 / 744, abs=1e-6), 0.40)]


def test_the_bill_text_says_the_demand_line_is_prorated():
    t = tariff(LGS_CHARGES, time_of_use=ON_PEAK)
    text = bills_as_text(t, bill_series(t, *seven_days_of_march()))
    assert "Facility demand, block 1 (prorated 7/31 days)" in text
    assert "7 days (partial period)" in text


@pytest.mark.parametrize("value", ["prorated", "yes", 1])
def test_a_bad_partial_periods_value_is_refused_in_one_line(value):
    with pytest.raises(TariffError) as err:
        tariff(LGS_CHARGES, partial_periods=value)
    message = str(err.value)
    assert "\n" not in message
    assert "demand.partial_periods: Input should be 'prorate' or 'full'" in message


def test_urdb_export_names_a_demand_charge_that_is_not_prorated():
    from workbench.tariffs.urdb_export import to_urdb

    _, dropped = to_urdb(tariff(LGS_CHARGES[:3], partial_periods="full"))
    assert any("partial_periods: full" in d for d in dropped)
    _, dropped = to_urdb(tariff(LGS_CHARGES[:3]))
    assert not any("partial" in d for d in dropped)


@pytest.fixture(scope="module")
def cycle_tables(tmp_path_factory):
    """A bill cycle of a small sample utility (read cycles: November's first and last bills are partial)."""
    from workbench.billing.chunk_data import read_task
    from workbench.billing.cycle_chunk import bill_chunk
    from workbench.billing.cycle_plan import plan_cycle
    from workbench.sample import generate_sample_utility

    folder = tmp_path_factory.mktemp("cycle")
    generate_sample_utility(folder / "cube.zarr", n_meters=60, year=2025, seed=5, meter_chunk=60, progress=False,
                            months=(10, 11))
    planned = plan_cycle(folder / "cube.zarr", "tariffs", folder / "out", period="2025-11")
    (folder / "parts").mkdir()
    planned.plan.parts = str(folder / "parts")
    (task,) = planned.tasks
    _, tables = bill_chunk(planned.plan, task, read_task(planned.plan, task), with_tables=True)
    return tables["bills"].to_pandas(), tables["line_items"].to_pandas()


def test_a_cycle_marks_each_prorated_demand_line_of_a_partial_bill(cycle_tables):
    bills, lines = cycle_tables
    merged = lines.merge(bills[["meter", "period_start", "days", "partial"]], on=["meter", "period_start"])
    demand = merged[merged.category == "demand"]
    marked = merged.description.str.contains(" (prorated ", regex=False)
    # every demand line of a partial bill says so (the sample book prorates), with the bill's own days; no other
    assert demand.partial.any() and (~demand.partial).any()
    assert (marked == ((merged.category == "demand") & merged.partial)).all()
    for row in merged[marked].itertuples():
        assert f" (prorated {row.days}/" in row.description


def test_a_bill_document_shows_the_prorated_demand_line(cycle_tables):
    from workbench.documents.from_cycle import document_from_cycle

    bills, lines = cycle_tables
    bill = bills[bills.partial & bills.meter.isin(lines[lines.category == "demand"].meter)].iloc[0]
    mine = lines[(lines.meter == bill.meter) & (lines.period_start == bill.period_start)]
    doc = document_from_cycle(bill, mine, {"customer_name": "A. Customer", "service_address": "1 Main St"})
    prorated = [c for c in doc.charges if " (prorated " in c.description]
    assert prorated and all(c.unit in ("kW", "kVA", "kVAR") for c in prorated)
