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
