"""Property tests: engine bills against the slow reference biller (``tests/reference.py``).

Hypothesis draws random but valid tariffs (a random split of the year into seasons; ToU windows that cover
every day exactly, some wrapping past midnight; flat, ToU and block energy in all four units and both
scopes; max / ToU / coincident demand, tiered or not, with a minimum billing demand and ratchets, prorated
on a partial period or not (``demand.partial_periods``); RTP,
riders, minimum bills, taxes, per bill / day / month customer charges; a second version taking effect in
the middle of a month) and random 15-minute loads over random date ranges (DST days in
America/Los_Angeles, leap-year February 2024, year ends; mostly 15-minute reads, some 5-minute and hourly),
billed by calendar month or by read dates.

Each bill must agree with the reference to within a cent per line item (each line is rounded once; a
rounding that lands on the other side of a half cent moves a line, and the taxes on it, by a cent).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reference import reference_bills

from workbench.billing import bill_series
from workbench.tariffs import tariff_from_spec

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the default budget without shrinking or the example database: how docs/testing.md counts a mutation as caught
settings.register_profile("mutation", max_examples=60, deadline=None, database=None, print_blob=False,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))  # HYPOTHESIS_PROFILE=deep for a long hunt

LA = "America/Los_Angeles"
NY = "America/New_York"
PERIOD_NAMES = ["on_peak", "mid_peak", "off_peak"]
INTERESTING_STARTS = [
    dt.date(2024, 3, 10),  # spring forward in the US (92 quarter hours)
    dt.date(2024, 3, 1),
    dt.date(2024, 11, 3),  # fall back (100 quarter hours)
    dt.date(2024, 10, 20),
    dt.date(2024, 2, 1),  # leap-year February
    dt.date(2024, 2, 20),
    dt.date(2024, 12, 20),  # across a year end and Christmas / New Year's Day
    dt.date(2025, 3, 9),
    dt.date(2025, 5, 20),  # Memorial Day, Juneteenth, 4 July
    dt.date(2025, 11, 1),
]
PRICE_START = dt.datetime(2023, 12, 1, tzinfo=dt.UTC)
PRICE_HOURS = 24 * 1200  # to March 2027: the loads start by late 2025 and last up to 400 days


@pytest.fixture(scope="module")
def price_dir(tmp_path_factory):
    """An hourly real-time price file covering the whole range the loads are drawn from."""
    folder = tmp_path_factory.mktemp("prices")
    lines = ["timestamp,price"]
    for h in range(PRICE_HOURS):
        stamp = PRICE_START + dt.timedelta(hours=h)
        price = 0.03 + 0.02 * math.sin(h / 5.0) ** 2 + 0.001 * (h % 7)
        lines.append(f"{stamp:%Y-%m-%dT%H:%M}Z,{price:.5f}")
    (folder / "prices.csv").write_text("\n".join(lines) + "\n")
    return folder


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# ------------------------------------------------------------------------------------------ strategies


money = st.decimals("0.01", "50.00", places=2).map(float)
price = st.decimals("0.010", "0.400", places=3).map(float)


def draw_read_dates(draw, first, last):
    """None (calendar months), or meter-read dates 26-35 days apart covering ``first`` to ``last``."""
    if not draw(st.booleans()):
        return None
    read = first - dt.timedelta(days=draw(st.integers(0, 25)))
    read_dates = [read]
    while read <= last:
        read += dt.timedelta(days=draw(st.integers(26, 35)))
        read_dates.append(read)
    return read_dates


@st.composite
def day_windows(draw, names, step=15):
    """{period: [hours, ...]}: cuts of the day into segments (the last wraps midnight), each a period."""
    cuts = sorted(draw(st.sets(st.integers(0, 1440 // step - 1), min_size=1, max_size=4)))
    cuts = [c * step for c in cuts]
    out: dict[str, list[str]] = {}
    if len(cuts) == 1:
        out[draw(st.sampled_from(names))] = ["00:00-24:00"]
        return out
    for a, b in zip(cuts, cuts[1:] + [cuts[0]], strict=True):
        end = "24:00" if b == 0 else hhmm(b)
        out.setdefault(draw(st.sampled_from(names)), []).append(f"{hhmm(a)}-{end}")
    return out


@st.composite
def structures(draw, first_day, last_day, step, ratchet=False):
    """The tariff's structure: time zone, holidays, seasons, ToU periods, demand measurement."""
    structure: dict = {"timezone": draw(st.sampled_from([LA, LA, NY]))}
    structure["holidays"] = draw(st.sampled_from(["none", "NERC", "US"]))
    if draw(st.integers(0, 2)):
        summer = sorted(draw(st.sets(st.integers(1, 12), min_size=1, max_size=11)))
        structure["seasons"] = {"summer": summer, "winter": [m for m in range(1, 13) if m not in summer]}
    seasons = list(structure.get("seasons", {"all": None}))
    if draw(st.booleans()):
        names = PERIOD_NAMES[: draw(st.integers(2, 3))]
        if structure["holidays"] == "none":
            groups = draw(st.sampled_from([[["all"]], [["weekday"], ["weekend"]]]))
        else:
            groups = draw(st.sampled_from([[["all"]], [["weekday"], ["weekend", "holiday"]],
                                           [["weekday"], ["weekend"], ["holiday"]]]))
        periods: dict[str, list] = {}
        season_sets = [["all"]] if draw(st.booleans()) else [[s] for s in seasons]
        for season_set in season_sets:
            for days in groups:
                for name, hours in draw(day_windows(names)).items():
                    periods.setdefault(name, []).append({"seasons": season_set, "days": days, "hours": hours})
        structure["time_of_use"] = {"periods": {n: periods[n] for n in names if n in periods}}
    # a demand interval that is a multiple of the data's (None: the data's own)
    demand: dict = {"interval_minutes": draw(st.sampled_from([None] + [m for m in (5, 15, 30, 60) if m % step == 0])),
                    "method": draw(st.sampled_from(["block", "rolling"]))}
    if draw(st.booleans()):
        demand["minimum_kw"] = float(draw(st.integers(0, 30)))
    if draw(st.integers(0, 3)) == 0:  # a tariff whose demand charges are not prorated on a partial period
        demand["partial_periods"] = "full"
    if draw(st.booleans()):
        start = draw(st.integers(0, 23))
        end = (start + draw(st.integers(1, 12))) % 24
        demand["time_of_use"] = {"periods": {"on_peak": [
            {"seasons": [draw(st.sampled_from(seasons))] if draw(st.booleans()) else ["all"],
             "days": draw(st.sampled_from([["weekday"], ["all"]])), "hours": f"{start:02d}:00-{end:02d}:00"}]}}
    if ratchet or draw(st.booleans()):
        count_months = draw(st.one_of(st.just([6, 7, 8, 9]), st.just(list(range(1, 13))),
                                      st.sets(st.integers(1, 12), min_size=1, max_size=12).map(sorted)))
        demand["ratchet"] = {
            "percent": float(draw(st.sampled_from([50, 75, 80, 100]))), "months": draw(st.integers(1, 11)),
            "count_months": count_months,
            "history_kw": [float(x) for x in draw(st.lists(st.integers(0, 40), max_size=4))],
        }
    if draw(st.booleans()):
        # system peaks: local interval starts inside the data
        n_days = (last_day - first_day).days + 1
        demand["coincident_peaks"] = sorted({
            dt.datetime.combine(first_day + dt.timedelta(days=draw(st.integers(0, n_days - 1))),
                                dt.time(draw(st.integers(10, 20)), draw(st.sampled_from(range(0, 60, step)))))
            for _ in range(draw(st.integers(1, 3)))
        })
    structure["demand"] = demand
    return structure


