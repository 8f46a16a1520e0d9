"""Net-metering customers in every schedule of the filing: their own bill frequency, bills and bill impacts per
program, each schedule saying which customers it counts, the counts tied across schedules; a class (and a test
year) of only net-metering customers.

The hand-checked customers of tests/test_design_nem.py (2025, calendar-month bills, rate HAND-FLAT: present
$10.00 a month + $0.10/kWh, proposed $12.00 + $0.12/kWh; every meter takes 10 kWh at 12:00 each day: 310 kWh in
a 31-day month, 300 in a 30-day one, 280 in February, 3,650 a year), in two classes:

- RES: M1 on NM-MONTHLY (exports 1,200 kWh in June, 900 in November): present $287.06, proposed $347.86;
  M2 on INFLOW-OUTFLOW (exports 600 kWh in June): $440.36, $537.36; M3 on no program: $485.00, $582.00.
- SGS, every customer net-metered: M5 as M1 (NM-MONTHLY), M6 as M2 (INFLOW-OUTFLOW), M7 on INFLOW-OUTFLOW
  exporting nothing (every import at retail, no credit): $485.00, $582.00.

Bill frequency by hand: every bill is in the RES block 250-500 kWh and the SGS block 0-500 kWh; summer bills
(ending June to September): 300 + 310 + 310 + 300 = 1,220 kWh; winter: 310 + 280 + 310 + 300 + 310 + 310 + 300 +
310 = 2,430 kWh. The RES block 0-250 holds 250 kWh of each bill: 4 x 250 = 1,000 (summer), 8 x 250 = 2,000.
"""

from __future__ import annotations

import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from tests.hostile._cli import assert_refused, run_in_process
from tests.test_design_nem import HOURS, TZ, book, local_clock
from tests.test_vee_support import make_cube
from workbench.ami.cube import write_cube
from workbench.app.rates_store import RatesStore
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.filing import write_filing
from workbench.filing.workbook import FIRST_DATA_ROW

METERS = {"M1": ("RES", "NM-MONTHLY"), "M2": ("RES", "INFLOW-OUTFLOW"), "M3": ("RES", ""),
          "M5": ("SGS", "NM-MONTHLY"), "M7": ("SGS", "INFLOW-OUTFLOW"), "M6": ("SGS", "INFLOW-OUTFLOW")}
# (M7 before M6: ranked by delivered kWh, equal, M7 would come first; by net kWh M6 does)


def _scan(root, meters, *extra, out="ty"):
    """The cube of ``meters`` (of :data:`METERS`), both books, and its determinants in ``root/out`` (``extra``:
    more options of `workbench design determinants`)."""
    month, hour = local_clock()
    delivered = np.zeros((len(meters), HOURS), np.float32)
    delivered[:, hour == 12] = 10.0
    received = np.zeros_like(delivered)
    for i, meter in enumerate(meters):
        if meter in ("M1", "M5"):
            received[i, (hour == 13) & (month == 6)] = 40.0
            received[i, (hour == 13) & (month == 11)] = 30.0
        if meter in ("M2", "M6"):
            received[i, (hour == 13) & (month == 6)] = 20.0
    ds = make_cube(delivered, received=received, start="2025-01-01T00:00", tz=TZ, step=60, meters=list(meters),
                   nem=[METERS[m][1] for m in meters])
    reads = [f"2025-{m:02d}-01" for m in range(1, 13)] + ["2026-01-01"]
    ds = ds.assign(read_date=(("cycle_id", "read"), np.array([reads], "datetime64[ns]")))
    ds = ds.assign_coords(rate_code=("meter", np.array(["HAND-FLAT"] * len(meters))),
                          customer_class=("meter", np.array([METERS[m][0] for m in meters])))
    cube, present, proposed = root / "cube.zarr", root / "present", root / "proposed"
    if not cube.exists():  # a second scan of the same cube (other options) keeps it and the books
        write_cube(ds, cube, meter_chunk=8)
        book(present, "10.00", "0.10")
        book(proposed, "12.00", "0.12")
    assert main(["design", "determinants", "--cube", str(cube), "--tariffs", str(present), "--test-year", "2025",
                 "--out", str(root / out), "--quiet", *map(str, extra)]) == 0
    return root / out, present, proposed


@pytest.fixture(scope="module")
def filed(tmp_path_factory):
    root = tmp_path_factory.mktemp("nemfiling")
    ty, present, proposed = _scan(root, list(METERS))
    out = root / "filing"
    out.mkdir()
    result = write_filing(ty, present, proposed, out, levels={"RES": [500], "SGS": [500]})
    return out, result["schedules"]


