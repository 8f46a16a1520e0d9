"""Register reads (meters without interval data): consumption from dials, rollover, multipliers, and bills under
the tariff book in the cycle's tables. Every expected amount is worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt

import pytest

from tests._fixtures import GOOD_TARIFF
from workbench.ami.register_reads import RegisterReadError, read_register_reads
from workbench.billing.cycle_chunk import SCHEMAS
from workbench.billing.register_bills import bill_register_reads

TIER = """\
code: REG-TIER
name: Register tiered test rate
timezone: America/New_York
seasons:
  summer: [6, 7, 8, 9]
  winter: [1, 2, 3, 4, 5, 10, 11, 12]
versions:
  - effective: 2024-01-01
    charges:
      - {type: customer, description: Customer charge, amount: 10.00, per: month}
      - type: energy
        description: Energy
        blocks: {unit: kWh, limits: [500], rates: {summer: [0.10, 0.20], winter: [0.08, 0.12]}}
"""
DEMAND = """\
code: REG-DEMAND
name: Register demand test rate
timezone: America/New_York
versions:
  - effective: 2024-01-01
    charges:
      - {type: customer, description: Customer charge, amount: 25.00, per: month}
      - {type: energy, description: Energy, rates: 0.07}
      - {type: demand, description: Demand, measure: max, rates: 8.00}
