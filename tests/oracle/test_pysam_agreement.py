"""Our monthly bills against NREL PySAM ``Utilityrate5``, to the cent, on real and hand-written URDB tariffs.

Run with ``pytest -m oracle``. Conventions that make the two agree: ``docs/pysam-conventions.md``.

Every load is synthetic, seeded and realistic enough to exercise the tariff: residential and commercial
shapes, hourly and 15-minute, with monthly peaks that rise and fall so that ratchets bind in some months
and not in others. 2018 in UTC: 365 days, 1 January a Monday, no DST, PySAM's calendar.

Tolerance: PySAM does not round; our bill is a sum of line items each rounded half-up to the cent, so a
month may differ by up to half a cent per line item.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.tariffs import load_tariff

from .pysam_reference import (
    MONTH_DAYS,
    pysam_monthly_bills,
    pysam_monthly_components,
)

pytestmark = pytest.mark.oracle

URDB_DIR = Path(__file__).resolve().parents[1] / "data" / "urdb"
DAYS = 365
MONTH_OF_DAY = np.repeat(np.arange(12), MONTH_DAYS)


# ---------------------------------------------------------------------------------------------- loads


def timestamps_2018(steps_per_hour: int) -> pd.DatetimeIndex:
    """Interval starts of 2018 in UTC (PySAM's calendar: no DST, 1 January a Monday)."""
    return pd.date_range(
        "2018-01-01", periods=8760 * steps_per_hour, freq=f"{60 // steps_per_hour}min", tz="UTC"
    )


def _clock(steps_per_hour: int):
    step = np.arange(8760 * steps_per_hour)
    hour = (step / steps_per_hour) % 24  # hour of day of the interval start, fractional
    day = step // (24 * steps_per_hour)
    return hour, day, MONTH_OF_DAY[day], (day % 7) < 5


def _add_spikes(rng, kw, steps_per_hour, days, hours, size_kw, max_steps):
    """Short appliance / equipment peaks: one per (day, hour, size) triple."""
    for day, hour, size in zip(days, hours, size_kw, strict=True):
        start = int((day * 24 + hour) * steps_per_hour)
        length = int(rng.integers(1, max_steps + 1))
        kw[start : start + length] += size


def _meter(kw_net: np.ndarray, steps_per_hour: int):
    """Split net load [kW] into delivered / received energy per interval [kWh], at 0.1 Wh resolution."""
    delivered = np.round(np.clip(kw_net, 0, None) / steps_per_hour, 4)
    received = np.round(np.clip(-kw_net, 0, None) / steps_per_hour, 4)
    return delivered, received


def residential_load(seed: int, steps_per_hour: int, scale: float = 1.0, pv_kw: float = 0.0):
    """A house: morning and evening peaks, summer cooling, winter heating, a few appliance peaks a day.

    Returns delivered and received energy per interval [kWh]; received is None without PV.
    """
    rng = np.random.default_rng(seed)
    hour, day, month, _ = _clock(steps_per_hour)
    n = hour.size
    outdoor_c = 14 - 11 * np.cos(2 * np.pi * (day - 15) / DAYS) + 5 * np.sin(2 * np.pi * (hour - 9) / 24)
    kw = (
        0.32
        + 0.55 * np.exp(-(((hour - 7.5) / 1.2) ** 2))
        + 1.05 * np.exp(-(((hour - 19.0) / 2.2) ** 2))
        + 0.28 * np.clip(outdoor_c - 22, 0, None)
        + 0.07 * np.clip(12 - outdoor_c, 0, None)
    )
    kw *= rng.lognormal(0.0, 0.12, n)
    # appliance peaks (oven, dryer, EV): bigger in some months than others, so monthly peaks vary
    month_size = rng.uniform(0.6, 1.4, 12)
    n_events = rng.poisson(2.0, DAYS)
    ev_day = np.repeat(np.arange(DAYS), n_events)
    ev_hour = rng.uniform(6, 22.5, ev_day.size)
    if steps_per_hour == 1:
        ev_hour = np.floor(ev_hour)
    size = rng.uniform(1.2, 4.5, ev_day.size) * month_size[MONTH_OF_DAY[ev_day]]
    _add_spikes(rng, kw, steps_per_hour, ev_day, ev_hour, size, max_steps=max(1, steps_per_hour))
    kw *= scale
    if pv_kw:
        clear = rng.uniform(0.25, 1.0, DAYS)[day]
        season = 0.75 + 0.25 * np.cos(2 * np.pi * (day - 172) / DAYS)
        kw = kw - pv_kw * np.clip(np.sin(np.pi * (hour - 6) / 13), 0, None) * season * clear
    delivered, received = _meter(kw, steps_per_hour)
    return delivered, (received if pv_kw else None)


def commercial_load(seed: int, steps_per_hour: int, peak_kw: float, monthly_factor=None):
    """An office / light-industrial site: occupied 7-19 h on weekdays, cooling in summer afternoons,
    one or two equipment peaks a month whose size follows ``monthly_factor`` (12 values)."""
    rng = np.random.default_rng(seed)
    hour, day, month, weekday = _clock(steps_per_hour)
    n = hour.size
    if monthly_factor is None:
        monthly_factor = rng.uniform(0.75, 1.0, 12)
    monthly_factor = np.asarray(monthly_factor, dtype=float)
    occupied = weekday & (hour >= 7) & (hour < 19)
    cooling = np.clip(np.cos(2 * np.pi * (day - 200) / DAYS), 0, None)  # summer only
    kw = (
        0.28
        + np.where(occupied, 0.42 + 0.12 * np.sin(np.pi * (hour - 7) / 12), 0.0)
        + np.where(~weekday & (hour >= 9) & (hour < 15), 0.10, 0.0)
        + 0.30 * cooling * np.clip(np.sin(np.pi * (hour - 9) / 12), 0, None)
    )
    kw *= monthly_factor[month] * rng.normal(1.0, 0.04, n)
    # equipment peaks on weekday afternoons: sized by the month's factor
    ev_day = np.array([d for d in range(DAYS) if d % 7 < 5 and rng.random() < 0.07])
    ev_hour = rng.integers(10, 17, ev_day.size).astype(float)
    size = rng.uniform(0.15, 0.30, ev_day.size) * monthly_factor[MONTH_OF_DAY[ev_day]]
    _add_spikes(rng, kw, steps_per_hour, ev_day, ev_hour, size, max_steps=max(1, steps_per_hour // 2))
    kw *= peak_kw / kw.max()
    return _meter(kw, steps_per_hour)[0], None


# Monthly peak patterns (Jan..Dec). RATCHET_YEAR: a July peak that sets 80 % ratchets for Oct-Dec.
RATCHET_YEAR = [0.70, 0.72, 0.76, 0.80, 0.90, 1.00, 1.15, 1.08, 0.95, 0.80, 0.72, 0.70]
# SUMMER_PEAKING: winter far below 60 % of the summer peak, so the Jun-Sep ratchet binds Oct-Dec.
SUMMER_PEAKING = [0.45, 0.45, 0.50, 0.55, 0.70, 0.95, 1.10, 1.05, 0.90, 0.55, 0.45, 0.45]


# ---------------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    id: str
    tariff: str  # file in tests/data/urdb
    steps_per_hour: int
    load: Callable[[int], tuple[np.ndarray, np.ndarray | None]]  # steps_per_hour -> delivered, received
    covers: str  # what it exercises

    def urdb(self) -> dict:
        return json.loads((URDB_DIR / self.tariff).read_text())


CASES = [
    Case(
        "pge-b19-15min",
        "pge_b19_secondary_2020.json",
        4,
        lambda s: commercial_load(19, s, peak_kw=650),
        "6-period TOU energy, 4-period TOU demand, seasonal flat demand, $/day fixed",
    ),
    Case(
        "sce-gs3-hourly",
        "sce_tou_gs3_cpp_2015.json",
        1,
        lambda s: commercial_load(3, s, peak_kw=320),
        "TOU energy with a different weekend schedule, summer-weekday TOU demand, flat demand",
    ),
    Case(
        "sce-gs3-15min",
        "sce_tou_gs3_cpp_2015.json",
        4,
        lambda s: commercial_load(4, s, peak_kw=410),
        "same, 15-minute demand",
    ),
    Case(
        "jackson-emc-hourly",
        "jackson_emc_a_residential_2017.json",
        1,
        lambda s: residential_load(7, s, scale=1.15),
        "monthly kWh tiers, declining in winter and inclining in summer",
    ),
    Case(
        "jackson-emc-pv-15min",
        "jackson_emc_a_residential_2017.json",
        4,
        lambda s: residential_load(8, s, scale=1.2, pv_kw=2.0),
        "net metering within the month (each month a net import), tiers on net kWh",
    ),
    Case(
        "ppd-lp1-15min",
        "south_central_ppd_lp1.json",
        4,
        lambda s: commercial_load(17, s, peak_kw=180),
        "kWh/kW (hours-use) tiers, tiered seasonal flat demand",
    ),
    Case(
        "ppd-lp1-small-hourly",
        "south_central_ppd_lp1.json",
        1,
        lambda s: commercial_load(18, s, peak_kw=60, monthly_factor=SUMMER_PEAKING),
        "monthly minimum charge binding in low months",
    ),
    Case(
        "psco-rd-15min",
        "psco_rd_2018.json",
        4,
        lambda s: residential_load(11, s, scale=1.3),
        "adj riders on energy and demand, seasonal residential demand charge",
    ),
    Case(
        "beopt-tou-min-hourly",
        "beopt_sample_tou_min_monthly.json",
        1,
        lambda s: residential_load(23, s, scale=1.6),
        "summer weekday TOU with all-off-peak weekends, $/month minimum binding in some months",
    ),
    Case(
        "tou-daily-baseline-15min",
        "handwritten_tou_daily_baseline.json",
        4,
        lambda s: residential_load(29, s, scale=0.9),
        "kWh daily tier bounds x days in month, $/day fixed and minimum",
    ),
    Case(
        "ratchet-80-15min",
        "handwritten_ratchet_80pct_11mo.json",
        4,
        lambda s: commercial_load(31, s, peak_kw=420, monthly_factor=RATCHET_YEAR),
        "80 % / 11-month ratchet binding Oct-Dec, tiered flat demand, kWh tiers",
    ),
    Case(
        "summer-ratchet-hourly",
        "handwritten_summer_ratchet_lookbackmonths.json",
        1,
        lambda s: commercial_load(37, s, peak_kw=300, monthly_factor=SUMMER_PEAKING),
        "ratchet from designated months (lookbackmonths), kWh/kW tiers sized by billing demand",
    ),
    Case(
        "tou-tiered-demand-15min",
        "handwritten_tou_tiered_demand.json",
        4,
        lambda s: commercial_load(41, s, peak_kw=260),
        "weekend TOU schedule, tiered TOU demand, tiered flat demand, annual minimum not binding",
    ),
    Case(
        "annual-minimum-hourly",
        "handwritten_annual_minimum.json",
        1,
        lambda s: residential_load(43, s, scale=0.12),
        "annual minimum binding: the shortfall is billed in December",
    ),
]


def _engine():
    """``(load_tariff, bill_series)`` of our engine: an import error fails the test (never a skip)."""
    return load_tariff, bill_series


def _fail(case: Case, message: str):
    pytest.fail(message)


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def case_result(request):
    """Our bills and PySAM's for one case (computed once per module)."""
    load_tariff, bill_series = _engine()
    case: Case = request.param
    delivered, received = case.load(case.steps_per_hour)
    urdb = case.urdb()
    reference = pysam_monthly_components(urdb, delivered, received, case.steps_per_hour)
    # PySAM ignores effective dates; the fixtures (2012-2020 vintages) are billed on its 2018 calendar.
    tariff = load_tariff({k: v for k, v in urdb.items() if k not in ("startdate", "enddate")})
    bills = bill_series(tariff, timestamps_2018(case.steps_per_hour), delivered, received, timezone="UTC")
    return case, bills, reference


# ---------------------------------------------------------------------------------------------- checks


def _tolerance(bill) -> float:
    return 0.005 * max(len(bill.line_items), 1) + 1e-6


def _by_category(bill) -> dict[str, float]:
    """Our line items summed into PySAM's components."""
    into = {
        "fixed": "fixed",
        "energy": "ec",
        "rider": "ec",
        "credit": "ec",
        "demand": "dc",
        "minimum": "minimum",
    }
    sums = {"fixed": 0.0, "ec": 0.0, "dc": 0.0, "minimum": 0.0, "other": 0.0}
    for item in bill.line_items:
        sums[into.get(item.category, "other")] += item.amount
    return sums


def _explain(case, bills, reference, months) -> str:
    lines = [f"{case.id} ({case.tariff}; {case.covers}): months disagreeing with PySAM:"]
    for m in months:
        bill = bills[m]
        ours = _by_category(bill)
        lines.append(
            f"  {bill.start:%b}: ours {bill.total:.2f} vs PySAM {reference['bill'][m]:.4f} "
            f"(diff {bill.total - reference['bill'][m]:+.4f}, tolerance {_tolerance(bill):.3f})"
        )
        lines.append(
            f"    fixed {ours['fixed']:.2f}/{reference['fixed'][m]:.4f}  energy {ours['ec']:.2f}/{reference['ec'][m]:.4f}"
            f"  demand {ours['dc']:.2f}/{reference['dc_fixed'][m] + reference['dc_tou'][m]:.4f}"
            f"  minimum {ours['minimum']:.2f}/{reference['minimum'][m]:.4f}"
            f"  peak {reference['peak_kw'][m]:.3f} kW, PySAM billing demand {reference['billing_demand_kw'][m]:.3f} kW"
        )
        for item in bill.line_items:
            lines.append(
                f"      {item.category:8s} {item.description}: {item.quantity} {item.unit} x {item.rate} = {item.amount}"
            )
    return "\n".join(lines)


def test_calendar_months(case_result):
    case, bills, _ = case_result
    starts = [dt.date(2018, m, 1) for m in range(1, 13)]
    ends = [*starts[1:], dt.date(2019, 1, 1)]
    assert [(b.start, b.end, b.days) for b in bills] == list(zip(starts, ends, MONTH_DAYS, strict=True)), (
        case.id
    )


def test_monthly_bills_agree_with_pysam(case_result):
    case, bills, reference = case_result
    assert len(bills) == 12
    bad = [m for m, bill in enumerate(bills) if abs(bill.total - reference["bill"][m]) > _tolerance(bill)]
    if bad:
        _fail(case, _explain(case, bills, reference, bad))


def test_bill_components_agree_with_pysam(case_result):
    """Fixed, energy, demand and minimum separately: tells which convention differs when totals do."""
    case, bills, reference = case_result
    bad = []
    for m, bill in enumerate(bills):
        ours = _by_category(bill)
        theirs = {
            "fixed": reference["fixed"][m],
            "ec": reference["ec"][m],
            "dc": reference["dc_fixed"][m] + reference["dc_tou"][m],
            "minimum": reference["minimum"][m],
        }
        if ours["other"] != 0 or any(abs(ours[k] - theirs[k]) > _tolerance(bill) for k in theirs):
            bad.append(m)
    if bad:
        _fail(case, _explain(case, bills, reference, bad))


def test_line_items_add_up(case_result):
    case, bills, _ = case_result
    for bill in bills:
        assert bill.total == pytest.approx(round(sum(i.amount for i in bill.line_items), 2), abs=1e-9), (
            case.id
        )
        assert all(round(i.amount, 2) == pytest.approx(i.amount, abs=1e-9) for i in bill.line_items), case.id


def test_ratchets_bind_in_the_ratchet_cases():
    """Guard the fixtures: the ratchet loads must make billing demand exceed the peak in some months."""
    for case_id in ("ratchet-80-15min", "summer-ratchet-hourly"):
        case = next(c for c in CASES if c.id == case_id)
        delivered, received = case.load(case.steps_per_hour)
        ref = pysam_monthly_components(case.urdb(), delivered, received, case.steps_per_hour)
        ratcheted = ref["billing_demand_kw"] > ref["peak_kw"] + 1e-9
        assert 2 <= ratcheted.sum() <= 9, (case_id, ref["peak_kw"], ref["billing_demand_kw"])


def test_minimums_bind_in_the_minimum_cases():
    for case_id, months in (
        ("ppd-lp1-small-hourly", (1, 10)),
        ("beopt-tou-min-hourly", (1, 10)),
        ("annual-minimum-hourly", (1, 1)),
    ):
        case = next(c for c in CASES if c.id == case_id)
        delivered, received = case.load(case.steps_per_hour)
        ref = pysam_monthly_components(case.urdb(), delivered, received, case.steps_per_hour)
        binding = int((ref["minimum"] > 0).sum())
        assert months[0] <= binding <= months[1], (case_id, ref["minimum"])


# ---------------------------------------------------------------------------------------------- command line


def _workbench_command() -> list[str]:
    script = Path(sys.executable).with_name("workbench")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())"]


def test_command_line_bills_agree_with_pysam(tmp_path):
    """``workbench bill --tariff X.json --intervals file.csv --format json`` gives PySAM's bills."""
    _engine()
    case = next(c for c in CASES if c.id == "sce-gs3-hourly")
    delivered, received = case.load(case.steps_per_hour)
    received = np.zeros_like(delivered) if received is None else received
    stamps = timestamps_2018(case.steps_per_hour)
    intervals = tmp_path / "intervals.csv"
    # the fixture is in force 2015-01-01 to 2015-03-01 and the oracle bills 2018: bill it without its dates
    # (billing data outside a URDB tariff's startdate/enddate is an error naming both dates)
    tariff = tmp_path / case.tariff
    tariff.write_text(json.dumps({k: v for k, v in case.urdb().items() if k not in ("startdate", "enddate")}))
    with intervals.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "delivered_kwh", "received_kwh"])
        for ts, d, r in zip(stamps, delivered, received, strict=True):
            writer.writerow([ts.strftime("%Y-%m-%dT%H:%M:%SZ"), repr(float(d)), repr(float(r))])
    run = subprocess.run(
        [
            *_workbench_command(),
            "bill",
            "--tariff",
            str(tariff),
            "--intervals",
            str(intervals),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    bills = out["bills"]
    reference = pysam_monthly_bills(case.urdb(), delivered, None, case.steps_per_hour)
    assert [b["start"] for b in bills] == [f"2018-{m:02d}-01" for m in range(1, 13)]
    for m, bill in enumerate(bills):
        assert set(bill) >= {"start", "end", "days", "total", "line_items"}
        for item in bill["line_items"]:
            assert set(item) >= {"description", "category", "quantity", "unit", "rate", "amount"}
        tolerance = 0.005 * max(len(bill["line_items"]), 1) + 1e-6
        assert abs(bill["total"] - reference[m]) <= tolerance, (bill["start"], bill["total"], reference[m])


# ---------------------------------------------------------------------------------------------- PySAM's own conventions
# The worked examples of docs/pysam-conventions.md, asserted against PySAM itself (no engine needed), so a
# PySAM upgrade that changes a convention fails here first. Loads are hourly and flat: month m at (m + 1) kW.

HOUR_MONTH = np.repeat(np.arange(12), np.array(MONTH_DAYS) * 24)
STEP_LOAD = (HOUR_MONTH + 1).astype(float)  # kWh per hourly step


def _flat_urdb(**fields) -> dict:
    item = {
        "energyratestructure": [[{"rate": 0.1}]],
        "energyweekdayschedule": [[0] * 24 for _ in range(12)],
        "energyweekendschedule": [[0] * 24 for _ in range(12)],
    }
    item.update(fields)
    return item


def _spiky_load(peaks_kw) -> np.ndarray:
    """STEP_LOAD plus, in month m, one hour at peaks_kw[m] on the 15th at 14:00."""
    load = STEP_LOAD.copy()
    for m, peak in enumerate(peaks_kw):
        load[np.flatnonzero(HOUR_MONTH == m)[14 * 24 + 14]] = peak
    return load


def _components(item, load, **kwargs):
    return pysam_monthly_components(item, load, None, 1, **kwargs)


def test_pysam_daily_fixed_charge_is_365_over_12_days_in_every_month():
    c = _components(_flat_urdb(fixedchargefirstmeter=10, fixedchargeunits="$/day"), STEP_LOAD)
    np.testing.assert_allclose(c["fixed"], 10 * 365 / 12)


def test_pysam_adds_adj_to_rate():
    c = _components(_flat_urdb(energyratestructure=[[{"rate": 0.1, "adj": 0.02}]]), STEP_LOAD)
    assert c["ec"][0] == pytest.approx(744 * 0.12)


def test_pysam_allocates_monthly_tiers_to_periods_in_proportion():
    weekday_noon = [[0] * 12 + [1] * 6 + [0] * 6 for _ in range(12)]
    item = _flat_urdb(
        energyratestructure=[
            [{"rate": 0.1, "max": 1000}, {"rate": 0.2}],
            [{"rate": 0.3, "max": 1000}, {"rate": 0.5}],
        ],
        energyweekdayschedule=weekday_noon,
    )
    c = _components(item, STEP_LOAD)
    # February: 1344 kWh, 240 of them in period 1 (20 weekdays x 6 h x 2 kW); tiers 1000 + 344 kWh
    expected = 1104 / 1344 * (1000 * 0.1 + 344 * 0.2) + 240 / 1344 * (1000 * 0.3 + 344 * 0.5)
    assert c["ec"][1] == pytest.approx(expected, abs=1e-9)


def test_pysam_daily_tiers_scale_with_days_in_month():
    item = _flat_urdb(energyratestructure=[[{"rate": 0.1, "max": 30, "unit": "kWh daily"}, {"rate": 0.2}]])
    c = _components(item, STEP_LOAD)
    assert c["ec"][1] == pytest.approx(840 * 0.1 + 504 * 0.2)  # February: 30 x 28 days


def test_pysam_hours_use_tiers_scale_with_peak_and_ignore_trailing_kwh_tier():
    load = _spiky_load([10 * (m + 1) for m in range(12)])  # January: 753 kWh, 10 kW
    hours_use = _flat_urdb(
        energyratestructure=[[{"rate": 0.2, "max": 50, "unit": "kWh/kW"}, {"rate": 0.1, "unit": "kWh/kW"}]]
    )
    assert _components(hours_use, load)["ec"][0] == pytest.approx(500 * 0.2 + 253 * 0.1)
    # QUIRK: a plain-kWh tier after a kWh/kW tier is a step inside the block; kWh above the bound are free
    mixed = _flat_urdb(energyratestructure=[[{"rate": 0.1, "max": 50, "unit": "kWh/kW"}, {"rate": 0.05}]])
    assert _components(mixed, load)["ec"][0] == pytest.approx(500 * 0.05)


def test_pysam_tiered_flat_and_tou_demand():
    load = _spiky_load([10 * (m + 1) for m in range(12)])
    flat = _flat_urdb(flatdemandstructure=[[{"rate": 10, "max": 50}, {"rate": 5}]], flatdemandmonths=[0] * 12)
    assert _components(flat, load)["dc_fixed"][11] == pytest.approx(50 * 10 + 70 * 5)
    weekday_noon = [[0] * 12 + [1] * 6 + [0] * 6 for _ in range(12)]
    tou = _flat_urdb(
        demandratestructure=[[{"rate": 1, "max": 50}, {"rate": 2}], [{"rate": 10, "max": 50}, {"rate": 20}]],
        demandweekdayschedule=weekday_noon,
        demandweekendschedule=[[0] * 24 for _ in range(12)],
    )
    c = _components(tou, load)
    assert c["dc_tou"][5] == pytest.approx(50 * 10 + 10 * 20 + 6 * 1)  # Fri 15 June: 60 kW on peak
    assert c["dc_tou"][3] == pytest.approx(40 * 1 + 4 * 10)  # Sun 15 April: the 40 kW falls off peak


def test_pysam_demand_is_the_largest_single_15_minute_step():
    load = np.repeat(STEP_LOAD / 4, 4)
    load[100] = 10.0  # one 15-minute step of 10 kWh = 40 kW
    item = _flat_urdb(flatdemandstructure=[[{"rate": 1}]], flatdemandmonths=[0] * 12)
    assert pysam_monthly_components(item, load, None, 4)["dc_fixed"][0] == pytest.approx(40.0)


def test_pysam_minimum_charges():
    monthly = _flat_urdb(
        mincharge=150, minchargeunits="$/month", fixedchargefirstmeter=20, fixedchargeunits="$/month"
    )
    c = _components(monthly, STEP_LOAD)
    assert (c["minimum"][0], c["bill"][0]) == pytest.approx((150 - 20 - 74.4, 150))  # fixed counts toward it
    annual = _flat_urdb(
        mincharge=9000, minchargeunits="$/year", fixedchargefirstmeter=20, fixedchargeunits="$/month"
    )
    c = _components(annual, STEP_LOAD)
    assert c["minimum"][:11].sum() == 0 and c["minimum"][11] == pytest.approx(
        9000 - 5956.8
    )  # all in December


RATCHET_PEAKS = [120, 110, 100, 90, 80, 70, 10, 20, 30, 40, 50, 60]


def test_pysam_ratchet_window_and_source_months():
    load = _spiky_load(RATCHET_PEAKS)
    flat = {"flatdemandstructure": [[{"rate": 1}]], "flatdemandmonths": [0] * 12, "lookbackpercent": 0.8}
    c = _components(_flat_urdb(**flat, lookbackrange=3), load)
    np.testing.assert_allclose(c["billing_demand_kw"], [120, 110, 100, 96, 88, 80, 72, 64, 56, 40, 50, 60])
    summer = [False] * 5 + [True] * 3 + [False] * 4
    c = _components(_flat_urdb(**flat, lookbackrange=3, lookbackmonths=summer), load)
    np.testing.assert_allclose(c["billing_demand_kw"], [120, 110, 100, 90, 80, 70, 56, 56, 56, 40, 50, 60])


def test_pysam_raw_converter_ratchet_quirks():
    """What PySAM's converter does without our corrections (docs: section 4, QUIRK)."""
    load = _spiky_load(RATCHET_PEAKS)
    item = _flat_urdb(
        flatdemandstructure=[[{"rate": 1}]], flatdemandmonths=[0] * 12, lookbackpercent=0.8, lookbackrange=11
    )
    c = _components(item, load, fix_converter=False)
    np.testing.assert_allclose(c["billing_demand_kw"], 96.0)  # never the current peak at 100 %
    tou = _flat_urdb(
        demandratestructure=[[{"rate": 1}], [{"rate": 10}]],
        demandweekdayschedule=[[0] * 12 + [1] * 6 + [0] * 6 for _ in range(12)],
        demandweekendschedule=[[0] * 24 for _ in range(12)],
        lookbackpercent=0.5,
        lookbackrange=1,
    )
    # every TOU period is charged at the all-hours billing demand
    assert _components(tou, load)["dc_tou"][0] == pytest.approx(120 * 1 + 120 * 10)
