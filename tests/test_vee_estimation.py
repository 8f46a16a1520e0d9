"""VEE estimation: linear, flat fill, like-day (day types, holidays, DST), by hand and against a slow reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_vee_support import local_days, make_cube, reference_estimate, utc_axis

from workbench.vee import bit, load_config, run_vee

CONFIG = load_config()
# the hand-made days below hold one value all day: that is a flatline, so the rules that would see one in
# them are off here (they have their own tests in test_vee.py)
QUIET = CONFIG.with_overrides({"validation": {"flatline": {"enabled": False}, "high_low": {"enabled": False}}})
PER_DAY = 96


def _est(ds, config=QUIET):
    r = run_vee(ds, config)
    return r, r.dataset["delivered_kwh"].values, r.dataset["vee_method"].values, r.dataset["quality"].values


def test_linear_interpolation_of_a_four_interval_gap():
    d = np.full(PER_DAY, 1.0)
    d[10] = 1.0
    d[15] = 2.0
    d[11:15] = np.nan
    r, out, method, q = _est(make_cube([d]))
    # by hand: 4 steps of (2.0 - 1.0) / 5 from 1.0
    np.testing.assert_allclose(out[0, 11:15], [1.2, 1.4, 1.6, 1.8], rtol=1e-6)
    assert method[0, 11:15].tolist() == [1, 1, 1, 1]
    assert q[0, 11:15].tolist() == [1, 1, 1, 1]
    assert (method[0, :11] == 0).all() and (method[0, 15:] == 0).all()
    edits = r.edits.to_pandas()
    assert len(edits) == 4
    assert edits["original"].isna().all() and set(edits["rule"]) == {"MISSING"}
    assert edits["method_name"].astype(str).unique().tolist() == ["linear"]
    # the flags say why, and stay on the estimated intervals
    assert ((r.dataset["vee_flags"].values[0, 11:15] & bit("MISSING")) != 0).all()


def test_one_sided_gap_is_a_flat_fill_of_the_valid_neighbour():
    d = np.full(PER_DAY, 0.5)
    d[:3] = np.nan  # nothing before: only the right neighbour
    d[3] = 0.8
    d[-2:] = np.nan  # nothing after
    d[-3] = 0.3
    _, out, method, _ = _est(make_cube([d]))
    np.testing.assert_allclose(out[0, :3], [0.8, 0.8, 0.8])
    np.testing.assert_allclose(out[0, -2:], [0.3, 0.3], rtol=1e-6)
    assert method[0, :3].tolist() == [3, 3, 3] and method[0, -2:].tolist() == [3, 3]


def _daily(days, start, value_of_day, tz="America/New_York"):
    """One meter, ``days`` local days of 15-minute reads from ``start``; every read of a day = value_of_day(date)."""
    n = days * PER_DAY
    t = utc_axis(start, n, tz)
    dates = local_days(t, tz)
    return np.array([value_of_day(d) for d in dates], dtype=np.float32), t


def test_like_day_average_of_three_previous_like_days():
    # 2025-04-01 (Tue) .. 2025-04-30; each weekday's reads = day of month / 10, weekends 9.0 (never used)
    d, t = _daily(30, "2025-04-01T00:00", lambda day: 9.0 if day.weekday() >= 5 else day.day / 10)
    gap = slice(22 * PER_DAY + 40, 22 * PER_DAY + 52)  # Wed 23 April 10:00-13:00 local: 12 intervals > 2 h
    assert local_days(t[gap], "America/New_York")[0].isoformat() == "2025-04-23"
    d[gap] = np.nan
    _, out, method, _ = _est(make_cube([d], time=t))
    # by hand: the three previous weekdays are Tue 22 (2.2), Mon 21 (2.1), Fri 18 (1.8)
    np.testing.assert_allclose(out[0, gap], (2.2 + 2.1 + 1.8) / 3, rtol=1e-6)
    assert (method[0, gap] == 2).all()


def test_holiday_is_a_sunday_type_day():
    # 2025-05-01 .. 2025-06-04; Memorial Day is Monday 26 May. Reads = day of month / 10.
    d, t = _daily(35, "2025-05-01T00:00", lambda day: day.day / 10)
    dates = local_days(t, "America/New_York")
    sunday = [i for i, x in enumerate(dates) if x.isoformat() == "2025-06-01"][40:52]
    tuesday = [i for i, x in enumerate(dates) if x.isoformat() == "2025-05-27"][40:52]
    d[sunday] = np.nan
    d[tuesday] = np.nan
    _, out, method, _ = _est(make_cube([d], time=t))
    # Sunday 1 June: Memorial Day Mon 26 May (2.6), Sun 25 May (2.5), Sun 18 May (1.8)
    np.testing.assert_allclose(out[0, sunday], (2.6 + 2.5 + 1.8) / 3, rtol=1e-6)
    # Tuesday 27 May: the holiday is not a weekday: Fri 23 (2.3), Thu 22 (2.2), Wed 21 (2.1)
    np.testing.assert_allclose(out[0, tuesday], (2.3 + 2.2 + 2.1) / 3, rtol=1e-6)
    assert (method[0, sunday] == 2).all() and (method[0, tuesday] == 2).all()


def test_holiday_calendar_none_makes_the_holiday_a_weekday():
    d, t = _daily(35, "2025-05-01T00:00", lambda day: day.day / 10)
    dates = local_days(t, "America/New_York")
    tuesday = [i for i, x in enumerate(dates) if x.isoformat() == "2025-05-27"][40:52]
    d[tuesday] = np.nan
    _, out, _, _ = _est(make_cube([d], time=t), QUIET.with_overrides({"holiday_calendar": "none"}))
    # Mon 26 (2.6), Fri 23 (2.3), Thu 22 (2.2)
    np.testing.assert_allclose(out[0, tuesday], (2.6 + 2.3 + 2.2) / 3, rtol=1e-6)


def test_like_day_skips_a_like_day_without_that_clock_time_on_the_spring_forward_day():
    # Sunday 2025-03-09 has no 02:00-02:59 local. A gap on Sunday 16 March 01:00-05:00 local.
    d, t = _daily(40, "2025-02-10T00:00", lambda day: day.day / 10)
    dates = local_days(t, "America/New_York")
    wall = [x.tz_localize("UTC").tz_convert("America/New_York") for x in pd.DatetimeIndex(t)]
    gap = [i for i, (x, w) in enumerate(zip(dates, wall, strict=True))
           if x.isoformat() == "2025-03-16" and 1 <= w.hour < 5]
    assert len(gap) == 16
    d[gap] = np.nan
    _, out, method, _ = _est(make_cube([d], time=t))
    hours = np.array([wall[i].hour for i in gap])
    # by hand: 02:xx is absent on 9 March: Sun 2 March (0.2), Sun 23 Feb (2.3), and Washington's Birthday,
    # Mon 17 Feb (1.7), a holiday and so a Sunday-type day
    np.testing.assert_allclose(out[0, gap][hours == 2], (0.2 + 2.3 + 1.7) / 3, rtol=1e-6)
    # other hours: 9 March (0.9), 2 March (0.2), 23 Feb (2.3)
    np.testing.assert_allclose(out[0, gap][hours != 2], (0.9 + 0.2 + 2.3) / 3, rtol=1e-6)
    assert (method[0, gap] == 2).all()


def test_long_gap_without_like_days_is_left_missing_and_reported():
    d = np.full(3 * PER_DAY, 1.0)
    d[10:40] = np.nan  # day 1: no earlier like day
    r, out, method, q = _est(make_cube([d]))
    assert np.isnan(out[0, 10:40]).all() and (q[0, 10:40] == 2).all() and (method[0, 10:40] == 0).all()
    assert ((r.dataset["vee_flags"].values[0, 10:40] & bit("NOT_ESTIMATED")) != 0).all()
    assert r.counts["NOT_ESTIMATED"]["intervals"] == 30
    ex = r.exceptions.to_pandas()
    assert ex.loc[ex["rule"] == "NOT_ESTIMATED", "count"].tolist() == [30]


def test_linear_max_is_configurable():
    d, t = _daily(10, "2025-04-07T00:00", lambda day: day.day / 10)
    gap = slice(8 * PER_DAY + 20, 8 * PER_DAY + 25)  # 5 intervals (75 minutes) on Tue 15 April
    d[gap] = np.nan
    _, _, method, _ = _est(make_cube([d], time=t))
    assert (method[0, gap] == 1).all()  # default 120 minutes: linear
    short = QUIET.with_overrides({"estimation": {"linear_max_minutes": 60}})
    _, out, method, _ = _est(make_cube([d], time=t), short)
    assert (method[0, gap] == 2).all()  # like-day: Mon 14 (1.4), Fri 11 (1.1), Thu 10 (1.0)
    np.testing.assert_allclose(out[0, gap], (1.4 + 1.1 + 1.0) / 3, rtol=1e-6)


def test_flag_action_keeps_the_read():
    d = np.full(PER_DAY, 1.0)
    d[30] = -0.4
    flag_only = QUIET.with_overrides({"validation": {"negative": {"action": "flag"}}})
    r, out, method, q = _est(make_cube([d]), flag_only)
    assert out[0, 30] == np.float32(-0.4) and method[0, 30] == 0 and q[0, 30] == 0
    assert r.dataset["vee_flags"].values[0, 30] & bit("NEGATIVE")
    assert r.edits.num_rows == 0


def test_received_channel_is_estimated_too():
    d = np.full(PER_DAY, 1.0)
    rcv = np.zeros(PER_DAY)
    rcv[20:30] = 0.5
    d[24:27] = np.nan
    rcv[24:27] = np.nan
    r, out, method, q = _est(make_cube([d], received=[rcv], nem=["NEM2"]))
    np.testing.assert_allclose(r.dataset["received_kwh"].values[0, 24:27], 0.5)
    edits = r.edits.to_pandas()
    assert sorted(edits["channel"].astype(str).value_counts().items()) == [("delivered", 3), ("received", 3)]


def test_running_vee_on_its_own_output_changes_nothing():
    d, t = _daily(30, "2025-04-01T00:00", lambda day: 1.0 + day.day / 100)
    d[22 * PER_DAY + 40: 22 * PER_DAY + 60] = np.nan
    d[5 * PER_DAY + 3] = 20.0  # a spike (80 kW: within a residential service, unlike 50 kWh = 200 kW)
    d[9 * PER_DAY + 7: 9 * PER_DAY + 9] = np.nan
    first = run_vee(make_cube([d], time=t), QUIET)
    second = run_vee(first.dataset, QUIET)
    for name in ("delivered_kwh", "received_kwh", "quality", "vee_flags", "vee_method"):
        np.testing.assert_array_equal(second.dataset[name].values, first.dataset[name].values, err_msg=name)
    assert second.edits.num_rows == 0 and first.edits.num_rows == 23


# --- property: estimation never changes an actual read and fills every estimable gap (slow reference) ---

N_DAYS = 21
T = N_DAYS * PER_DAY
AXIS = utc_axis("2025-05-19T00:00", T, "UTC")  # 21 UTC days with Memorial Day (26 May)


@st.composite
def series_with_gaps(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    values = rng.uniform(1.0, 2.0, T).astype(np.float32)  # no spikes, flatlines, zero or high/low days
    n_gaps = draw(st.integers(0, 12))
    for _ in range(n_gaps):
        start = draw(st.integers(0, T - 1))
        length = draw(st.sampled_from([1, 2, 7, 8, 9, 30, 96, 200]))
        values[start: start + length] = np.nan
    return values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series_with_gaps())
def test_estimation_keeps_actual_reads_and_fills_every_estimable_gap(values):
    result = run_vee(make_cube([values], time=AXIS, tz="UTC"))
    out = result.dataset["delivered_kwh"].values[0]
    method = result.dataset["vee_method"].values[0]
    actual = ~np.isnan(values)
    assert np.array_equal(out[actual], values[actual])  # bit for bit
    assert (method[actual] == 0).all()
    expected, expected_method = reference_estimate(values, AXIS, tz="UTC")
    expected = np.array(expected, dtype=np.float64)
    assert method.tolist() == expected_method
    filled = np.array(expected_method) > 0
    np.testing.assert_allclose(out[filled], expected[filled], rtol=1e-5)
    # what the reference cannot estimate stays missing, flagged NOT_ESTIMATED
    left = ~actual & ~filled
    assert np.isnan(out[left]).all()
    assert ((result.dataset["vee_flags"].values[0][left] & bit("NOT_ESTIMATED")) != 0).all()
    assert (result.dataset["quality"].values[0][left] == 2).all()


@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_and_serial_agree(parallel):
    rng = np.random.default_rng(3)
    d = rng.uniform(0.2, 1.5, (7, 10 * PER_DAY)).astype(np.float32)
    d[rng.random(d.shape) < 0.02] = np.nan
    d[2, 300:340] = np.nan
    a = run_vee(make_cube(d), parallel=parallel).dataset
    b = run_vee(make_cube(d), parallel=not parallel).dataset
    for name in ("delivered_kwh", "quality", "vee_flags", "vee_method"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
