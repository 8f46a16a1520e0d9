"""`workbench bill` on real feeds: the public Coastal Green Button year (a zero-length record, a 2-hour
reading, a conflicting duplicate, a missing hour), duplicates, time zones, read dates, trailing fragments
and monthly register data. Expected amounts are hand calculations (an ElementTree walk of the feed, sums
written out in comments), never the code under test."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _samples import GREENBUTTON_SAMPLES

from tests.hostile._cli import REPO, assert_ok, assert_refused, run_in_process

COASTAL = GREENBUTTON_SAMPLES / "Coastal_Single_Family_Jan_1_2011_to_Jan_1_2012.xml"
ESPI = "{http://naesb.org/espi}"
UTC = dt.UTC


def _tariff(path: Path, tz="America/Los_Angeles", customer=10.0, extra="", energy="{type: energy, description: Energy, rates: 0.10}"):
    zone = f"timezone: {tz}\n" if tz else ""
    path.write_text(f"code: T\nname: test\n{zone}{extra}versions:\n  - effective: 2010-01-01\n    charges:\n"
                    f"      - {{type: customer, description: Customer charge, amount: {customer}, per: month}}\n"
                    f"      - {energy}\n")
    return path


@pytest.fixture(scope="module")
def coastal():
    assert COASTAL.exists(), f"the public Green Button sample is missing: {COASTAL} (set WORKBENCH_GREENBUTTON_SAMPLES)"
    readings = []
    for ir in ET.parse(COASTAL).getroot().iter(f"{ESPI}IntervalReading"):
        tp = ir.find(f"{ESPI}timePeriod")
        readings.append((int(tp.find(f"{ESPI}start").text), int(tp.find(f"{ESPI}duration").text),
                         float(ir.find(f"{ESPI}value").text) / 1000.0))
    return readings


def _ts(text):
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_coastal_strict_lists_every_problem_at_once(capsys, tmp_path, coastal):
    """Coastal year, no --repair: exit 2, one error line naming its 4 problems, each listed above it."""
    # by hand from the feed: 8760 readings; one of 0 s, one of 7200 s, two at 1300035600; 1320598800 absent
    assert len(coastal) == 8760
    assert [d for _, d, _ in coastal if d != 3600] == [7200, 0]
    starts = [s for s, d, _ in coastal if d]
    assert starts.count(_ts("2011-03-13T17:00")) == 2 and _ts("2011-11-06T17:00") not in starts
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", COASTAL], capsys)
    line = assert_refused(out, COASTAL.name, "4 problems", "1 gap of 1 h at 2011-11-06T17:00Z",
                          "1 reading of 2 h at 2011-03-13T09:00Z", "1 zero-length record at 2011-11-06T09:00Z",
                          "1 conflicting duplicate at 2011-03-13T17:00Z", "--repair")
    listed = [x for x in out.stderr.splitlines() if x.startswith("  - ")]
    assert len(listed) == 4, out.stderr
    assert any("0.707 kWh (row 1713)" in x and "0.721 kWh (row 1714)" in x for x in listed)
    assert out.stderr.index(listed[0]) < out.stderr.index(line)


def test_coastal_bills_with_repair_each_repair_listed(capsys, tmp_path, coastal):
    """Coastal year with --repair, no --timezone: 12 LA-month bills, 4 repairs listed, estimated, kWh by hand."""
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml", tz=None), "--intervals", COASTAL,
                          "--repair", "--format", "json"], capsys)
    assert_ok(out)
    repairs = [x for x in out.stderr.splitlines() if x.startswith("repaired: ")]
    assert len(repairs) == 4, out.stderr
    assert sum("dropped the zero-length record at 2011-11-06T09:00Z" in x for x in repairs) == 1
    assert sum("split the 2 h reading at 2011-03-13T09:00Z" in x and "2 intervals of 0.2305 kWh" in x for x in repairs) == 1
    assert sum("conflicting readings at 2011-03-13T17:00Z" in x and "linear" in x for x in repairs) == 1
    assert sum("gap of 1 h at 2011-11-06T17:00Z" in x and "linear" in x for x in repairs) == 1
    doc = json.loads(out.stdout)
    bills = doc["bills"]
    assert doc["estimated"] is True and len(doc["repairs"]) == 4
    assert [b["start"] for b in bills] == [f"2011-{m:02d}-01" for m in range(1, 13)]  # LA months: the feed's zone
    value = {s: v for s, d, v in coastal if d == 3600}
    conflict = (value[_ts("2011-03-13T16:00")] + value[_ts("2011-03-13T18:00")]) / 2  # (0.674 + 0.764) / 2
    gap = (value[_ts("2011-11-06T16:00")] + value[_ts("2011-11-06T18:00")]) / 2
    kept = sum(v for s, d, v in coastal if d > 0 and s != _ts("2011-03-13T17:00"))
    assert sum(b["delivered_kwh"] for b in bills) == pytest.approx(kept + conflict + gap, abs=2e-4)
    march_lo, march_hi = _ts("2011-03-01T08:00"), _ts("2011-04-01T07:00")  # LA midnights (PST, then PDT)
    march = sum(v for s, d, v in coastal if d > 0 and march_lo <= s < march_hi and s != _ts("2011-03-13T17:00"))
    assert bills[2]["delivered_kwh"] == pytest.approx(march + conflict, abs=1e-4)
    assert bills[2]["estimated_intervals"] == 3  # 2 halves of the 2-hour reading + the conflicting hour
    assert bills[10]["estimated_intervals"] == 1 and sum(b["estimated_intervals"] for b in bills) == 4
    for b in bills:  # full months: the whole customer charge, energy at 0.10
        items = {li["description"]: li["amount"] for li in b["line_items"]}
        assert items["Customer charge"] == 10.0
        assert b["total"] == pytest.approx(10.0 + round(b["delivered_kwh"] * 0.10, 2), abs=0.006)


def test_coastal_text_bill_says_estimated(capsys, tmp_path):
    """Coastal year with --repair as text: the bill says ESTIMATED at the top and on the bills that are."""
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", COASTAL, "--repair"], capsys)
    assert_ok(out)
    assert "*** ESTIMATED: 2 of 12 bills include estimated intervals" in out.stdout.splitlines()[1]
    assert out.stdout.count("*** ESTIMATED BILL") == 2


def test_coastal_under_a_new_york_tariff_warns_and_prorates_the_fragment(capsys, tmp_path):
    """Coastal (feed zone LA) under a New York tariff: warning naming both; the 3-hour 13th bill pays 3/744."""
    tariff = _tariff(tmp_path / "ny.yaml", tz="America/New_York", customer=744.0)
    out = run_in_process(["bill", "--tariff", tariff, "--intervals", COASTAL, "--repair", "--format", "json"], capsys)
    assert_ok(out)
    warn = [x for x in out.stderr.splitlines() if x.startswith("warning:") and "LocalTimeParameters" in x]
    assert len(warn) == 1 and "America/Los_Angeles" in warn[0] and "America/New_York" in warn[0]
    bills = json.loads(out.stdout)["bills"]
    assert len(bills) == 13
    # data end 2012-01-01T08:00Z = 03:00 in New York: 3 h of January's 31 x 24 = 744 h -> 744.00 x 3/744 = 3.00
    last = {li["description"]: li["amount"] for li in bills[-1]["line_items"]}
    assert bills[-1]["start"] == "2012-01-01" and last["Customer charge"] == 3.00 and bills[-1]["partial"]
    # data begin 2011-01-01T08:00Z = 03:00 in New York: 741 h of 744 -> 741.00
    first = {li["description"]: li["amount"] for li in bills[0]["line_items"]}
    assert first["Customer charge"] == 741.00
    assert any("only 3 h of the bill period 2012-01-01" in x for x in out.stderr.splitlines() if x.startswith("warning:"))


# -- hand-made feeds -------------------------------------------------------------------------------------

def _feed(path: Path, readings, tz_offset=-28800, dst=True, step=3600):
    """A Green Button feed: one usage point, readings [(start UTC text, seconds, Wh)] in one block."""
    ltp = ""
    if tz_offset is not None:
        rules = "<dstEndRule>B40E2000</dstEndRule><dstStartRule>360E2000</dstStartRule>" if dst else ""
        ltp = (f'<entry><id>l</id><link rel="self" href="LocalTimeParameters/1"/><content><LocalTimeParameters '
               f'xmlns="http://naesb.org/espi">{rules}<dstOffset>{3600 if dst else 0}</dstOffset>'
               f'<tzOffset>{tz_offset}</tzOffset></LocalTimeParameters></content></entry>')
    up = "RetailCustomer/1/UsagePoint/1"
    body = "".join(f"<IntervalReading><timePeriod><duration>{d}</duration><start>{_ts(s)}</start></timePeriod>"
                   f"<value>{v}</value></IntervalReading>" for s, d, v in readings)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f'<entry><id>u</id><link rel="self" href="{up}"/><link rel="related" href="{up}/MeterReading"/>'
        f'<link rel="related" href="LocalTimeParameters/1"/><content><UsagePoint xmlns="http://naesb.org/espi">'
        f'<ServiceCategory><kind>0</kind></ServiceCategory></UsagePoint></content></entry>{ltp}'
        f'<entry><id>m</id><link rel="self" href="{up}/MeterReading/1"/><link rel="up" href="{up}/MeterReading"/>'
        f'<link rel="related" href="{up}/MeterReading/1/IntervalBlock"/><link rel="related" href="ReadingType/1"/>'
        f'<content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>'
        f'<entry><id>r</id><link rel="self" href="ReadingType/1"/><content><ReadingType xmlns="http://naesb.org/espi">'
        f"<accumulationBehaviour>4</accumulationBehaviour><flowDirection>1</flowDirection>"
        f"<intervalLength>{step}</intervalLength><kind>12</kind><powerOfTenMultiplier>0</powerOfTenMultiplier>"
        f"<uom>72</uom></ReadingType></content></entry>"
        f'<entry><id>b</id><link rel="self" href="{up}/MeterReading/1/IntervalBlock/1"/>'
        f'<link rel="up" href="{up}/MeterReading/1/IntervalBlock"/><content><IntervalBlock xmlns="http://naesb.org/espi">'
        f"{body}</IntervalBlock></content></entry></feed>\n")
    return path


def _hours(first, n, wh=1000):
    t0 = dt.datetime.fromisoformat(first)
    return [((t0 + dt.timedelta(hours=i)).isoformat(), 3600, wh) for i in range(n)]


def test_xml_identical_duplicate_is_merged_not_summed(capsys, tmp_path):
    """Green Button feed with one reading twice (same value): merged and counted; kWh and peak not doubled."""
    readings = _hours("2011-01-01T08:00", 48)  # two LA days of 1 kWh an hour
    readings.insert(10, readings[9][:2] + (1000,))
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals",
                          _feed(tmp_path / "f.xml", readings), "--format", "json"], capsys)
    assert_ok(out)
    assert any(x.startswith("warning:") and "1 identical duplicate" in x for x in out.stderr.splitlines())
    (bill,) = json.loads(out.stdout)["bills"]
    assert bill["delivered_kwh"] == pytest.approx(48.0) and bill["peak_kw"] == pytest.approx(1.0)


def test_xml_conflicting_duplicate_refused_naming_both(capsys, tmp_path):
    """Green Button feed with two different readings of one hour: refused, both values and rows named."""
    readings = _hours("2011-01-01T08:00", 48)
    readings.insert(10, (readings[9][0], 3600, 5300))
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals",
                          _feed(tmp_path / "f.xml", readings)], capsys)
    assert_refused(out, "f.xml", "1 problem", "conflicting duplicate at 2011-01-01T17:00Z")
    assert "1 kWh (row 10); 5.3 kWh (row 11)" in out.stderr


def test_csv_identical_duplicate_merged_conflicting_refused(capsys, tmp_path):
    """One-meter CSV: an identical repeated row is merged with a warning; a differing one is refused."""
    rows = ["timestamp,delivered_kwh"] + [f"2025-04-01T{h:02d}:00:00-07:00,0.5" for h in range(24)]
    same = tmp_path / "same.csv"
    same.write_text("\n".join(rows[:5] + [rows[4]] + rows[5:]) + "\n")
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", same, "--format", "json"], capsys)
    assert_ok(out)
    assert any("identical duplicate" in x and "rows 5 and 6" in x for x in out.stderr.splitlines())
    assert json.loads(out.stdout)["bills"][0]["delivered_kwh"] == pytest.approx(12.0)  # 24 x 0.5, not 12.5
    differ = tmp_path / "differ.csv"
    differ.write_text("\n".join(rows[:5] + [rows[4].replace(",0.5", ",0.9")] + rows[5:]) + "\n")
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", differ], capsys)
    assert_refused(out, "differ.csv", "conflicting duplicate at 2025-04-01T10:00Z")
    assert "0.5 kWh (row 5); 0.9 kWh (row 6)" in out.stderr


def test_csv_in_pacific_offsets_under_new_york_tariff_warns(capsys, tmp_path):
    """CSV written in -07:00 billed under a New York tariff: a warning naming UTC-07:00 and America/New_York."""
    csv = tmp_path / "pacific.csv"
    csv.write_text("timestamp,delivered_kwh\n" + "".join(f"2025-04-01T{h:02d}:00:00-07:00,1\n" for h in range(24)))
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml", tz="America/New_York"), "--intervals", csv],
                         capsys)
    assert_ok(out)
    warn = [x for x in out.stderr.splitlines() if x.startswith("warning:") and "UTC-07:00" in x]
    assert len(warn) == 1 and "America/New_York" in warn[0] and "UTC-04:00" in warn[0]


def test_feed_zone_from_local_time_parameters(capsys, tmp_path):
    """Feed with LocalTimeParameters (-08:00, US DST) and a tariff without a zone: billed in LA days, no --timezone."""
    feed = _feed(tmp_path / "f.xml", _hours("2011-01-01T06:00", 24))  # 2010-12-31 22:00 to 2011-01-01 22:00 in LA
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml", tz=None), "--intervals", feed,
                          "--format", "json"], capsys)
    assert_ok(out)
    bills = json.loads(out.stdout)["bills"]
    assert [(b["start"], b["delivered_kwh"]) for b in bills] == [("2010-12-31", 2.0), ("2011-01-01", 22.0)]


def test_feed_without_zone_needs_timezone(capsys, tmp_path):
    """Feed without LocalTimeParameters and a tariff without a zone: refused, asking for --timezone."""
    feed = _feed(tmp_path / "f.xml", _hours("2011-01-01T08:00", 24), tz_offset=None)
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml", tz=None), "--intervals", feed], capsys)
    assert_refused(out, "f.xml", "--timezone")


def test_read_dates_leave_data_outside_reported(capsys, tmp_path):
    """Hourly April under --read-dates 04-05..04-25: warnings count the 96 h before and 144 h after and their kWh."""
    csv = tmp_path / "april.csv"
    start = dt.datetime(2025, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    csv.write_text("timestamp,delivered_kwh\n" + "".join(
        f"{(start + dt.timedelta(hours=i)).isoformat()},0.5\n" for i in range(30 * 24)))
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", csv,
                          "--read-dates", "2025-04-05,2025-04-25"], capsys)
    assert_ok(out)
    warn = [x for x in out.stderr.splitlines() if x.startswith("warning:")]
    # 4 days x 24 h x 0.5 = 48 kWh before; 6 days (04-25..04-30) x 24 x 0.5 = 72 kWh after
    assert any("96 intervals (48.000 kWh" in x and "before the first read date 2025-04-05" in x for x in warn)
    assert any("144 intervals (72.000 kWh" in x and "last read date 2025-04-25" in x for x in warn)


def test_trailing_fragment_prorated_by_hours(capsys, tmp_path):
    """Hourly April plus 3 h of May 1: the May bill pays 3/744 of a 744.00 customer charge (3.00), not a day's."""
    csv = tmp_path / "fragment.csv"
    start = dt.datetime(2025, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    csv.write_text("timestamp,delivered_kwh\n" + "".join(
        f"{(start + dt.timedelta(hours=i)).isoformat()},1\n" for i in range(30 * 24 + 3)))
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml", customer=744.0), "--intervals", csv,
                          "--format", "json"], capsys)
    assert_ok(out)
    april, may = json.loads(out.stdout)["bills"]
    assert {li["description"]: li["amount"] for li in april["line_items"]}["Customer charge"] == 744.00
    assert {li["description"]: li["amount"] for li in may["line_items"]}["Customer charge"] == 3.00  # 744 x 3/744
    assert may["total"] == pytest.approx(3.00 + 0.30) and may["partial"]  # 3 kWh x 0.10
    assert any("only 3 h of the bill period 2025-05-01" in x for x in out.stderr.splitlines())


