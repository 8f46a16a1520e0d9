"""Property tests: net metering, net billing and the annual minimum, engine against the slow references.

Hypothesis draws random tariffs (the strategies of ``test_bills_reference``, one version, no RTP), random
programs (``docs/net-metering.md``: monthly netting per ToU period with dollar credits or banked kWh, net
billing at a flat export rate or at per-hour export values, buy-all/sell-all; instantaneous or hourly
netting; non-bypassable charges on top of or inside retail; what credits may offset; applied the month earned
or the next; leftover paid, forfeited or rolled over; net surplus compensation, kWh cash-out, true-up fee)
and random solar-shaped two-channel loads, from a few weeks to more than a year so that true-ups happen.

Every bill must agree with ``tests/reference_nem.py`` EXACTLY, to the cent, per line-item category
(``credit`` included), and in the credits earned / applied / brought / carried and kWh banked. Cases draw an
opening bank (the $ credit or kWh the customer brings into the first bill); with ``HYPOTHESIS_PROFILE=mutation``
the property catches the opening bank ignored (``bank = np.zeros(net.shape[0])`` in ``bank_kwh``) or added twice
(``balance = 2 * opening_credit`` in ``bill_with_program``).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reference import reference_bills
from reference_nem import reference_nem_bills
from test_bills_reference import INTERESTING_STARTS, charge_lists, draw_read_dates, structures

from workbench.billing import bill_series
from workbench.nem.programs import Program
from workbench.tariffs import tariff_from_spec

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the default budget without shrinking or the example database: how docs/testing.md counts a mutation as caught
settings.register_profile("mutation", max_examples=60, deadline=None, database=None, print_blob=False,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CATEGORIES = ("fixed", "energy", "demand", "minimum", "rider", "tax", "credit")
rate = st.decimals("0.010", "0.300", places=3).map(float)


@st.composite
def programs(draw):
    kind = draw(st.sampled_from(["nm_dollars", "nm_kwh", "nb_flat", "nb_values", "basa"]))
    data: dict = {"code": "RANDOM", "name": "Random program",
                  "netting_interval": draw(st.sampled_from(["instantaneous", "instantaneous", "hourly"]))}
    true_up: dict = {"month": draw(st.integers(1, 12)), "leftover": draw(st.sampled_from(["forfeit", "pay", "roll_over"]))}
    if true_up["leftover"] == "pay":
        true_up["leftover_rate"] = draw(st.sampled_from([1.0, 0.5]))
    if draw(st.booleans()):
        true_up["fee"] = float(draw(st.sampled_from([12.5, 30.63])))
    if kind.startswith("nm"):
        data["kind"] = "net_metering"
        data["credits"] = "kwh" if kind == "nm_kwh" else "dollars"
        if draw(st.booleans()):
            true_up["surplus_rate"] = draw(rate)
        if kind == "nm_kwh" and draw(st.booleans()):
            true_up["kwh_rate"] = draw(rate)
    else:
        data["kind"] = "net_billing" if kind.startswith("nb") else "buy_all_sell_all"
        if kind != "nb_values":
            data["export_rate"] = draw(rate)
    if draw(st.booleans()):
        data["non_bypassable_rate"] = draw(st.sampled_from([0.025, 0.004]))
        data["non_bypassable_in_retail"] = draw(st.booleans())
    data["offsets"] = sorted(draw(st.sets(st.sampled_from(["energy", "demand", "rider", "minimum"]), min_size=1)))
    data["apply_current_month"] = draw(st.booleans())
    data["true_up"] = true_up
    return Program.model_validate(data), kind == "nb_values"


def solar_load(draw, idx):
    """Delivered and received kWh: a gamma load against a clear-sky sine of PV at local midday."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    hours = np.asarray(idx.hour + idx.minute / 60.0, dtype=float)
    step_h = (idx[1] - idx[0]).total_seconds() / 3600 if len(idx) > 1 else 0.25
    pv = np.clip(np.sin((hours - 6.0) / 12.0 * math.pi), 0.0, None) * draw(st.sampled_from([0.5, 2.0, 6.0])) * step_h
    pv = pv * rng.uniform(0.3, 1.0, len(idx))
    load = rng.gamma(2.0, draw(st.sampled_from([0.3, 1.0])), len(idx)) * step_h
    delivered = np.maximum(load - pv, 0.0).round(3)
    received = np.maximum(pv - load, 0.0).round(3)
    if draw(st.booleans()):  # both channels in one interval (a cloud passing inside 15 minutes)
        both = rng.random(len(idx)) < 0.05
        delivered[both] += 0.1
    if draw(st.booleans()):
        delivered[rng.random(len(idx)) < 0.01] = np.nan
    return delivered, received


