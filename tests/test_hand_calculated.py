"""Bills worked out by hand, one test per structure of docs/tariff-format.md.

Each tariff is a few lines inline, each load is round numbers, and the arithmetic behind every expected
amount is written next to it, so a failure can be checked with a pencil. Amounts are asserted to the cent.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.tariffs import tariff_from_spec

NY = "America/New_York"
LA = "America/Los_Angeles"


def tariff(charges, tz=NY, versions=None, **structure):
    spec = {"code": "TEST", "name": "Hand-calculated test tariff", "timezone": tz, **structure,
            "versions": versions or [{"effective": "2024-01-01", "charges": charges}]}
    return tariff_from_spec(spec, source="<test>")


def intervals(start, end, freq="15min", tz=NY):
    """Interval starts from local midnight ``start`` to local midnight ``end`` (exclusive)."""
    return pd.date_range(start, end, freq=freq, tz=tz, inclusive="left")


def run(t, idx, kwh, **kwargs):
    values = np.full(len(idx), float(kwh)) if np.isscalar(kwh) else np.asarray(kwh, dtype=float)
    return bill_series(t, idx, values, **kwargs)


def amounts(bill, category=None):
    return sorted(li.amount for li in bill.line_items if category is None or li.category == category)


def at(idx, local_time):
    """Position of the interval that starts at a local wall time."""
    return int(np.flatnonzero(idx == pd.Timestamp(local_time, tz=idx.tz))[0])


def check_adds_up(bill):
    assert bill.total == pytest.approx(sum(li.amount for li in bill.line_items), abs=1e-9)


# ------------------------------------------------------------------------------------------------ energy


def test_flat_energy_and_monthly_customer_charge():
    t = tariff([{"type": "customer", "amount": 12.00, "per": "month"},
                {"type": "energy", "rates": 0.118}])
    idx = intervals("2025-04-01", "2025-05-01")
    assert len(idx) == 2880  # 30 days × 96
    (bill,) = run(t, idx, 0.25)
    # 2880 × 0.25 = 720 kWh; 720 × 0.118 = 84.96
    assert amounts(bill, "energy") == [84.96]
    assert amounts(bill, "fixed") == [12.00]
    assert bill.total == 96.96  # 12.00 + 84.96
    assert (bill.days, bill.partial, bill.delivered_kwh) == (30, False, 720.0)


def test_energy_only_tariff_bills_hourly_data():
    """A tariff with no demand charge (and no kWh/kW blocks) never measures demand, so hourly reads, the
    commonest residential AMI data, must bill; the demand interval only matters to demand determinants."""
    t = tariff([{"type": "customer", "amount": 12.00, "per": "month"}, {"type": "energy", "rates": 0.118}])
    (bill,) = run(t, intervals("2025-04-01", "2025-05-01", freq="60min"), 1.0)
    # 720 hours × 1 kWh = 720 kWh × 0.118 = 84.96; + 12.00
    assert bill.total == 96.96


def test_inclining_blocks():
    t = tariff([{"type": "energy", "blocks": {"unit": "kWh", "limits": [500, 1000], "rates": [0.10, 0.12, 0.15]}}])
    (bill,) = run(t, intervals("2025-04-01", "2025-05-01"), 0.5)  # 2880 × 0.5 = 1440 kWh
    # 500 × 0.10 = 50.00; 500 × 0.12 = 60.00; 440 × 0.15 = 66.00
    assert amounts(bill, "energy") == [50.00, 60.00, 66.00]
    assert bill.total == 176.00


def test_declining_blocks():
    t = tariff([{"type": "energy", "blocks": {"unit": "kWh", "limits": [500, 1000], "rates": [0.15, 0.12, 0.10]}}])
    (bill,) = run(t, intervals("2025-04-01", "2025-05-01"), 0.5)  # 1440 kWh
    # 500 × 0.15 = 75.00; 500 × 0.12 = 60.00; 440 × 0.10 = 44.00
    assert amounts(bill, "energy") == [44.00, 60.00, 75.00]
    assert bill.total == 179.00


SEASONS = {"summer": [6, 7, 8, 9], "winter": [1, 2, 3, 4, 5, 10, 11, 12]}


def test_seasonal_blocks():
    t = tariff([{"type": "energy", "blocks": {"unit": "kWh", "limits": {"summer": [600], "winter": [800]},
                                              "rates": {"summer": [0.10, 0.20], "winter": [0.12, 0.08]}}}],
               seasons=SEASONS)
    (june,) = run(t, intervals("2025-06-01", "2025-07-01"), 0.5)  # 2880 × 0.5 = 1440 kWh
    # summer, inclining: 600 × 0.10 = 60.00; 840 × 0.20 = 168.00
    assert amounts(june, "energy") == [60.00, 168.00]
    assert june.total == 228.00
    (january,) = run(t, intervals("2025-01-01", "2025-02-01"), 0.5)  # 2976 × 0.5 = 1488 kWh
    # winter, declining: 800 × 0.12 = 96.00; 688 × 0.08 = 55.04
    assert amounts(january, "energy") == [55.04, 96.00]
    assert january.total == 151.04


def test_baseline_kwh_per_day_times_days():
    t = tariff([{"type": "energy", "blocks": {"unit": "kWh/day", "limits": [20], "rates": [0.10, 0.20]}}])
    april, may = run(t, intervals("2025-04-01", "2025-06-01"), 0.5)
    # April: baseline 20 × 30 = 600 kWh of 2880 × 0.5 = 1440: 600 × 0.10 = 60.00; 840 × 0.20 = 168.00
    assert amounts(april, "energy") == [60.00, 168.00]
    assert april.total == 228.00
    # May: baseline 20 × 31 = 620 kWh of 2976 × 0.5 = 1488: 620 × 0.10 = 62.00; 868 × 0.20 = 173.60
    assert amounts(may, "energy") == [62.00, 173.60]
    assert may.total == 235.60


@pytest.mark.parametrize("unit,limit,expected", [
    # billing demand 20 kW; kWh/kW: 100 × 20 = 2000 kWh in block 1: 2000 × 0.08 = 160.00; 884 × 0.05 = 44.20
    ("kWh/kW", 100, [44.20, 160.00]),
    # kWh/kW/day: 3 × 20 × 30 days = 1800 kWh: 1800 × 0.08 = 144.00; 1084 × 0.05 = 54.20
    ("kWh/kW/day", 3, [54.20, 144.00]),
])
def test_hours_use_blocks(unit, limit, expected):
    t = tariff([{"type": "energy", "blocks": {"unit": unit, "limits": [limit], "rates": [0.08, 0.05]}}],
               demand={"interval_minutes": 15})
    idx = intervals("2025-04-01", "2025-05-01")
    kwh = np.ones(len(idx))
    kwh[at(idx, "2025-04-10 15:00")] = 5.0  # the peak: 5 kWh in 15 minutes = 20 kW
    (bill,) = run(t, idx, kwh)
    assert bill.delivered_kwh == 2884.0  # 2879 × 1 + 5
    assert bill.peak_kw == 20.0
    assert amounts(bill, "energy") == expected
    assert bill.total == round(sum(expected), 2)


def test_tou_with_weekends_and_a_nerc_holiday():
    tou = {"periods": {
        "on_peak": [{"days": ["weekday"], "hours": "14:00-19:00"}],
        "off_peak": [{"days": ["weekday"], "hours": ["00:00-14:00", "19:00-24:00"]},
                     {"days": ["weekend", "holiday"], "hours": "00:00-24:00"}],
    }}
    t = tariff([{"type": "energy", "rates": {"on_peak": 0.30, "off_peak": 0.10}}], holidays="NERC", time_of_use=tou)
    (bill,) = run(t, intervals("2025-07-01", "2025-08-01"), 1.0)
    # July 2025: 31 days, 8 weekend days (5-6, 12-13, 19-20, 26-27), 23 weekdays, Friday 4 July a holiday:
    # 22 on-peak days × 5 h × 4 intervals × 1 kWh = 440 kWh; off-peak 31 × 96 - 440 = 2536 kWh
    # 440 × 0.30 = 132.00; 2536 × 0.10 = 253.60
    assert amounts(bill, "energy") == [132.00, 253.60]
    assert bill.total == 385.60


@pytest.mark.parametrize("calendar,day,on_peak_kwh", [
    ("NERC", "2027-07-05", 0),  # Sunday 4 July 2027: NERC observes it on Monday the 5th, off-peak all day
    ("NERC", "2026-07-03", 20),  # Saturday 4 July 2026: NERC does not move it, so Friday the 3rd is a weekday
    ("US", "2026-07-03", 0),  # the federal calendar observes it on Friday the 3rd
    ("NERC", "2025-06-19", 20),  # Juneteenth (Thursday) is not a NERC holiday
    ("US", "2025-06-19", 0),  # but it is a federal one
    ("NERC", "2025-11-27", 0),  # Thanksgiving
    ("none", "2025-11-27", 20),  # no holiday calendar: a Thursday like any other
])
def test_holiday_calendars(calendar, day, on_peak_kwh):
    tou = {"periods": {
        "on_peak": [{"days": ["weekday"], "hours": "14:00-19:00"}],
        "off_peak": [{"days": ["weekday"], "hours": ["00:00-14:00", "19:00-24:00"]},
                     {"days": ["weekend", "holiday"], "hours": "00:00-24:00"}],
    }}
    t = tariff([{"type": "energy", "rates": {"on_peak": 1.00, "off_peak": 0.10}}], holidays=calendar, time_of_use=tou)
    start = dt.date.fromisoformat(day)
    (bill,) = run(t, intervals(str(start), str(start + dt.timedelta(days=1))), 1.0)
    # on-peak kWh (5 h × 4 × 1 kWh = 20 on a weekday) × 1.00 + the rest of the 96 kWh × 0.10
    assert bill.total == round(on_peak_kwh * 1.00 + (96 - on_peak_kwh) * 0.10, 2)


# a quarter of every day on-peak (12:00-18:00), all days alike, so that on-peak kWh = 1/4 of a flat load
QUARTER_TOU = {"periods": {"on_peak": [{"hours": "12:00-18:00"}],
                           "off_peak": [{"hours": ["00:00-12:00", "18:00-24:00"]}]}}


def test_blocks_across_tou_periods_scope_total_split_proportionally():
    t = tariff([{"type": "energy", "blocks": {
        "unit": "kWh", "scope": "total", "limits": [1000],
        "rates": {"on_peak": [0.30, 0.40], "off_peak": [0.10, 0.12]}}}], time_of_use=QUARTER_TOU)
    (bill,) = run(t, intervals("2025-04-01", "2025-05-01"), 1.0)
    # 2880 kWh: on-peak 720 (1/4), off-peak 2160 (3/4); blocks of the total: 1000 + 1880
    # on-peak  block 1: 1000 × 1/4 = 250 × 0.30 = 75.00;  block 2: 1880 × 1/4 = 470 × 0.40 = 188.00
    # off-peak block 1: 1000 × 3/4 = 750 × 0.10 = 75.00;  block 2: 1880 × 3/4 = 1410 × 0.12 = 169.20
    assert amounts(bill, "energy") == [75.00, 75.00, 169.20, 188.00]
    assert bill.total == 507.20


def test_blocks_inside_each_tou_period_scope_period():
    t = tariff([{"type": "energy", "blocks": {
        "unit": "kWh", "scope": "period", "limits": [1000],
        "rates": {"on_peak": [0.30, 0.40], "off_peak": [0.10, 0.12]}}}], time_of_use=QUARTER_TOU)
    (bill,) = run(t, intervals("2025-04-01", "2025-05-01"), 1.0)
    # on-peak 720 kWh, all in its own block 1: 720 × 0.30 = 216.00
    # off-peak 2160 kWh: 1000 × 0.10 = 100.00; 1160 × 0.12 = 139.20
    assert amounts(bill, "energy") == [100.00, 139.20, 216.00]
    assert bill.total == 455.20


# ------------------------------------------------------------------------------------------------ demand


def _april_with_peak(peak_kwh, when="2025-04-10 15:00", base=1.0):
    idx = intervals("2025-04-01", "2025-05-01")
    kwh = np.full(len(idx), base)
    kwh[at(idx, when)] = peak_kwh
    return idx, kwh


def test_demand_max():
    t = tariff([{"type": "demand", "measure": "max", "rates": 10.0}], demand={"interval_minutes": 15})
    (bill,) = run(t, *_april_with_peak(5.0))
    # 5 kWh in 15 minutes × 60 / 15 = 20 kW; 20 × 10.00 = 200.00
    assert bill.peak_kw == 20.0
    assert bill.total == 200.00


@pytest.mark.parametrize("peak_kwh,expected", [
    (5.0, 250.00),  # peak 5 × 4 = 20 kW < minimum 25 kW: 25 × 10.00 = 250.00
    (7.5, 300.00),  # peak 7.5 × 4 = 30 kW > 25: 30 × 10.00 = 300.00
])
def test_demand_with_minimum_kw(peak_kwh, expected):
    t = tariff([{"type": "demand", "measure": "max", "rates": 10.0}], demand={"interval_minutes": 15, "minimum_kw": 25})
    (bill,) = run(t, *_april_with_peak(peak_kwh))
    assert bill.total == expected


def test_tou_demand():
    demand = {"interval_minutes": 15, "time_of_use": {"periods": {
        "on_peak": [{"days": ["weekday"], "hours": "12:00-20:00"}]}}}
    t = tariff([{"type": "demand", "description": "Facility", "measure": "max", "rates": 5.0},
                {"type": "demand", "description": "On-peak", "measure": "tou", "rates": {"on_peak": 12.0}}],
               demand=demand)
    idx, kwh = _april_with_peak(6.0, when="2025-04-09 03:00")  # Wednesday 03:00: off-peak spike 6 × 4 = 24 kW
    kwh[at(idx, "2025-04-10 13:00")] = 3.0  # Thursday 13:00, on-peak: 3 × 4 = 12 kW
    kwh[at(idx, "2025-04-12 13:00")] = 5.0  # Saturday: outside the demand ToU period
    (bill,) = run(t, idx, kwh)
    # facility: 24 kW × 5.00 = 120.00; on-peak: 12 kW × 12.00 = 144.00
    assert amounts(bill, "demand") == [120.00, 144.00]
    assert bill.total == 264.00


def test_tiered_demand():
    t = tariff([{"type": "demand", "measure": "max", "blocks": {"limits": [50], "rates": [10.0, 8.0]}}],
               demand={"interval_minutes": 15})
    (bill,) = run(t, *_april_with_peak(20.0))
    # 20 kWh × 4 = 80 kW: 50 × 10.00 = 500.00; 30 × 8.00 = 240.00
    assert amounts(bill, "demand") == [240.00, 500.00]
    assert bill.total == 740.00


def _five_minute_day():
    idx = intervals("2025-04-01", "2025-04-02", freq="5min")
    kwh = np.full(len(idx), 0.1)
    for when in ("2025-04-01 10:05", "2025-04-01 10:10", "2025-04-01 10:15"):
        kwh[at(idx, when)] = 2.0
    return idx, kwh


def test_15_minute_block_demand_from_5_minute_data():
    t = tariff([{"type": "demand", "measure": "max", "rates": 10.0}],
               demand={"interval_minutes": 15, "method": "block"})
    (bill,) = run(t, *_five_minute_day())
    # blocks 10:00-10:15: 0.1 + 2 + 2 = 4.1 kWh; 10:15-10:30: 2 + 0.1 + 0.1 = 2.2 kWh
    # peak 4.1 × 60 / 15 = 16.4 kW; 16.4 × 10.00 = 164.00 a month; one day of April's 30 pays 1/30: 5.4667 -> 5.47
    assert bill.peak_kw == pytest.approx(16.4)
    assert bill.total == 5.47


def test_rolling_15_minute_demand_from_5_minute_data():
    t = tariff([{"type": "demand", "measure": "max", "rates": 10.0}],
               demand={"interval_minutes": 15, "method": "rolling"})
    (bill,) = run(t, *_five_minute_day())
    # the window 10:05-10:20: 2 + 2 + 2 = 6 kWh × 4 = 24 kW; 24 × 10.00 = 240.00 a month; 1/30 of it: 8.00
    assert bill.peak_kw == pytest.approx(24.0)
    assert bill.total == 8.00


def _monthly_peaks(start, end, peaks_kw):
    """Hourly data, 1 kWh (1 kW) in every hour but one per month, which has the month's peak [kW]."""
    idx = intervals(start, end, freq="60min")
    kwh = np.ones(len(idx))
    for month, kw in peaks_kw.items():
        kwh[at(idx, f"{month}-10 15:00")] = kw
    return idx, kwh