def rate_shapes(draw, seasons, periods, value):
    """A rate as a number, by period, by season, or by season then period."""
    shape = draw(st.sampled_from(["number", "period", "season", "season_period"]))
    if shape == "period" and periods != ["all"]:
        return {p: draw(value) for p in periods}
    if shape == "season" and seasons != ["all"]:
        return {s: draw(value) for s in seasons}
    if shape == "season_period" and seasons != ["all"] and periods != ["all"]:
        return {s: {p: draw(value) for p in periods} for s in seasons}
    return draw(value)


def block_rate_shapes(draw, seasons, periods, n_blocks):
    return rate_shapes(draw, seasons, periods, st.lists(price, min_size=n_blocks, max_size=n_blocks))


def limit_shapes(draw, seasons, low, high):
    n_limits = draw(st.integers(1, 2))
    one = st.lists(st.integers(low, high), min_size=n_limits, max_size=n_limits, unique=True).map(sorted)
    if seasons != ["all"] and draw(st.booleans()):
        return {s: [float(x) for x in draw(one)] for s in seasons}, n_limits + 1
    return [float(x) for x in draw(one)], n_limits + 1


LIMIT_RANGES = {"kWh": (50, 2500), "kWh/day": (2, 60), "kWh/kW": (20, 400), "kWh/kW/day": (1, 15)}


