"""The interval cube store (workbench.ami.cube) and the synthetic sample utility (workbench.sample)."""

from __future__ import annotations

import re

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from workbench.ami.cube import (
    QUALITY_ACTUAL,
    QUALITY_ESTIMATED,
    QUALITY_MISSING,
    open_cube,
    validate_cube,
    write_cube,
)
from workbench.errors import CubeError
from workbench.sample import cycle_read_dates, generate_sample_utility, us_holidays, utility_time_axis

N = 120
SEED = 42
TZ = "America/New_York"


@pytest.fixture(scope="module")
def cubes(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    paths = {
        "a": root / "a.zarr",
        "b": root / "b.zarr",
        "c": root / "c.zarr",
        "other_seed": root / "d.zarr",
    }
    summary = generate_sample_utility(paths["a"], n_meters=N, seed=SEED, meter_chunk=50, progress=False)
    generate_sample_utility(paths["b"], n_meters=N, seed=SEED, meter_chunk=50, progress=False)
    generate_sample_utility(paths["c"], n_meters=N, seed=SEED, meter_chunk=37, progress=False)
    generate_sample_utility(paths["other_seed"], n_meters=N, seed=7, meter_chunk=50, progress=False)
    return paths, summary


@pytest.fixture(scope="module")
def ds(cubes):
    return open_cube(cubes[0]["a"], chunks=False)


def _local(ds):
    return pd.DatetimeIndex(ds["time"].values).tz_localize("UTC").tz_convert(TZ)


def _assert_same_cube(x: xr.Dataset, y: xr.Dataset):
    for name in ("delivered_kwh", "received_kwh", "quality"):
        a, b = x[name].values, y[name].values
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), name
    for name in (
        "meter",
        "account",
        "customer_class",
        "rate_code",
        "multiplier",
        "cycle",
        "nem_program",
        "time",
    ):
        np.testing.assert_array_equal(x[name].values, y[name].values, err_msg=name)
    np.testing.assert_array_equal(x["read_date"].values, y["read_date"].values)


# --- determinism --------------------------------------------------------------------------------------


def test_same_seed_gives_identical_data(cubes):
    paths, _ = cubes
    _assert_same_cube(open_cube(paths["a"], chunks=False), open_cube(paths["b"], chunks=False))
    # byte for byte on disk, too
    for name in ("delivered_kwh", "received_kwh"):
        files_a = sorted(p.relative_to(paths["a"]) for p in (paths["a"] / name).rglob("*") if p.is_file())
        files_b = sorted(p.relative_to(paths["b"]) for p in (paths["b"] / name).rglob("*") if p.is_file())
        assert files_a == files_b and len(files_a) >= 3
        for rel in files_a:
            assert (paths["a"] / rel).read_bytes() == (paths["b"] / rel).read_bytes(), rel


def test_chunk_size_does_not_change_the_data(cubes):
    paths, _ = cubes
    a, c = open_cube(paths["a"]), open_cube(paths["c"])
    assert a["delivered_kwh"].chunks[0] == (50, 50, 20)
    assert c["delivered_kwh"].chunks[0] == (37, 37, 37, 9)
    _assert_same_cube(a.load(), c.load())


def test_other_seed_gives_other_data(cubes):
    paths, _ = cubes
    a, d = open_cube(paths["a"], chunks=False), open_cube(paths["other_seed"], chunks=False)
    assert not np.array_equal(a["delivered_kwh"].values, d["delivered_kwh"].values)


def test_a_meter_does_not_depend_on_the_number_of_meters(cubes, tmp_path):
    small = generate_sample_utility(
        tmp_path / "s.zarr", n_meters=30, seed=SEED, meter_chunk=30, progress=False
    )
    assert small["n_meters"] == 30
    s = open_cube(tmp_path / "s.zarr", chunks=False)
    a = open_cube(cubes[0]["a"], chunks=False).isel(meter=slice(0, 30))
    _assert_same_cube(s, a)


# --- layout per docs/cube.md --------------------------------------------------------------------------