def test_ratchet_80_percent_over_11_months():
    t = tariff([{"type": "demand", "measure": "max", "rates": 10.0}],
               demand={"interval_minutes": 60, "ratchet": {"percent": 80, "months": 11}})
    peaks = {f"2025-{m:02d}": 20.0 for m in range(1, 13)} | {f"2026-{m:02d}": 20.0 for m in range(1, 8)}
    peaks["2025-07"] = 100.0
    bills = run(t, *_monthly_peaks("2025-01-01", "2026-08-01", peaks))
    assert len(bills) == 19
    totals = [b.total for b in bills]
    # Jan-Jun 2025: no history, 20 kW × 10 = 200.00; Jul 2025: 100 kW = 1000.00
    # Aug 2025-Jun 2026 (the 11 periods after July): 80% × 100 = 80 kW = 800.00
    # Jul 2026: July 2025 has left the 11-month window: 20 kW = 200.00
    assert totals == [200.00] * 6 + [1000.00] + [800.00] * 11 + [200.00]


def test_summer_only_ratchet():
    t = tariff([{"type": "demand", "measure": "max", "rates": 10.0}],
               demand={"interval_minutes": 60,
                       "ratchet": {"percent": 80, "months": 11, "count_months": [6, 7, 8, 9]}})
    peaks = {f"2025-{m:02d}": 20.0 for m in range(6, 13)} | {f"2026-{m:02d}": 20.0 for m in range(1, 8)}
    peaks["2025-07"] = 100.0
    peaks["2025-12"] = 150.0  # a winter peak: billed in December, never ratcheted
    bills = run(t, *_monthly_peaks("2025-06-01", "2026-08-01", peaks))
    totals = [b.total for b in bills]
    # Jun 2025: 20 kW = 200.00; Jul: 100 kW = 1000.00; Aug-Nov: 80% × 100 = 80 kW = 800.00
    # Dec: its own 150 kW = 1500.00; Jan-Jun 2026: 80 kW (Dec's 150 does not count) = 800.00
    # Jul 2026: the counted months in the window (Aug, Sep 2025, Jun 2026) peak at 20 → 16 < 20: 200.00
    assert totals == [200.00, 1000.00] + [800.00] * 4 + [1500.00] + [800.00] * 6 + [200.00]


