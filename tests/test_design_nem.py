"""Net-metering customers in rate design and the filing: settled under their programs, present and proposed.

The cube (America/New_York, all of 2025, hourly, reads on the 1st of each month: calendar-month bills, rate code
HAND-FLAT, class RES). Every meter takes 10 kWh from the grid at 12:00 every day (310 kWh in a 31-day month,
3,650 kWh a year); the exports are at 13:00, so no hour both imports and exports:

- M1 on NM-MONTHLY (monthly kWh netting, surplus kWh banked, bank cashed out in December at $0.05841/kWh):
  exports 40 kWh a day in June (1,200) and 30 a day in November (900);
- M2 on INFLOW-OUTFLOW (net billing: every import at retail, every export credited at $0.0744/kWh, credits
  offset energy in the month earned and roll over): exports 20 kWh a day in June (600);
- M3 on no program, no exports;
- M4 on NBT (hourly export values, 2025 vintage): exports 5 kWh at 13:00 every day (cross-checked with
  `workbench cycle` only: its 8,760 export values are not a hand calculation).

Present book: $10.00 a month, $0.10/kWh. Proposed book: $12.00 a month, $0.12/kWh. Programs: the sample book's.

M1 by hand (billed kWh after netting and the bank): Jan-May 310, 280, 310, 300, 310 (1,510); June nets
300 - 1,200 = -900: 0 billed, 900 banked; July and August draw 310 each (bank 280); September owes 300, draws 280,
bills 20; October 310; November nets -600: 0 billed, 600 banked; December draws 310 (bank 290), and the true-up
cashes out 290 x 0.05841 = $16.9389 -> $16.94. Billed kWh 1,840.
  present  12 x 10.00 + 1,840 x 0.10 - 16.94 = 120.00 + 184.00 - 16.94 = $287.06
  proposed 12 x 12.00 + 1,840 x 0.12 - 16.94 = 144.00 + 220.80 - 16.94 = $347.86
M2 by hand: imports 3,650 kWh at retail; June earns 600 x 0.0744 = $44.64, of which $30.00 offsets June's
energy and $14.64 July's (all of it used; nothing left at the true-up).
  present  120.00 + 365.00 - 44.64 = $440.36;  proposed 144.00 + 438.00 - 44.64 = $537.36
M3: present 120.00 + 365.00 = $485.00; proposed 144.00 + 438.00 = $582.00.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from tests.hostile._cli import assert_refused, run_in_process
from tests.test_vee_support import make_cube
from workbench.ami.cube import write_cube
from workbench.billing.cycle import run_cycle
from workbench.cli import main
from workbench.design.nem_revenue import NetMeteringStudy, compare_settled
from workbench.design.scenarios import Study
from workbench.filing import write_filing
from workbench.tariffs import load_tariff_book

REPO = Path(__file__).resolve().parents[1]
TZ = "America/New_York"
HOURS = 8760
FLAT = """\
code: HAND-FLAT
name: Hand-checked flat rate
timezone: America/New_York
holidays: none
versions:
  - effective: 2020-01-01
    charges:
      - {{type: customer, description: Customer charge, amount: {cc}, per: month}}
      - {{type: energy, description: Energy, rates: {rate}}}
