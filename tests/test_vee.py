"""VEE validation rules, configuration, inputs (duplicates, lengths, registers, registry), bill-ready, faults,
report and the `workbench vee` command. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_vee_support import make_cube, utc_axis

from workbench.ami.cube import open_cube
from workbench.cli import main
from workbench.sample import generate_sample_utility
from workbench.vee import (
    CONFLICTING,
    IDENTICAL,
    UNIQUE,
    VeeError,
    bill_ready,
    bit,
    classify_duplicates,
    fault_rates,
    held_table,
    inject_faults,
    input_exceptions,
    load_config,
    read_edits,
    register_check,
    run_vee,
    score_faults,
    vee_calendar,
    write_report,
    wrong_interval_length,
)

CONFIG = load_config()
PER_DAY = 96


def _flags(ds, config=CONFIG, **kw):
    r = run_vee(ds, config, **kw)
    return r, r.dataset["vee_flags"].values


def _noisy(n, seed=0, lo=0.8, hi=1.2):
    """Reads that trip no rule: no repeats, highest / third-highest < 1.5, steady days."""
    return np.random.default_rng(seed).uniform(lo, hi, n).astype(np.float32)


# ---------------------------------------------------------------------------------------------- config


def test_defaults_are_the_documented_ones():
    assert CONFIG.estimation.linear_max_minutes == 120
    assert CONFIG.estimation.like_day.days == 3
    assert CONFIG.bill_ready.max_estimated_share == 0.02
    assert CONFIG.validation.spike.ratio == 5.0
    assert CONFIG.holiday_calendar == "US"


def test_config_errors_name_the_file_and_the_field(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("validation:\n  spike:\n    ratoi: 3\nestimation:\n  linear_max_minutes: two hours\n")
    with pytest.raises(VeeError) as err:
        load_config(site)
    msg = str(err.value)
    assert str(site) in msg
    assert "validation.spike.ratoi: unknown field" in msg
    assert "estimation.linear_max_minutes" in msg and "'two hours'" in msg
    site.write_text("bill_ready:\n  max_estimated_share: 1.5\n")
    with pytest.raises(VeeError, match=r"bill_ready.max_estimated_share: .*less than or equal to 1"):
        load_config(site)
    site.write_text("validation: [1, 2\n")
    with pytest.raises(VeeError, match=r"site.yaml line \d+: not valid YAML"):
        load_config(site)
    with pytest.raises(VeeError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_site_file_overrides_only_what_it_sets(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("validation:\n  spike:\n    ratio: 8\n")
    config = load_config(site)
    assert config.validation.spike.ratio == 8 and config.validation.spike.min_kwh == 1.0
    assert config.estimation == CONFIG.estimation


# ------------------------------------------------------------------------------------- validation rules


def test_dst_days_have_92_and_100_intervals_and_are_not_missing():
    # local 2025-03-08 .. 2025-03-10 and 2025-11-01 .. 2025-11-03, every interval read
    for start, n, dst_day, length in (("2025-03-08T00:00", 96 + 92 + 96, "2025-03-09", 92),
                                      ("2025-11-01T00:00", 96 + 100 + 96, "2025-11-02", 100)):
        ds = make_cube([_noisy(n)], start=start)
        cal = vee_calendar(ds["time"].values, "America/New_York", 15, "US")
        assert [str(d) for d in cal.days] == [start[:10], dst_day, str(np.datetime64(dst_day) + 1)]
        assert cal.day_lengths.tolist() == [96, length, 96]
        r, flags = _flags(ds)
        assert not flags.any() and r.exceptions.num_rows == 0
        # one interval missing on the DST day: "1 of 92" (or 100), counted on that local day
        d = _noisy(n)
        d[96 + 50] = np.nan
        r, flags = _flags(make_cube([d], start=start))
        ex = r.exceptions.to_pandas()
        assert ex[["rule", "count"]].values.tolist() == [["MISSING", 1]]
        assert str(ex["day"].iloc[0]) == dst_day and ex["detail"].iloc[0] == f"1 of {length} intervals without a read"


def test_spike_is_the_interval_above_five_times_the_third_highest():
    d = _noisy(PER_DAY)  # highest / third-highest < 1.5
    d[40] = 6.5  # > 5 x 1.2 (the third-highest is at most 1.2) and > 1 kWh
    d[70] = 5.0  # second-highest; third-highest <= 1.2, so 5.0 < 5 x 1.2 = 6: not a spike
    r, flags = _flags(make_cube([d]))
    spikes = np.flatnonzero(flags[0] & bit("SPIKE"))
    assert spikes.tolist() == [40]
    # estimated by linear interpolation between its neighbours
    out = r.dataset["delivered_kwh"].values[0]
    assert out[40] == pytest.approx((d[39] + d[41]) / 2, rel=1e-6)
    assert r.edits.to_pandas()[["original", "rule"]].values.tolist() == [[pytest.approx(6.5), "SPIKE"]]


def test_spike_needs_the_minimum_kwh():
    d = np.full(PER_DAY, 0.05, dtype=np.float32) + _noisy(PER_DAY, lo=0, hi=0.01)
    d[10] = 0.9  # 15 x the third-highest, but below spike.min_kwh = 1 kWh
    _, flags = _flags(make_cube([d]))
    assert not (flags & bit("SPIKE")).any()


def test_flatline_of_four_hours_fails_and_zero_runs_do_not():
    d = _noisy(2 * PER_DAY)
    d[10:26] = 0.7  # 16 identical reads = 240 minutes: fails
    d[40:55] = 0.6  # 15: passes
    d[100:160] = 0.0  # zeros: ZERO_USE's business, not FLATLINE's
    r, flags = _flags(make_cube([d]))
    assert np.flatnonzero(flags[0] & bit("FLATLINE")).tolist() == list(range(10, 26))
    assert r.counts["FLATLINE"] == {"intervals": 16, "meter_days": 1, "meters": 1}
    # estimated (action: estimate): linear across the 16-interval gap is too long, so like-day, and there is
    # no earlier day here: left as read, flagged NOT_ESTIMATED
    assert (flags[0, 10:26] & bit("NOT_ESTIMATED")).all()
    assert np.array_equal(r.dataset["delivered_kwh"].values[0, 10:26], d[10:26])


def test_negative_delivered_energy():
    d = _noisy(PER_DAY)
    d[30] = -0.25
    r, flags = _flags(make_cube([d]))
    assert np.flatnonzero(flags[0] & bit("NEGATIVE")).tolist() == [30]
    assert r.dataset["delivered_kwh"].values[0, 30] == pytest.approx((d[29] + d[31]) / 2, rel=1e-6)
    assert r.dataset["vee_method"].values[0, 30] == 1


def test_reverse_flow_only_on_a_meter_with_no_net_metering_program():
    d = np.stack([_noisy(PER_DAY, 1), _noisy(PER_DAY, 2)])
    received = np.zeros_like(d)
    received[:, 40:48] = 0.3
    r, flags = _flags(make_cube(d, received=received, nem=["", "NEM2"]))
    assert np.flatnonzero(flags[0] & bit("REVERSE_FLOW")).tolist() == list(range(40, 48))
    assert not (flags[1] & bit("REVERSE_FLOW")).any()
    # flag only: the reads stay
    assert np.array_equal(r.dataset["received_kwh"].values, received)
    assert r.exceptions.to_pandas()[["meter", "rule", "count"]].values.tolist() == [["M000001", "REVERSE_FLOW", 8]]


def test_zero_use_day_on_an_active_meter():
    d = _noisy(3 * PER_DAY)
    d[PER_DAY: 2 * PER_DAY] = 0.0
    r, flags = _flags(make_cube([d]))
    assert np.flatnonzero(flags[0] & bit("ZERO_USE")).tolist() == list(range(PER_DAY, 2 * PER_DAY))
    assert not (flags[0] & (bit("LOW_USE") | bit("FLATLINE"))).any()
    ex = r.exceptions.to_pandas()
    assert ex["rule"].tolist() == ["ZERO_USE"] and ex["count"].tolist() == [96]


def test_high_and_low_use_against_the_meters_history():
    # 10 days near 1 kWh per interval (ADU ~96 kWh), then a day at 4.5 (> 4 x) and a day at 0.04 (< 0.05 x)
    d = np.concatenate([_noisy(10 * PER_DAY, lo=0.95, hi=1.05), _noisy(PER_DAY, lo=4.4, hi=4.6),
                        _noisy(PER_DAY, lo=0.03, hi=0.045), _noisy(PER_DAY, lo=0.95, hi=1.05)])
    r, flags = _flags(make_cube([d]))
    ex = r.exceptions.to_pandas()
    assert ex[["rule", "day"]].astype(str).values.tolist() == [["HIGH_USE", "2025-04-11"], ["LOW_USE", "2025-04-12"]]
    assert re.match(r"day's use 4\d\d\.\d kWh in 96 intervals, above 4 x the average 9\d\.\d kWh/day", ex["detail"][0])
    # the low day's history includes the high day: mean of 10 days at ~96 and one at ~432 = ~127 kWh/day
    assert re.search(r"below 0.05 x the average 12\d\.\d kWh/day", ex["detail"][1])
    # with fewer than min_history_days (7) of history, nothing is compared
    r, flags = _flags(make_cube([d[5 * PER_DAY:]]))
    assert not (flags & (bit("HIGH_USE") | bit("LOW_USE"))).any()


def test_data_on_an_inactive_meter_and_no_missing_outside_its_dates():
    # 4 local days from 2025-04-01; installed 2025-04-02, removed 2025-04-03 (reads through the 3rd)
    d = _noisy(4 * PER_DAY)
    d[:PER_DAY] = np.nan
    d[PER_DAY // 2] = 0.5  # a read before the install
    d[3 * PER_DAY + 10] = np.nan  # after the removal: not missing
    received = np.where(np.isnan(d), np.nan, 0.0)  # no read on either channel where delivered has none
    registry = pd.DataFrame({"meter": ["M000001"], "install_date": ["2025-04-02"], "removal_date": ["2025-04-03"]})
    r, flags = _flags(make_cube([d], received=[received]), registry=registry)
    after = [t for t in range(3 * PER_DAY, 4 * PER_DAY) if t != 3 * PER_DAY + 10]
    assert np.flatnonzero(flags[0] & bit("INACTIVE")).tolist() == [PER_DAY // 2] + after
    assert not (flags[0] & bit("MISSING")).any()
    assert not (r.dataset["vee_method"].values != 0).any()
    ex = r.exceptions.to_pandas()
    assert ex[["rule", "count"]].values.tolist() == [["INACTIVE", 1], ["INACTIVE", 95]]
    assert "active 2025-04-02" in ex["detail"][0]
    with pytest.raises(VeeError, match="meter M000001: removal .* is before install"):
        run_vee(make_cube([d], received=[received]), registry={"M000001": ("2025-04-03", "2025-04-01")})


def test_register_reads_vs_interval_sum():
    d = np.full(PER_DAY, 0.5, dtype=np.float32) + _noisy(PER_DAY, lo=0, hi=1e-3)
    ds = make_cube([d])
    total = float(d.astype(np.float64).sum())  # the whole local day 2025-04-01
    morning = float(d[:48].astype(np.float64).sum())  # 00:00-12:00 local
    reads = pd.DataFrame({"meter": ["M000001", "M000001"], "start": ["2025-04-01 00:00", "2025-04-01 00:00"],
                          "end": ["2025-04-02 00:00", "2025-04-01 12:00"], "start_kwh": [1000.0, 1000.0],
                          "end_kwh": [1000.0 + total + 0.9, 1000.0 + morning + 5.0]})
    ex = register_check(ds, reads, CONFIG).to_pandas()
    # first pair: off by 0.9 kWh <= max(1 kWh, 1 % of 48 kWh): passes; second: off by 5 kWh
    assert ex["rule"].tolist() == ["REGISTER_MISMATCH"] and ex["count"].tolist() == [48]
    assert "differs by -5.000 kWh" in ex["detail"][0]
    r, flags = _flags(ds, register_reads=reads)
    assert (flags[0, :48] & bit("REGISTER_MISMATCH")).all() and not (flags[0, 48:] & bit("REGISTER_MISMATCH")).any()
    with pytest.raises(VeeError, match="row 1: meter M9 is not in the cube"):
        register_check(ds, reads.assign(meter="M9"), CONFIG)


# ----------------------------------------------------------------------------------------- input level


def test_duplicate_classification():
    t0 = pd.Timestamp("2025-04-01T04:00Z")
    rows = [("M1", t0, 1.0), ("M1", t0, 1.0), ("M1", t0, 1.5), ("M2", t0, 1.0),
            ("M1", t0 + pd.Timedelta("15min"), 2.0), ("M1", t0 + pd.Timedelta("15min"), 2.0)]
    meter, time, value = zip(*rows, strict=True)
    kind = classify_duplicates(meter, pd.DatetimeIndex(time), value)
    assert kind.tolist() == [UNIQUE, IDENTICAL, CONFLICTING, UNIQUE, UNIQUE, IDENTICAL]
    # channels are separate keys; a tolerance makes near-equal reads identical
    kind = classify_duplicates(meter, pd.DatetimeIndex(time), value, channel=["d", "d", "r", "d", "d", "d"],
                               tolerance_kwh=0.5)
    assert kind.tolist() == [UNIQUE, IDENTICAL, UNIQUE, UNIQUE, UNIQUE, IDENTICAL]


def test_interval_length_and_input_exceptions():
    assert wrong_interval_length([900, 899, 3600, np.nan], 15).tolist() == [False, True, True, True]
    reads = pd.DataFrame({
        "meter": ["M1", "M1", "M1", "M2"],
        "start": pd.to_datetime(["2025-04-01T04:00Z", "2025-04-01T04:00Z", "2025-04-01T04:15Z", "2025-04-01T03:00Z"]),
        "kwh": [1.0, 1.1, 1.0, 1.0], "seconds": [900, 900, 900, 3600]})
    kind, wrong, ex = input_exceptions(reads, 15, "America/New_York")
    assert kind.tolist() == [UNIQUE, CONFLICTING, UNIQUE, UNIQUE] and wrong.tolist() == [False, False, False, True]
    # M2's read starts 23:00 local on 31 March
    assert ex.to_pandas()[["meter", "rule", "day", "count"]].astype(str).values.tolist() == [
        ["M1", "DUPLICATE_CONFLICT", "2025-04-01", "1"], ["M2", "INTERVAL_LENGTH", "2025-03-31", "1"]]


# ------------------------------------------------------------------------------------------ bill-ready


def test_bill_ready_at_the_two_percent_edge():
    n = 150  # 2 % of 150 = 3 intervals
    q = np.zeros((3, n), np.uint8)
    q[0, :3] = 1  # exactly 2 %: ready
    q[1, :4] = 1  # 2.67 %: held
    q[2, 7] = 2  # one interval still without a read: held (max_missing_share 0)
    d = np.ones((3, n), np.float32)
    d[2, 7] = np.nan
    ds = make_cube(d, quality=q)
    bounds = np.array([[0, n]] * 3)
    ready, reason = bill_ready(ds, bounds, CONFIG)
    assert ready[:, 0].tolist() == [True, False, False]
    assert reason[0, 0] == ""
    assert reason[1, 0] == "4 of 150 intervals estimated (2.67% > 2%)"
    assert reason[2, 0] == "1 of 150 intervals without a read (0.67% > 0%)"
    # exactly 2 % in a common bill-period length: 60 of 3,000
    q = np.zeros((1, 3000), np.uint8)
    q[0, :60] = 1
    assert bill_ready(make_cube(np.ones((1, 3000)), quality=q), np.array([[0, 3000]]), CONFIG)[0].tolist() == [[True]]
    q[0, 60] = 1
    assert bill_ready(make_cube(np.ones((1, 3000)), quality=q), np.array([[0, 3000]]), CONFIG)[0].tolist() == [[False]]


# ----------------------------------------------------------------------------- sample utility and faults


@pytest.fixture(scope="module")
def sample_cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("vee") / "cube.zarr"
    generate_sample_utility(path, n_meters=40, seed=11, meter_chunk=20, progress=False)
    return path


@pytest.fixture(scope="module")
def sample(sample_cube):
    return open_cube(sample_cube, chunks=False)


def test_clean_sample_meters_raise_no_flags(sample):
    r = run_vee(sample)
    assert not r.dataset["vee_flags"].values.any()
    assert r.exceptions.num_rows == 0 and r.edits.num_rows == 0
    np.testing.assert_array_equal(r.dataset["delivered_kwh"].values, sample["delivered_kwh"].values)


def test_injected_faults_are_all_caught_and_estimated(sample):
    faulted, truth = inject_faults(sample, seed=5, share=0.1)
    assert set(truth["fault"]) == {"short_gap", "long_gap", "spike", "flatline", "negative", "reverse_flow",
                                   "zero_day", "outage"}
    r = run_vee(faulted)
    score = fault_rates(score_faults(r.dataset["vee_flags"].values, r.dataset["vee_method"].values, truth,
                                     r.exceptions.to_pandas()))
    by_fault = score["by_fault"].set_index("fault")
    assert (by_fault["recall"] == 1.0).all(), by_fault
    estimable = ["short_gap", "long_gap", "spike", "flatline", "negative", "outage"]
    assert (by_fault.loc[estimable, "estimated"] == by_fault.loc[estimable, "injected"]).all()
    assert (score["by_rule"]["precision"] == 1.0).all(), score["by_rule"]
    # the originals are in the edits table: a spike's original is 10 x the day's highest read
    spike = truth[truth["fault"] == "spike"].iloc[0]
    edits = r.edits.to_pandas()
    row = edits[(edits["meter"] == spike["meter"]) & (edits["rule"] == "SPIKE")]
    assert row["original"].iloc[0] == pytest.approx(faulted["delivered_kwh"].values[spike["meter_index"], spike["t0"]])
    # the two-day outage is more than 2 % of its bill period: held
    outage = truth[truth["fault"] == "outage"]
    held, checked = held_table(r.dataset, None, CONFIG)
    assert 40 * 12 <= checked <= 40 * 13  # 12 read-date periods a meter, 13 when the year cuts one in two
    assert set(outage["meter"]) <= set(held["meter"])
    assert held["reason"].str.contains(r"intervals estimated \(\d+\.\d\d% > 2%\)").all()
    assert (held["estimated"] / held["intervals"] > 0.02).all()


def test_report_with_accounting(tmp_path, sample):
    faulted, _ = inject_faults(sample, seed=2)
    r = run_vee(faulted)
    accounting = {"reads_in": 110, "accepted": 100, "rejected": 6, "duplicates": 4,
                  "rejects_by_reason": {"unknown meter": 4, "not a number": 2},
                  "files": [{"file": "a.xml", "reads_in": 110, "accepted": 100, "rejected": 6, "duplicates": 4}],
                  "rejects_sample": [{"file": "a.xml", "row": 7, "meter": "X9", "timestamp": "2025-01-01T00:00Z",
                                      "reason": "unknown meter"}]}
    html_path = write_report(tmp_path / "rep", r, accounting)
    text = html_path.read_text()
    assert "reads in 110 = accepted 100 + rejected 6 + duplicates 4" in text and "adds up" in text
    assert "data:image/png;base64," in text and "Worst meters" in text
    for name in ("rules", "worst_meters", "exceptions", "held", "accounting_files", "rejects_by_reason",
                 "rejects_sample"):
        assert (tmp_path / "rep" / f"{name}.csv").exists(), name
    rules = pd.read_csv(tmp_path / "rep" / "rules.csv").set_index("rule")
    assert rules.loc["MISSING", "intervals"] == r.counts["MISSING"]["intervals"]
    bad = dict(accounting, accepted=99)
    assert "DOES NOT ADD UP: +1 reads unaccounted for" in write_report(tmp_path / "rep2", r, bad).read_text()
    # a file name is text, never markup (the report is a Jinja2 template with autoescape on)
    hostile = dict(accounting, files=[{"file": "<script>x</script>.xml", "reads_in": 1, "accepted": 0,
                                       "rejected": 0, "duplicates": 0}])
    text = write_report(tmp_path / "rep3", r, hostile).read_text()
    assert "<script" not in text and "1 file(s) do not add up: &lt;script&gt;x&lt;/script&gt;.xml" in text
    assert "the files' reads in (1) differ from the total (110)" in text


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path, sample_cube, capsys):
    import shutil

    cube = tmp_path / "cube.zarr"
    shutil.copytree(sample_cube, cube)
    report = tmp_path / "report"
    assert main(["vee", "--cube", str(cube), "--report", str(report), "--inject-faults", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert (report / "vee_report.html").exists()
    # the summary adds up: estimated = linear + like-day + flat fill, and matches the audit trail
    rules = pd.read_csv(report / "rules.csv").set_index("rule")["intervals"]
    estimated = int(rules["ESTIMATED_LINEAR"] + rules["ESTIMATED_LIKE_DAY"] + rules["ESTIMATED_FLAT_FILL"])
    assert f"intervals estimated: {estimated:,}" in out
    assert "injected faults caught:" in out
    caught, injected = map(int, re.search(r"injected faults caught: (\d+) of (\d+)", out).groups())
    assert caught == injected > 0
    run = json.loads(next((tmp_path / "cube.vee").glob("run-*.json")).read_text())
    assert run["intervals_estimated"] == estimated
    edits = read_edits(cube).to_pandas()
    assert len(edits) == run["edits"] and edits["original"].isna().sum() > 0
    exceptions = pq.read_table(next((tmp_path / "cube.vee").glob("exceptions-*.parquet"))).to_pandas()
    assert len(exceptions) == len(pd.read_csv(report / "exceptions.csv"))
    # the cube now carries the estimates, the flags and the methods
    ds = open_cube(cube, chunks=False)
    assert int((ds["quality"].values == 1).sum()) == estimated
    assert int((ds["vee_method"].values > 0).sum()) == estimated
    assert not np.isnan(ds["delivered_kwh"].values).any()
    # a second run finds nothing new to estimate and keeps the first run's audit trail
    assert main(["vee", "--cube", str(cube), "--quiet"]) == 0
    assert len(read_edits(cube)) == len(edits)


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["vee", "--cube", str(tmp_path / "missing.zarr")]) == 2
    assert "error:" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("estimation:\n  like_day:\n    days: 0\n")
    assert main(["vee", "--cube", str(tmp_path / "x.zarr"), "--config", str(bad)]) == 2
    assert "estimation.like_day.days" in capsys.readouterr().err


def test_time_axis_helper_matches_the_sample_axis():
    t = utc_axis("2025-01-01T00:00", 4)
    assert str(t[0]) == "2025-01-01T05:00:00.000000000"


def test_meter_registry_of_the_ingest_with_a_meter_exchange():
    import datetime as dt

    from workbench.ami.registry import Meter, MeterRegistry

    # service point M000001: old meter until 2025-04-02 10:00 local, new one from 14:00 (a 4-hour hole: the
    # service is still active); service point M000002 removed at 2025-04-03 00:00 local
    d = np.stack([_noisy(4 * PER_DAY, 1), _noisy(4 * PER_DAY, 2)])
    d[1, 2 * PER_DAY:] = np.nan
    d[1, 3 * PER_DAY + 5] = 0.7  # a read after the removal
    received = np.where(np.isnan(d), np.nan, 0.0)
    common = {"account": "A", "customer_class": "RES", "rate_code": "RES-FLAT"}
    registry = MeterRegistry([
        Meter("OLD", "M000001", **common, removal=dt.datetime(2025, 4, 2, 10)),
        Meter("NEW", "M000001", **common, install=dt.datetime(2025, 4, 2, 14)),
        Meter("X", "M000002", **common, removal=dt.datetime(2025, 4, 3)),
    ], validate=False)
    r, flags = _flags(make_cube(d, received=received), registry=registry)
    assert not flags[0].any()
    assert np.flatnonzero(flags[1] & bit("INACTIVE")).tolist() == [3 * PER_DAY + 5]
    assert not (flags[1] & bit("MISSING")).any()  # nothing missing after the removal


def test_ready_verdict_on_the_scans_counts():
    from workbench.vee import ready_verdict

    # the billing scan counts (present, missing, estimated) per meter and period
    counts = np.array([[[3000, 0, 60], [2999, 1, 0]], [[3000, 0, 61], [0, 0, 0]]])  # present includes estimated
    ready, reason = ready_verdict(counts[..., 0] + counts[..., 1], counts[..., 2], counts[..., 1], CONFIG)
    assert ready.tolist() == [[True, False], [False, False]]
    assert reason[1, 0] == "61 of 3000 intervals estimated (2.03% > 2%)"
    assert reason[1, 1] == "no intervals in the period"
