"""Moving the peak: the proposed book scanned into its own determinants and priced against the present one.

The cube (America/New_York, all of 2025, hourly, monthly reads on the 1st, rate code HAND-TOU, class RES):

- M1: 1 kWh every local hour, 3 kWh at 14:00 and 15:00 (28 kWh a day; 8,760 + 2 x 2 x 365 = 10,220 kWh);
- M2: 1 kWh every local hour, 4 kWh at 19:00 and 20:00 (30 kWh a day; 8,760 + 2 x 3 x 365 = 10,950 kWh).

(The spring-forward day has 23 hours, the fall-back day 25; both missing and repeated hours are off-peak at
02:00 and 01:00, and the year has 8,760 hours either way.)

Present book: on-peak 14:00-19:00 every day, $0.30/kWh; off-peak $0.10/kWh; $10.00 a month.
Proposed book: the same prices, on-peak 16:00-21:00.

- M1 present: on-peak (14-18 h) 5 + 2 + 2 = 9 kWh a day, 3,285 kWh; off-peak 10,220 - 3,285 = 6,935.
  $120.00 + 3,285 x 0.30 (985.50) + 6,935 x 0.10 (693.50) = $1,799.00.
  M1 proposed: on-peak (16-20 h) 5 kWh a day, 1,825; off-peak 8,395. 120 + 547.50 + 839.50 = $1,507.00.
- M2 present: on-peak 5 kWh a day, 1,825; off-peak 9,125. 120 + 547.50 + 912.50 = $1,580.00.
  M2 proposed: on-peak 5 + 3 + 3 = 11 kWh a day, 4,015; off-peak 6,935. 120 + 1,204.50 + 693.50 = $2,018.00.

Every month's kWh are whole numbers, so each bill's lines are whole cents and the months add up to the year.
Class RES: present $3,379.00, proposed $3,525.00, change +$146.00.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.hostile._cli import assert_ok, assert_refused, run_in_process
from tests.test_vee_support import make_cube
from workbench.ami.cube import write_cube
from workbench.cli import main
from workbench.design.rescan import NotComparable, check_comparable, price_rescanned
from workbench.design.scenarios import NeedsRescan, Study
from workbench.design.testyear import build_test_year
from workbench.tariffs import load_tariff_book

TZ = "America/New_York"
HOURS = 8760

TOU = """\
code: HAND-TOU
name: Hand-checked time of use
timezone: America/New_York
holidays: none
time_of_use:
  periods:
    on_peak:
      - {{seasons: [all], days: [all], hours: "{on}"}}
    off_peak:
      - {{seasons: [all], days: [all], hours: {off}}}
versions:
  - effective: 2020-01-01
    charges:
      - {{type: customer, description: Customer charge, amount: 10.00, per: month}}
      - {{type: energy, description: Energy, rates: {{on_peak: {on_rate}, off_peak: 0.10}}}}
