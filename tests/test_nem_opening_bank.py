"""The net-metering bank brought into the first bill the workbench computes (an opening balance).

A customer who carries banked kWh or $ credit from before the first bill of the cube (a new cube each year, a
migration from a legacy CIS) brings it into that bill: the bank walk starts from it, the first bill shows it as
brought forward, and a true-up inside the cube settles it with what was earned. Every expected amount is worked
out by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.test_nem import FLAT, TOU, _program_file
from workbench.billing import bill_series
from workbench.errors import WorkbenchError
from workbench.tariffs import tariff_from_spec

NM_KWH = {"code": "NM", "name": "monthly netting", "kind": "net_metering", "credits": "kwh",
          "true_up": {"month": 12, "kwh_rate": 0.05}}
NB = {"code": "NB", "name": "net billing", "kind": "net_billing", "export_rate": 0.05, "offsets": ["energy"],
      "true_up": {"month": 12, "leftover": "roll_over"}}


def _hours(first="2025-01-01", stop="2025-03-01"):
    idx = pd.date_range(first, stop, freq="h", tz="UTC", inclusive="left")
    return idx, np.zeros(len(idx)), np.zeros(len(idx))


def _bank_adds_up(bill):
    assert round((bill.credit_brought + bill.credit_earned - bill.credit_applied - bill.credit_settled) * 100) == \
        round(bill.credit_carried * 100)
    assert abs(bill.kwh_brought + bill.kwh_banked - bill.kwh_used - bill.kwh_settled - bill.kwh_carried) < 1e-9


def test_an_opening_kwh_bank_pays_the_first_months_net_imports(tmp_path):
    # 300 kWh banked before the cube; January imports 200 kWh net: the bank pays all 200, 0 kWh are billed
    # (the bill is the $10.00 customer charge) and 100 kWh carry to February
    idx, d, r = _hours()
    d[5] = 200.0
    jan, feb = bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, NM_KWH),
                           opening_kwh=300.0)
    assert (jan.kwh_brought, jan.kwh_used, jan.kwh_banked, jan.kwh_carried) == (300.0, 200.0, 0.0, 100.0)
    assert sum(li.amount for li in jan.line_items if li.category == "energy") == 0.0
    assert jan.total == 10.00
    assert (feb.kwh_brought, feb.kwh_carried) == (100.0, 100.0)
    for bill in (jan, feb):
        _bank_adds_up(bill)


def test_a_true_up_in_the_cube_settles_the_opening_kwh_with_what_was_earned(tmp_path):
    # true-up in February: 300 opening - 200 used in January = 100; February banks 50 exported kWh: 150 kWh
    # cashed out at $0.05 = $7.50; February = $10.00 - $7.50 = $2.50
    idx, d, r = _hours()
    d[5] = 200.0
    r[24 * 31 + 12] = 50.0
    program = NM_KWH | {"true_up": {"month": 2, "kwh_rate": 0.05}}
    jan, feb = bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, program),
                           opening_kwh=300.0)
    assert (feb.kwh_brought, feb.kwh_banked, feb.kwh_settled, feb.kwh_carried) == (100.0, 50.0, 150.0, 0.0)
    assert [li.amount for li in feb.line_items if li.description == "Banked kWh cashed out at true-up"] == [-7.50]
    assert feb.total == 2.50
    _bank_adds_up(feb)


def test_an_opening_dollar_credit_offsets_the_first_bills(tmp_path):
    # $12.34 brought in; January: 50 kWh x $0.12 = $6.00 energy, all offset ($6.34 carried), total $10.00;
    # February: 100 kWh = $12.00, the $6.34 left offsets part of it: $10.00 + $12.00 - $6.34 = $15.66
    idx, d, r = _hours()
    d[5] = 50.0
    d[24 * 31 + 5] = 100.0
    jan, feb = bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, NB),
                           opening_credit=12.34)
    assert (jan.credit_brought, jan.credit_applied, jan.credit_carried) == (12.34, 6.00, 6.34)
    assert jan.total == 10.00
    assert (feb.credit_brought, feb.credit_applied, feb.credit_carried) == (6.34, 6.34, 0.0)
    assert feb.total == 15.66
    for bill in (jan, feb):
        _bank_adds_up(bill)


def test_a_true_up_in_the_cube_pays_the_opening_credit_with_what_was_earned(tmp_path):
    # NEM $ credits, true-up in February, leftover paid at 100 %: $12.34 opening + January's 300 exported kWh at
    # the $0.10 off-peak rate ($30.00) = $42.34; February's 50 on-peak kWh ($15.00) take $15.00; the $27.34
    # left is paid at the true-up: $10.00 + $15.00 - $15.00 - $27.34 = -$17.34
    program = {"code": "NEMD", "name": "NEM $", "kind": "net_metering", "credits": "dollars",
               "true_up": {"month": 2, "leftover": "pay", "leftover_rate": 1.0}}
    idx, d, r = _hours()
    r[12] = 300.0
    d[24 * 31 + 17] = 50.0
    jan, feb = bill_series(tariff_from_spec(TOU), idx, d, r, program=_program_file(tmp_path, program),
                           opening_credit=12.34)
    assert (jan.credit_brought, jan.credit_earned, jan.credit_carried) == (12.34, 30.00, 42.34)
    assert (feb.credit_brought, feb.credit_applied, feb.credit_settled, feb.credit_carried) == (42.34, 15.00, 27.34, 0)
    assert [li.amount for li in feb.line_items if li.description == "Credit balance paid at true-up"] == [-27.34]
    assert feb.total == -17.34
    for bill in (jan, feb):
        _bank_adds_up(bill)


@pytest.mark.parametrize(("program", "given", "match"), [
    (NB, {"opening_kwh": 10.0}, r"opening bank in kWh given, but the program banks \$ credit"),
    (NM_KWH, {"opening_credit": 1.0}, r"opening bank in \$ credit given, but the program banks banked kWh"),
    ({"code": "BASA", "name": "b", "kind": "buy_all_sell_all", "export_rate": 0.05, "true_up": {"month": 12}},
     {"opening_credit": 1.0}, r"program banks nothing"),
    (NB, {"opening_credit": -1.0}, r"--opening-credit -1.0 is not an amount >= 0"),
])
def test_an_opening_bank_the_program_cannot_hold_is_refused(tmp_path, program, given, match):
    idx, d, r = _hours("2025-01-01", "2025-02-01")
    with pytest.raises(WorkbenchError, match=match):
        bill_series(tariff_from_spec(FLAT), idx, d, r, program=_program_file(tmp_path, program), **given)


def test_an_opening_bank_without_a_program_is_refused():
    idx, d, _ = _hours("2025-01-01", "2025-02-01")
    with pytest.raises(WorkbenchError, match="opening credit bank need a --program"):
        bill_series(tariff_from_spec(FLAT), idx, d, opening_credit=5.0)


@pytest.mark.slow
def test_a_cycle_brings_the_enrollment_files_opening_bank_into_the_cubes_first_bill(tmp_path, caplog):
    """Sample utility: one NEM2 account with $12.34 opening credit bills as the single-meter path bills it with
    that opening credit (its first bill brings $12.34 in); the other NEM2 accounts, enrolled before the cube
    with no balance given, are counted in ONE warning; an explicit 0 silences it for its account."""
    import logging

    from workbench.ami.cube import open_cube
    from workbench.billing.cycle import run_cycle
    from workbench.nem import load_program
    from workbench.sample import generate_sample_utility
    from workbench.tariffs import load_tariff

    cube = tmp_path / "cube.zarr"
    generate_sample_utility(cube, n_meters=60, year=2025, seed=11, meter_chunk=30, progress=False)
    ds = open_cube(cube, chunks=False)
    solar = np.flatnonzero(ds["nem_program"].values == "NEM2")
    assert len(solar) >= 2
    (a, b), c = solar[:2], min(set(range(ds.sizes["meter"])) - set(solar))
    acc = ds["account"].values.astype(str)
    enrollments = tmp_path / "enrollments.csv"
    enrollments.write_text("account,program,pto_date,opening_credit\n"
                           f"{acc[a]},NEM2,2019-05-10,12.34\n{acc[b]},NEM2,2020-08-20,\n{acc[c]},NEM2,2021-02-01,0\n")
    with caplog.at_level(logging.WARNING):
        run_cycle(cube, "tariffs", tmp_path / "out", enrollments=enrollments, progress=False)
    said = [r.getMessage() for r in caplog.records if "opening balance" in r.getMessage()]
    assert len(said) == 1 and "1 account(s)" in said[0] and acc[b] in said[0], said
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    mine = bills[bills.meter == str(ds["meter"].values[a])].sort_values("period_start")
    assert mine.credit_brought.iloc[0] == 12.34
    times = pd.DatetimeIndex(ds["time"].values).tz_localize("UTC").tz_convert(ds.attrs["timezone"])
    reads = [pd.Timestamp(r).date() for r in ds["read_date"].sel(cycle_id=int(ds["cycle"].values[a])).values
             if not np.isnat(r)]
    alone = bill_series(load_tariff(f"tariffs/{ds['rate_code'].values[a]}.yaml"), times,
                        ds["delivered_kwh"].values[a], ds["received_kwh"].values[a], read_dates=reads,
                        program=load_program("tariffs/programs/NEM2.yaml"), pto_date="2019-05-10",
                        opening_credit=12.34)
    assert [x.total for x in alone] == pytest.approx(list(mine.total), abs=1e-9)
    assert [x.credit_carried for x in alone] == pytest.approx(list(mine.credit_carried), abs=1e-9)
