"""VEE's IMPLAUSIBLE rule: a read above the meter's physical limit is withheld (no value, quality 2, method
withheld), never estimated, and holds its bill period; by hand and against a slow reference written from
docs/vee.md. Limits: RES 100 kW = 25 kWh per 15-minute interval; the registry's ``max_kw`` overrides."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_vee_support import make_cube

from workbench.ami.registry import MeterRegistry
from workbench.ami.registry_meter import Meter, default_max_kw
from workbench.kernels.vee_codes import METHOD_WITHHELD
from workbench.vee import bill_ready, bit, load_config, run_vee

PER_DAY = 96
CONFIG = load_config()


def _noisy(n, seed=0):
    return np.random.default_rng(seed).uniform(0.8, 1.2, n).astype(np.float32)


def reference_implausible(delivered, received, quality, limit_kwh):
    """Slow reference: per interval, an actual read above the limit on either channel withholds both."""
    flags, d_out, r_out, q_out, method = [], [], [], [], []
    for d, r, q in zip(delivered.tolist(), received.tolist(), quality.tolist(), strict=True):
        hit = q == 0 and (d > limit_kwh or r > limit_kwh)
        flags.append(hit)
        d_out.append(float("nan") if hit else d)
        r_out.append(float("nan") if hit else r)
        q_out.append(2 if hit else q)
        method.append(METHOD_WITHHELD if hit else 0)
    return flags, d_out, r_out, q_out, method


def test_class_defaults_and_the_multiplier_floor():
    assert default_max_kw("RES") == 100.0
    assert default_max_kw("SGS") == 300.0
    assert default_max_kw("LGS", 1) == 1000.0
    assert default_max_kw("LGS", 200) == 4000.0  # 20 kW x 200
    assert default_max_kw("RES", 0.5) == 100.0


def test_a_read_above_100_kw_on_a_residential_meter_is_withheld_and_the_period_held():
    d = _noisy(PER_DAY)
    d[40] = 25.0  # exactly 100 kW over 15 minutes: possible (a SPIKE on this day, estimated as such)
    d[50] = 25.5  # 102 kW: beyond a residential service
    r = run_vee(make_cube([d]), CONFIG)
    flags = r.dataset["vee_flags"].values[0]
    assert np.flatnonzero(flags & bit("IMPLAUSIBLE")).tolist() == [50]
    assert flags[40] & bit("SPIKE")
    assert np.isnan(r.dataset["delivered_kwh"].values[0, 50])
    assert r.dataset["quality"].values[0, 50] == 2
    assert r.dataset["vee_method"].values[0, 50] == METHOD_WITHHELD
    assert not (flags & bit("SPIKE"))[50]  # IMPLAUSIBLE, not a spike to estimate
    assert r.counts["IMPLAUSIBLE"] == {"intervals": 1, "meter_days": 1, "meters": 1}
    edits = r.edits.to_pandas()
    withheld = edits[edits["method_name"] == "withheld"]
    assert sorted(withheld["channel"]) == ["delivered", "received"]
    assert withheld[withheld["channel"] == "delivered"]["original"].tolist() == [25.5]
    assert set(withheld["rule"]) == {"IMPLAUSIBLE"}
    ready, reason = bill_ready(r.dataset, np.array([[0, PER_DAY]]), CONFIG)
    assert not ready[0, 0] and "1 implausible read(s) withheld" in reason[0, 0]
    # VEE again on its own output: nothing changes, the read stays withheld (never estimated)
    again = run_vee(r.dataset, CONFIG).dataset
    for name in ("delivered_kwh", "quality", "vee_flags", "vee_method"):
        np.testing.assert_array_equal(again[name].values, r.dataset[name].values)


def test_received_above_the_limit_withholds_the_interval_and_estimates_stay_away_from_it():
    d = _noisy(PER_DAY, 1)
    received = np.zeros_like(d)
    received[20] = 1e6
    d[21] = np.nan  # a one-interval gap next to the withheld read: flat fill from its right neighbour only
    r = run_vee(make_cube([d], received=[received], nem=["NEM2"]), CONFIG)
    assert np.flatnonzero(r.dataset["vee_flags"].values[0] & bit("IMPLAUSIBLE")).tolist() == [20]
    assert np.isnan(r.dataset["received_kwh"].values[0, 20]) and np.isnan(r.dataset["delivered_kwh"].values[0, 20])
    assert r.dataset["delivered_kwh"].values[0, 21] == pytest.approx(float(d[22]))


def test_the_registry_max_kw_sets_the_limit():
    d = _noisy(PER_DAY, 2)
    d[10] = 3.0  # 12 kW: fine for the class default, beyond a registry max_kw of 10 kW
    ds = make_cube([d])
    reg = MeterRegistry([Meter("M000001", "M000001", "A0", "RES", "RES-FLAT", max_kw=10.0)])
    assert not (run_vee(ds, CONFIG).dataset["vee_flags"].values & bit("IMPLAUSIBLE")).any()
    flags = run_vee(ds, CONFIG, registry=reg).dataset["vee_flags"].values[0]
    assert np.flatnonzero(flags & bit("IMPLAUSIBLE")).tolist() == [10]


def test_the_rule_can_be_disabled():
    d = _noisy(PER_DAY, 3)
    d[5] = 1e6
    config = CONFIG.with_overrides({"validation": {"implausible": {"enabled": False}}})
    r = run_vee(make_cube([d]), config)
    assert not (r.dataset["vee_flags"].values & bit("IMPLAUSIBLE")).any()


@st.composite
def rows_with_absurd_reads(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = 3 * PER_DAY
    d = rng.uniform(0.8, 1.2, n).astype(np.float32)
    r = np.zeros(n, np.float32)
    q = np.zeros(n, np.uint8)
    for _ in range(draw(st.integers(0, 10))):
        t = draw(st.integers(0, n - 1))
        value = np.float32(draw(st.sampled_from([25.0, 25.001, 30.0, 1e6, 3e38])))
        if draw(st.booleans()):
            d[t] = value
        else:
            r[t] = value
        if draw(st.integers(0, 4)) == 0:
            q[t] = 1  # an estimate from the source: rules look at actual reads only
    return d, r, q


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_with_absurd_reads())
def test_kernel_matches_the_slow_reference(case):
    d, r, q = case
    res = run_vee(make_cube([d], received=[r], quality=[q], nem=["NEM2"]), CONFIG)
    flags, d_out, r_out, q_out, method = reference_implausible(d, r, q, 100.0 * 15 / 60)
    got = (res.dataset["vee_flags"].values[0] & bit("IMPLAUSIBLE")) != 0
    assert got.tolist() == flags
    hit = np.array(flags)
    np.testing.assert_array_equal(res.dataset["delivered_kwh"].values[0][hit], np.array(d_out)[hit])
    np.testing.assert_array_equal(res.dataset["received_kwh"].values[0][hit], np.array(r_out)[hit])
    assert res.dataset["quality"].values[0][hit].tolist() == np.array(q_out)[hit].tolist()
    assert res.dataset["vee_method"].values[0][hit].tolist() == np.array(method)[hit].tolist()
    assert res.counts["IMPLAUSIBLE"]["intervals"] == int(hit.sum())