def test_gaps_and_duplicates_listed_at_once_then_repaired_like_day(capsys, tmp_path):
    """CSV with a 1-hour gap, a 5-hour gap and a conflicting duplicate: all 3 listed; --repair: linear and like-day."""
    start = dt.datetime(2025, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    rows = [f"{(start + dt.timedelta(hours=i)).isoformat()},{1 + (i % 24) / 10:g}" for i in range(14 * 24)]
    bad = rows[:200] + rows[201:250] + rows[255:300] + [rows[299].replace(",", ",9") ] + rows[300:]
    csv = tmp_path / "holes.csv"
    csv.write_text("timestamp,delivered_kwh\n" + "\n".join(bad) + "\n")
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", csv], capsys)
    assert_refused(out, "holes.csv", "3 problems", "2 gaps, first gap of 1 h", "1 conflicting duplicate")
    assert len([x for x in out.stderr.splitlines() if x.startswith("  - ")]) == 3
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", csv, "--repair",
                          "--format", "json"], capsys)
    assert_ok(out)
    repairs = [x for x in out.stderr.splitlines() if x.startswith("repaired: ")]
    assert any("gap of 1 h" in x and "linear" in x for x in repairs)
    assert any("gap of 5 h" in x and "like-day" in x for x in repairs)  # 300 min > linear_max_minutes 120
    assert json.loads(out.stdout)["bills"][0]["estimated_intervals"] == 1 + 5 + 1