@st.composite
def charge_lists(draw, structure, with_rtp, demand_max=False):
    seasons = list(structure.get("seasons", {"all": None}))
    periods = list(structure["time_of_use"]["periods"]) if "time_of_use" in structure else ["all"]
    demand = structure["demand"]
    charges: list[dict] = []
    for i in range(draw(st.integers(0, 2))):
        charges.append({"type": "customer", "description": f"Customer charge {i}", "amount": draw(money),
                        "per": draw(st.sampled_from(["bill", "day", "month"]))})
    if with_rtp:
        charges.append({"type": "rtp", "prices": "prices.csv", "adder": draw(st.sampled_from([0.0, 0.012]))})
    elif draw(st.booleans()):
        charges.append({"type": "energy", "rates": rate_shapes(draw, seasons, periods, price)})
    else:
        unit = draw(st.sampled_from(list(LIMIT_RANGES)))
        limits, n_blocks = limit_shapes(draw, seasons, *LIMIT_RANGES[unit])
        charges.append({"type": "energy", "blocks": {
            "unit": unit, "scope": draw(st.sampled_from(["total", "period"])), "limits": limits,
            "rates": block_rate_shapes(draw, seasons, periods, n_blocks)}})
    demand_rates = st.decimals("1.00", "15.00", places=2).map(float)
    if demand_max or draw(st.integers(0, 2)):
        if draw(st.booleans()):
            charges.append({"type": "demand", "description": "Facility", "measure": "max",
                            "rates": rate_shapes(draw, seasons, ["all"], demand_rates)})
        else:
            limits, n_blocks = limit_shapes(draw, seasons, 2, 40)
            charges.append({"type": "demand", "description": "Facility", "measure": "max", "blocks": {
                "limits": limits, "rates": rate_shapes(draw, seasons, ["all"], st.lists(
                    demand_rates, min_size=n_blocks, max_size=n_blocks))}})
    if "time_of_use" in demand and draw(st.booleans()):
        if draw(st.booleans()):
            charges.append({"type": "demand", "description": "On-peak", "measure": "tou",
                            "rates": rate_shapes(draw, seasons, ["on_peak"], demand_rates)})
        else:
            limits, n_blocks = limit_shapes(draw, seasons, 2, 40)
            charges.append({"type": "demand", "description": "On-peak", "measure": "tou", "blocks": {
                "limits": limits, "rates": rate_shapes(draw, seasons, ["on_peak"], st.lists(
                    demand_rates, min_size=n_blocks, max_size=n_blocks))}})
    if demand.get("coincident_peaks") and draw(st.booleans()):
        charges.append({"type": "demand", "description": "Coincident", "measure": "coincident",
                        "rates": rate_shapes(draw, seasons, ["all"], demand_rates)})
    if draw(st.booleans()):
        rate = {m: draw(price) / 10 for m in range(1, 13)} if draw(st.booleans()) else draw(price) / 10
        charges.append({"type": "rider", "description": "Power cost adjustment", "rate": rate})
    if draw(st.booleans()):
        per = draw(st.sampled_from(["bill", "day", "month", "year"]))
        scale = [1, 5, 40] if per != "year" else [10, 60, 400]  # an annual minimum: a year's worth
        amount = draw(money) / (30 if per == "day" else 1) * draw(st.sampled_from(scale))
        charges.append({"type": "minimum", "amount": round(amount, 2), "per": per})
    for i in range(draw(st.integers(0, 2))):
        # any categories, also ones the version has no charge in
        applies = draw(st.sets(st.sampled_from(["fixed", "energy", "demand", "minimum", "rider"]), min_size=1))
        charges.append({"type": "tax", "description": f"Tax {i}", "percent": float(draw(st.sampled_from([2.5, 6, 8.25]))),
                        "applies_to": sorted(applies)})
    return charges