def test_net_metering_bill_frequency_by_hand(filed):
    out, _ = filed
    freq = pd.read_csv(out / "nem_bill_frequency.csv", keep_default_na=False)
    used = freq[freq["bills"] > 0].set_index(["class", "program", "season"])
    assert set(used.index) == {(c, p, s) for c, p in (("RES", "NM-MONTHLY"), ("RES", "INFLOW-OUTFLOW"),
                                                      ("SGS", "NM-MONTHLY"), ("SGS", "INFLOW-OUTFLOW"))
                               for s in ("summer", "winter")}
    res = used.loc[("RES", "NM-MONTHLY", "summer")]
    assert (float(res["block_low_kwh"]), float(res["block_high_kwh"]), res["bills"]) == (250, 500, 4)
    assert res["kwh"] == pytest.approx(1220.0) and res["received_kwh"] == pytest.approx(1200.0)
    assert used.loc[("RES", "NM-MONTHLY", "winter"), "received_kwh"] == pytest.approx(900.0)
    assert used.loc[("RES", "INFLOW-OUTFLOW", "winter"), "kwh"] == pytest.approx(2430.0)
    # SGS: the two INFLOW-OUTFLOW customers, 0-500 kWh; M6's 600 kWh exported in June, M7's none
    sgs = used.loc[("SGS", "INFLOW-OUTFLOW", "summer")]
    assert (float(sgs["block_low_kwh"]), float(sgs["block_high_kwh"]), sgs["bills"]) == (0, 500, 8)
    assert sgs["kwh"] == pytest.approx(2440.0) and sgs["received_kwh"] == pytest.approx(600.0)
    # the block below holds 250 kWh of each bill
    below = freq[(freq["class"] == "RES") & (freq["program"] == "NM-MONTHLY") & (freq["block_low_kwh"] == 0)]
    assert below.set_index("season")["kwh_in_block"].to_dict() == {"summer": 1000.0, "winter": 2000.0}
    # the customers on no program: M3 alone
    rates = pd.read_csv(out / "bill_frequency.csv")
    assert rates.groupby("class")["bills"].sum().to_dict() == {"RES": 12}


def test_net_metering_bills_per_program_by_hand(filed):
    out, _ = filed
    typical = pd.read_csv(out / "nem_typical_bills.csv", keep_default_na=False)
    typical = typical.set_index(["class", "program", "level"])
    m1 = typical.loc[("RES", "NM-MONTHLY", "All customers of the program (1)")]
    assert (m1["customers"], m1["bills"]) == (1, 12)
    assert m1["present_bill"] == pytest.approx(23.92)  # 28,706 cents / 12 = 2,392.17
    assert m1["proposed_bill"] == pytest.approx(28.99)  # 34,786 / 12 = 2,898.83
    assert m1["change"] == pytest.approx(5.07)  # 6,080 / 12 = 506.67
    assert m1["change_pct"] == pytest.approx(100 * 60.80 / 287.06, rel=1e-12)
    assert m1["received_kwh"] == pytest.approx(2100 / 12) and m1["kwh"] == pytest.approx(3650 / 12, abs=5e-4)  # CSV: 3 decimals
    sgs = typical.loc[("SGS", "INFLOW-OUTFLOW", "All customers of the program (2)")]
    assert (sgs["customers"], sgs["bills"]) == (2, 24)
    assert sgs["present_annual"] == pytest.approx(440.36 + 485.00) and sgs["proposed_annual"] == pytest.approx(
        537.36 + 582.00)
    assert sgs["present_bill"] == pytest.approx(38.56)  # 92,536 / 24 = 3,855.67
    assert sgs["proposed_bill"] == pytest.approx(46.64)  # 111,936 / 24 = 4,664
    assert sgs["received_kwh"] == pytest.approx(600 / 24)
    # percentile customers by annual net kWh: M6 nets 3,050 kWh, M7 3,650 (nearest rank of 2: P10-P50 M6, P75-P90 M7)
    p = {level: typical.loc[("SGS", "INFLOW-OUTFLOW", level), "present_annual"] for level in
         ("P10 customer", "P50 customer", "P75 customer", "P90 customer")}
    assert p == {"P10 customer": 440.36, "P50 customer": 440.36, "P75 customer": 485.00, "P90 customer": 485.00}