def test_ratchet_history_before_the_data():
    t = tariff([{"type": "demand", "measure": "max", "rates": 10.0}],
               demand={"interval_minutes": 60, "ratchet": {"percent": 50, "months": 3, "history_kw": [300, 100]}})
    bills = run(t, *_monthly_peaks("2025-01-01", "2025-04-01", {"2025-01": 20, "2025-02": 90, "2025-03": 20}))
    # Jan: window [300, 100] → 50% × 300 = 150 kW = 1500.00; Feb: [300, 100, 20] → 150 kW = 1500.00
    # Mar: [100, 20, 90] → 50 kW = 500.00
    assert [b.total for b in bills] == [1500.00, 1500.00, 500.00]


def test_coincident_peak():
    t = tariff([{"type": "demand", "measure": "coincident", "rates": 4.0}],
               demand={"interval_minutes": 15,
                       "coincident_peaks": ["2025-07-29T17:15:00", "2025-07-30T16:00:00", "2025-08-12T16:45:00"]})
    idx = intervals("2025-07-01", "2025-08-01")
    kwh = np.ones(len(idx))
    kwh[at(idx, "2025-07-29 17:15")] = 3.0  # 12 kW at the first system peak
    kwh[at(idx, "2025-07-29 18:00")] = 9.0  # the customer's own peak: not at a system peak
    kwh[at(idx, "2025-07-30 16:00")] = 2.0  # 8 kW at the second
    (bill,) = run(t, idx, kwh)
    # mean of 12 and 8 = 10 kW (the August peak is outside the period); 10 × 4.00 = 40.00
    assert bill.total == 40.00