def test_reading_off_the_grid_cannot_be_repaired(capsys, tmp_path):
    """Feed with a reading starting at :30 among hourly ones: refused even with --repair, marked unrepairable."""
    readings = _hours("2011-01-01T08:00", 24)
    readings[5] = ("2011-01-01T13:30:00", 3600, 1000)
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals",
                          _feed(tmp_path / "f.xml", readings), "--repair"], capsys)
    assert_refused(out, "f.xml", "reading off the grid at 2011-01-01T13:30Z", "cannot be repaired")


def _monthly(path):
    # three LA months of 2011: starts at local midnight (PST -08:00, PDT -07:00 from March 13)
    months = [("2011-01-01T08:00", "2011-02-01T08:00", 300000), ("2011-02-01T08:00", "2011-03-01T08:00", 280000),
              ("2011-03-01T08:00", "2011-04-01T07:00", 310000)]
    return _feed(path, [(a, _ts(b) - _ts(a), wh) for a, b, wh in months], step=2678400)


def test_monthly_register_data_billed_under_a_flat_tariff(capsys, tmp_path):
    """Monthly Green Button data (3 readings) under a flat tariff: 3 bills of 10.00 + kWh x 0.10."""
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals", _monthly(tmp_path / "m.xml"),
                          "--format", "json"], capsys)
    assert_ok(out)
    bills = json.loads(out.stdout)["bills"]
    assert [(b["start"], b["end"], b["delivered_kwh"], b["total"]) for b in bills] == [
        ("2011-01-01", "2011-02-01", 300.0, 40.00), ("2011-02-01", "2011-03-01", 280.0, 38.00),
        ("2011-03-01", "2011-04-01", 310.0, 41.00)]
    assert all(b["peak_kw"] == 0.0 for b in bills)  # monthly reads measure no demand