def test_shapes_dtypes_and_attrs(ds, cubes):
    n_t = 35_040
    assert dict(ds.sizes) == {"meter": N, "time": n_t, "cycle_id": 20, "read": ds.sizes["read"]}
    for name in ("delivered_kwh", "received_kwh"):
        assert ds[name].dims == ("meter", "time")
        assert ds[name].dtype == np.float32
    assert ds["quality"].dims == ("meter", "time") and ds["quality"].dtype == np.uint8
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    for name in ("meter", "account", "customer_class", "rate_code", "nem_program"):
        assert ds[name].dims == ("meter",)
        assert ds[name].dtype.kind == "U", name
    assert ds["multiplier"].dtype == np.float32
    assert ds["cycle"].dtype == np.int16
    assert ds["cycle_id"].dtype == np.int16
    np.testing.assert_array_equal(ds["cycle_id"].values, np.arange(1, 21))
    assert ds["read_date"].dims == ("cycle_id", "read")
    assert ds["read_date"].dtype == np.dtype("datetime64[ns]")
    assert ds.attrs["timezone"] == TZ
    assert ds.attrs["step_minutes"] == 15
    assert ds.attrs["synthetic"] is True
    assert ds.attrs["utility"] and "TMY" in ds.attrs["generator"]
    summary = cubes[1]
    assert summary["n_meters"] == N and summary["n_intervals"] == n_t
    assert sum(summary["meters_by_class"].values()) == N


def test_ids(ds):
    meters = ds["meter"].values.tolist()
    accounts = ds["account"].values.tolist()
    assert meters[:3] == ["M000001", "M000002", "M000003"]
    assert all(re.fullmatch(r"M\d{6}", m) for m in meters)
    assert all(re.fullmatch(r"A\d{7}", a) for a in accounts)
    assert len(set(accounts)) == len(accounts)


def test_time_axis_2025_is_utc_uniform_15_minutes(ds):
    t = ds["time"].values
    assert t.size == 35_040
    assert t[0] == np.datetime64("2025-01-01T05:00")  # local midnight EST
    assert t[-1] + np.timedelta64(15, "m") == np.datetime64("2026-01-01T05:00")
    assert (np.diff(t) == np.timedelta64(15, "m")).all()
    local = _local(ds)
    # DST: the fall-back hour appears twice on the local clock, the spring-forward hour not at all
    nov2 = local[(local.month == 11) & (local.day == 2)]
    assert len(nov2) == 100
    mar9 = local[(local.month == 3) & (local.day == 9)]
    assert len(mar9) == 92


def test_leap_year_has_35136_intervals(tmp_path):
    t = utility_time_axis(2024)
    assert t.size == 35_136
    assert t[0] == np.datetime64("2024-01-01T05:00")
    generate_sample_utility(tmp_path / "leap.zarr", n_meters=3, year=2024, progress=False)
    leap = open_cube(tmp_path / "leap.zarr", chunks=False)
    assert leap.sizes["time"] == 35_136
    assert np.isfinite(leap["delivered_kwh"].values).all()


def test_no_faults_in_the_sample(ds):
    assert QUALITY_ACTUAL == 0 and QUALITY_ESTIMATED == 1 and QUALITY_MISSING == 2
    assert (ds["quality"].values == QUALITY_ACTUAL).all()
    for name in ("delivered_kwh", "received_kwh"):
        v = ds[name].values
        assert np.isfinite(v).all() and (v >= 0).all(), name


# --- the customers ------------------------------------------------------------------------------------


def test_class_mix_and_multipliers(ds):
    cls = ds["customer_class"].values
    counts = {c: int((cls == c).sum()) for c in ("RES", "SGS", "LGS")}
    assert counts["RES"] + counts["SGS"] + counts["LGS"] == N
    assert 0.80 * N <= counts["RES"] <= 0.90 * N
    assert 0.08 * N <= counts["SGS"] <= 0.16 * N
    assert 2 <= counts["LGS"] <= 0.06 * N
    mult = ds["multiplier"].values
    assert (mult[cls != "LGS"] == 1).all()
    assert set(mult[cls == "LGS"].tolist()) <= {40.0, 80.0, 120.0, 200.0, 400.0}
    d = ds["delivered_kwh"].values
    per_day = d.sum(axis=1) / 365
    assert 9 <= per_day[cls == "RES"].min() and per_day[cls == "RES"].max() <= 45
    assert 15 <= per_day[cls == "SGS"].min() and per_day[cls == "SGS"].max() <= 330
    assert 1_800 <= per_day[cls == "LGS"].min() and per_day[cls == "LGS"].max() <= 33_000
    assert d[cls == "LGS"].mean() > 50 * d[cls == "RES"].mean()
    # CT/PT metering: the meter counts whole secondary Wh, the cube holds kWh x multiplier
    # stored as float32(Wh x multiplier / 1000): one float32 rounding (<= eps/2 relative), so back in float64
    # the Wh are whole to within eps32 relative (a half Wh off would be > 1e-5 relative for any LGS read)
    lgs = d[cls == "LGS"].astype(np.float64) * 1000.0 / mult[cls == "LGS"].astype(np.float64)[:, None]
    assert np.abs(lgs).max() < 2**23  # where float32 still holds a half Wh
    np.testing.assert_allclose(lgs, np.rint(lgs), rtol=float(np.finfo(np.float32).eps), atol=0)