def test_coincident_peak_with_15_minute_demand_on_5_minute_data():
    """The system peak names the start of a 15-minute demand interval; the data are 5-minute reads."""
    t = tariff([{"type": "demand", "measure": "coincident", "rates": 4.0}],
               demand={"interval_minutes": 15, "method": "block", "coincident_peaks": ["2025-07-29T17:15:00"]})
    idx = intervals("2025-07-29", "2025-07-30", freq="5min")
    kwh = np.full(len(idx), 0.1)
    for when in ("2025-07-29 17:15", "2025-07-29 17:20", "2025-07-29 17:25"):
        kwh[at(idx, when)] = 1.0
    (bill,) = run(t, idx, kwh)
    # the demand interval 17:15-17:30: 1 + 1 + 1 = 3 kWh × 60 / 15 = 12 kW; 12 × 4.00 = 48.00 a month; one day
    # of July's 31 pays 1/31 of it: 1.548 -> 1.55
    assert bill.total == 1.55


def test_rtp_from_an_hourly_price_file_with_adder(tmp_path):
    # 3 March 2025 in New York (EST, UTC-5) is 05:00Z to 05:00Z: hour h of the day costs 0.01 × (h + 1) $/kWh
    rows = ["timestamp,price"]
    for h in range(24):
        stamp = dt.datetime(2025, 3, 3, 5, tzinfo=dt.UTC) + dt.timedelta(hours=h)
        rows.append(f"{stamp:%Y-%m-%dT%H:%MZ},{0.01 * (h + 1):.2f}")
    (tmp_path / "prices.csv").write_text("\n".join(rows) + "\n")
    spec = {"code": "RTP", "name": "rtp", "timezone": NY, "versions": [{"effective": "2024-01-01", "charges": [
        {"type": "rtp", "description": "Energy at real-time prices", "prices": "prices.csv", "adder": 0.012}]}]}
    t = tariff_from_spec(spec, source=str(tmp_path / "rtp.yaml"), base_dir=tmp_path)
    (bill,) = run(t, intervals("2025-03-03", "2025-03-04"), 1.0)  # 4 kWh in every hour
    # Σ 4 × 0.01 × (h + 1), h = 0..23 = 0.04 × 300 = 12.00; adder 96 kWh × 0.012 = 1.152 → 1.15
    assert amounts(bill, "energy") == [1.15, 12.00]
    assert bill.total == 13.15


