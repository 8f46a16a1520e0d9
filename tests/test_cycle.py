"""Whole-utility billing from the cube: dask vs memory, cube vs single-customer path, accounting, outputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from workbench.ami.cube import open_cube, write_cube
from workbench.ami.cube_calendar import cube_periods
from workbench.billing import bill_series
from workbench.billing.cycle import run_cycle
from workbench.billing.cycle_output import held_exceptions
from workbench.cli import main
from workbench.engine.cube import cube_determinants
from workbench.errors import BillingError
from workbench.nem import load_program
from workbench.sample import generate_sample_utility
from workbench.tariffs import load_tariff


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=120, year=2025, seed=11, meter_chunk=40, progress=False)
    return path


@pytest.fixture(scope="module")
def cycle_run(cube, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = run_cycle(cube, "tariffs", out, progress=False)
    return result, out


@pytest.mark.parametrize("code", ["RES-TOU", "GS-TOU-DEMAND", "LGS-TOU", "RTP"])
def test_dask_and_memory_give_identical_determinants(cube, code):
    lazy = open_cube(cube)
    eager = open_cube(cube, chunks=False)
    assert lazy["delivered_kwh"].chunks is not None and eager["delivered_kwh"].chunks is None
    tariff = load_tariff(f"tariffs/{code}.yaml")
    periods = cube_periods(eager)
    from_dask = cube_determinants(lazy, tariff, periods)
    assert from_dask["energy_kwh"].chunks is not None  # still lazy: nothing computed yet
    from_dask = from_dask.compute()
    in_memory = cube_determinants(eager, tariff, periods)
    xr.testing.assert_identical(from_dask, in_memory)


def test_cube_bills_equal_single_customer_bills(cube, cycle_run):
    """A meter billed inside the utility run gets the same bills as billed alone from its own series."""
    _, out = cycle_run
    ds = open_cube(cube, chunks=False)
    bills = pd.read_parquet(out / "bills.parquet")
    items = pd.read_parquet(out / "line_items.parquet")
    checked = 0
    for code in ("RES-TOU", "GS-TOU-DEMAND", "LGS-TOU", "RES-TIER"):
        meters = np.flatnonzero(ds["rate_code"].values == code)
        if not len(meters):
            continue
        m = meters[0]
        meter = str(ds["meter"].values[m])
        cycle = int(ds["cycle"].values[m])
        reads = ds["read_date"].sel(cycle_id=cycle).values
        reads = [pd.Timestamp(r).date() for r in reads if not np.isnat(r)]
        times = pd.DatetimeIndex(ds["time"].values).tz_localize("UTC").tz_convert(ds.attrs["timezone"])
        alone = bill_series(load_tariff(f"tariffs/{code}.yaml"), times, ds["delivered_kwh"].values[m],
                            ds["received_kwh"].values[m], read_dates=reads)
        mine = bills[bills.meter == meter].sort_values("period_start")
        assert len(alone) == len(mine)
        for bill, (_, row) in zip(alone, mine.iterrows(), strict=True):
            assert bill.start == row.period_start and bill.end == row.period_end
            assert bill.total == pytest.approx(row.total, abs=1e-9)
            lines = items[(items.meter == meter) & (items.period_start == row.period_start)]
            assert lines.amount.sum() == pytest.approx(row.total, abs=1e-6)
        checked += 1
    assert checked >= 3


def test_accounting_adds_up_and_outputs_are_complete(cycle_run):
    result, out = cycle_run
    assert result.meters_in == 120 == result.meters_billed + result.meters_held
    run = json.loads((out / "run.json").read_text())
    assert run["meters_in"] == run["meters_billed"] + run["meters_held"]
    bills = pd.read_parquet(out / "bills.parquet")
    assert bills.meter.nunique() == 120
    assert len(bills) == result.bills
    # every bill period of a meter follows the previous one without a gap, across the whole year
    for _, group in bills.sort_values("period_start").groupby("meter"):
        assert (group.period_start.iloc[1:].to_numpy() == group.period_end.iloc[:-1].to_numpy()).all()
        assert group.period_start.iloc[0] == pd.Timestamp("2025-01-01").date()
        assert group.period_end.iloc[-1] == pd.Timestamp("2026-01-01").date()
        assert group.intervals.sum() == 35040
    summary = pd.read_csv(out / "summary.csv")
    assert summary.bills.sum() == len(bills)
    assert summary.revenue.sum() == pytest.approx(bills.total.sum(), abs=0.01)


def test_summary_csv_is_rounded_for_people_and_parquet_keeps_full_precision(cycle_run):
    """summary.csv: kWh to 3 decimals, $ to cents (no 88222.55100291222); bills.parquet unrounded."""
    _, out = cycle_run
    text = (out / "summary.csv").read_text()
    header, *rows = [line.split(",") for line in text.splitlines()]
    decimals = {"kwh": 3, "revenue": 2, "average_bill": 2}
    for row in rows:
        for name, places in decimals.items():
            cell = row[header.index(name)]
            assert len(cell.partition(".")[2]) <= places, (name, cell)
    bills = pd.read_parquet(out / "bills.parquet")
    summary = pd.read_csv(out / "summary.csv").set_index("rate_code")
    by_code = bills.groupby("rate_code").delivered_kwh.sum()
    # the CSV holds the Parquet's sums rounded half-way at most (a 3-decimal rounding error)
    assert (summary.kwh - by_code.reindex(summary.index)).abs().max() <= 0.0005 + 1e-9
    # the Parquet keeps what was computed: some kWh with more than 3 decimals
    assert any(len(repr(v).partition(".")[2]) > 3 for v in bills.delivered_kwh.head(50))


def test_unknown_rate_code_is_held_not_lost(cube, tmp_path):
    ds = open_cube(cube, chunks=False)
    codes = ds["rate_code"].values.astype(object)
    codes[[3, 7]] = "RES-EV-PILOT"
    ds = ds.assign_coords(rate_code=("meter", codes.astype(str)))
    path = tmp_path / "cube.zarr"
    write_cube(ds, path, meter_chunk=50)
    result = run_cycle(path, "tariffs", tmp_path / "out", progress=False)
    assert (result.meters_in, result.meters_billed, result.meters_held) == (120, 118, 2)
    held = held_exceptions(pd.read_csv(tmp_path / "out" / "exceptions.csv"))  # NEM2 review rows are held: no
    assert sorted(held.meter) == sorted(str(m) for m in ds["meter"].values[[3, 7]])
    assert held.reason.str.contains("RES-EV-PILOT").all()


def test_cycle_and_period_filters(cube, tmp_path):
    ds = open_cube(cube)
    cycle = int(ds["cycle"].values[0])
    result = run_cycle(cube, "tariffs", tmp_path / "out", cycles=[cycle], period="2025-11", progress=False)
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    assert result.meters_in == int((ds["cycle"].values == cycle).sum())
    assert set(bills.cycle) == {cycle}
    assert len(bills) == result.meters_in  # exactly one bill per meter ends in November
    ends = pd.to_datetime(bills.period_end) - pd.Timedelta(days=1)
    assert (ends.dt.month == 11).all()


def test_failed_run_leaves_no_partial_output(cube, tmp_path):
    book = tmp_path / "book"
    shutil.copytree("tariffs", book)
    (book / "RES-TOU.yaml").write_text((book / "RES-TOU.yaml").read_text().replace("rates:", "ratez:", 1))
    out = tmp_path / "out"
    with pytest.raises(Exception, match="RES-TOU.yaml"):
        run_cycle(cube, book, out, progress=False)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial*"))


def test_cli_cycle(cube, tmp_path, capsys):
    assert main(["cycle", "--cube", str(cube), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Billed 120 of 120 meters" in printed and "bills.parquet" in printed
    assert main(["cycle", "--cube", str(cube), "--cycle", "99", "--out", str(tmp_path / "p"), "--quiet"]) == 2
    assert "cycle(s) [99]" in capsys.readouterr().err
    assert main(["cycle", "--cube", str(tmp_path / "nope.zarr"), "--quiet"]) == 2
    assert "nope.zarr" in capsys.readouterr().err


def test_bad_period_argument(cube, tmp_path):
    with pytest.raises(BillingError, match="2025-13"):
        run_cycle(cube, "tariffs", tmp_path / "o", period="2025-13", progress=False)


def test_solar_meters_are_billed_under_their_program(cube, cycle_run):
    _, out = cycle_run
    ds = open_cube(cube, chunks=False)
    bills = pd.read_parquet(out / "bills.parquet")
    solar = set(ds["meter"].values[ds["nem_program"].values == "NEM2"].astype(str))
    assert solar, "the sample has solar meters"
    on_program = bills[bills.meter.isin(solar)]
    assert (on_program.nem_program == "NEM2").all()
    assert on_program.received_kwh.sum() > 0 and on_program.credit_earned.sum() > 0
    # NEM 2.0 nets per ToU period: the billed kWh of a solar meter are below what it imported
    items = pd.read_parquet(out / "line_items.parquet")
    energy = items[items.meter.isin(solar) & items.description.str.startswith("Energy")].quantity.sum()
    assert energy < on_program.delivered_kwh.sum()
    # non-bypassable charges (inside the retail rates) on every imported kWh: the billed kWh pay them in the
    # energy rate, the imports that exports netted away pay them on their own line
    nbc = items[items.meter.isin(solar) & (items.description == "Non-bypassable charges")]
    assert nbc.quantity.sum() + energy == pytest.approx(on_program.delivered_kwh.sum(), rel=1e-6)
    assert not bills[~bills.meter.isin(solar)].credit_earned.any()


def test_exporting_meter_without_program_is_held(cube, tmp_path):
    ds = open_cube(cube, chunks=False)
    programs = ds["nem_program"].values.astype(object)
    solar = np.flatnonzero(programs == "NEM2")
    programs[solar[0]] = ""
    programs[solar[1]] = "NEM9"
    ds = ds.assign_coords(nem_program=("meter", programs.astype(str)))
    path = tmp_path / "cube.zarr"
    write_cube(ds, path, meter_chunk=50)
    result = run_cycle(path, "tariffs", tmp_path / "out", progress=False)
    assert result.meters_in == result.meters_billed + result.meters_held == 120
    held = held_exceptions(pd.read_csv(tmp_path / "out" / "exceptions.csv")).set_index("meter")
    assert "no net-metering program" in held.loc[str(ds["meter"].values[solar[0]]), "reason"]
    assert "NEM9" in held.loc[str(ds["meter"].values[solar[1]]), "reason"]
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    assert not set(held.index) & set(bills.meter)


def test_an_export_outside_the_runs_periods_does_not_hold_the_bill(cube, tmp_path):
    """One day of reverse flow in July on a meter with no program holds its July bill, not its November bill
    (the hold looked at the meter's whole year, so a one-day fault kept every later month unbilled)."""
    ds = open_cube(cube, chunks=False).load()
    programs = ds["nem_program"].values.astype(object)
    m = int(np.flatnonzero(programs == "NEM2")[0])
    programs[m] = ""
    received = ds["received_kwh"].values.copy()
    received[m, :] = 0.0
    july = np.flatnonzero(pd.DatetimeIndex(ds["time"].values).month == 7)
    received[m, july[1000:1004]] = 0.5  # one hour of export in mid-July
    ds = ds.assign_coords(nem_program=("meter", programs.astype(str))).assign(
        received_kwh=(ds["received_kwh"].dims, received))
    path = tmp_path / "cube.zarr"
    write_cube(ds, path, meter_chunk=50)
    meter, cycle = str(ds["meter"].values[m]), int(ds["cycle"].values[m])
    nov = run_cycle(path, "tariffs", tmp_path / "nov", cycles=[cycle], period="2025-11", progress=False)
    assert meter not in set(pd.read_csv(tmp_path / "nov" / "exceptions.csv", dtype=str)["meter"])
    bills = pd.read_parquet(tmp_path / "nov" / "bills.parquet")
    assert (bills.meter == meter).sum() == 1 and nov.meters_held == 0
    july_month = pd.Timestamp(ds["time"].values[july[1000]]).tz_localize("UTC").tz_convert("America/New_York")
    # a run over the whole year bills the July period too: the export there still holds the meter
    run_cycle(path, "tariffs", tmp_path / "jul", cycles=[cycle], period=None, progress=False)
    whole = pd.read_csv(tmp_path / "jul" / "exceptions.csv", dtype=str)
    assert meter in set(whole["meter"]), f"the export of {july_month:%Y-%m-%d} holds the meter in a whole-year run"


def test_bills_on_too_many_estimated_intervals_are_held_for_review(cube, cycle_run, tmp_path):
    """VEE's bill-ready rule (defaults.yaml: held when more than 2% of a period's intervals are estimated)."""
    _, out = cycle_run
    ds = open_cube(cube, chunks=False)
    bills = pd.read_parquet(out / "bills.parquet")
    assert bills.bill_ready.all() and (bills.hold_reason == "").all()  # the clean sample is bill-ready
    times = pd.DatetimeIndex(ds["time"].values)
    quality = ds["quality"].values.copy()
    picked = {}
    for row, extra in ((0, 0), (1, 1)):  # exactly 2 % estimated (ready) and one interval more (held)
        meter = str(ds["meter"].values[row])
        bill = bills[bills.meter == meter].iloc[5]
        n = int(bill.intervals)
        k = (2 * n) // 100 + extra  # floor(2 % of n) is at most 2 %; one more is above it
        # the period's intervals are those between its local read dates; mark the first k estimated
        tz = ds.attrs["timezone"]
        start = pd.Timestamp(bill.period_start).tz_localize(tz).tz_convert("UTC").tz_localize(None)
        first = int(times.searchsorted(start))
        quality[row, first:first + k] = 1
        picked[meter] = (bill.period_start, n, k)
    path = tmp_path / "cube.zarr"
    write_cube(ds.assign(quality=(("meter", "time"), quality)), path, meter_chunk=40)
    result = run_cycle(path, "tariffs", tmp_path / "out", progress=False)
    again = pd.read_parquet(tmp_path / "out" / "bills.parquet").set_index(["meter", "period_start"])
    (ready_meter, (p0, n0, k0)), (held_meter, (p1, n1, k1)) = picked.items()
    assert k0 * 100 <= 2 * n0 and k1 * 100 > 2 * n1
    assert again.loc[(ready_meter, p0), "estimated_intervals"] == k0 and again.loc[(ready_meter, p0), "bill_ready"]
    held = again.loc[(held_meter, p1)]
    assert held.estimated_intervals == k1 and not held.bill_ready
    assert f"{k1} of {n1} intervals estimated" in held.hold_reason and "> 2%" in held.hold_reason
    assert result.bills_held == 1 == int((~again.bill_ready).sum())
    assert json.loads((tmp_path / "out" / "run.json").read_text())["bills_held_not_bill_ready"] == 1
    # a site configuration with a looser rule (10%) holds nothing
    site = tmp_path / "vee-site.yaml"
    site.write_text("bill_ready:\n  max_estimated_share: 0.10\n")
    loose = run_cycle(path, "tariffs", tmp_path / "out-site", vee_config=site, progress=False)
    assert loose.bills_held == 0 and pd.read_parquet(tmp_path / "out-site" / "bills.parquet").bill_ready.all()


def test_enrollment_file_gives_each_account_its_program_pto_and_true_up(cube, tmp_path):
    """Accounts on several program generations at once, each billed as the single-customer path bills it."""
    ds = open_cube(cube, chunks=False)
    solar = np.flatnonzero(ds["nem_program"].values == "NEM2")
    assert len(solar) >= 2
    a, b = solar[:2]
    acc = ds["account"].values.astype(str)
    enrollments = tmp_path / "enrollments.csv"
    enrollments.write_text(
        "account,program,pto_date,start,end,true_up_month,policy_version\n"
        f"{acc[a]},NEM2,2019-05-10,,2025-03-01,,\n"      # moved off NEM 2.0 ...
        f"{acc[a]},NBT,2025-03-01,,,9,2023 tariff\n"     # ... onto the NBT in March, true-up in September
        f"{acc[b]},NEM2,2020-08-20,,,,\n")               # anniversary true-up: July
    result = run_cycle(cube, "tariffs", tmp_path / "out", enrollments=enrollments, progress=False)
    assert result.meters_in == result.meters_billed + result.meters_held
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    times = pd.DatetimeIndex(ds["time"].values).tz_localize("UTC").tz_convert(ds.attrs["timezone"])
    checked = []
    for m, program, pto, month in ((a, "NBT", "2025-03-01", 9), (b, "NEM2", "2020-08-20", 7)):
        meter = str(ds["meter"].values[m])
        mine = bills[bills.meter == meter].sort_values("period_start")
        assert (mine.nem_program == program).all()
        reads = [pd.Timestamp(r).date() for r in ds["read_date"].sel(cycle_id=int(ds["cycle"].values[m])).values
                 if not np.isnat(r)]
        alone = bill_series(load_tariff(f"tariffs/{ds['rate_code'].values[m]}.yaml"), times,
                            ds["delivered_kwh"].values[m], ds["received_kwh"].values[m], read_dates=reads,
                            program=load_program(f"tariffs/programs/{program}.yaml"), pto_date=pto,
                            true_up_month=month if program == "NBT" else None)
        assert [b.total for b in alone] == pytest.approx(list(mine.total), abs=1e-9)
        true_up_ends = (pd.to_datetime(mine[mine.true_up].period_end) - pd.Timedelta(days=1)).dt.month
        assert set(true_up_ends) <= {month}
        checked.append(meter)
    assert len(checked) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(f"account,program,pto_date\n{acc[a]},NEM7,2019-05-10\n")
    with pytest.raises(Exception, match=f"row 2, account {acc[a]}.*NEM7"):
        run_cycle(cube, "tariffs", tmp_path / "out2", enrollments=bad, progress=False)
