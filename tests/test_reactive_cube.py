"""The cube's reactive channel: kVARh kept per meter, landed by the ingest, read by `workbench cycle`.

Expected amounts are worked out by hand in the comments (not by the code under test).

The cube: January 2025 in UTC, hourly (744 intervals), three meters on a tariff with a power-factor adjustment
(customer $20, energy $0.10/kWh, demand $10/kW, billing demand × 0.90 / PF when the period's PF < 0.90):

- LOW: 10 kWh each hour except hour 100 with 20 kWh (kWh 743 × 10 + 20 = 7,450; peak 20 kW), 10 kVARh each
  hour (kVARh 7,440): PF = 7450 / sqrt(7450² + 7440²) = 7450 / 10,528.822 = 0.707582 < 0.90;
  billing demand 20 × 0.90 / 0.707582 = 25.43877 kW -> $254.39; energy $745.00; customer $20.00:
  total $1,019.39.
- HIGH: the same kWh, 3 kVARh each hour (kVARh 2,232): PF = 7450 / sqrt(7450² + 2232²) = 7450 / 7,777.167
  = 0.957932 >= 0.90: demand 20 kW -> $200.00; total $965.00.
- NONE: the same kWh, no kVARh reads: held (exceptions.csv) with the engine's reason, never billed at PF 1.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr

from workbench.ami.cube import open_cube, write_cube
from workbench.ami.cube_chunks import check_chunks_present, open_zarr_group
from workbench.ami.ingest import ingest
from workbench.billing.cycle import run_cycle
from workbench.cli import main
from workbench.errors import CubeError

TARIFF = """code: PF-TEST
name: Large general service with power-factor adjustment (test)
timezone: UTC
sector: commercial
demand: {interval_minutes: 60}
versions:
  - effective: 2020-01-01
    charges:
      - {type: customer, amount: 20.0, per: month}
      - {type: energy, rates: 0.10}
      - {type: demand, rates: 10.0}
      - {type: power_factor, method: demand_multiplier, threshold: 0.90}