# ------------------------------------------------------------------------------ riders, minimum, taxes


def test_rider_with_monthly_values():
    rates = {m: 0.001 * m for m in range(1, 13)}  # January 0.001, February 0.002, ...
    t = tariff([{"type": "rider", "description": "Power cost adjustment", "rate": rates}])
    january, february = run(t, intervals("2025-01-01", "2025-03-01"), 0.5)
    # January: 2976 × 0.5 = 1488 kWh × 0.001 = 1.488 → 1.49
    assert january.total == 1.49
    # February: 2688 × 0.5 = 1344 kWh × 0.002 = 2.688 → 2.69
    assert february.total == 2.69
    assert [li.category for li in january.line_items] == ["rider"]


def _one_read(kwh, start="2025-04-01", end="2025-05-01"):
    idx = intervals(start, end)
    values = np.zeros(len(idx))
    values[0] = kwh
    return idx, values


@pytest.mark.parametrize("kwh,minimum_line,total", [
    (50.0, 5.00, 15.00),  # 5.00 + 50 × 0.10 = 10.00 < 15.00: adjustment 5.00, total 15.00
    (200.0, None, 25.00),  # 5.00 + 200 × 0.10 = 25.00 ≥ 15.00: no adjustment
])
def test_minimum_bill(kwh, minimum_line, total):
    t = tariff([{"type": "customer", "amount": 5.00, "per": "month"}, {"type": "energy", "rates": 0.10},
                {"type": "minimum", "amount": 15.00, "per": "month"}])
    (bill,) = run(t, *_one_read(kwh))
    assert amounts(bill, "minimum") == ([] if minimum_line is None else [minimum_line])
    assert bill.total == total