def test_rate_codes_and_net_metering(ds):
    cls = ds["customer_class"].values
    rate = ds["rate_code"].values
    nem = ds["nem_program"].values
    assert set(rate[cls == "RES"]) <= {"RES-FLAT", "RES-TIER", "RES-TOU"}
    assert set(rate[cls == "SGS"]) == {"GS-TOU-DEMAND"}
    assert set(rate[cls == "LGS"]) <= {"LGS-TOU", "RTP"}
    assert set(nem) <= {"", "NEM2"}
    solar = nem == "NEM2"
    assert 1 <= solar.sum() <= 0.15 * N
    assert (cls[solar] == "RES").all() and (rate[solar] == "RES-TOU").all()
    assert (ds["received_kwh"].values[~solar] == 0).all()


def test_solar_exports_at_summer_midday_and_never_at_night(ds):
    solar = ds["nem_program"].values == "NEM2"
    rec = ds["received_kwh"].values[solar]
    dlv = ds["delivered_kwh"].values[solar]
    local = _local(ds)
    midday = np.asarray((local.month.isin([6, 7, 8])) & (local.hour >= 11) & (local.hour < 14))
    night = np.asarray((local.hour >= 21) | (local.hour < 5))
    assert (rec[:, midday].mean(axis=1) > 0.05).all()
    assert (rec[:, night] == 0).all()
    assert not ((rec > 0) & (dlv > 0)).any()  # net flow per interval: one direction only


def test_weather_and_calendar_shape_the_load(ds):
    cls = ds["customer_class"].values
    d = ds["delivered_kwh"].values
    local = _local(ds)
    hour, month = np.asarray(local.hour), np.asarray(local.month)
    dates = np.asarray(local.date)
    # residential: summer afternoons (cooling) above spring afternoons; evenings above the small hours
    res = d[cls == "RES"].mean(axis=0)
    assert (
        res[(month == 7) & (hour >= 15) & (hour < 19)].mean()
        > 1.3 * res[(month == 4) & (hour >= 15) & (hour < 19)].mean()
    )
    assert res[(hour >= 18) & (hour < 21)].mean() > 1.5 * res[(hour >= 2) & (hour < 5)].mean()
    # small commercial: business hours on weekdays, and a holiday (Friday 4 July) looks like a weekend
    sgs = d[cls == "SGS"].mean(axis=0)
    work = (hour >= 10) & (hour < 16) & (month == 7)
    weekday = np.asarray(local.day_of_week < 5)
    hol = np.isin(dates, list(us_holidays([2025])))
    july4 = dates == pd.Timestamp("2025-07-04").date()
    assert sgs[work & weekday & ~hol].mean() > 1.5 * sgs[work & ~weekday].mean()
    assert sgs[work & july4].mean() < 0.8 * sgs[work & weekday & ~hol].mean()


# --- bill cycles --------------------------------------------------------------------------------------