def test_net_metering_bill_impacts_per_program(filed):
    out, _ = filed
    impacts = pd.read_csv(out / "nem_bill_impacts.csv", keep_default_na=False)
    dollars = impacts[(impacts["measure"] == "dollars") & (impacts["customers"] > 0)]
    # changes: M1, M5 $60.80; M2, M6, M7 $97.00: every one in the band $50 to $100
    assert dollars.set_index(["class", "program"])["band"].to_dict() == {
        ("RES", "INFLOW-OUTFLOW"): "$50 to $100", ("RES", "NM-MONTHLY"): "$50 to $100",
        ("SGS", "INFLOW-OUTFLOW"): "$50 to $100", ("SGS", "NM-MONTHLY"): "$50 to $100"}
    assert dollars.set_index(["class", "program"])["customers"].to_dict() == {
        ("RES", "INFLOW-OUTFLOW"): 1, ("RES", "NM-MONTHLY"): 1, ("SGS", "INFLOW-OUTFLOW"): 2, ("SGS", "NM-MONTHLY"): 1}
    assert (dollars["share_pct"] == 100.0).all()
    # percent: 21.18 % (M1), 22.03 % (M2), 20.00 % (M7: a band holds low <= change): all 20 % and above
    pct = impacts[(impacts["measure"] == "percent") & (impacts["customers"] > 0)]
    assert set(pct["band"]) == {"20% and above"}


def test_customer_counts_tie_across_schedules(filed):
    """Every schedule's customers, bills and kWh add up to the class summary's and the proof of revenue's."""
    _, s = filed
    summary = s["class_summary"].groupby("class")[["customers", "bills", "kwh"]].sum()
    assert summary["customers"].to_dict() == {"RES": 3, "SGS": 3}
    proof = s["proof_of_revenue"]
    nem_rows = proof[proof["category"] == "net metering"]
    proof_nem = nem_rows.groupby("class")["billing_units"].sum()
    assert proof_nem.to_dict() == {"RES": 2, "SGS": 3}
    nem_impacts = s["nem_bill_impacts"].query("measure == 'percent'").groupby("class")["customers"].sum()
    assert nem_impacts.to_dict() == proof_nem.to_dict()
    typical = s["nem_typical_bills"]
    all_rows = typical[typical["level"].str.startswith("All customers")]
    assert all_rows.groupby("class")["customers"].sum().to_dict() == proof_nem.to_dict()
    # and the average rows' annual bills are the proof's program rows, to the cent
    by_program = nem_rows.set_index(["class", "component"])
    for rec in all_rows.to_dict("records"):
        n = rec["customers"]
        name = (f"Net-metering customers, program {rec['program']}: {n} customer{'s' if n != 1 else ''}, bills "
                "settled under the program")
        for side in ("present", "proposed"):
            assert (round(by_program.loc[(rec["class"], name), f"{side}_revenue"] * 100)
                    == round(rec[f"{side}_annual"] * 100))
    impacts = s["bill_impacts"]
    for measure in ("percent", "dollars"):
        every = impacts[impacts["measure"] == measure].groupby("class")["customers"].sum()
        assert every.to_dict() == summary["customers"].to_dict()
    # the bills: the rates' bill frequency (customers on no program) and the net-metering one add up to all of them
    freq = s["bill_frequency"].groupby("class")[["bills", "kwh"]].sum()
    nem_freq = s["nem_bill_frequency"].groupby("class")[["bills", "kwh"]].sum()
    both = freq.add(nem_freq, fill_value=0)
    assert both["bills"].to_dict() == summary["bills"].to_dict() == {"RES": 36, "SGS": 36}
    assert both["kwh"].to_dict() == pytest.approx(summary["kwh"].to_dict())
    # each schedule says which customers it counts
    assert s["bill_frequency"].attrs["covers"].startswith("Customers: the 1 on no net-metering program (RES 1); "
                                                          "the 5 net-metering customers")
    assert s["class_summary"].attrs["covers"].startswith("Customers: all 6 of the test year (RES 3, SGS 3)")


def _sheet(book, name):
    return [[c.value for c in row] for row in book[name].iter_rows()]