def test_tax_on_chosen_categories():
    t = tariff([{"type": "customer", "amount": 10.00, "per": "month"},
                {"type": "energy", "rates": 0.20},
                {"type": "rider", "description": "Rider", "rate": 0.005},
                {"type": "tax", "description": "Sales tax", "percent": 6.0, "applies_to": ["fixed", "energy"]},
                {"type": "tax", "description": "Rider tax", "percent": 5.0, "applies_to": ["rider"]}])
    (bill,) = run(t, *_one_read(100.0))
    # fixed 10.00; energy 100 × 0.20 = 20.00; rider 100 × 0.005 = 0.50
    # sales tax 6% × (10.00 + 20.00) = 1.80; rider tax 5% × 0.50 = 0.025 → 0.03 (half-up)
    assert amounts(bill, "tax") == [0.03, 1.80]
    assert bill.total == 32.33  # 10.00 + 20.00 + 0.50 + 1.80 + 0.03


def test_tax_on_a_category_without_charges():
    """A tax that names a category the tariff has no charge in (here: demand) taxes nothing in it."""
    t = tariff([{"type": "energy", "rates": 0.20},
                {"type": "tax", "description": "Sales tax", "percent": 6.0, "applies_to": ["energy", "demand"]},
                {"type": "tax", "description": "Demand tax", "percent": 6.0, "applies_to": ["demand"]}])
    (bill,) = run(t, *_one_read(100.0))
    # energy 100 × 0.20 = 20.00; sales tax 6% × (20.00 + no demand) = 1.20; demand tax 6% × 0 = 0 (no line)
    assert amounts(bill) == [1.20, 20.00]
    assert bill.total == 21.20


def test_tax_includes_the_minimum_bill_adjustment():
    t = tariff([{"type": "energy", "rates": 0.10}, {"type": "minimum", "amount": 15.00, "per": "month"},
                {"type": "tax", "description": "Tax", "percent": 10.0, "applies_to": ["energy", "minimum"]}])
    (bill,) = run(t, *_one_read(50.0))
    # energy 5.00, minimum adjustment 15.00 - 5.00 = 10.00, tax 10% × 15.00 = 1.50
    assert amounts(bill) == [1.50, 5.00, 10.00]
    assert bill.total == 16.50


def test_per_day_and_per_bill_customer_charges():
    t = tariff([{"type": "customer", "description": "Basic service", "amount": 0.40, "per": "day"},
                {"type": "customer", "description": "Meter", "amount": 7.50, "per": "bill"}])
    april, may = run(t, *_one_read(0.0, "2025-04-01", "2025-05-11"))
    # April: 0.40 × 30 = 12.00 + 7.50; May 1-10 (partial): 0.40 × 10 = 4.00 + 7.50 (once per bill)
    assert amounts(april) == [7.50, 12.00] and april.total == 19.50
    assert amounts(may) == [4.00, 7.50] and may.total == 11.50
    assert may.partial