"""


def book(folder, on, off, on_rate=0.30):
    folder.mkdir(parents=True)
    (folder / "HAND-TOU.yaml").write_text(TOU.format(on=on, off=off, on_rate=on_rate))
    return folder


def local_hours() -> np.ndarray:
    """The local clock hour of each interval (zoneinfo, independent of the code under test)."""
    first = dt.datetime(2025, 1, 1, tzinfo=ZoneInfo(TZ)).astimezone(dt.UTC)
    return np.array([(first + dt.timedelta(hours=i)).astimezone(ZoneInfo(TZ)).hour for i in range(HOURS)])


def hand_cube(path, extra_m2=4.0, rate_codes=("HAND-TOU", "HAND-TOU")):
    hour = local_hours()
    delivered = np.ones((2, HOURS), np.float32)
    delivered[0, (hour == 14) | (hour == 15)] = 3.0
    delivered[1, (hour == 19) | (hour == 20)] = extra_m2
    ds = make_cube(delivered, start="2025-01-01T00:00", tz=TZ, step=60, meters=["M1", "M2"])
    reads = [f"2025-{m:02d}-01" for m in range(1, 13)] + ["2026-01-01"]
    ds = ds.assign(read_date=(("cycle_id", "read"), np.array([reads], "datetime64[ns]")))
    ds = ds.assign_coords(rate_code=("meter", np.array(list(rate_codes))))
    return write_cube(ds, path, meter_chunk=2)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    root = tmp_path_factory.mktemp("rescan")
    cube = hand_cube(root / "cube.zarr")
    present = book(root / "present", "14:00-19:00", '["00:00-14:00", "19:00-24:00"]')
    proposed = book(root / "proposed", "16:00-21:00", '["00:00-16:00", "21:00-24:00"]')
    return root, cube, present, proposed


@pytest.fixture(scope="module")
def scanned(hand):
    root, cube, present, proposed = hand
    for tariffs, out in ((present, root / "ty"), (proposed, root / "ty-proposed")):
        assert main(["design", "determinants", "--cube", str(cube), "--tariffs", str(tariffs), "--test-year", "2025",
                     "--out", str(out), "--quiet"]) == 0
    return root / "ty", root / "ty-proposed"


def kwh_by_period(folder) -> dict:
    """Annual kWh per meter and energy bucket label, from the kept Parquet file."""
    identity = json.loads((folder / "identity.json").read_text())
    labels = identity["rate_codes"]["HAND-TOU"]["energy_buckets"]
    table = pd.read_parquet(folder / "HAND-TOU.parquet")
    table = table[table["billed"]]
    return {(m, label): float(g[f"energy_kwh_{e}"].sum()) for m, g in table.groupby("meter")
            for e, label in enumerate(labels)}


def test_each_scan_splits_the_kwh_by_its_own_peak(scanned):
    present, proposed = scanned
    on, off = "on-peak", "off-peak"
    got = kwh_by_period(present)
    assert {k: got[k] for k in sorted(got)} == pytest.approx(
        {("M1", off): 6935.0, ("M1", on): 3285.0, ("M2", off): 9125.0, ("M2", on): 1825.0}, abs=1e-6)
    got = kwh_by_period(proposed)
    assert {k: got[k] for k in sorted(got)} == pytest.approx(
        {("M1", off): 8395.0, ("M1", on): 1825.0, ("M2", off): 6935.0, ("M2", on): 4015.0}, abs=1e-6)


def test_price_with_proposed_determinants_by_hand(hand, scanned, tmp_path, capsys):
    root, _, _, proposed_book = hand
    present, proposed = scanned
    out = tmp_path / "scenario"
    run = run_in_process(["design", "price", "--determinants", present, "--proposed-determinants", proposed,
                          "--proposed", proposed_book, "--out", out], capsys)
    assert_ok(run)
    rev = pd.read_csv(out / "revenue.csv").iloc[0]
    assert (rev["revenue_present"], rev["revenue_proposed"], rev["change"]) == (3379.00, 3525.00, 146.00)
    cust = pd.read_csv(out / "customers.csv").set_index("meter")
    assert cust["annual_bill_present"].to_dict() == {"M1": 1799.00, "M2": 1580.00}
    assert cust["annual_bill_proposed"].to_dict() == {"M1": 1507.00, "M2": 2018.00}
    assert cust["change"].to_dict() == {"M1": -292.00, "M2": 438.00}
    comp = pd.read_csv(out / "components.csv").set_index("line")
    # on-peak energy: present (3,285 + 1,825) x 0.30 = 1,533.00; proposed (1,825 + 4,015) x 0.30 = 1,752.00
    on_line = next(name for name in comp.index if "on_peak" in name or "on-peak" in name)
    assert (comp.loc[on_line, "revenue_present"], comp.loc[on_line, "revenue_proposed"]) == (1533.00, 1752.00)
    # the proposed book defaults to the one the proposed determinants were scanned with: the same tables
    again = tmp_path / "again"
    assert_ok(run_in_process(["design", "price", "--determinants", present, "--proposed-determinants", proposed,
                              "--out", again], capsys))
    assert (again / "customers.csv").read_text() == (out / "customers.csv").read_text()


def test_present_revenue_unchanged_by_the_new_path(hand, scanned):
    """The present side of the new path is today's present pricing, to the cent, customer by customer."""
    _, _, present_book, proposed_book = hand
    present, proposed = scanned
    today = Study(present)
    alone = today.price(today.present_book(), "present")
    ours, theirs, tables = price_rescanned(Study(present), load_tariff_book(present_book), Study(proposed),
                                           load_tariff_book(proposed_book))
    assert ours.total_cents() == alone.total_cents() == 337900
    assert theirs.total_cents() == 352500
    assert (tables["customers"]["annual_bill_present"].tolist()
            == alone.customers()["annual_bill"].tolist())


