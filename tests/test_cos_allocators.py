"""Cost-of-service allocators against values worked out by hand on a four-meter, one-year hourly cube.

The cube (America/Chicago, 2025, hourly, written through ``write_cube``):

- M1 (RES) 1 kWh every hour, 201 kWh on 15 July 17:00 local;
- M2 (RES) 2 kWh every hour, missing (NaN) on 15 July 17:00 (counts 0);
- M3 (SGS) 3 kWh every hour; on 10 March 14:00 it delivers 0 and exports 4 kWh (net -4 kW);
- M4 (LGS) 5 kWh every hour; on the 10th of each month m at 14:00 it takes 5 + 10 m kWh.

System base load 11 kW. Month m's system maximum is the 10th at 14:00 (11 + 10 m; March: 1 + 2 - 4 + 35 = 34),
except July, whose maximum is 15 July 17:00 (201 + 0 + 3 + 5 = 209 > 81), which is also the year's.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from tests.test_vee_support import make_cube
from workbench.ami.cube import write_cube
from workbench.design.allocators import AllocatorError, allocator_table, class_loads, read_system_load
from workbench.kernels.allocators import accumulate_class_loads, accumulate_class_loads_numpy
from workbench.tariffs import load_tariff

TZ = "America/Chicago"
HOURS = 8760
FIRST_UTC = dt.datetime(2025, 1, 1, 6, 0)  # local midnight, CST = UTC-6


def hour_of(month, day, hour) -> int:
    """Position on the cube's axis of the local hour (zoneinfo, independent of the code under test)."""
    utc = dt.datetime(2025, month, day, hour, tzinfo=ZoneInfo(TZ)).astimezone(dt.UTC).replace(tzinfo=None)
    return int((utc - FIRST_UTC).total_seconds() // 3600)


def hand_cube():
    delivered = np.array([[1.0], [2.0], [3.0], [5.0]], np.float32).repeat(HOURS, axis=1)
    received = np.zeros_like(delivered)
    delivered[0, hour_of(7, 15, 17)] = 201
    delivered[1, hour_of(7, 15, 17)] = np.nan
    delivered[2, hour_of(3, 10, 14)] = 0
    received[2, hour_of(3, 10, 14)] = 4
    for m in range(1, 13):
        delivered[3, hour_of(m, 10, 14)] = 5 + 10 * m
    ds = make_cube(delivered, received=received, start="2025-01-01T00:00", tz=TZ, step=60, nem=["", "", "NEM2", ""])
    return ds.assign_coords(customer_class=("meter", np.array(["RES", "RES", "SGS", "LGS"])))


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    return write_cube(hand_cube(), tmp_path_factory.mktemp("cos") / "cube.zarr", meter_chunk=3)


@pytest.fixture(scope="module")
def table(cube):
    out, _ = allocator_table(class_loads(cube, 2025, chunk_meters=2))
    return out.set_index("class")


def test_customers_and_kwh(table):
    assert table["customers"].to_dict() == {"LGS": 1, "RES": 2, "SGS": 1}
    # RES: 8760 + 200 (M1) + 2 × 8759 (M2, one hour missing); SGS: 3 × 8760 - 3; LGS: 5 × 8760 + 10 × (1+..+12)
    assert table["kwh"].to_dict() == pytest.approx({"RES": 26478.0, "SGS": 26277.0, "LGS": 44580.0}, abs=1e-6)


def test_cp1_is_the_class_load_at_the_year_peak_with_the_missing_interval_as_zero(table):
    assert table["cp1_kw"].to_dict() == pytest.approx({"RES": 201.0, "SGS": 3.0, "LGS": 5.0}, abs=1e-9)


def test_cp12_takes_each_months_own_peak(table):
    # RES: 11 × 3 + 201; SGS: 11 × 3 - 4 (March, exporting); LGS: sum over m != 7 of (5 + 10 m) + 5 (July)
    assert table["cp12_kw"].to_dict() == pytest.approx({"RES": 234 / 12, "SGS": 29 / 12, "LGS": 770 / 12}, abs=1e-9)


def test_cp4_is_june_to_september(table):
    # RES: 3 + 201 + 3 + 3; SGS: 3 each; LGS: 65 + 5 + 85 + 95
    assert table["cp4_kw"].to_dict() == pytest.approx({"RES": 52.5, "SGS": 3.0, "LGS": 62.5}, abs=1e-9)


def test_ncp_and_sum_of_maxima(table):
    assert table["ncp_kw"].to_dict() == pytest.approx({"RES": 201.0, "SGS": 3.0, "LGS": 125.0}, abs=1e-9)
    # sum of each meter's max delivered: the export hour does not lower M3's maximum
    assert table["sum_max_kw"].to_dict() == pytest.approx({"RES": 203.0, "SGS": 3.0, "LGS": 125.0}, abs=1e-9)


def test_peaks_table_names_the_intervals(cube):
    _, peaks = allocator_table(class_loads(cube, 2025))
    year = peaks.set_index("peak").loc["year"]
    assert year["interval_start_local"] == "2025-07-15T17:00" and year["system_kw"] == pytest.approx(209.0)
    assert peaks.set_index("peak").loc["03", "SGS_kw"] == pytest.approx(-4.0)


def test_weights_and_numpy_engine(cube, table):
    out, _ = allocator_table(class_loads(cube, 2025, engine="numpy"), weights={"LGS": 20, "SGS": 2.5})
    out = out.set_index("class")
    assert out["weighted_customers"].to_dict() == pytest.approx({"RES": 2.0, "SGS": 2.5, "LGS": 20.0})
    cols = ["kwh", "cp1_kw", "cp4_kw", "cp12_kw", "ncp_kw", "sum_max_kw"]
    np.testing.assert_allclose(out[cols].to_numpy(), table[cols].to_numpy(), rtol=1e-12)


def test_a_given_system_load_series_moves_the_peak(cube, tmp_path):
    # a utility's own series (the cube's meters are a sample of it): its maximum on 2 June 12:00 local
    utc = pd.date_range("2025-01-01T06:00", periods=HOURS, freq="h", tz="UTC")
    kw = np.full(HOURS, 1000.0)
    kw[hour_of(6, 2, 12)] = 5000.0
    path = tmp_path / "system.csv"
    pd.DataFrame({"time": utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "kw": kw}).to_csv(path, index=False)
    loads = class_loads(cube, 2025)
    out, peaks = allocator_table(loads, system_load=read_system_load(path, loads.year))
    assert out.set_index("class")["cp1_kw"].to_dict() == pytest.approx({"RES": 3.0, "SGS": 3.0, "LGS": 5.0})
    assert peaks.set_index("peak").loc["year", "interval_start_local"] == "2025-06-02T12:00"


def test_a_system_load_series_with_a_gap_is_refused_naming_the_row(cube, tmp_path):
    utc = pd.date_range("2025-01-01T06:00", periods=HOURS, freq="h", tz="UTC").delete(100)
    path = tmp_path / "system.csv"
    pd.DataFrame({"time": utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "kw": 1.0}).to_csv(path, index=False)
    with pytest.raises(AllocatorError, match=r"row 102: expected one row every 60 minutes"):
        read_system_load(path, class_loads(cube, 2025).year)


def test_energy_by_tou_period(cube, tmp_path):
    tariff = tmp_path / "tou.yaml"
    tariff.write_text(f"""\
code: TOU
name: ToU
timezone: {TZ}
time_of_use:
  periods:
    on_peak:
      - {{seasons: [all], days: [weekday], hours: "14:00-19:00"}}
    off_peak:
      - {{seasons: [all], days: [weekday], hours: ["00:00-14:00", "19:00-24:00"]}}
      - {{seasons: [all], days: [weekend], hours: "00:00-24:00"}}
versions:
  - effective: 2025-01-01
    charges:
      - {{type: energy, rates: 0.1}}
""")
    out, _ = allocator_table(class_loads(cube, 2025), tou_tariff=load_tariff(tariff))
    out = out.set_index("class")
    # reference: walk every local hour of 2025 with the per-meter values set above
    ds = hand_cube()
    d = np.nan_to_num(ds["delivered_kwh"].values.astype(float))
    on = np.zeros(4)
    for h in range(HOURS):
        local = (FIRST_UTC + dt.timedelta(hours=h)).replace(tzinfo=dt.UTC).astimezone(ZoneInfo(TZ))
        if local.weekday() < 5 and 14 <= local.hour < 19:
            on += d[:, h]
    assert out["kwh_on_peak"].to_dict() == pytest.approx({"RES": on[0] + on[1], "SGS": on[2], "LGS": on[3]})
    np.testing.assert_allclose(out["kwh_on_peak"] + out["kwh_off_peak"], out["kwh"], rtol=1e-12)


def test_a_cube_short_of_the_test_year_is_refused(cube):
    with pytest.raises(AllocatorError, match=r"test year 2024 needs all 12 months.*America/Chicago"):
        class_loads(cube, 2024)


def test_kernel_matches_numpy_reference_on_random_chunks():
    # bug this catches: a parallel block writing another block's intervals, or NaN not counted as 0
    rng = np.random.default_rng(7)
    d = rng.gamma(1.0, 1.0, (37, 1500)).astype(np.float32)
    r = (rng.random((37, 1500)) < 0.2) * rng.gamma(1.0, 1.0, (37, 1500)).astype(np.float32)
    d[rng.random(d.shape) < 0.05] = np.nan
    r = r.astype(np.float32)
    klass = rng.integers(0, 3, 37)
    outs = []
    for kernel in (accumulate_class_loads, accumulate_class_loads_numpy):
        arrays = (np.zeros((3, 1500)), np.zeros((3, 1500)), np.zeros(37), np.zeros(37))
        kernel(d, r, klass, 4.0, *arrays)
        outs.append(arrays)
    for fast, slow in zip(*outs, strict=True):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-9)