def test_workbook_and_pdf_show_the_net_metering_schedules(filed):
    out, s = filed
    book = openpyxl.load_workbook(out / "filing.xlsx")
    assert book.sheetnames[:8] == ["Class summary", "Proof of revenue", "Bill frequency", "NEM bill frequency",
                                   "Typical bills", "NEM typical bills", "Bill impacts", "NEM bill impacts"]
    # which customers: row 2 of each sheet
    assert "the 1 on no net-metering program (RES 1)" in _sheet(book, "Typical bills")[1][0]
    assert "the 5 net-metering customers (RES: INFLOW-OUTFLOW 1, NM-MONTHLY 1; SGS: INFLOW-OUTFLOW 2, NM-MONTHLY 1)" \
        in _sheet(book, "NEM bill impacts")[1][0]
    # the average bill of M1's program, as numbers
    rows = _sheet(book, "NEM typical bills")
    m1 = [r for r in rows if r[2] == "NM-MONTHLY" and r[0] == "RES" and str(r[3]).startswith("All")]
    assert len(m1) == 1 and 23.92 in m1[0] and 28.99 in m1[0] and 287.06 in m1[0]
    # the total row of the net-metering bill frequency: a formula over the data cells, 5 customers x 12 bills
    rows = _sheet(book, "NEM bill frequency")
    header = rows[FIRST_DATA_ROW - 1]
    j = header.index("Bills")
    total = rows[FIRST_DATA_ROW + len(s["nem_bill_frequency"])]
    first, last = re.fullmatch(r"=SUM\([A-Z]+(\d+):[A-Z]+(\d+)\)", total[j]).groups()
    assert sum(r[j] for r in rows[int(first) - 1:int(last)]) == 60
    # the PDF: the titles, the statement of who is counted, M1's average bills
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(out / "filing.pdf").pages)
    for title in ("Net-metering customers: bill frequency by delivered kWh",
                  "Net-metering customers: bills present and proposed, by program",
                  "Net-metering customers: customers by annual bill change"):
        assert title in text
    assert "the 5 net-metering customers are in the net-metering schedules" in text
    assert "$23.92 $28.99" in text


@pytest.fixture(scope="module")
def only_nem(tmp_path_factory):
    """A test year whose every customer is net-metered (M1, M2 of class RES)."""
    root = tmp_path_factory.mktemp("onlynem")
    return _scan(root, ["M1", "M2"])


def test_a_test_year_of_only_net_metering_customers_files(only_nem, tmp_path):
    ty, present, proposed = only_nem
    out = tmp_path / "filing"
    out.mkdir()
    s = write_filing(ty, present, proposed, out, levels={"RES": [500]})["schedules"]
    summary = pd.read_csv(out / "class_summary.csv")
    assert summary["customers"].tolist() == [2] and summary["bills"].tolist() == [24]
    assert summary["present_revenue"].tolist() == [pytest.approx(287.06 + 440.36)]
    assert summary["proposed_revenue"].tolist() == [pytest.approx(347.86 + 537.36)]
    proof = pd.read_csv(out / "proof_of_revenue.csv")
    assert proof["category"].tolist() == ["net metering", "net metering"]
    assert s["bill_frequency"].empty and s["typical_bills"].empty
    assert s["bill_frequency"].attrs["covers"].startswith("Customers: none: all 2 customers of the test year are "
                                                          "net-metered")
    assert s["nem_bill_frequency"]["bills"].sum() == 24
    book = openpyxl.load_workbook(out / "filing.xlsx")
    assert "Customers: none: all 2 customers" in _sheet(book, "Bill frequency")[1][0]


def test_design_price_of_only_net_metering_customers(only_nem, tmp_path, capsys):
    ty, _, proposed = only_nem
    assert main(["design", "price", "--determinants", str(ty), "--proposed", str(proposed), "--out",
                 str(tmp_path / "p")]) == 0
    said = capsys.readouterr().out
    assert "No customers on no net-metering program" in said
    assert f"All customers, the 2 net-metering customers included: present ${287.06 + 440.36:,.2f}" in said


def test_the_solve_of_only_net_metering_customers_says_why_in_one_line(only_nem, tmp_path, capsys):
    ty = only_nem[0]
    result = run_in_process(["design", "solve", "--determinants", str(ty), "--class", "RES", "--requirement", "600",
                             "--charge", "HAND-FLAT:Energy", "--out", str(tmp_path / "s")], capsys)
    assert_refused(result, "every customer of classes ['RES']", "is net-metered", "out of --requirement")
    assert not (tmp_path / "s").exists()


def test_a_class_with_no_customers_at_all_is_still_refused(only_nem, tmp_path, capsys):
    ty, _, proposed = only_nem
    result = run_in_process(["design", "price", "--determinants", str(ty), "--proposed", str(proposed), "--class",
                             "LGS", "--out", str(tmp_path / "p")], capsys)
    assert_refused(result, "no customers of classes ['LGS']")


def test_the_rates_dashboard_offers_the_classes_it_can_reprice(filed, only_nem):
    """The dashboard re-prices customers on no program: SGS (every customer net-metered) is not offered, and a
    test year of only net-metering customers is refused in one line saying so."""
    out, _ = filed
    store = RatesStore(out.parent / "ty", tariffs_dir=out.parent / "present")
    assert store.param.customer_class.objects == ["RES"]
    with pytest.raises(WorkbenchError, match="no customers on no net-metering program"):
        RatesStore(only_nem[0], tariffs_dir=only_nem[1])