@st.composite
def nem_cases(draw):
    first = draw(st.sampled_from(INTERESTING_STARTS)) if draw(st.booleans()) else \
        dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 600)))
    n_days = draw(st.integers(20, 120)) if draw(st.integers(0, 2)) else draw(st.integers(330, 400))
    step = draw(st.sampled_from([15, 15, 60])) if n_days < 200 else 60  # a long case: hourly (the reference is slow)
    last = first + dt.timedelta(days=n_days - 1)
    structure = draw(structures(first, last, step))
    spec = {"code": "RANDOM", "name": "Random tariff", **structure,
            "versions": [{"effective": "2023-01-01", "charges": draw(charge_lists(structure, with_rtp=False))}]}
    tz = ZoneInfo(structure["timezone"])
    idx = pd.date_range(dt.datetime.combine(first, dt.time(0), tz),
                        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tz),
                        freq=f"{step}min", inclusive="left").tz_convert(structure["timezone"])
    delivered, received = solar_load(draw, idx)
    read_dates = draw_read_dates(draw, first, last)
    program, valued = draw(programs())
    # the bank the customer brings into the first bill (docs/net-metering.md): in the unit the program banks
    opening_credit = opening_kwh = 0.0
    if draw(st.booleans()) and program.kind != "buy_all_sell_all":
        if program.kind == "net_metering" and program.credits == "kwh":
            opening_kwh = float(draw(st.decimals("0.001", "800", places=3)))
        else:
            opening_credit = float(draw(st.decimals("0.01", "150", places=2)))
    export = None
    if valued:  # an hourly export-value series from the data's first UTC hour
        hours = pd.date_range(idx[0].tz_convert("UTC").floor("h"), idx[-1].tz_convert("UTC").floor("h"), freq="h")
        rng = np.random.default_rng(len(hours))
        export = pd.Series(rng.uniform(0.02, 0.12, len(hours)).round(5), index=hours)
        export[(hours.month == 9) & (hours.hour == 1)] = 2.5  # dollars on a few evenings (UTC 1 h = 18-21 h local)
    return spec, idx, delivered, received, read_dates, step, program, export, opening_credit, opening_kwh


def compare_nem(spec, idx, delivered, received, read_dates, step, program, export, opening_credit=0.0,
                opening_kwh=0.0):
    tariff = tariff_from_spec(spec, source="<random tariff>")
    bills = bill_series(tariff, idx, delivered, received, read_dates=read_dates, program=program, export_rates=export,
                        opening_credit=opening_credit, opening_kwh=opening_kwh)
    utc = [t.to_pydatetime().astimezone(dt.UTC) for t in idx]
    values = None
    if export is not None:
        by_hour = {ts.to_pydatetime(): float(v) for ts, v in export.items()}
        values = [by_hour[t.replace(minute=0)] for t in utc]
    want = reference_nem_bills(tariff.extra["spec"], program, utc, list(delivered), list(received), step,
                               read_dates=read_dates, export_values=values, true_up_month=program.true_up.month,
                               opening_credit=opening_credit, opening_kwh=opening_kwh)
    assert [(b.start, b.end) for b in bills] == [(w["start"], w["end"]) for w in want]
    for bill, ref in zip(bills, want, strict=True):
        context = (f"bill {bill.start}..{bill.end}: engine {[(li.description, li.amount) for li in bill.line_items]}"
                   f" reference {[line for line in ref['lines'] if line[2]]}")
        for category in CATEGORIES:
            got = sum(round(li.amount * 100) for li in bill.line_items if li.category == category)
            exp = sum(round(amount * 100) for _, cat, amount in ref["lines"] if cat == category)
            assert got == exp, f"{category}: {context}"
        assert round(bill.total * 100) == round(ref["total"] * 100), context
        assert round(bill.credit_earned * 100) == round(ref["credit_earned"] * 100), context
        assert round(bill.credit_applied * 100) == round(ref["credit_applied"] * 100), context
        assert abs(bill.credit_carried - ref["credit_carried"]) < 1e-4, context
        assert abs(bill.kwh_carried - ref.get("kwh_carried", 0.0)) < 1e-3, context
        if program.kind != "buy_all_sell_all":  # the bank brought in: the opening bank on the first bill
            assert abs(bill.credit_brought - ref["credit_brought"]) < 1e-4, context
        assert abs(bill.kwh_brought - ref.get("kwh_brought", 0.0)) < 1e-3, context


@given(nem_cases())
def test_programs_match_reference(case):
    compare_nem(*case)