def test_read_dates(ds):
    rd = ds["read_date"].values
    assert rd.shape[0] == 20
    c1 = rd[0][~np.isnat(rd[0])]
    assert list(pd.DatetimeIndex(c1).strftime("%Y-%m-%d")) == [f"2025-{m:02d}-01" for m in range(1, 13)] + [
        "2026-01-01"
    ]
    hol = us_holidays([2024, 2025, 2026])
    by_cycle = []
    for k in range(2, 21):
        r = pd.DatetimeIndex(rd[k - 1][~np.isnat(rd[k - 1])])
        assert r[0] <= pd.Timestamp("2025-01-01") < r[1], k
        assert r[-2] < pd.Timestamp("2026-01-01") <= r[-1], k
        assert (np.diff(r.values) > np.timedelta64(0)).all()
        assert (r.day_of_week < 5).all() and not any(d.date() in hol for d in r), k
        by_cycle.append(r)
    # each cycle has its own read days: cycle k reads after cycle k-1 (on the same day only when a month
    # runs out of business days, e.g. November 2025 with Veterans Day and Thanksgiving)
    for k in range(1, len(by_cycle)):
        later = by_cycle[k].values > by_cycle[k - 1].values
        same = by_cycle[k].values == by_cycle[k - 1].values
        assert (later | same).all() and later.sum() >= 12
    assert by_cycle[0][1] == pd.Timestamp("2025-01-02")  # cycle 2: first business day after New Year's Day
    assert by_cycle[1][1] == pd.Timestamp("2025-01-03")
    cyc = ds["cycle"].values
    assert cyc.min() >= 1 and cyc.max() <= 20
    np.testing.assert_array_equal(cycle_read_dates(2025), rd)


# --- the store ----------------------------------------------------------------------------------------


def test_open_is_lazy_and_round_trips(cubes, tmp_path):
    lazy = open_cube(cubes[0]["a"])
    assert isinstance(lazy["delivered_kwh"].data, da.Array)
    assert lazy["delivered_kwh"].chunks[1] == (35_040,)
    eager = open_cube(cubes[0]["a"], chunks=False)
    assert isinstance(eager["delivered_kwh"].data, np.ndarray)
    out = write_cube(lazy, tmp_path / "copy.zarr", meter_chunk=25)
    again = open_cube(out)
    assert again["delivered_kwh"].chunks[0] == (25,) * 4 + (20,)
    assert again["received_kwh"].chunks[1] == (35_040,)
    _assert_same_cube(again.load(), eager)
    assert again.attrs["timezone"] == TZ
    # overwrite in place (re-running is safe) and strings with empty values survive
    write_cube(eager, out, meter_chunk=60)
    third = open_cube(out, chunks=False)
    assert "" in set(third["nem_program"].values.tolist())
    _assert_same_cube(third, eager)


def _tiny_cube(n_meter=4, n_time=8) -> xr.Dataset:
    t = np.datetime64("2025-01-01T05:00", "ns") + np.arange(n_time) * np.timedelta64(15, "m")
    return xr.Dataset(
        {
            "delivered_kwh": (("meter", "time"), np.ones((n_meter, n_time), np.float32)),
            "received_kwh": (("meter", "time"), np.zeros((n_meter, n_time), np.float32)),
            "quality": (("meter", "time"), np.zeros((n_meter, n_time), np.uint8)),
            "read_date": (
                ("cycle_id", "read"),
                np.array([["2025-01-01", "2025-02-01"]], dtype="datetime64[ns]"),
            ),
        },
        coords={
            "time": t,
            "meter": [f"M{i:06d}" for i in range(1, n_meter + 1)],
            "account": ("meter", [f"A{1000000 + i}" for i in range(n_meter)]),
            "customer_class": ("meter", ["RES"] * n_meter),
            "rate_code": ("meter", ["RES-FLAT"] * n_meter),
            "multiplier": ("meter", np.ones(n_meter, np.float32)),
            "cycle": ("meter", np.ones(n_meter, np.int16)),
            "nem_program": ("meter", [""] * n_meter),
            "cycle_id": np.array([1], np.int16),
        },
        attrs={"timezone": TZ, "step_minutes": 15},
    )