"""

TIME = pd.date_range("2025-01-01", periods=744, freq="h").to_numpy().astype("datetime64[ns]")
KWH = np.full(744, 10.0, np.float32)
KWH[100] = 20.0


def _cube(path, meter_chunk=1):
    kvarh = np.full((3, 744), np.nan, np.float32)
    kvarh[0], kvarh[1] = 10.0, 3.0
    ds = xr.Dataset(
        {"delivered_kwh": (("meter", "time"), np.tile(KWH, (3, 1))),
         "received_kwh": (("meter", "time"), np.zeros((3, 744), np.float32)),
         "quality": (("meter", "time"), np.zeros((3, 744), np.uint8)),
         "reactive_kvarh": (("meter", "time"), kvarh),
         "read_date": (("cycle_id", "read"), np.array([["2025-01-01", "2025-02-01"]], "datetime64[ns]"))},
        coords={"time": TIME, "meter": ["LOW", "HIGH", "NONE"], "account": ("meter", ["A1", "A2", "A3"]),
                "customer_class": ("meter", ["LGS"] * 3), "rate_code": ("meter", ["PF-TEST"] * 3),
                "multiplier": ("meter", np.ones(3, np.float32)), "cycle": ("meter", np.ones(3, np.int16)),
                "nem_program": ("meter", [""] * 3), "cycle_id": np.array([1], np.int16)},
        attrs={"timezone": "UTC", "step_minutes": 60},
    )
    write_cube(ds, path, meter_chunk=meter_chunk)
    return path


@pytest.fixture
def book(tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "PF-TEST.yaml").write_text(TARIFF)
    return folder


def test_has_reactive_and_no_chunk_for_meters_without_kvarh(tmp_path):
    cube = _cube(tmp_path / "c.zarr")
    ds = open_cube(cube)
    assert ds["has_reactive"].values.tolist() == [True, True, False]
    # meter chunks of one meter: chunks 0 and 1 hold kVARh, chunk 2 (NONE) was never written
    assert sorted(p.name for p in (cube / "reactive_kvarh" / "c").iterdir()) == ["0", "1"]
    check_chunks_present(open_zarr_group(cube), 0, 3, cube)  # no reactive data is not a lost chunk


def test_lost_reactive_chunk_is_an_error(tmp_path):
    cube = _cube(tmp_path / "c.zarr")
    (cube / "reactive_kvarh" / "c" / "1" / "0").unlink()  # HIGH's kVARh chunk, which has_reactive says exists
    with pytest.raises(CubeError, match=r"chunk c/1/0 of variable 'reactive_kvarh'.*has_reactive"):
        check_chunks_present(zarr.open_group(cube, mode="r"), 0, 3, cube)


def test_cycle_bills_power_factor_from_the_cube(tmp_path, book):
    cube = _cube(tmp_path / "c.zarr")
    result = run_cycle(cube, book, tmp_path / "out", progress=False)
    assert (result.meters_in, result.meters_billed, result.meters_held) == (3, 2, 1)
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet").set_index("meter")
    assert bills.loc["LOW", "total"] == 1019.39
    assert bills.loc["HIGH", "total"] == 965.00
    lines = pd.read_parquet(tmp_path / "out" / "line_items.parquet")
    low = lines[lines.meter == "LOW"].set_index("description")
    assert low.loc["Demand", "quantity"] == pytest.approx(25.43877, abs=1e-4)
    assert low.loc["Demand", "amount"] == 254.39
    held = pd.read_csv(tmp_path / "out" / "exceptions.csv")
    assert held.meter.tolist() == ["NONE"]
    assert "needs the meter's reactive channel (kVARh reads); the meter has none" in held.reason[0]


def test_cycle_and_bill_intervals_agree(tmp_path, book, capsys):
    cube = _cube(tmp_path / "c.zarr")
    run_cycle(cube, book, tmp_path / "out", progress=False)
    cycle_total = float(pd.read_parquet(tmp_path / "out" / "bills.parquet").set_index("meter").loc["LOW", "total"])
    csv = tmp_path / "low.csv"
    pd.DataFrame({"timestamp": pd.DatetimeIndex(TIME).strftime("%Y-%m-%dT%H:%M:%SZ"), "delivered_kwh": KWH,
                  "reactive_kvarh": 10.0}).to_csv(csv, index=False)
    assert main(["bill", "--tariff", str(book / "PF-TEST.yaml"), "--intervals", str(csv), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    bills = out["bills"] if isinstance(out, dict) else out
    assert [b["total"] for b in bills] == [1019.39] == [cycle_total]


def test_kvarh_gap_in_the_period_holds_the_meter(tmp_path, book):
    cube = _cube(tmp_path / "c.zarr")
    ds = open_cube(cube, chunks=False)
    kvarh = ds["reactive_kvarh"].values.copy()
    kvarh[0, 300:302] = np.nan  # two hours of LOW without a kVARh read
    write_cube(ds.assign(reactive_kvarh=(("meter", "time"), kvarh)), tmp_path / "gap.zarr", meter_chunk=1)
    result = run_cycle(tmp_path / "gap.zarr", book, tmp_path / "out", progress=False)
    assert (result.meters_billed, result.meters_held) == (1, 2)
    held = pd.read_csv(tmp_path / "out" / "exceptions.csv").set_index("meter")
    assert "the reactive channel (kVARh) misses 2 interval(s) in the bill period 2025-01-01" in held.loc["LOW", "reason"]


def _mdm(path, rows):
    pd.DataFrame(rows, columns=["meter_id", "interval_start", "channel", "value", "unit", "interval_seconds"]
                 ).to_csv(path, index=False)
    return path


def test_ingest_lands_kvarh_and_counts_every_read(tmp_path):
    reg = tmp_path / "meters.csv"
    reg.write_text("meter_id,service_point,account,customer_class,rate_code,cycle,timezone\n"
                   "M1,M1,A1,LGS,LGS-TOU,1,UTC\nM2,M2,A2,LGS,LGS-TOU,1,UTC\n")
    rows = [("M1", f"2025-01-01T{h:02d}:00:00Z", "delivered", 10.0, "kWh", 3600) for h in range(4)]
    rows += [("M1", f"2025-01-01T{h:02d}:00:00Z", "delivered", 4.0, "kVARh", 3600) for h in range(3)]
    rows += [("M1", "2025-01-01T03:00:00Z", "delivered", -1.0, "kVARh", 3600)]  # negative: rejected
    rows += [("M2", f"2025-01-01T{h:02d}:00:00Z", "delivered", 8.0, "kWh", 3600) for h in range(4)]
    res = ingest([_mdm(tmp_path / "r.csv", rows)], tmp_path / "c.zarr", reg, create_period="2025-01")
    a = res.accounting
    # 4 + 3 + 1 + 4 = 12 reads in = 11 accepted (4 + 3 kVARh + 4) + 1 rejected
    assert (a["reads_in"], a["accepted"], a["rejected"], a["duplicates"]) == (12, 11, 1, 0)
    assert a["rejects_by_reason"] == {"negative kVARh (reactive channel)": 1}
    ds = open_cube(tmp_path / "c.zarr", chunks=False)
    assert ds["has_reactive"].values.tolist() == [True, False]
    assert ds["reactive_kvarh"].values[0, :4].tolist()[:3] == [4.0, 4.0, 4.0]
    assert np.isnan(ds["reactive_kvarh"].values[0, 3]) and np.isnan(ds["reactive_kvarh"].values[1]).all()
    # the energy channels' quality is not changed by kVARh: M1's 4 hours actual, the rest missing
    assert ds["quality"].values[0, :5].tolist() == [0, 0, 0, 0, 2]


def test_ingest_adds_the_channel_to_an_old_cube(tmp_path):
    cube = _cube(tmp_path / "c.zarr")
    ds = open_cube(cube, chunks=False).drop_vars(["reactive_kvarh", "has_reactive"])
    write_cube(ds, tmp_path / "old.zarr")  # a cube from before the reactive channel
    old = open_cube(tmp_path / "old.zarr")
    assert "reactive_kvarh" not in old and "has_reactive" not in old.coords
    rows = [("NONE", "2025-01-05T00:00:00Z", "delivered", 2.5, "kVARh", 3600)]
    res = ingest([_mdm(tmp_path / "r.csv", rows)], tmp_path / "old.zarr")
    assert (res.accounting["accepted"], res.accounting["new"]) == (1, 1)
    new = open_cube(tmp_path / "old.zarr", chunks=False)
    assert new["has_reactive"].values.tolist() == [False, False, True]
    assert float(np.nansum(new["reactive_kvarh"].values)) == 2.5
    # the energy was not touched
    np.testing.assert_array_equal(new["delivered_kwh"].values, np.tile(KWH, (3, 1)))


def test_vee_keeps_kvarh_and_flags_gaps(tmp_path, book):
    from workbench.vee.store import vee_cube

    cube = _cube(tmp_path / "c.zarr", meter_chunk=3)
    ds = open_cube(cube, chunks=False)
    kvarh, quality, delivered = (ds[n].values.copy() for n in ("reactive_kvarh", "quality", "delivered_kwh"))
    kvarh[0, 30:33] = np.nan  # LOW: 3 hours of 1 January without kVARh (hours 30..32 = 2 January 06..08 UTC)
    delivered[1, 50], quality[1, 50] = np.nan, 2  # HIGH: energy missing at hour 50, kVARh read there
    write_cube(ds.assign(reactive_kvarh=(("meter", "time"), kvarh), quality=(("meter", "time"), quality),
                         delivered_kwh=(("meter", "time"), delivered)), tmp_path / "v.zarr", meter_chunk=3)
    summary = vee_cube(tmp_path / "v.zarr")
    ex = summary.exceptions.to_pandas()
    gap = ex[ex.rule == "REACTIVE_GAP"]
    assert gap[["meter", "count"]].values.tolist() == [["LOW", 3]] and str(gap.day.iloc[0]) == "2025-01-02"
    without = ex[ex.rule == "REACTIVE_WITHOUT_ENERGY"]
    assert without[["meter", "count"]].values.tolist() == [["HIGH", 1]]
    assert "NONE" not in set(ex[ex.rule.str.startswith("REACTIVE")].meter)  # no kVARh is not a fault
    after = open_cube(tmp_path / "v.zarr", chunks=False)
    np.testing.assert_array_equal(after["reactive_kvarh"].values, kvarh)  # kept, not estimated
    assert after["has_reactive"].values.tolist() == [True, True, False]
    # LOW is held for the kVARh gap; HIGH bills
    result = run_cycle(tmp_path / "v.zarr", book, tmp_path / "out", progress=False)
    held = pd.read_csv(tmp_path / "out" / "exceptions.csv")
    assert sorted(held.meter) == ["LOW", "NONE"] and result.meters_billed == 1