def test_partial_first_and_last_periods_prorate_monthly_charges_and_blocks():
    t = tariff([{"type": "customer", "amount": 12.00, "per": "month"},
                {"type": "energy", "blocks": {"unit": "kWh", "limits": [300], "rates": [0.10, 0.20]}}])
    april, may = run(t, intervals("2025-04-16", "2025-05-11"), 0.25)  # 1 kWh an hour
    assert (april.days, april.partial, may.days, may.partial) == (15, True, 10, True)
    # April 16-30, 15 of 30 days: customer 12.00 × 15/30 = 6.00; block 300 × 15/30 = 150 kWh of 360:
    #   150 × 0.10 = 15.00; 210 × 0.20 = 42.00
    assert amounts(april) == [6.00, 15.00, 42.00]
    # May 1-10, 10 of 31 days: customer 12.00 × 10/31 = 3.8709 → 3.87; block 300 × 10/31 = 96.774 kWh of 240:
    #   96.774 × 0.10 = 9.677 → 9.68; 143.226 × 0.20 = 28.645 → 28.65
    assert amounts(may) == [3.87, 9.68, 28.65]
    assert may.total == 42.20  # 3.87 + 9.68 + 28.65


def test_mid_period_rate_change_prorated_by_days():
    """Oracle CC&B's example: 100 kWh over 1 Apr-15 May, new rates from 16 Apr: 33.3 kWh old, 66.7 new."""
    versions = [
        {"effective": "2025-01-01", "charges": [{"type": "customer", "amount": 12.00, "per": "month"},
                                                {"type": "energy", "rates": 0.10}]},
        {"effective": "2025-04-16", "charges": [{"type": "customer", "amount": 15.00, "per": "month"},
                                                {"type": "energy", "rates": 0.16}]},
    ]
    t = tariff(None, versions=versions)
    (bill,) = run(t, *_one_read(100.0, "2025-04-01", "2025-05-16"), read_dates=[dt.date(2025, 4, 1), dt.date(2025, 5, 16)])
    assert (bill.start, bill.end, bill.days, bill.partial) == (dt.date(2025, 4, 1), dt.date(2025, 5, 16), 45, False)
    energy = {li.description: li for li in bill.line_items if li.category == "energy"}
    assert sorted(round(li.quantity, 1) for li in energy.values()) == [33.3, 66.7]
    # old rates 1-15 Apr, 15 of 45 days: 100 × 15/45 = 33.33 kWh × 0.10 = 3.33; customer 12.00 × 1/3 = 4.00
    # new rates 16 Apr-15 May, 30 of 45: 100 × 30/45 = 66.67 kWh × 0.16 = 10.67; customer 15.00 × 2/3 = 10.00
    assert amounts(bill) == [3.33, 4.00, 10.00, 10.67]
    assert bill.total == 28.00
    # each line says which version's rates it is at
    assert sum("2025-01-01" in d for d in energy) == 1 and sum("2025-04-16" in d for d in energy) == 1


def test_read_date_bill_periods():
    t = tariff([{"type": "customer", "amount": 12.00, "per": "month"}, {"type": "energy", "rates": 0.10},
                {"type": "rider", "description": "Rider", "rate": {m: 0.001 * m for m in range(1, 13)}}])
    reads = [dt.date(2025, 4, 15), dt.date(2025, 5, 15), dt.date(2025, 6, 16)]
    first, second = run(t, intervals("2025-04-15", "2025-06-16"), 0.25, read_dates=reads)  # 1 kWh an hour
    # 15 Apr-14 May: 30 days, a full period; 720 kWh × 0.10 = 72.00; rider at May's 0.005 × 720 = 3.60
    assert (first.start, first.end, first.days, first.partial) == (reads[0], reads[1], 30, False)
    assert amounts(first) == [3.60, 12.00, 72.00]
    # 15 May-15 Jun: 32 days; 768 kWh × 0.10 = 76.80; rider at June's 0.006 × 768 = 4.608 → 4.61
    assert (second.start, second.end, second.days, second.partial) == (reads[1], reads[2], 32, False)
    assert amounts(second) == [4.61, 12.00, 76.80]