def test_moved_peak_on_the_present_determinants_still_refused_naming_the_option(hand, scanned, tmp_path, capsys):
    _, _, _, proposed_book = hand
    present, _ = scanned
    with pytest.raises(NeedsRescan, match="--proposed-determinants"):
        Study(present).price(load_tariff_book(proposed_book), "proposed")
    run = run_in_process(["design", "price", "--determinants", present, "--proposed", proposed_book,
                          "--out", tmp_path / "x"], capsys)
    assert_refused(run, "needs a re-scan", "--proposed-determinants")
    assert not (tmp_path / "x").exists()


def test_price_change_on_the_proposed_determinants_is_checked_against_them(hand, scanned, tmp_path):
    """The schedule check is against the PROPOSED determinants: the proposed hours with another on-peak price
    pass (M1 1,825 + M2 4,015 on-peak kWh x 0.35 = 2,044.00 + off-peak 1,533.00 + 240.00 = 3,817.00); the
    present hours on the proposed determinants are refused."""
    root, _, present_book, _ = hand
    present, proposed = scanned
    priced = book(tmp_path / "dearer", "16:00-21:00", '["00:00-16:00", "21:00-24:00"]', on_rate=0.35)
    _, theirs, _ = price_rescanned(Study(present), load_tariff_book(present_book), Study(proposed),
                                   load_tariff_book(priced))
    assert theirs.total_cents() == 381700
    with pytest.raises(NeedsRescan):
        price_rescanned(Study(present), load_tariff_book(present_book), Study(proposed),
                        load_tariff_book(present_book))


def test_different_cube_refused(hand, scanned, tmp_path):
    """The proposed book scanned from another cube (M2 peaks at 5 kWh, not 4): refused, naming both cubes."""
    _, _, _, proposed_book = hand
    present, _ = scanned
    other = hand_cube(tmp_path / "other.zarr", extra_m2=5.0)
    build_test_year(other, proposed_book, 2025, tmp_path / "ty-other", progress=False)
    with pytest.raises(NotComparable, match="different cubes") as info:
        check_comparable(Study(present), Study(tmp_path / "ty-other"))
    assert "other.zarr" in str(info.value) and "cube.zarr" in str(info.value)


def test_identity_names_the_cube_from_anywhere(hand, tmp_path, monkeypatch):
    """A scan given a relative cube path records where the cube is, as it does the tariff book: the identity is
    read from other folders (filing, rescans). Bug it catches: ``str(cube)`` recorded as given ("cube.zarr")."""
    root, cube, present, _ = hand
    monkeypatch.chdir(root)
    build_test_year("cube.zarr", present, 2025, tmp_path / "ty-relative", progress=False)
    identity = json.loads((tmp_path / "ty-relative" / "identity.json").read_text())
    assert identity["cube"] == str(cube.resolve()) and identity["tariffs"] == str(present.resolve())


def test_different_test_year_or_basis_refused(scanned, tmp_path):
    """A set whose identity says another test year (or basis): refused, naming both."""
    present, proposed = scanned
    for field, value, said in (("test_year", 2024, "test years: 2025 against 2024"),
                               ("basis", "calendarized", "bases: billed against calendarized")):
        copy = tmp_path / f"ty-{field}"
        shutil.copytree(proposed, copy)
        identity = json.loads((copy / "identity.json").read_text())
        identity[field] = value
        (copy / "identity.json").write_text(json.dumps(identity))
        with pytest.raises(NotComparable, match=said):
            check_comparable(Study(present), Study(copy))
    # both bases are kept in every set: pricing both on one basis is allowed
    check_comparable(Study(present, basis="calendarized"), Study(tmp_path / "ty-basis", basis="calendarized"))


def test_different_customers_refused(scanned, tmp_path):
    """A set missing a customer (M2's rows taken out): refused, naming the meter."""
    present, proposed = scanned
    copy = tmp_path / "ty-fewer"
    shutil.copytree(proposed, copy)
    table = pq.read_table(copy / "HAND-TOU.parquet")
    pq.write_table(table.filter(pc.equal(table["meter"], "M1")), copy / "HAND-TOU.parquet")
    with pytest.raises(NotComparable, match="different customers on HAND-TOU.*M2"):
        check_comparable(Study(present), Study(copy))