"""
PROGRAMS = {"M1": "NM-MONTHLY", "M2": "INFLOW-OUTFLOW", "M3": "", "M4": "NBT"}
PRESENT = {"M1": 287.06, "M2": 440.36, "M3": 485.00}
PROPOSED = {"M1": 347.86, "M2": 537.36, "M3": 582.00}


def book(folder: Path, cc: str, rate: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "HAND-FLAT.yaml").write_text(FLAT.format(cc=cc, rate=rate))
    shutil.copytree(REPO / "tariffs" / "programs", folder / "programs")
    return folder


def local_clock():
    """(month, hour) of each local hour of 2025 (zoneinfo, independent of the code under test)."""
    first = dt.datetime(2025, 1, 1, tzinfo=ZoneInfo(TZ)).astimezone(dt.UTC)
    local = [(first + dt.timedelta(hours=i)).astimezone(ZoneInfo(TZ)) for i in range(HOURS)]
    return np.array([t.month for t in local]), np.array([t.hour for t in local])


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    root = tmp_path_factory.mktemp("nem")
    month, hour = local_clock()
    delivered = np.zeros((4, HOURS), np.float32)
    delivered[:, hour == 12] = 10.0
    received = np.zeros((4, HOURS), np.float32)
    received[0, (hour == 13) & (month == 6)] = 40.0
    received[0, (hour == 13) & (month == 11)] = 30.0
    received[1, (hour == 13) & (month == 6)] = 20.0
    received[3, hour == 13] = 5.0
    ds = make_cube(delivered, received=received, start="2025-01-01T00:00", tz=TZ, step=60, meters=list(PROGRAMS),
                   nem=list(PROGRAMS.values()))
    reads = [f"2025-{m:02d}-01" for m in range(1, 13)] + ["2026-01-01"]
    ds = ds.assign(read_date=(("cycle_id", "read"), np.array([reads], "datetime64[ns]")))
    ds = ds.assign_coords(rate_code=("meter", np.array(["HAND-FLAT"] * 4)))
    cube = write_cube(ds, root / "cube.zarr", meter_chunk=4)
    present = book(root / "present", "10.00", "0.10")
    proposed = book(root / "proposed", "12.00", "0.12")
    assert main(["design", "determinants", "--cube", str(cube), "--tariffs", str(present), "--test-year", "2025",
                 "--out", str(root / "ty"), "--quiet"]) == 0
    cycles = {}
    for name, tariffs in (("present", present), ("proposed", proposed)):
        run_cycle(cube, tariffs, root / f"cycle-{name}", progress=False)
        bills = pd.read_parquet(root / f"cycle-{name}" / "bills.parquet")
        cycles[name] = (np.rint(bills["total"] * 100).astype(np.int64)).groupby(bills["meter"]).sum().to_dict()
    return root, cube, present, proposed, cycles


def _cents(table, column="annual_bill"):
    return dict(zip(table["meter"], np.rint(table[column] * 100).astype(np.int64), strict=True))


def test_the_scan_keeps_net_metering_customers(hand):
    root = hand[0]
    assert pd.read_csv(root / "ty" / "excluded.csv").empty  # no meter left out
    identity = json.loads((root / "ty" / "identity.json").read_text())
    assert identity["rate_codes"]["HAND-FLAT"]["net_metering_meters"] == {"INFLOW-OUTFLOW": 1, "NBT": 1,
                                                                         "NM-MONTHLY": 1}
    # the rate-design study's customers are the others, as before
    assert list(Study(root / "ty").data["HAND-FLAT"].meters["meter"]) == ["M3"]


def test_settled_by_hand_and_as_the_cycle_bills(hand):
    """Present and proposed annual bills of the net-metering customers: by hand (M1, M2) and equal to
    `workbench cycle`'s bills under each book (all of them, M4 on NBT too), to the cent."""
    root, _, present, proposed, cycles = hand
    nem = NetMeteringStudy(root / "ty")
    assert len(nem) == 3
    settled = {name: nem.price(load_tariff_book(folder), folder, name)
               for name, folder in (("present", present), ("proposed", proposed))}
    for name, by_hand in (("present", PRESENT), ("proposed", PROPOSED)):
        got = _cents(settled[name].customers())
        assert {m: got[m] for m in ("M1", "M2")} == {m: round(by_hand[m] * 100) for m in ("M1", "M2")}
        assert got == {m: cycles[name][m] for m in ("M1", "M2", "M4")}
        assert cycles[name]["M3"] == round(by_hand["M3"] * 100)
    # calendar-month bills inside the year: the calendarized basis weighs every line by 1, the same cents
    calendarized = NetMeteringStudy(root / "ty", basis="calendarized").price(load_tariff_book(present), present)
    assert _cents(calendarized.customers()) == _cents(settled["present"].customers())
    # the lines: M1's cash-out and M2's credits, each a line of its program
    comp = settled["present"].components().set_index(["nem_program", "line"])["revenue"]
    assert comp[("NM-MONTHLY", "Banked kWh cashed out at true-up")] == pytest.approx(-16.94, abs=1e-9)
    assert comp[("NM-MONTHLY", "Energy")] == pytest.approx(184.00, abs=1e-9)
    assert comp[("INFLOW-OUTFLOW", "Credits applied")] == pytest.approx(-44.64, abs=1e-9)
    rev = compare_settled(settled["present"], settled["proposed"])["revenue"].set_index("nem_program")
    assert rev.loc["NM-MONTHLY", "change"] == pytest.approx(60.80, abs=1e-9)
    assert rev.loc["INFLOW-OUTFLOW", "change"] == pytest.approx(97.00, abs=1e-9)
    assert int(rev["customers"].sum()) == 3