@pytest.mark.parametrize("kind,why", [("tou", "time of use"), ("demand", "demand")])
def test_monthly_register_data_refused_under_tou_or_demand(capsys, tmp_path, kind, why):
    """Monthly Green Button data under a time-of-use or a demand tariff: refused in one line saying why."""
    tariff = REPO / "tariffs" / "RES-TOU.yaml" if kind == "tou" else _tariff(
        tmp_path / "t.yaml", energy="{type: demand, description: Demand, rates: 8.0}")
    out = run_in_process(["bill", "--tariff", tariff, "--intervals", _monthly(tmp_path / "m.xml")], capsys)
    assert_refused(out, "m.xml", "monthly", why)


def test_overlapping_readings_cannot_be_repaired(capsys, tmp_path):
    """Feed with a 2-hour reading over two hourly ones: refused even with --repair, the rows named."""
    readings = _hours("2011-01-01T08:00", 24)
    readings.insert(3, ("2011-01-01T10:00:00", 7200, 2000))  # covers 10:00 and 11:00, read hourly as well
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml"), "--intervals",
                          _feed(tmp_path / "f.xml", readings), "--repair"], capsys)
    line = assert_refused(out, "f.xml", "overlap at 2011-01-01T10:00Z", "cannot be repaired")
    assert "1 reading of 2 h at 2011-01-01T10:00Z" in line
    assert any("readings overlap at 2011-01-01T10:00Z (rows 3, 4)" in x for x in out.stderr.splitlines())


