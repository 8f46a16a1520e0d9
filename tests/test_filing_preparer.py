"""What a PUC filing preparer tripped on (helper tryfiling): hand-checked cases.

Expected amounts are by hand (comments show the arithmetic), never from the code under test.
"""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from tests.test_filing import _hand_folder
from workbench.filing import build_schedules, open_filing, write_filing
from workbench.filing.spec import SCHEDULES
from workbench.filing.workbook import FIRST_DATA_ROW, HEADER_ROW

TAXED = """\
code: HAND
name: Hand-checked flat rate with a sales tax
utility: Hand Test Utility
timezone: America/New_York
versions:
  - effective: 2020-01-01
    charges:
      - {{type: customer, description: Customer charge, amount: {customer}, per: month}}
      - {{type: energy, description: Energy, rates: {energy}}}
      - {{type: tax, description: Sales tax 6%, percent: 6.0, applies_to: [fixed, energy]}}
"""


@pytest.fixture
def taxed(tmp_path):
    """Two customers. M1: 333.333 kWh every month; M2: 1,000 kWh every month but 2,600 in July.
    Present: $10.00/month + $0.10/kWh + 6 %; proposed: $12.00/month + $0.11/kWh + 6 %."""
    for name, customer, energy in (("present", 10.0, 0.10), ("proposed", 12.0, 0.11)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "HAND.yaml").write_text(TAXED.format(customer=customer, energy=energy))
    folder = _hand_folder(tmp_path, {"M1": [333.333] * 12, "M2": [1000.0] * 6 + [2600.0] + [1000.0] * 5})
    return open_filing(folder, tmp_path / "present", tmp_path / "proposed"), tmp_path


def test_proof_of_revenue_tax_line_has_the_proposed_taxable_base(taxed):
    """The tax's billing units are the taxed dollars, which the proposal changes: the proposed side must show
    its own units, so proposed units x proposed price = proposed revenue (a reviewer checks exactly that)."""
    data, _ = taxed
    proof = build_schedules(data)["proof_of_revenue"].set_index("component")
    tax = proof.loc["Sales tax 6%"]
    # present base: M1 12 x (10 + 33.33) = 519.96; M2 11 x 110 + 270 = 1,480.00 -> 1,999.96
    assert tax["billing_units"] == pytest.approx(1999.96, abs=1e-9)
    # proposed base: M1 12 x (12 + 36.67) = 584.04; M2 11 x 122 + 298 = 1,640.00 -> 2,224.04
    assert tax["proposed_billing_units"] == pytest.approx(2224.04, abs=1e-9)
    # 1,999.96 x 0.06 = 119.9976 -> 120.00; 2,224.04 x 0.06 = 133.4424 -> 133.44
    assert tax["present_revenue"] == 120.00 and tax["proposed_revenue"] == 133.44
    # lines whose units the proposal does not change show the same units on both sides
    assert proof.loc["Energy", "proposed_billing_units"] == pytest.approx(17599.996, abs=1e-6)
    assert proof.loc["Customer charge", "proposed_billing_units"] == 24


def test_workbook_totals_carry_their_values(taxed, tmp_path):
    """A reader that does not recalculate (openpyxl data_only, pandas, a mail preview) sees the totals, not 0:
    each total formula is written with its value."""
    data, root = taxed
    out = tmp_path / "out"
    out.mkdir()
    write_filing(root / "ty", root / "present", root / "proposed", out, levels={"RES": [500]})
    values = openpyxl.load_workbook(out / "filing.xlsx", data_only=True)
    formulas = openpyxl.load_workbook(out / "filing.xlsx")
    sheet, fsheet = values["Class summary"], formulas["Class summary"]
    headers = [c.value for c in sheet[HEADER_ROW + 1]]
    total = FIRST_DATA_ROW + 2  # one data row (class RES, rate HAND), then the total row (1-based)
    assert sheet.cell(row=total, column=1).value == "Total"
    col = headers.index("Present revenue [$]") + 1
    assert fsheet.cell(row=total, column=col).value.startswith("=SUM(")
    # present: 240 + 1,759.96 + 120.00 = 2,119.96; proposed 288 + 1,936.04 + 133.44 = 2,357.48
    assert sheet.cell(row=total, column=col).value == pytest.approx(2119.96, abs=1e-9)
    col = headers.index("Proposed revenue [$]") + 1
    assert sheet.cell(row=total, column=col).value == pytest.approx(2357.48, abs=1e-9)
    col = headers.index("Present average bill [$]") + 1  # 2,119.96 / 24 bills = 88.3317
    assert sheet.cell(row=total, column=col).value == pytest.approx(2119.96 / 24, rel=1e-12)
    col = headers.index("Change [%]") + 1  # 237.52 / 2,119.96 x 100
    assert sheet.cell(row=total, column=col).value == pytest.approx(23752 / 211996 * 100, rel=1e-12)
    proof = values["Proof of revenue"]
    last = proof.max_row
    assert proof.cell(row=last, column=1).value == "Total"
    pheaders = [c.value for c in proof[HEADER_ROW + 1]]
    assert proof.cell(row=last, column=pheaders.index("Proposed revenue [$]") + 1).value == pytest.approx(2357.48)
    frame = pd.read_excel(out / "filing.xlsx", sheet_name=SCHEDULES["rate_mapping"].sheet, header=HEADER_ROW)
    assert frame.iloc[-1]["Present revenue [$]"] == pytest.approx(2119.96)