def test_design_price_writes_the_net_metering_revenue(hand, capsys):
    root, _, _, proposed, cycles = hand
    out = root / "scenario"
    assert main(["design", "price", "--determinants", str(root / "ty"), "--proposed", str(proposed),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    nem = pd.read_csv(out / "net_metering.csv", keep_default_na=False).set_index("nem_program")
    assert nem.loc["NM-MONTHLY", "revenue_present"] == pytest.approx(287.06, abs=1e-9)
    assert nem.loc["INFLOW-OUTFLOW", "revenue_proposed"] == pytest.approx(537.36, abs=1e-9)
    customers = pd.read_csv(out / "net_metering_customers.csv")
    assert _cents(customers, "annual_bill_proposed") == {m: cycles["proposed"][m] for m in ("M1", "M2", "M4")}
    # the other customers' tables as before: M3 alone
    assert pd.read_csv(out / "customers.csv")["meter"].tolist() == ["M3"]
    total = sum(cycles["present"].values()) / 100
    assert f"All customers, the 3 net-metering customers included: present ${total:,.2f}" in printed


def test_design_solve_says_the_net_metering_customers_are_not_in_the_requirement(hand, capsys):
    root, _, _, _, cycles = hand
    out = root / "solved"
    assert main(["design", "solve", "--determinants", str(root / "ty"), "--class", "RES", "--requirement",
                 "600", "--charge", "HAND-FLAT:Energy", "--out", str(out)]) == 0
    present = sum(cycles["present"][m] for m in ("M1", "M2", "M4")) / 100
    said = capsys.readouterr().err
    assert "3 net-metering customer(s) on HAND-FLAT are NOT in --requirement" in said
    assert f"${present:,.2f} at present prices" in said
    record = json.loads((out / "solution.json").read_text())["net_metering"]
    assert record["customers"] == 3 and not record["in_requirement"]
    assert record["present_revenue"] == pytest.approx(present, abs=1e-9)
    # the solved book billed by the cycle: the net-metering customers bring in what the warning said
    run_cycle(hand[1], out, root / "cycle-solved", progress=False)
    bills = pd.read_parquet(root / "cycle-solved" / "bills.parquet")
    nem_cents = int(np.rint(bills.loc[bills["nem_program"] != "", "total"] * 100).sum())
    assert round(record["solved_revenue"] * 100) == nem_cents


def test_filing_proof_of_revenue_shows_them_and_ties_to_the_cycle(hand, tmp_path):
    """The proof of revenue has one row per program; each rate's rows add up to all its bills as the cycle bills
    them, present and proposed; the class summary counts every customer; the workbook and the PDF show the rows."""
    root, _, present, proposed, cycles = hand
    out = tmp_path / "filing"
    out.mkdir()
    result = write_filing(root / "ty", present, proposed, out, levels={"RES": [500]})
    proof = pd.read_csv(out / "proof_of_revenue.csv")
    rows = proof[proof["category"] == "net metering"].set_index("component")
    name = "Net-metering customers, program NM-MONTHLY: 1 customer, bills settled under the program"
    assert rows.loc[name, "present_revenue"] == pytest.approx(287.06, abs=1e-9)
    assert rows.loc[name, "proposed_revenue"] == pytest.approx(347.86, abs=1e-9)
    assert rows.loc[name, "billing_units"] == 1 and rows.loc[name, "unit"] == "customers"
    assert len(rows) == 3
    for side in ("present", "proposed"):
        assert int(np.rint(proof[f"{side}_revenue"] * 100).sum()) == sum(cycles[side].values())
    summary = pd.read_csv(out / "class_summary.csv")
    assert summary["customers"].tolist() == [4]
    assert int(round(summary["present_revenue"].iloc[0] * 100)) == sum(cycles["present"].values())
    impacts = result["schedules"]["bill_impacts"]
    assert impacts.loc[impacts["measure"] == "percent", "customers"].sum() == 4
    # the workbook: the rows and the total (a formula stored with its value)
    sheet = openpyxl.load_workbook(out / "filing.xlsx")["Proof of revenue"]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    found = [row for row in cells if row[2] == name]
    assert len(found) == 1 and 287.06 in found[0] and 347.86 in found[0]
    # the PDF: the row's text on a page of the proof
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(out / "filing.pdf").pages)
    assert "Net-metering customers, program INFLOW-OUTFLOW" in text and "440.36" in text and "537.36" in text


def test_a_proposed_book_without_the_programs_is_refused_in_one_line(hand, tmp_path, capsys):
    """The net-metering customers settle with the proposed book's own programs/: a book without them is refused,
    naming the folder, before anything is written."""
    root, _, _, proposed, _ = hand
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(proposed / "HAND-FLAT.yaml", bare / "HAND-FLAT.yaml")
    result = run_in_process(["design", "price", "--determinants", str(root / "ty"), "--proposed", str(bare),
                             "--out", str(tmp_path / "out")], capsys)
    assert_refused(result, "no programs/ folder")
    assert not (tmp_path / "out").exists()


def test_rates_dashboard_says_the_net_metering_customers_are_not_in_its_figures(hand):
    """The rates dashboard's class revenue is M3's alone ($485.00, PRESENT): it says the class's 3 net-metering
    customers (M1, M2, M4) are not in it (it called its figures the class's, every customer)."""
    from workbench.app.rates_app import create_app
    root, _, present, _, _ = hand
    app = create_app(root / "ty", tariffs_dir=present)
    assert app.store.revenue["present"] == PRESENT["M3"]
    text = app.views["numbers"].text()
    assert "Re-priced 1 customers" in text and "the class's 3 net-metering customer(s)" in text, text