def test_public_monthly_feed_bills_with_its_fragment_prorated(capsys, tmp_path):
    """Public Electric.xml (monthly: April, then 11 days of May): 2 bills; May pays 11/31 of the customer charge."""
    feed = GREENBUTTON_SAMPLES / "Electric.xml"
    assert feed.exists(), f"the public Green Button sample is missing: {feed}"
    out = run_in_process(["bill", "--tariff", _tariff(tmp_path / "t.yaml", tz="America/New_York"), "--intervals", feed,
                          "--format", "json"], capsys)
    assert_ok(out)
    april, may = json.loads(out.stdout)["bills"]
    # readings 4702205 Wh from 1333252800 (2012-04-01 00:00 EDT) for 30 d; 1262848 Wh from 2012-05-01 for 11 d
    assert (april["start"], april["end"], april["delivered_kwh"], april["total"]) == (
        "2012-04-01", "2012-05-01", 4702.205, 480.22)  # 10.00 + 470.2205 -> 470.22
    may_items = {li["description"]: li["amount"] for li in may["line_items"]}
    assert (may["start"], may["end"], may["delivered_kwh"]) == ("2012-05-01", "2012-05-12", 1262.848)
    assert may_items == {"Customer charge": 3.55, "Energy": 126.28}  # 10 x 11/31 = 3.548; 126.2848
    assert any("covers only 11 days" in x and "11/31" in x for x in out.stderr.splitlines() if x.startswith("warning:"))