"""
REGISTRY = """\
meter_id,account,customer_class,rate_code,ct_ratio,cycle
R1,A-1,RES,REG-TIER,,3
R2,A-2,RES,REG-TIER,,3
R3,A-3,RES,REG-TIER,2,3
D1,A-4,LGS,REG-DEMAND,40,3
D2,A-5,LGS,REG-DEMAND,,3
T1,A-6,RES,TEST,,3
"""
READS = """\
meter_id,read_date,kwh_register,kw_demand,multiplier,dials,estimated
R1,2025-01-01,1000,,,,no
R1,2025-02-01,1700,,,,no
R1,2025-03-01,2100,,,,yes
R2,2025-05-17,500,,,,
R2,2025-06-16,1100,,,,
R3,2025-01-01,9900,,,4,
R3,2025-02-01,150,,,4,
D1,2025-01-01,1000.0,0.9,,,
D1,2025-02-01,1250.5,1.25,,,
D2,2025-01-01,10,,,,
D2,2025-02-01,20,,,,
T1,2025-01-01,10,,,,
T1,2025-02-01,20,,,,
"""


@pytest.fixture
def setup(tmp_path):
    book = tmp_path / "tariffs"
    book.mkdir()
    (book / "REG-TIER.yaml").write_text(TIER)
    (book / "REG-DEMAND.yaml").write_text(DEMAND)
    (book / "TEST.yaml").write_text(GOOD_TARIFF)
    (tmp_path / "meters.csv").write_text(REGISTRY)
    (tmp_path / "reads.csv").write_text(READS)
    return tmp_path


def _write(tmp_path, text):
    path = tmp_path / "r.csv"
    path.write_text(text)
    return path


# --- reading ---------------------------------------------------------------------------------------------------

def test_rollover_multiplier_and_demand_by_hand(tmp_path):
    path = _write(tmp_path, "meter_id,read_date,kwh_register,kw_demand,multiplier,dials\n"
                            "M,2025-01-01,99500,,40,5\nM,2025-02-01,300,2.5,40,5\nM,2025-03-01,1300.7,3,40,5\n")
    got = read_register_reads(path).periods
    # 300 + 100000 - 99500 = 800 dials x 40 = 32,000 kWh; 2.5 kW x 40 = 100 kW
    assert got[["kwh", "kw_demand", "rollover", "days"]].values.tolist() == [[32000.0, 100.0, True, 31],
                                                                           [40028.0, 120.0, False, 28]]
    assert list(got["source"]) == ["r.csv:3", "r.csv:4"]  # 1000.7 x 40 = 40,028


@pytest.mark.parametrize("rows,reason", [
    ("M,2025-01-01,500,\nM,2025-02-01,400,\n", "went down from 500 (row 2) to 400 and no dials"),
    ("M,2025-01-01,500,4\nM,2025-02-01,400,4\n", "would mean 9900 kWh (more than half its range)"),
])
def test_a_register_going_down_without_rollover_evidence_is_rejected(tmp_path, rows, reason):
    rp = read_register_reads(_write(tmp_path, "meter_id,read_date,kwh_register,dials\n" + rows))
    assert rp.periods.empty and len(rp.rejected) == 1
    assert reason in rp.rejected["reason"][0] and rp.rejected["source"][0] == "r.csv:3"


@pytest.mark.parametrize("text,match", [
    ("meter_id,read_date,kwh_register\nM,2025-01-01,12a\n", r"row 2, kwh_register: '12a' is not a number"),
    ("meter_id,read_date,kwh_register\nM,2025-01-01,-5\n", r"row 2, kwh_register: '-5'"),
    ("meter_id,read_date,kwh_register\nM,01/02/2025,5\n", r"row 2, read_date"),
    ("meter_id,read_date,kwh_register\nM,2025-01-01,5\nM,2025-01-01,6\n", r"row 3: meter M is read twice .*row 2"),
    ("meter_id,read_date,kwh\nM,2025-01-01,5\n", r"row 1 \(header\): unknown column\(s\) kwh"),
    ("meter_id,read_date,kwh_register,dials\nM,2025-01-01,10000,4\n", r"row 2, kwh_register: 10000 does not fit"),
    ("meter_id,read_date,kwh_register,multiplier\nM,2025-01-01,5,0\n", r"row 2, multiplier: '0' is not a number > 0"),
    ("meter_id,read_date,kwh_register,estimated\nM,2025-01-01,5,maybe\n", r"row 2, estimated"),
])
def test_unreadable_rows_refuse_the_file_naming_row_and_field(tmp_path, text, match):
    with pytest.raises(RegisterReadError, match=match) as err:
        read_register_reads(_write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_a_multiplier_that_disagrees_with_the_registry_is_refused(tmp_path):
    path = _write(tmp_path, "meter_id,read_date,kwh_register,multiplier\nM,2025-01-01,5,80\n")
    with pytest.raises(RegisterReadError, match="row 2, multiplier: 80, but the meter registry gives meter M"):
        read_register_reads(path, {"M": 40.0})


# --- billing ---------------------------------------------------------------------------------------------------

def _totals(result):
    bills = result.bills.to_pandas()
    return {(r.meter, str(r.period_start)): round(r.total, 2) for r in bills.itertuples()}


def test_register_bills_by_hand(setup):
    result = bill_register_reads(setup / "reads.csv", setup / "meters.csv", setup / "tariffs")
    assert result.bills.schema == SCHEMAS["bills"] and result.line_items.schema == SCHEMAS["line_items"]
    assert _totals(result) == {
        # R1 January: 700 kWh, 31 days (a full period): 10.00 + 500 x 0.08 + 200 x 0.12 = 74.00
        ("R1", "2025-01-01"): 74.00,
        # R1 February: 400 kWh: 10.00 + 400 x 0.08 = 42.00
        ("R1", "2025-02-01"): 42.00,
        # R2 May 17 - June 16: 600 kWh over 15 winter + 15 summer days: 300 kWh each, blocks 500 x 15/30 = 250
        # 10.00 + 250 x 0.08 + 50 x 0.12 + 250 x 0.10 + 50 x 0.20 = 10 + 20 + 6 + 25 + 10 = 71.00
        ("R2", "2025-05-17"): 71.00,
        # R3: 9900 -> 150 on 4 dials rolls over: 250 x CT 2 (registry) = 500 kWh: 10.00 + 500 x 0.08 = 50.00
        ("R3", "2025-01-01"): 50.00,
        # D1: (1250.5 - 1000.0) x 40 = 10,020 kWh; 1.25 kW x 40 = 50 kW: 25.00 + 701.40 + 400.00 = 1,126.40
        ("D1", "2025-01-01"): 1126.40,
    }
    bills = result.bills.to_pandas().set_index(["meter", "period_start"])
    d1 = bills.loc[("D1", dt.date(2025, 1, 1))]
    assert (d1.delivered_kwh, d1.peak_kw, d1.billing_demand_kw, d1.account, d1.cycle) == (10020.0, 50.0, 50.0, "A-4", 3)
    # the estimated read of R1 on 2025-03-01 holds February's bill, with the row
    held = bills.loc[~bills["bill_ready"]]
    assert list(held.index) == [("R1", dt.date(2025, 2, 1))]
    assert "estimated register read (reads.csv:4)" in held["hold_reason"].iloc[0]
    refused = {r["meter"]: r["reason"] for r in result.refused}
    assert set(refused) == {"D2", "T1"}
    assert "bills demand (kW)" in refused["D2"] and "time of use" in refused["T1"]


def test_line_items_add_up_and_period_filter(setup):
    result = bill_register_reads(setup / "reads.csv", setup / "meters.csv", setup / "tariffs", period="2025-02")
    lines = result.line_items.to_pandas()
    # only periods ending in February: R1 Jan (ends 2025-02-01 exclusive -> last day Jan 31) is January's;
    # R1 February (Feb 1 - Mar 1, last day Feb 28) is February's
    assert _totals(result) == {("R1", "2025-02-01"): 42.00}
    assert result.summary_text().endswith("; 1 bill, 2 meters refused")  # D2 and T1, refused whole
    assert lines[["description", "quantity", "amount"]].values.tolist() == [
        ["Customer charge", 1.0, 10.0], ["Energy, winter, block 1", 400.0, 32.0]]
