"""Whole-utility billing from the cube: dask vs memory, cube vs single-customer path, accounting, outputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from workbench.ami.cube import open_cube, write_cube
from workbench.billing import bill_series
from workbench.billing.cube import cube_determinants, cube_periods
from workbench.billing.cycle import run_cycle
from workbench.cli import main
from workbench.errors import BillingError
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


def test_unknown_rate_code_is_held_not_lost(cube, tmp_path):
    ds = open_cube(cube, chunks=False)
    codes = ds["rate_code"].values.astype(object)
    codes[[3, 7]] = "RES-EV-PILOT"
    ds = ds.assign_coords(rate_code=("meter", codes.astype(str)))
    path = tmp_path / "cube.zarr"
    write_cube(ds, path, meter_chunk=50)
    result = run_cycle(path, "tariffs", tmp_path / "out", progress=False)
    assert (result.meters_in, result.meters_billed, result.meters_held) == (120, 118, 2)
    held = pd.read_csv(tmp_path / "out" / "exceptions.csv")
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
    held = pd.read_csv(tmp_path / "out" / "exceptions.csv").set_index("meter")
    assert "no net-metering program" in held.loc[str(ds["meter"].values[solar[0]]), "reason"]
    assert "NEM9" in held.loc[str(ds["meter"].values[solar[1]]), "reason"]
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")
    assert not set(held.index) & set(bills.meter)
