"""Net metering and net billing: hand-calculated bills for each program kind, and bad input.

Tariff used throughout (time zone UTC to keep the arithmetic visible): on-peak 16:00-21:00 every day at
$0.30/kWh, off-peak otherwise at $0.10/kWh, customer charge $10.00 per month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.nem import ProgramError
from workbench.tariffs import tariff_from_spec

TOU = {
    "code": "T-TOU", "name": "test ToU", "timezone": "UTC",
    "time_of_use": {"periods": {
        "on": [{"hours": "16:00-21:00"}],
        "off": [{"hours": ["00:00-16:00", "21:00-24:00"]}],
    }},
    "versions": [{"effective": "2020-01-01", "charges": [
        {"type": "customer", "amount": 10.0, "per": "month"},
        {"type": "energy", "rates": {"on": 0.30, "off": 0.10}},
    ]}],
}
FLAT = {
    "code": "T-FLAT", "name": "test flat", "timezone": "UTC",
    "versions": [{"effective": "2020-01-01", "charges": [
        {"type": "customer", "amount": 10.0, "per": "month"},
        {"type": "energy", "rates": 0.12},
    ]}],
}


def solar_day_series(days=31, start="2025-01-01"):
    """Hourly: 1 kWh imported in each on-peak hour (5/day), 0.5 kWh in the 15 off-peak hours without sun,
    2 kWh exported in each hour 10:00-13:00 (4 hours, 8 kWh/day)."""
    idx = pd.date_range(start, periods=24 * days, freq="h", tz="UTC")
    hour = idx.hour.to_numpy()
    sun = (hour >= 10) & (hour < 14)
    on = (hour >= 16) & (hour < 21)
    delivered = np.where(on, 1.0, np.where(sun, 0.0, 0.5))
    received = np.where(sun, 2.0, 0.0)
    return idx, delivered, received


def line(bill, description):
    found = [li for li in bill.line_items if li.description.startswith(description)]
    assert found, f"no line {description!r} in {[li.description for li in bill.line_items]}"
    return found[0]


def test_nem2_nets_per_tou_period_with_nbc_and_dollar_credits(tmp_path):
    program = {"code": "NEM2", "name": "NEM 2.0", "kind": "net_metering", "credits": "dollars",
               "non_bypassable_rate": 0.025, "true_up": {"month": 4, "surplus_rate": 0.04}}
    idx, d, r = solar_day_series()
    (bill,) = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program))
    # on-peak: 5 kWh x 31 = 155 kWh imported, nothing exported -> 155 x 0.30 = 46.50
    assert line(bill, "Energy, on").amount == 46.50
    # off-peak: imported 15 h x 0.5 x 31 = 232.5, exported 8 x 31 = 248 -> net surplus 15.5 kWh, no charge
    assert not [li for li in bill.line_items if li.description.startswith("Energy, off")]
    # the surplus earns the off-peak retail rate: 15.5 x 0.10 = 1.55, applied to this bill
    assert bill.credit_earned == 1.55 and bill.credit_applied == 1.55 and bill.credit_carried == 0.0
    # non-bypassable charges on every imported kWh: (155 + 232.5) x 0.025 = 9.6875 -> 9.69
    assert line(bill, "Non-bypassable").amount == 9.69
    # 10.00 + 46.50 + 9.69 - 1.55
    assert bill.total == 64.64


def test_nem2_with_nbc_inside_retail_rates_charges_only_the_netted_imports(tmp_path):
    """California: the NBC is part of the retail rate everyone pays; exports must not net it away."""
    program = {"code": "NEM2", "name": "NEM 2.0", "kind": "net_metering", "credits": "dollars",
               "non_bypassable_rate": 0.025, "non_bypassable_in_retail": True,
               "true_up": {"month": 4, "surplus_rate": 0.04}}
    idx, d, r = solar_day_series()
    (bill,) = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program))
    # on-peak 155 kWh billed at retail (0.30, which already holds the NBC): 46.50
    assert line(bill, "Energy, on").amount == 46.50
    # off-peak: 232.5 kWh imported, all netted away by 248 kWh exported; they still pay the NBC:
    # 232.5 x 0.025 = 5.8125 -> 5.81
    nbc = line(bill, "Non-bypassable")
    assert nbc.quantity == pytest.approx(232.5) and nbc.amount == 5.81
    # the 15.5 kWh net surplus earns retail minus the NBC: 15.5 x (0.10 - 0.025) = 1.1625 -> 1.16
    assert bill.credit_earned == 1.16 and bill.credit_applied == 1.16
    assert bill.total == pytest.approx(10.00 + 46.50 + 5.81 - 1.16, abs=1e-9)  # 61.15


def test_nem2_nbc_inside_retail_costs_a_non_exporting_month_nothing_extra(tmp_path):
    program = {"code": "NEM2", "name": "NEM 2.0", "kind": "net_metering", "credits": "dollars",
               "non_bypassable_rate": 0.025, "non_bypassable_in_retail": True, "true_up": {"month": 4}}
    idx, d, r = solar_day_series()
    (with_program,) = bill_series(tariff_from_spec(TOU), idx, d, 0 * r, program=_program_file(tmp_path, program))
    (retail,) = bill_series(tariff_from_spec(TOU), idx, d)
    # no exports: the bill is the retail bill (155 x 0.30 + 232.5 x 0.10 + 10.00 = 79.75), no NBC line on top
    assert with_program.total == retail.total == pytest.approx(79.75, abs=1e-9)


def test_net_billing_credits_every_export_at_the_hourly_value(tmp_path):
    table = _export_table(tmp_path, base=0.05, weekday_10_13=0.08)
    program = {"code": "NB", "name": "net billing", "kind": "net_billing", "true_up": {"month": 12}}
    idx, d, r = solar_day_series()
    (bill,) = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program),
                          export_rates=table)
    # imports at retail from the delivered channel: 155 x 0.30 = 46.50 and 232.5 x 0.10 = 23.25
    assert line(bill, "Energy, on").amount == 46.50
    assert line(bill, "Energy, off").amount == 23.25
    # exports: January 2025 has 23 weekdays and 8 weekend days; 8 kWh/day in hours 10-13
    # 23 x 8 x 0.08 + 8 x 8 x 0.05 = 14.72 + 3.20 = 17.92
    assert bill.credit_earned == 17.92
    assert line(bill, "Credits applied").amount == -17.92
    assert bill.total == pytest.approx(10.00 + 46.50 + 23.25 - 17.92, abs=1e-9)


def test_credits_never_offset_fixed_charges_and_carry_forward(tmp_path):
    # exports worth more than the energy charge: the rest carries, the customer charge is still paid
    program = {"code": "IO", "name": "inflow/outflow", "kind": "net_billing", "export_rate": 1.00,
               "true_up": {"month": 12, "leftover": "roll_over"}}
    idx, d, r = solar_day_series(days=59)  # January and February
    jan, feb = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program))
    # January: energy 46.50 + 23.25 = 69.75; credits earned 248 kWh x 1.00 = 248.00
    assert jan.credit_earned == 248.00 and jan.credit_applied == 69.75
    assert jan.total == 10.00  # the customer charge only
    assert jan.credit_carried == pytest.approx(248.00 - 69.75, abs=1e-9)  # 178.25
    # February (28 days): energy 5 x 28 x 0.30 + 15 x 0.5 x 28 x 0.10 = 42.00 + 21.00 = 63.00
    # available 178.25 + 8 x 28 = 402.25; applied 63.00; carried 339.25
    assert feb.credit_applied == 63.00 and feb.credit_carried == 339.25 and feb.total == 10.00


def test_monthly_netting_banks_kwh_and_cashes_out_at_true_up(tmp_path):
    program = {"code": "NM", "name": "monthly netting", "kind": "net_metering", "credits": "kwh",
               "true_up": {"month": 2, "kwh_rate": 0.05}}
    idx = pd.date_range("2025-01-01", "2025-04-01", freq="h", tz="UTC", inclusive="left")
    d = np.zeros(len(idx))
    r = np.zeros(len(idx))
    at = {t: i for i, t in enumerate(idx)}
    d[at[pd.Timestamp("2025-01-01 00:00", tz="UTC")]] = 100
    r[at[pd.Timestamp("2025-01-01 12:00", tz="UTC")]] = 150
    d[at[pd.Timestamp("2025-02-01 00:00", tz="UTC")]] = 20
    r[at[pd.Timestamp("2025-02-01 12:00", tz="UTC")]] = 60
    d[at[pd.Timestamp("2025-03-01 00:00", tz="UTC")]] = 200
    jan, feb, mar = bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, program))
    # January: net -50 kWh -> nothing billed, 50 kWh banked
    assert jan.total == 10.00 and jan.kwh_carried == 50
    # February (true-up): net -40 -> bank 90 kWh cashed out at 0.05 = 4.50, bank reset
    assert feb.true_up and line(feb, "Banked kWh").amount == -4.50 and feb.kwh_carried == 0
    assert feb.total == 5.50
    # March: 200 kWh billed at 0.12 = 24.00
    assert mar.total == 34.00


def test_banked_kwh_offset_later_imports(tmp_path):
    program = {"code": "NM", "name": "monthly netting", "kind": "net_metering", "credits": "kwh",
               "true_up": {"month": 12, "kwh_rate": 0.05}}
    idx = pd.date_range("2025-01-01", "2025-03-01", freq="h", tz="UTC", inclusive="left")
    d = np.zeros(len(idx))
    r = np.zeros(len(idx))
    r[12] = 150  # January: 150 kWh exported, nothing imported
    d[24 * 31] = 200  # February: 200 kWh imported
    jan, feb = bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, program))
    assert jan.kwh_carried == 150
    # February: 200 - 150 banked = 50 kWh billed x 0.12 = 6.00
    assert line(feb, "Energy").quantity == pytest.approx(50) and feb.total == 16.00 and feb.kwh_carried == 0


def test_nem2_true_up_pays_net_surplus_and_forfeits_leftover_credits(tmp_path):
    program = {"code": "NEM2", "name": "NEM 2.0", "kind": "net_metering", "credits": "dollars",
               "true_up": {"month": 2, "surplus_rate": 0.04, "leftover": "forfeit"}}
    idx = pd.date_range("2025-01-01", "2025-03-01", freq="h", tz="UTC", inclusive="left")
    d = np.zeros(len(idx))
    r = np.zeros(len(idx))
    r[12] = 300  # January: 300 kWh exported off-peak (12:00), worth 300 x 0.10 = 30.00 of credit
    d[24 * 31 + 17] = 100  # February: 100 kWh imported on-peak (17:00): 100 x 0.30 = 30.00
    d[24 * 31 + 3] = 50  # and 50 kWh off-peak (03:00): 50 x 0.10 = 5.00
    jan, feb = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program))
    assert jan.credit_earned == 30.00 and jan.credit_applied == 0 and jan.credit_carried == 30.00
    assert jan.total == 10.00
    # February: energy 35.00, credits 30.00 applied; nothing left to forfeit
    assert feb.credit_applied == 30.00
    # the 12-month window (Jan-Feb) nets 300 - 150 = 150 kWh surplus, paid at 0.04 = 6.00
    assert line(feb, "Net surplus").amount == -6.00
    # 10.00 + 35.00 - 30.00 - 6.00
    assert feb.total == 9.00
    assert feb.true_up and feb.credit_carried == 0


def test_buy_all_sell_all_pays_every_exported_kwh(tmp_path):
    program = {"code": "BASA", "name": "buy all sell all", "kind": "buy_all_sell_all", "export_rate": 0.065}
    idx, d, r = solar_day_series()
    (bill,) = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program))
    # all 248 kWh sold at 0.065 = 16.12, whatever the charges
    assert line(bill, "Generation sold").amount == -16.12
    assert bill.total == pytest.approx(10.00 + 46.50 + 23.25 - 16.12, abs=1e-9)


def test_hourly_netting_nets_within_the_hour(tmp_path):
    program = {"code": "IOH", "name": "hourly", "kind": "net_billing", "export_rate": 0.05,
               "netting_interval": "hourly"}
    idx = pd.date_range("2025-01-01", "2025-02-01", freq="15min", tz="UTC", inclusive="left")
    d = np.zeros(len(idx))
    r = np.zeros(len(idx))
    d[48:52] = [1.0, 0.0, 1.0, 0.0]  # 12:00-13:00: 2 kWh imported, 3 kWh exported -> 1 kWh net export
    r[48:52] = [0.0, 2.0, 0.0, 1.0]
    (bill,) = bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, program))
    assert bill.delivered_kwh == 0 and bill.received_kwh == 1.0
    assert bill.credit_earned == 0.05


def test_nbt_program_from_the_tariff_book_uses_the_vintage_and_adder():
    """NBT: PTO in 2024 -> the 2022 export-value table; the ACC Plus adder applies for one year from PTO."""
    from workbench.nem import load_program
    from workbench.nem.exports import read_export_values

    program = load_program("tariffs/programs/NBT.yaml")
    idx, d, r = solar_day_series()
    tariff = tariff_from_spec(TOU)
    (early,) = bill_series(tariff, idx, d, r, program=program, pto_date="2024-06-01")  # adder still on
    (late,) = bill_series(tariff, idx, d, r, program=program, pto_date="2023-06-01")  # adder expired
    _, table = read_export_values("tariffs/programs/export-values/acc-2022.csv")
    weekday = idx.day_of_week.to_numpy() < 5
    value = table[0, np.where(weekday, 0, 1), idx.hour.to_numpy()]  # January
    expected = round(float((r * value).sum()), 2)
    assert late.credit_earned == expected
    assert early.credit_earned == round(expected + 248 * 0.04, 2)


def test_received_energy_without_a_program_is_an_error(tmp_path, capsys):
    idx, d, r = solar_day_series()
    csv = tmp_path / "solar.csv"
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "delivered_kwh": d, "received_kwh": r}).to_csv(csv, index=False)
    tariff = tmp_path / "t.yaml"
    import yaml

    tariff.write_text(yaml.safe_dump(TOU))
    assert main(["bill", "--tariff", str(tariff), "--intervals", str(csv)]) == 2
    err = capsys.readouterr().err
    assert "solar.csv" in err and "no net-metering program" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--program", "NEM9"], "NEM9"),
    (["--program", "net-billing", "--true-up-month", "13"], "13"),
    (["--program", "NBT", "--programs", "tariffs/programs", "--export-rates", "BAD_TABLE"], "576"),
])
def test_program_bad_input(tmp_path, capsys, args, message):
    idx, d, r = solar_day_series()
    csv = tmp_path / "solar.csv"
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "delivered_kwh": d, "received_kwh": r}).to_csv(csv, index=False)
    bad = _export_table(tmp_path, 0.05, 0.08, rows=575)
    args = [str(bad) if a == "BAD_TABLE" else a for a in args]
    code = main(["bill", "--tariff", "tariffs/RES-TOU.yaml", "--intervals", str(csv), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_program_file_with_unknown_field_is_refused(tmp_path):
    from workbench.nem import load_program

    path = _program_file(tmp_path, {"code": "X", "name": "x", "kind": "net_metering", "credit": "dollars"})
    with pytest.raises(ProgramError, match="credit"):
        load_program(path)
    with pytest.raises(ProgramError, match="true-up month 0"):
        load_program(_program_file(tmp_path, {"code": "X", "name": "x", "kind": "net_metering",
                                              "true_up": {"month": 0}}))
    with pytest.raises((ProgramError, WorkbenchError), match="kWh credits"):
        load_program(_program_file(tmp_path, {"code": "X", "name": "x", "kind": "net_billing", "credits": "kwh"}))


def _program_file(tmp_path, program):
    import yaml

    path = tmp_path / f"{program['code']}.yaml"
    path.write_text(yaml.safe_dump(program))
    return str(path)


def _export_table(tmp_path, base, weekday_10_13, rows=576):
    records = []
    for month in range(1, 13):
        for day in ("weekday", "weekend"):
            for hour in range(24):
                value = weekday_10_13 if day == "weekday" and 10 <= hour < 14 else base
                records.append((month, day, hour, value))
    path = tmp_path / f"export-{rows}.csv"
    pd.DataFrame(records[:rows], columns=["month", "day_type", "hour", "export_rate"]).to_csv(path, index=False)
    return str(path)


# ---------------------------------------------------------------------------------------------- PySAM options
# The worked examples of docs/pysam-nem-conventions.md (figures worked out by hand there, and observed in PySAM
# by tests/oracle/test_pysam_nem_conventions.py): tariff T = 2 ToU periods (p0 hours 0-11 and 18-23, p1 12-17,
# every day), tiers at 300 kWh/month, rate/sell p0 0.10/0.03 then 0.20/0.04, p1 0.30/0.05 then 0.50/0.06,
# $10/month. Load 1 kWh every hour of 2018; in April, May and June hours 10-14 import nothing and export X kWh
# (E1: X = 3, 5, 5; E2: X = 3, 20, 20).

T_URDB = {
    "label": "tariff-T", "name": "worked-example tariff T", "utility": "test", "sector": "Residential",
    "energyratestructure": [
        [{"rate": 0.10, "max": 300, "unit": "kWh", "sell": 0.03}, {"rate": 0.20, "unit": "kWh", "sell": 0.04}],
        [{"rate": 0.30, "max": 300, "unit": "kWh", "sell": 0.05}, {"rate": 0.50, "unit": "kWh", "sell": 0.06}],
    ],
    "energyweekdayschedule": [[0] * 12 + [1] * 6 + [0] * 6] * 12,
    "energyweekendschedule": [[0] * 12 + [1] * 6 + [0] * 6] * 12,
    "fixedchargefirstmeter": 10.0, "fixedchargeunits": "$/month",
}


def _tariff_t(tmp_path):
    import json

    from workbench.tariffs import load_tariff

    path = tmp_path / "tariff-T.json"  # from a file, as `workbench bill --tariff`: tiered sell rates included
    path.write_text(json.dumps(T_URDB))
    return load_tariff(path)


def _worked_example_data(x_may_june: float):
    idx = pd.date_range("2018-01-01", periods=8760, freq="h", tz="UTC")
    month, hour = idx.month.to_numpy(), idx.hour.to_numpy()
    x = np.select([month == 4, np.isin(month, (5, 6))], [3.0, x_may_june], 0.0)
    exporting = (x > 0) & (hour >= 10) & (hour < 15)
    return idx, np.where(exporting, 0.0, 1.0), np.where(exporting, x, 0.0)


def _pysam_bills(tmp_path, program, x_may_june, true_up_month=12, **kwargs):
    idx, d, r = _worked_example_data(x_may_june)
    return bill_series(_tariff_t(tmp_path), idx, d, r, program=program, true_up_month=true_up_month, **kwargs)


def _sum(bill, category):
    return round(sum(li.amount for li in bill.line_items if li.category == category), 2)


def test_pysam_net_metering_kwh_banks_per_period_and_tiers_in_proportion(tmp_path):
    bills = _pysam_bills(tmp_path, "net-metering-kwh", 5.0)
    # Jan: 558 p0 + 186 p1 = 744 kWh, tiers shared in proportion: 0.75 x (30 + 444 x 0.2) + 0.25 x (90 + 444 x 0.5);
    # Feb: 672 kWh, 0.75 x (30 + 372 x 0.2) + 0.25 x (90 + 372 x 0.5)
    # Apr: p0 +300 billed, p1 -180 banked; May p0 +186, Jun p0 +180; Jul-Oct p1 covered by the bank;
    # Nov: bank 174 < 180, p1 billed 6: 540/546 x (30 + 246 x 0.2) + 6/546 x (90 + 246 x 0.5) in 4 rounded lines
    expected = [167.10, 147.30, 167.10, 30.00, 18.60, 18.00, 81.60, 81.60, 78.00, 81.60, 80.67, 167.10]
    assert [_sum(b, "energy") for b in bills] == pytest.approx(expected, abs=1e-9)
    assert [b.kwh_carried for b in bills] == pytest.approx([0, 0, 0, 180, 552, 912, 726, 540, 360, 174, 0, 0])
    assert all(_sum(b, "credit") == 0 for b in bills)


def test_pysam_net_metering_kwh_moves_banks_by_time_of_day_and_loses_unmatched_ones(tmp_path):
    import json

    from workbench.tariffs import load_tariff

    def bills_for(item):
        path = tmp_path / "t.json"
        path.write_text(json.dumps({**T_URDB, **item}))
        idx, d, r = _worked_example_data(5.0)
        return bill_series(load_tariff(path), idx, d, r, program="net-metering-kwh", true_up_month=12)

    # Jul-Dec bill periods p2/p3 at p0/p1's hours: p1's 912 kWh move to p3 (both at 17 h), July as under T
    first, second = [[0] * 12 + [1] * 6 + [0] * 6] * 6, [[2] * 12 + [3] * 6 + [2] * 6] * 6
    july = bills_for({"energyratestructure": T_URDB["energyratestructure"] * 2,
                      "energyweekdayschedule": first + second, "energyweekendschedule": first + second})[6]
    assert _sum(july, "energy") == pytest.approx(81.60)
    # p1 = 12-16 h, at none of 0, 5, 11, 17 h: its surplus is lost each month; July 589 + 155 kWh billed in full
    sched = [[0] * 12 + [1] * 5 + [0] * 7] * 12
    bills = bills_for({"energyweekdayschedule": sched, "energyweekendschedule": sched})
    assert bills[5].kwh_carried == pytest.approx(30 * 13)  # June's own p1 surplus, shown as banked
    assert _sum(bills[6], "energy") == pytest.approx(round(589 / 744 * 300 * 0.1, 2) + round(589 / 744 * 444 * 0.2, 2)
                                                     + round(155 / 744 * 300 * 0.3, 2) + round(155 / 744 * 444 * 0.5, 2))


def test_pysam_net_metering_kwh_true_up_cashes_out_the_month_level_excess(tmp_path):
    from workbench.nem import pysam_program

    # E1, true-up June at 0.02 $/kWh: month-level running excess 186 (May) + 180 (Jun) = 366 kWh -> $7.32,
    # not the 912 kWh banked in p1; July billed in full
    bills = _pysam_bills(tmp_path, pysam_program("net-metering-kwh", 6, 0.02), 5.0, true_up_month=None)
    assert bills[5].true_up and bills[5].total == pytest.approx(10 + 18.00 - 7.32)
    assert bills[5].kwh_carried == 0 and bills[6].total == pytest.approx(177.10)
    # E2: 2511 + 2430 = 4941 kWh -> $98.82, a negative June bill
    bills = _pysam_bills(tmp_path, pysam_program("net-metering-kwh", 6, 0.02), 20.0, true_up_month=None)
    assert bills[5].total == pytest.approx(-88.82)


def test_pysam_net_metering_dollars_values_surplus_at_sell_and_pays_the_balance(tmp_path):
    bills = _pysam_bills(tmp_path, "net-metering-dollars", 5.0)
    # Apr: p0 300 kWh = $30.00, p1 surplus 180 x 0.05 = $9.00; May: $18.60 against 300 x 0.05 + 72 x 0.06
    # = $19.32 (0.72 carried); Jun: $18.00 against $18.60 (1.32 carried); Jul: $1.32 applied
    assert [_sum(b, "energy") + _sum(b, "credit") for b in bills[3:7]] == pytest.approx([21.00, 0, 0, 165.78])
    assert [b.credit_carried for b in bills[3:7]] == pytest.approx([0, 0.72, 1.32, 0])
    # E2, true-up June: May surplus 2511 kWh -> (300, 2211) in tiers shared 744:1767 = $132.78, June $128.40;
    # nothing to offset (no net import), the $261.18 balance is paid on the June bill
    bills = _pysam_bills(tmp_path, "net-metering-dollars", 20.0, true_up_month=6)
    assert [b.credit_earned for b in bills[4:6]] == pytest.approx([132.78, 128.40])
    assert bills[5].total == pytest.approx(10 - 261.18) and bills[5].credit_carried == 0


def test_pysam_net_billing_fills_tiers_in_time_order(tmp_path):
    bills = _pysam_bills(tmp_path, "net-billing", 5.0)
    # Jan: 24 kWh a day, the 300 kWh bound is reached at 12:00 on 13 Jan: 228 x 0.1 + 72 x 0.3 + 330 x 0.2 + 114 x 0.5
    assert _sum(bills[0], "energy") == pytest.approx(167.40)
    # Apr: imports p0 252/228, p1 48/42 kWh in tiers 1/2 = $106.20; exports on their own counter, which
    # passes 300 kWh on day 20: p0 120 x 0.03 + p1 180 x 0.05 + p0 60 x 0.04 + p1 90 x 0.06 = $20.40
    assert _sum(bills[3], "energy") == pytest.approx(106.20)
    assert bills[3].credit_earned == pytest.approx(20.40) and bills[3].total == pytest.approx(95.80)


def test_pysam_net_billing_credits_never_offset_fixed_charges(tmp_path):
    # E2 May: credits 120 x 0.03 + 180 x 0.05 + 1120 x 0.04 + 1680 x 0.06 = $158.20 > energy $110.90.
    # PySAM: bill -$37.30. Ours: energy to 0, $47.30 carried; June $106.20 of (47.30 + 153.00) applied, $94.10
    # carried; July $94.10 of $167.40 applied
    bills = _pysam_bills(tmp_path, "net-billing", 20.0)
    assert [b.credit_applied for b in bills[4:7]] == pytest.approx([110.90, 106.20, 94.10])
    assert [b.credit_carried for b in bills[4:7]] == pytest.approx([47.30, 94.10, 0.0])
    assert [b.total for b in bills[4:7]] == pytest.approx([10.00, 10.00, 10 + 167.40 - 94.10])


def test_pysam_net_billing_carryover_pays_the_balance_at_true_up(tmp_path):
    # E2, credits usable in the month earned, true-up June: Apr ec 85.80; May 110.90 applied (47.30 carried);
    # Jun 106.20 applied (94.10 carried) and paid: June bill 10 - 94.10
    bills = _pysam_bills(tmp_path, "net-billing-carryover", 20.0, true_up_month=6)
    assert _sum(bills[3], "energy") + _sum(bills[3], "credit") == pytest.approx(85.80)
    assert bills[5].total == pytest.approx(-84.10) and bills[5].credit_carried == 0
    assert bills[6].credit_applied == 0 and bills[6].total == pytest.approx(177.40)
    # our net-billing carries its excess the same way and settles it the same way at the true-up
    same = _pysam_bills(tmp_path, "net-billing", 20.0, true_up_month=6)
    assert [b.total for b in same] == [b.total for b in bills]


def test_pysam_buy_all_sell_all_sells_every_exported_kwh(tmp_path):
    bills = _pysam_bills(tmp_path, "buy-all-sell-all", 20.0)
    assert _sum(bills[3], "energy") + _sum(bills[3], "credit") == pytest.approx(85.80)
    assert bills[4].total == pytest.approx(10 + 110.90 - 158.20)  # a sale: not limited by the bill
    assert bills[4].credit_carried == 0


def test_pysam_time_series_export_values_replace_sell_without_tiers(tmp_path):
    idx = pd.date_range("2018-01-01", periods=8760, freq="h", tz="UTC")
    values = pd.Series(np.where((idx.hour >= 12) & (idx.hour < 15), 0.07, 0.01), index=idx)
    bills = _pysam_bills(tmp_path, "net-billing", 20.0, export_rates=values)
    assert bills[3].credit_earned == pytest.approx(30 * (6 * 0.01 + 9 * 0.07))  # $20.70
    for name in ("net-metering-kwh", "net-metering-dollars"):  # PySAM refuses them with net metering too
        with pytest.raises(WorkbenchError, match="export values per interval"):
            _pysam_bills(tmp_path, name, 20.0, export_rates=values)


def test_pysam_sell_tiers_and_rollover_targets():
    from workbench.nem.pysam_options import rollover_targets, urdb_sell_tiers
    from workbench.tariffs import load_tariff

    assert urdb_sell_tiers(T_URDB, load_tariff(T_URDB)).tolist() == [[0.03, 0.04], [0.05, 0.06]]
    # winter (Jan-May, Oct-Dec) p1 all day but p2 16-20 h; summer (Jun-Sep) p3 all day but p4 16-20 h and p5 13-14 h
    winter = [0] * 16 + [1] * 5 + [0] * 3
    summer = [2] * 13 + [4] * 2 + [2] + [3] * 5 + [2] * 3
    item = {**T_URDB, "energyweekdayschedule": [summer if 5 <= m <= 8 else winter for m in range(12)],
            "energyweekendschedule": [summer if 5 <= m <= 8 else winter for m in range(12)],
            "energyratestructure": [[{"rate": 0.1 * (p + 1)}] for p in range(5)]}
    tariff = load_tariff(item)
    bucket = {(tariff.season_names[e // len(tariff.tou_names)], tariff.tou_names[e % len(tariff.tou_names)]): e
              for e in range(tariff.n_energy_buckets)}
    w, s = ("jan-may+oct-dec", "jun-sep")
    targets = rollover_targets(tariff)
    # the weekday periods at 0, 5, 11, 17 h: May [p1, p1, p1, p2], June [p3, p3, p3, p4]
    assert targets[4, 5, bucket[w, "p1"]] == bucket[s, "p3"] and targets[4, 5, bucket[w, "p2"]] == bucket[s, "p4"]
    assert targets[8, 9, bucket[s, "p4"]] == bucket[w, "p2"]
    assert targets[5, 6, bucket[s, "p5"]] == -1  # p5 is at none of those hours: PySAM loses its surplus


def test_chronological_tiers_kernel_matches_a_slow_reference():
    from workbench.kernels.tiers import chronological_tiers

    rng = np.random.default_rng(3)
    n_meters, n_steps, n_buckets = 3, 500, 4
    kwh = rng.exponential(1.0, (n_meters, n_steps)) * (rng.random((n_meters, n_steps)) < 0.8)
    kwh[0, 7] = np.nan
    bucket = rng.integers(0, n_buckets, n_steps)
    season = np.array([0, 0, 1, 1])
    bounds = np.array([[0, 200, 500], [0, 250, 500], [0, 0, 500]])
    limits = rng.uniform(20, 80, (n_meters, 2, 2, 2)).cumsum(axis=-1)
    out = chronological_tiers(kwh, bounds, bucket, season, limits, n_buckets)

    expected = np.zeros_like(out)
    for m in range(n_meters):
        for b in range(2):
            used = {0: 0.0, 1: 0.0}
            for t in range(bounds[m, b], bounds[m, b + 1]):
                value = 0.0 if np.isnan(kwh[m, t]) else kwh[m, t]
                s = season[bucket[t]]
                while value > 1e-15:  # one kWh slice at a time into the tier the counter is in
                    uppers = [*limits[m, b, s], np.inf]
                    k = next(i for i, u in enumerate(uppers) if used[s] < u)
                    take = min(value, uppers[k] - used[s])
                    expected[m, b, bucket[t], k] += take
                    used[s] += take
                    value -= take
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert np.nansum(kwh[:, :500]) == pytest.approx(out.sum())