def test_package_says_which_customers_it_leaves_out(taxed, tmp_path):
    """Meters the study leaves out (excluded.csv, any reason; the rows here are hand-written in the form
    determinants kept before net-metering customers were settled): the package itself (PDF cover, Run sheet,
    run.json) says how many and where they are listed, not only a warning on the terminal that staff never see."""
    data, root = taxed
    (root / "ty" / "excluded.csv").write_text(
        "meter,account,rate_code,reason\n"
        "M7,A7,HAND,net-metering customer (program NEM2): not in this version of the rate-design study\n"
        "M8,A8,HAND,net-metering customer (program NEM2): not in this version of the rate-design study\n")
    out = tmp_path / "out"
    out.mkdir()
    write_filing(root / "ty", root / "present", root / "proposed", out, levels={"RES": [500]})
    said = "2 meters of the test year (HAND) are not in these figures"
    run = json.loads((out / "run.json").read_text())
    assert said in run["excluded"] and "2 net-metering customer (program NEM2)" in run["excluded"]
    sheet = openpyxl.load_workbook(out / "filing.xlsx")["Run"]
    assert any(said in str(c.value) for row in sheet.iter_rows() for c in row)
    cover = PdfReader(out / "filing.pdf").pages[0].extract_text()
    assert said in " ".join(cover.split())


def test_csvs_are_rounded_for_people(taxed, tmp_path):
    """CSV outputs are rounded for people (README): kWh and kW to 3 decimals, $ to cents; prices as they are."""
    data, root = taxed
    out = tmp_path / "out"
    out.mkdir()
    write_filing(root / "ty", root / "present", root / "proposed", out, levels={"RES": [500]})
    summary = (out / "class_summary.csv").read_text().splitlines()
    head, row = summary[0].split(","), summary[1].split(",")
    # 12 x 333.333 + 11 x 1,000 + 2,600 = 17,599.996 kWh exactly, not 17599.996000000003
    assert row[head.index("kwh")] == "17599.996"
    proof = pd.read_csv(out / "proof_of_revenue.csv", dtype=str).set_index("component")
    assert proof.loc["Energy", "billing_units"] == "17599.996" and proof.loc["Energy", "present_price"] == "0.1"
    typical = pd.read_csv(out / "typical_bills.csv", dtype=str).set_index("level")
    assert typical.loc["P90 customer", "kwh"] == "1133.333"  # (11 x 1,000 + 2,600) / 12 = 1,133.3333


def test_run_identity_reads_as_text(taxed, tmp_path):
    """The Run sheet and the PDF cover show the cube's version as words (``version 3, run ingest-7, inode 42``),
    not a Python dict's repr with braces and quotes (a new user's report)."""
    data, root = taxed
    identity_file = root / "ty" / "identity.json"
    identity = json.loads(identity_file.read_text())
    identity["cube_version"] = {"version": 3, "run": "ingest-7", "inode": 42}
    identity_file.write_text(json.dumps(identity))
    out = tmp_path / "out"
    out.mkdir()
    write_filing(root / "ty", root / "present", root / "proposed", out, levels={"RES": [500]})
    sheet = openpyxl.load_workbook(out / "filing.xlsx")["Run"]
    rows = {r[0].value: r[1].value for r in sheet.iter_rows(min_row=3) if r[0].value}
    assert rows["cube_version"] == "version 3, run ingest-7, inode 42"
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(out / "filing.pdf").pages[:2])
    assert "version 3, run ingest-7, inode 42" in text and "{'version'" not in text