def test_daily_reads_refused_under_a_time_of_use_tariff(capsys, tmp_path):
    """Feed of daily readings under a time-of-use tariff: refused in one line (a day's kWh has no hours)."""
    days = [((dt.datetime(2025, 4, 1, 4) + dt.timedelta(days=i)).isoformat(), 86400, 24000) for i in range(10)]
    feed = _feed(tmp_path / "d.xml", days, tz_offset=-18000, step=86400)
    out = run_in_process(["bill", "--tariff", REPO / "tariffs" / "RES-TOU.yaml", "--intervals", feed], capsys)
    assert_refused(out, "d.xml", "daily reads", "time of use")


@pytest.mark.parametrize("args, fragments", [
    (["--program", "NEM2", "--opening-credit", "-5"], ["--opening-credit '-5'", "not an amount >= 0"]),
    (["--program", "NEM2", "--opening-credit", "1.005"], ["--opening-credit '1.005'", "fractions of a cent"]),
    (["--program", "NM-MONTHLY", "--opening-kwh", "lots"], ["--opening-kwh 'lots'", "not a number of kwh"]),
    (["--program", "NEM2", "--opening-kwh", "300"], ["program NEM2", "opening bank in kwh given", "banks $ credit"]),
])
def test_bill_opening_banks_that_are_bad_or_in_the_wrong_unit_are_refused(capsys, tmp_path, args, fragments):
    """`workbench bill` with a negative opening credit, fractions of a cent, kWh that are not a number, or
    kWh for a program that banks dollars: one line naming the option and what was expected."""
    import pandas as pd

    idx = pd.date_range("2025-06-01", periods=48, freq="h", tz="UTC")
    csv = tmp_path / "solar.csv"
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "delivered_kwh": 1.0,
                  "received_kwh": [2.0 if 15 <= t.hour <= 20 else 0.0 for t in idx]}).to_csv(csv, index=False)
    out = run_in_process(["bill", "--tariff", REPO / "tariffs/RES-TOU.yaml", "--intervals", csv,
                          "--programs", REPO / "tariffs/programs", *args], capsys)
    assert_refused(out, *fragments)


@pytest.mark.parametrize("pto, warned", [("2025-05-10", True), ("2023-04-14", False)])
def test_bill_under_a_program_closed_to_that_pto_is_warned_of(capsys, tmp_path, pto, warned):
    """`workbench bill --program NEM2 --pto-date 2025-05-10`: billed as asked (a what-if) with a warning that NEM2 closed to PTOs after 2023-04-14 and such a customer is on NBT (it was billed silently; `cycle --enrollments` refuses the row); a PTO of 2023-04-14, the last day open: no warning"""
    import pandas as pd

    idx = pd.date_range("2025-06-01", periods=48, freq="h", tz="UTC")
    csv = tmp_path / "solar.csv"
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "delivered_kwh": 1.0,
                  "received_kwh": [2.0 if 15 <= t.hour <= 20 else 0.0 for t in idx]}).to_csv(csv, index=False)
    out = run_in_process(["bill", "--tariff", REPO / "tariffs/RES-TOU.yaml", "--intervals", csv,
                          "--program", "NEM2", "--pto-date", pto], capsys)
    assert_ok(out)
    said = [x for x in out.stderr.splitlines() if x.startswith("warning: --pto-date")]
    assert said == ([f"warning: --pto-date {pto}: NEM2 closed to new customers after 2023-04-14; a customer with "
                     "this PTO is on NBT, not NEM2 (`workbench cycle --enrollments` refuses it): billed under NEM2 "
                     "as asked, as a what-if"] if warned else [])