def test_tiny_cube_is_valid_and_round_trips(tmp_path):
    tiny = _tiny_cube()
    validate_cube(tiny)
    validate_cube(tiny, deep=True)
    back = open_cube(write_cube(tiny, tmp_path / "t.zarr", meter_chunk=3), chunks=False)
    _assert_same_cube(back, tiny)


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda d: d.drop_vars("received_kwh"), r"'received_kwh' is missing"),
        (lambda d: d.drop_vars("rate_code"), r"'rate_code'.*missing"),
        (lambda d: d.drop_vars("read_date"), r"'read_date' is missing"),
        (
            lambda d: d.assign(delivered_kwh=d["delivered_kwh"].T),
            r"'delivered_kwh' has dims \('time', 'meter'\)",
        ),
        (
            lambda d: d.assign(delivered_kwh=d["delivered_kwh"].astype("float64")),
            r"'delivered_kwh' has dtype float64",
        ),
        (lambda d: d.assign(quality=d["quality"].astype("int32")), r"'quality' has dtype int32"),
        (lambda d: d.isel(time=[0, 1, 2, 4, 5]), r"'time' is not uniform"),
        (lambda d: d.chunk({"meter": 2, "time": 4}), r"'delivered_kwh' is chunked along 'time'"),
        (
            lambda d: d.assign_coords(customer_class=("meter", ["RES", "XYZ", "RES", "RES"])),
            r"'customer_class'.*XYZ",
        ),
        (lambda d: d.assign_coords(meter=["M1", "M1", "M2", "M3"]), r"'meter' has duplicate"),
        (lambda d: d.assign_coords(cycle=("meter", np.array([1, 1, 5, 1], np.int16))), r"'cycle'.*\[5\]"),
        (lambda d: d.assign_attrs(timezone="Mars/Olympus"), r"'timezone'"),
        (
            lambda d: d.assign_coords(time=d["time"].values.astype("datetime64[s]")),
            r"'time'.*datetime64\[ns\]",
        ),
    ],
)
def test_validate_cube_names_the_problem(breakage, expected):
    bad = breakage(_tiny_cube())
    with pytest.raises(CubeError, match=expected):
        validate_cube(bad)


def test_validate_deep_catches_bad_quality_codes():
    bad = _tiny_cube()
    bad["quality"][0, 0] = 7
    validate_cube(bad)
    with pytest.raises(CubeError, match="'quality'"):
        validate_cube(bad, deep=True)


def test_open_cube_errors(tmp_path):
    with pytest.raises(CubeError, match="no interval cube"):
        open_cube(tmp_path / "nothing.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(CubeError, match="not a Zarr store"):
        open_cube(tmp_path / "plain")


def _leftovers(parent, name):
    # the cube's flock lock file stays (it holds no state: the kernel frees the lock with its process)
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.") and ".lock" not in p.name]


def test_failed_write_leaves_nothing_behind(tmp_path):
    tiny = _tiny_cube(n_meter=4)

    def boom(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 1:
            raise RuntimeError("disk on fire")
        return block

    broken = tiny.copy()
    broken["delivered_kwh"] = (
        ("meter", "time"),
        da.from_array(tiny["delivered_kwh"].values, chunks=(2, 8)).map_blocks(boom, dtype=np.float32),
    )
    target = tmp_path / "cube.zarr"
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_cube(broken, target, meter_chunk=2)
    assert not target.exists()
    assert _leftovers(tmp_path, "cube.zarr") == []

    # a good cube already there survives a failed overwrite untouched
    write_cube(tiny, target, meter_chunk=2)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_cube(broken, target, meter_chunk=2)
    _assert_same_cube(open_cube(target, chunks=False), tiny)
    assert _leftovers(tmp_path, "cube.zarr") == []


def test_failed_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    import workbench.sample as sample

    calls = {"n": 0}
    real = sample._block

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("interrupted")
        return real(*args, **kwargs)

    monkeypatch.setattr(sample, "_block", flaky)
    target = tmp_path / "gen.zarr"
    with pytest.raises(RuntimeError, match="interrupted"):
        generate_sample_utility(target, n_meters=6, meter_chunk=2, progress=False)
    assert not target.exists()
    # no staging folder left; only the output's lock file (kept: an flock file is never deleted, see docs/outputs.md)
    assert not list(tmp_path.glob(".staging-*"))
    assert _leftovers(tmp_path, "gen.zarr") == []


def test_write_refuses_to_replace_a_non_zarr_directory(tmp_path):
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "notes.txt").write_text("keep me")
    with pytest.raises(CubeError, match="not a Zarr store"):
        write_cube(_tiny_cube(), victim)
    assert (victim / "notes.txt").read_text() == "keep me"
    with pytest.raises(CubeError, match="already exists"):
        write_cube(_tiny_cube(), write_cube(_tiny_cube(), tmp_path / "x.zarr"), overwrite=False)