def test_solve_on_the_proposed_determinants(scanned, tmp_path, capsys):
    """`design solve --determinants PROPOSED` solves the moved-peak book on its own determinants. Requirement
    $4,182.00 = 240.00 + 1.2 x 3,285.00 (the proposed energy revenue): x 1.2, prices 0.36 and 0.12, every bill
    whole cents (whole kWh), so the rounded book bills the requirement exactly."""
    _, proposed = scanned
    out = tmp_path / "solved"
    run = run_in_process(["design", "solve", "--determinants", proposed, "--class", "RES", "--requirement", "4182",
                          "--charge", "HAND-TOU:Energy", "--out", out], capsys)
    assert_ok(run)
    solution = json.loads((out / "solution.json").read_text())
    assert (solution["revenue"], solution["difference"]) == (4182.00, 0.0)
    rates = load_tariff_book(out)["HAND-TOU"].versions[-1].charges[1].rates
    assert sorted(set(np.asarray(rates, float).ravel().round(10).tolist())) == [0.12, 0.36]
    # the written book, priced again on the proposed determinants, bills what solution.json says
    assert Study(proposed).price(load_tariff_book(out), "solved").total_cents() == 418200


def test_different_bill_periods_refused(scanned, tmp_path):
    """The same customers billed over other periods (M2's first bill ending 31 January instead of 1 February):
    refused, naming the meter and both periods."""
    present, proposed = scanned
    copy = tmp_path / "ty-periods"
    shutil.copytree(proposed, copy)
    table = pq.read_table(copy / "HAND-TOU.parquet")
    ends = table["period_end"].to_pylist()
    first = next(i for i, (m, p) in enumerate(zip(table["meter"].to_pylist(), table["period_no"].to_pylist(),
                                                  strict=True)) if m == "M2" and p == 0)
    ends[first] = dt.date(2025, 1, 31)
    table = table.set_column(table.schema.get_field_index("period_end"), "period_end",
                             pa.array(ends, table.schema.field("period_end").type))
    pq.write_table(table, copy / "HAND-TOU.parquet")
    with pytest.raises(NotComparable, match="meter M2 over different periods.*2025-02-01 against 2025-01-01 to "
                                            "2025-01-31"):
        check_comparable(Study(present), Study(copy))


def test_price_prints_each_number_with_its_unit(hand, scanned, tmp_path, capsys):
    """The revenue table on the terminal says kWh, $ and %: the class's 10,220 + 10,950 = 21,170 kWh, $3,379.00
    -> $3,525.00, +$146.00, +146 / 3,379 = +4.32% (it printed 2.117e+04 and bare 4.320805)."""
    _, _, _, proposed_book = hand
    present, proposed = scanned
    run = run_in_process(["design", "price", "--determinants", present, "--proposed-determinants", proposed,
                          "--out", tmp_path / "x"], capsys)
    assert_ok(run)
    row = next(line for line in run.stdout.splitlines() if "HAND-TOU" in line).split()
    assert row[-6:] == ["21,170", "kWh", "$3,379.00", "$3,525.00", "+$146.00", "+4.32%"], row


def test_price_csv_for_people(tmp_path, capsys):
    """revenue.csv and customers.csv keep kWh to 3 decimals and $ to cents, as every CSV for people does. M2 uses
    4.1234567 kWh (float32) at 19:00 and 20:00: 8,760 + 2 x 365 x 3.1234567... kWh a year, not a whole number."""
    cube = hand_cube(tmp_path / "cube.zarr", extra_m2=4.1234567)
    books = book(tmp_path / "present", "14:00-19:00", '["00:00-14:00", "19:00-24:00"]')
    build_test_year(cube, books, 2025, tmp_path / "ty", progress=False)
    assert_ok(run_in_process(["design", "price", "--determinants", tmp_path / "ty", "--out", tmp_path / "x"], capsys))
    m2 = 8760 + 2 * 365 * (float(np.float32(4.1234567)) - 1)
    text = (tmp_path / "x" / "customers.csv").read_text().splitlines()
    kwh = next(line for line in text if line.startswith("M2,")).split(",")[5]
    assert len(kwh.partition(".")[2]) <= 3 and abs(float(kwh) - m2) <= 0.0005, (kwh, m2)
    total = pd.read_csv(tmp_path / "x" / "revenue.csv")["kwh"].iloc[0]
    assert len(repr(float(total)).partition(".")[2]) <= 3 and abs(total - (10220 + m2)) <= 0.0005