@st.composite
def cases(draw, long=False):
    """(tariff spec, interval starts, delivered kWh, read dates or None, step). ``long``: a year or more of
    data under a ratchet, with spikes in some months."""
    if draw(st.booleans()):
        first = draw(st.sampled_from(INTERESTING_STARTS))
    else:
        first = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 690)))
    # mostly a few bills; sometimes over a year, so that ratchets look back across seasons
    n_days = draw(st.integers(1, 70)) if draw(st.integers(0, 5)) and not long else draw(st.integers(300, 400))
    # mostly 15-minute reads; sometimes 5-minute (a few weeks at most) or hourly
    step = 15 if long else draw(st.sampled_from([15, 15, 15, 5, 60]))
    if step == 5:
        n_days = min(n_days, 21)
    last = first + dt.timedelta(days=n_days - 1)
    structure = draw(structures(first, last, step, ratchet=long))
    with_rtp = draw(st.integers(0, 5)) == 0
    versions = [{"effective": "2023-01-01", "charges": draw(charge_lists(structure, with_rtp, demand_max=long))}]
    if n_days > 2 and draw(st.booleans()):
        change = first + dt.timedelta(days=draw(st.integers(1, n_days - 1)))
        if change.day == 1:
            change += dt.timedelta(days=draw(st.integers(1, 9)))
        if draw(st.booleans()):
            versions[0]["expires"] = str(change)
        versions.append({"effective": str(change), "charges": draw(charge_lists(structure, with_rtp, demand_max=long))})
    spec = {"code": "RANDOM", "name": "Random tariff", **structure, "versions": versions}

    tz = ZoneInfo(structure["timezone"])
    start = dt.datetime.combine(first, dt.time(0), tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tz)
    idx = pd.date_range(start, end, freq=f"{step}min", inclusive="left").tz_convert(structure["timezone"])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kwh = rng.gamma(2.0, draw(st.sampled_from([0.1, 0.5, 3.0])), len(idx)).round(3)
    if long or draw(st.booleans()):  # a few spikes, so that demand peaks differ from month to month
        kwh[rng.integers(0, len(idx), 5)] *= draw(st.sampled_from([3, 6, 20]))
    if draw(st.booleans()):
        kwh[rng.random(len(idx)) < 0.01] = np.nan
    read_dates = draw_read_dates(draw, first, last)
    return spec, idx, kwh, read_dates, step


# ------------------------------------------------------------------------------------------- the tests


def compare(spec, idx, kwh, read_dates, step, base_dir):
    tariff = tariff_from_spec(spec, source="<random tariff>", base_dir=base_dir)
    bills = bill_series(tariff, idx, kwh, read_dates=read_dates)
    utc = [t.to_pydatetime().astimezone(dt.UTC) for t in idx]
    want = reference_bills(tariff.extra["spec"], utc, list(kwh), None, step, read_dates=read_dates, base_dir=base_dir)
    assert [(b.start, b.end, b.days) for b in bills] == [(w["start"], w["end"], w["days"]) for w in want]
    for bill, ref in zip(bills, want, strict=True):
        context = (f"bill {bill.start}..{bill.end}: engine {[(li.description, li.amount) for li in bill.line_items]}"
                   f" reference {[line for line in ref['lines'] if line[2]]}")
        # exact to the cent: both round each line once, half-up, from the same determinants
        assert round(bill.total * 100) == round(ref["total"] * 100), context
        for category in ("fixed", "energy", "demand", "minimum", "rider", "tax"):
            got = sum(round(li.amount * 100) for li in bill.line_items if li.category == category)
            exp = sum(round(amount * 100) for _, cat, amount in ref["lines"] if cat == category)
            assert got == exp, f"{category}: {context}"
        assert bill.delivered_kwh == pytest.approx(ref["delivered_kwh"], abs=1e-3)
        assert bill.peak_kw == pytest.approx(ref["peak_kw"], abs=1e-3)
        assert bill.total == pytest.approx(sum(li.amount for li in bill.line_items), abs=1e-9)
    return bills


@given(cases())
def test_engine_bills_match_reference(price_dir, case):
    compare(*case, base_dir=price_dir)


@settings(max_examples=12)
@given(cases(long=True))
def test_long_loads_under_ratchets(price_dir, case):
    compare(*case, base_dir=price_dir)


@settings(max_examples=25)
@given(st.sampled_from([dt.date(2024, 3, 10), dt.date(2024, 11, 3)]), st.integers(1, 3), st.data())
def test_dst_days_alone(price_dir, day, n_days, data):
    """Short bills that start on a DST change day in Los Angeles."""
    structure = data.draw(structures(day, day + dt.timedelta(days=n_days - 1), 15))
    structure["timezone"] = LA
    spec = {"code": "DST", "name": "DST", **structure,
            "versions": [{"effective": "2023-01-01", "charges": data.draw(charge_lists(structure, False))}]}
    idx = pd.date_range(pd.Timestamp(day, tz=LA), pd.Timestamp(day + dt.timedelta(days=n_days), tz=LA),
                        freq="15min", inclusive="left")
    assert len(idx) == 96 * n_days + (-4 if day.month == 3 else 4)
    kwh = np.random.default_rng(n_days).gamma(2.0, 0.5, len(idx))
    compare(spec, idx, kwh, None, 15, price_dir)