@settings(max_examples=30)
@given(st.integers(0, 400), st.integers(330, 420), st.sampled_from([50.0, 400.0, 3000.0]), st.data())
def test_annual_minimum_matches_reference(start, n_days, amount, data):
    """A year-long flat tariff with an annual minimum (and maybe a tax on it): the December bill tops the
    year up to the amount."""
    first = dt.date(2024, 1, 1) + dt.timedelta(days=start)
    structure = data.draw(structures(first, first + dt.timedelta(days=n_days - 1), 60))
    charges = data.draw(charge_lists(structure, with_rtp=False))
    charges = [c for c in charges if c["type"] != "minimum"]
    charges.insert(len(charges) - sum(c["type"] == "tax" for c in charges),
                   {"type": "minimum", "amount": amount, "per": "year"})
    spec = {"code": "ANNUAL", "name": "Annual minimum", **structure,
            "versions": [{"effective": "2023-01-01", "charges": charges}]}
    tz = ZoneInfo(structure["timezone"])
    idx = pd.date_range(dt.datetime.combine(first, dt.time(0), tz),
                        dt.datetime.combine(first + dt.timedelta(days=n_days), dt.time(0), tz),
                        freq="60min", inclusive="left").tz_convert(structure["timezone"])
    kwh = np.random.default_rng(start).gamma(2.0, data.draw(st.sampled_from([0.05, 0.5])), len(idx)).round(3)
    read_dates = None
    if data.draw(st.booleans()):  # meter reads: bills that straddle a year end
        read = first - dt.timedelta(days=data.draw(st.integers(0, 25)))
        read_dates = [read]
        while read <= first + dt.timedelta(days=n_days):
            read += dt.timedelta(days=data.draw(st.integers(26, 35)))
            read_dates.append(read)
    tariff = tariff_from_spec(spec, source="<annual minimum>")
    bills = bill_series(tariff, idx, kwh, read_dates=read_dates)
    want = reference_bills(tariff.extra["spec"], [t.to_pydatetime().astimezone(dt.UTC) for t in idx], list(kwh),
                           None, 60, read_dates=read_dates)
    assert [(b.start, b.end) for b in bills] == [(w["start"], w["end"]) for w in want]
    for bill, ref in zip(bills, want, strict=True):
        for category in ("minimum", "tax"):
            got = sum(round(li.amount * 100) for li in bill.line_items if li.category == category)
            exp = sum(round(a * 100) for _, cat, a in ref["lines"] if cat == category)
            assert got == exp, f"{category} {bill.start}..{bill.end}: {bill.line_items} vs {ref['lines']}"
        assert round(bill.total * 100) == round(ref["total"] * 100)


def test_hourly_netting_of_hourly_reads():
    """Hourly reads, one hour with 2 kWh delivered and 1.5 kWh received, net billing at $0.10/kWh export,
    hourly netting: the hour nets to 0.5 kWh delivered, nothing exported (by hand)."""
    spec = {"code": "FLAT", "name": "Flat", "timezone": "America/New_York", "holidays": "none",
            "demand": {}, "versions": [{"effective": "2023-01-01", "charges": [{"type": "energy", "rates": 0.2}]}]}
    idx = pd.date_range("2024-05-01", periods=24, freq="h", tz="America/New_York")
    delivered = np.zeros(24)
    received = np.zeros(24)
    delivered[12], received[12] = 2.0, 1.5
    program = Program.model_validate({"code": "NB", "name": "NB", "kind": "net_billing", "export_rate": 0.10,
                                      "netting_interval": "hourly", "true_up": {"month": 12}})
    (bill,) = bill_series(tariff_from_spec(spec, source="<flat>"), idx, delivered, received, program=program)
    assert [(li.category, li.amount) for li in bill.line_items if li.amount] == [("energy", 0.10)]  # 0.5 x 0.20
    assert bill.credit_earned == 0.0


def test_annual_minimum_counts_the_whole_year_across_a_rate_change():
    """2024, 100 kWh a month at $0.10 (new rates from 1 July, same price, with an annual minimum of $100): the
    year's bills charge 12 x $10 = $120 >= $100, so no December top-up (by hand)."""
    energy = {"type": "energy", "rates": 0.10}
    spec = {"code": "AM", "name": "Annual minimum", "timezone": "America/New_York", "holidays": "none", "demand": {},
            "versions": [{"effective": "2023-01-01", "charges": [energy]},
                         {"effective": "2024-07-01", "charges": [energy, {"type": "minimum", "amount": 100.0,
                                                                           "per": "year"}]}]}
    idx = pd.date_range("2024-01-01", "2025-01-01", freq="h", tz="America/New_York", inclusive="left")
    month_hours = pd.Series(1, index=idx).groupby(idx.month).transform("size").to_numpy()
    bills = bill_series(tariff_from_spec(spec, source="<annual minimum>"), idx, 100.0 / month_hours)
    assert [round(b.total, 2) for b in bills] == [10.0] * 12
    assert sum(li.amount for b in bills for li in b.line_items if li.category == "minimum") == 0.0