def test_read_date_period_across_two_seasons():
    t = tariff([{"type": "energy", "blocks": {"unit": "kWh", "limits": {"summer": [400], "winter": [600]},
                                              "rates": {"summer": [0.10, 0.15], "winter": [0.10, 0.08]}}},
                {"type": "demand", "measure": "max", "rates": {"summer": 12.0, "winter": 8.0}}],
               seasons=SEASONS, demand={"interval_minutes": 60, "minimum_kw": 10})
    reads = [dt.date(2025, 5, 17), dt.date(2025, 6, 16)]
    (bill,) = run(t, intervals("2025-05-17", "2025-06-16", freq="60min"), 1.0, read_dates=reads)
    # 30 days: 15 in May (winter), 15 in June (summer); 360 kWh in each season
    # winter: limit 600 × 15/30 = 300: 300 × 0.10 = 30.00; 60 × 0.08 = 4.80
    # summer: limit 400 × 15/30 = 200: 200 × 0.10 = 20.00; 160 × 0.15 = 24.00
    assert amounts(bill, "energy") == [4.80, 20.00, 24.00, 30.00]
    # demand: minimum 10 kW × (15/30 × 12.00 + 15/30 × 8.00) = 100.00
    assert amounts(bill, "demand") == [100.00]
    assert bill.total == 178.80


# ----------------------------------------------------------------------------------- DST and leap year

# night 00:00-01:00, "one" 01:00-02:00 (the hour that repeats in the fall), rest 02:00-24:00
DST_TOU = {"periods": {"night": [{"hours": "00:00-01:00"}], "one": [{"hours": "01:00-02:00"}],
                       "rest": [{"hours": "02:00-24:00"}]}}


def test_spring_forward_day_has_92_intervals():
    t = tariff([{"type": "energy", "rates": {"night": 0.10, "one": 0.20, "rest": 0.30}}], tz=LA, time_of_use=DST_TOU)
    idx = intervals("2024-03-10", "2024-03-11", tz=LA)
    assert len(idx) == 92  # 23 hours: 02:00-03:00 does not exist
    (bill,) = run(t, idx, 1.0)
    # night 4 kWh × 0.10 = 0.40; one 4 × 0.20 = 0.80; rest (03:00-24:00) 21 h × 4 = 84 × 0.30 = 25.20
    assert amounts(bill, "energy") == [0.40, 0.80, 25.20]
    assert bill.total == 26.40 and bill.delivered_kwh == 92.0


def test_fall_back_day_has_100_intervals():
    t = tariff([{"type": "energy", "rates": {"night": 0.10, "one": 0.20, "rest": 0.30}}], tz=LA, time_of_use=DST_TOU)
    idx = intervals("2024-11-03", "2024-11-04", tz=LA)
    assert len(idx) == 100  # 25 hours: 01:00-02:00 happens twice
    (bill,) = run(t, idx, 1.0)
    # night 4 × 0.10 = 0.40; one: both 01:00 hours, 8 × 0.20 = 1.60; rest 22 h × 4 = 88 × 0.30 = 26.40
    assert amounts(bill, "energy") == [0.40, 1.60, 26.40]
    assert bill.total == 28.40 and bill.delivered_kwh == 100.0


def test_dst_days_inside_a_monthly_bill():
    """March and November 2024 in Los Angeles: a month's interval count and ToU split across the DST change."""
    t = tariff([{"type": "energy", "rates": {"night": 0.10, "one": 0.20, "rest": 0.30}}], tz=LA, time_of_use=DST_TOU)
    march, = run(t, intervals("2024-03-01", "2024-04-01", tz=LA), 1.0)
    # 31 × 96 - 4 = 2972 kWh: night 31 × 4 = 124; one 124; rest 2972 - 248 = 2724
    # 12.40 + 24.80 + 817.20 = 854.40
    assert march.delivered_kwh == 2972.0 and march.total == 854.40
    november, = run(t, intervals("2024-11-01", "2024-12-01", tz=LA), 1.0)
    # 30 × 96 + 4 = 2884 kWh: night 120; one 124; rest 2640 → 12.00 + 24.80 + 792.00 = 828.80
    assert november.delivered_kwh == 2884.0 and november.total == 828.80


def test_leap_year_february():
    t = tariff([{"type": "customer", "amount": 10.00, "per": "month"},
                {"type": "energy", "blocks": {"unit": "kWh/day", "limits": [50], "rates": [0.10, 0.20]}}])
    idx = intervals("2024-02-01", "2024-03-01")
    assert len(idx) == 2784  # 29 × 96
    (bill,) = run(t, idx, 1.0)
    assert (bill.days, bill.partial, bill.delivered_kwh) == (29, False, 2784.0)
    # baseline 50 × 29 = 1450 kWh: 1450 × 0.10 = 145.00; 1334 × 0.20 = 266.80; customer 10.00
    assert amounts(bill) == [10.00, 145.00, 266.80]
    assert bill.total == 421.80
    check_adds_up(bill)
