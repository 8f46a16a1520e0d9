"""PUC filing schedules: hand-checked small cases, the workbook's formulas, the PDF, and the real cycle.

Expected amounts come from hand calculation (comments show it) or from independent references: the bills of
the real ``workbench cycle`` (bills.parquet, summed in integer cents) and ``workbench bill`` on an interval file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

from workbench.cli import main
from workbench.design.testyear_store import schedule_fingerprint
from workbench.design.testyear_store import schema as determinants_schema
from workbench.filing import build_schedules, open_filing, write_filing
from workbench.filing.report import schedule_totals
from workbench.filing.schedules import ROUNDING_LINE, read_cost_of_service
from workbench.filing.spec import SCHEDULES
from workbench.filing.workbook import FIRST_DATA_ROW, HEADER_ROW
from workbench.sample import generate_sample_utility
from workbench.tariffs import load_tariff

REPO = Path(__file__).resolve().parents[1]

FLAT = """\
code: HAND
name: Hand-checked flat rate
utility: Hand Test Utility
timezone: America/New_York
versions:
  - effective: 2020-01-01
    charges:
      - {{type: customer, description: Customer charge, amount: {customer}, per: month}}
      - {{type: energy, description: Energy, rates: {energy}}}
"""


def _book(folder: Path, customer: float, energy: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "HAND.yaml").write_text(FLAT.format(customer=customer, energy=energy))
    return folder


def _hand_folder(root: Path, kwh_by_meter: dict) -> Path:
    """A determinants folder of meters (class RES) with 12 calendar-month bills of 2025 each: kWh given."""
    rows = []
    for meter, kwhs in kwh_by_meter.items():
        for b, kwh in enumerate(kwhs):
            start = dt.date(2025, b + 1, 1)
            end = dt.date(2025 + (b == 11), (b + 1) % 12 + 1, 1)
            days = (end - start).days
            rows.append({"meter": meter, "account": "A" + meter, "customer_class": "RES", "cycle": 1, "period_no": b,
                         "period_start": start, "period_end": end, "nominal_days": days, "days": days,
                         "test_year_days": days, "billed": True, "energy_kwh_0": kwh, "received_kwh_0": 0.0,
                         "peak_kw": 0.0, "cp_kw": 0.0, "rtp_cost": 0.0, "intervals": 0, "missing_intervals": 0,
                         "estimated_intervals": 0})
    folder = root / "ty"
    folder.mkdir()
    tariff = load_tariff(root / "present" / "HAND.yaml")
    n_demand = tariff.n_demand_buckets
    for row in rows:
        row.update({f"tou_peak_kw_{d}": 0.0 for d in range(n_demand)})
    table = pa.Table.from_pylist(rows, schema=determinants_schema(1, n_demand))
    pq.write_table(table, folder / "HAND.parquet")
    identity = {"kind": "test-year determinants", "test_year": 2025, "basis": "billed", "cube": "none",
                "cube_version": {}, "tariffs": str(root / "present"),
                "rate_codes": {"HAND": {"file": "HAND.parquet", "rows": len(rows), "billed_bills": len(rows),
                                        "energy_buckets": ["all"], "demand_buckets": ["all"] * n_demand,
                                        "schedule": json.loads(json.dumps(schedule_fingerprint(tariff)))}}}
    (folder / "identity.json").write_text(json.dumps(identity))
    return folder


@pytest.fixture
def hand(tmp_path):
    """Two customers. M1: 333.333 kWh every month; M2: 1,000 kWh every month but 2,600 in July.
    Present: $10.00/month + $0.10/kWh; proposed: $12.00/month + $0.11/kWh."""
    _book(tmp_path / "present", 10.0, 0.10)
    _book(tmp_path / "proposed", 12.0, 0.11)
    folder = _hand_folder(tmp_path, {"M1": [333.333] * 12, "M2": [1000.0] * 6 + [2600.0] + [1000.0] * 5})
    return open_filing(folder, tmp_path / "present", tmp_path / "proposed"), tmp_path


def test_proof_of_revenue_by_hand(hand):
    """Units x price, with per-bill rounding as its own line; the rate's lines add up to the billed revenue."""
    data, _ = hand
    proof = build_schedules(data)["proof_of_revenue"].set_index("component")
    # hand: energy units = 12 x 333.333 + 11 x 1000 + 2600 = 3,999.996 + 13,600 = 17,599.996 kWh
    assert proof.loc["Energy", "billing_units"] == pytest.approx(17599.996, abs=1e-6)
    # units x price = 1,759.9996 -> $1,760.00; billed: M1 12 x round(33.3333) = 12 x 33.33 = 399.96, M2 1,360.00
    assert proof.loc["Energy", "present_revenue"] == 1760.00
    assert proof.loc[ROUNDING_LINE, "present_revenue"] == -0.04  # 1,759.96 billed less 1,760.00
    # proposed: 17,599.996 x 0.11 = 1,935.99956 -> 1,936.00; billed M1 12 x round(36.66663) = 440.04, M2 1,496.00
    assert proof.loc["Energy", "proposed_revenue"] == 1936.00
    assert proof.loc[ROUNDING_LINE, "proposed_revenue"] == 0.04
    assert proof.loc["Customer charge", "billing_units"] == 24 and proof.loc["Customer charge", "present_revenue"] == 240
    # totals: present 240 + 1,759.96 = 1,999.96; proposed 288 + 1,936.04 = 2,224.04
    assert round(proof["present_revenue"].sum(), 2) == 1999.96 and round(proof["proposed_revenue"].sum(), 2) == 2224.04
    assert proof.loc["Customer charge", "change_pct"] == pytest.approx(20.0)


def test_class_summary_and_mapping_cross_foot(hand):
    """The class summary's revenue equals the proof of revenue and the customers' bills; averages by hand."""
    data, _ = hand
    s = build_schedules(data)
    row = s["class_summary"].iloc[0]
    assert (row["customers"], row["bills"]) == (2, 24)
    assert row["present_revenue"] == 1999.96 and row["proposed_revenue"] == 2224.04
    assert row["present_average_bill"] == 83.33  # 1,999.96 / 24 = 83.3317
    assert row["present_cents_per_kwh"] == pytest.approx(199996 / 17599.996)
    assert s["rate_mapping"].iloc[0][["present_rate", "proposed_rate", "customers"]].tolist() == ["HAND", "HAND", 2]
    assert round(s["proof_of_revenue"]["present_revenue"].sum() * 100) == round(row["present_revenue"] * 100)


def test_bill_frequency_by_hand(hand):
    """Bills by kWh block and season (summer Jun-Sep); counts = bills, kWh = billed kWh; blocked kWh by hand."""
    data, _ = hand
    freq = build_schedules(data, blocks={"RES": [0, 500, 2000]})["bill_frequency"]
    winter = freq[freq["season"] == "winter"].set_index("block_low_kwh")
    summer = freq[freq["season"] == "summer"].set_index("block_low_kwh")
    # winter (8 months): M1 8 bills < 500, M2 8 bills in 500-2000
    assert winter["bills"].tolist() == [8, 8, 0]
    # summer (Jun-Sep): M1 4 bills < 500; M2 Jun, Aug, Sep 1000 -> 500-2000, July 2600 -> 2000 and above
    assert summer["bills"].tolist() == [4, 3, 1]
    assert summer.loc[2000.0, "kwh"] == 2600.0
    # kWh inside each block over the summer bills: block 0-500 holds 4 x 333.333 + 4 x 500 = 3,333.332
    assert summer.loc[0.0, "kwh_in_block"] == pytest.approx(3333.332)
    assert summer.loc[500.0, "kwh_in_block"] == pytest.approx(3 * 500 + 1500)  # 3 x (1000-500) + (2000-500)
    assert summer.loc[2000.0, "kwh_in_block"] == pytest.approx(600)
    assert freq["bills"].sum() == 24 and freq["kwh"].sum() == pytest.approx(17599.996)
    assert freq["kwh_in_block"].sum() == pytest.approx(17599.996)
    assert summer["cumulative_bills_pct"].iloc[-1] == 100.0 and summer["cumulative_bills_pct"].iloc[0] == 50.0


def test_typical_bills_and_impacts_by_hand(hand):
    """A 500 kWh typical bill: $10 + 500 x $0.10 = $60.00 present, $12 + $55 = $67.00 proposed; impacts banded."""
    data, _ = hand
    s = build_schedules(data, levels={"RES": [500]})
    typical = s["typical_bills"].set_index("level")
    assert typical.loc["500 kWh", ["present_bill", "proposed_bill", "change"]].tolist() == [60.0, 67.0, 7.0]
    assert typical.loc["500 kWh", "change_pct"] == pytest.approx(100 * 7 / 60)
    assert typical.loc["500 kWh", "usage_shape"] == "class average load shape"
    # P10 (nearest rank of 2 customers: the first) is M1: 12 x (10 + 33.33) = 519.96 a year, 43.33 a month
    assert typical.loc["P10 customer", "present_bill"] == 43.33 and typical.loc["P90 customer", "kwh"] == pytest.approx(
        (11 * 1000 + 2600) / 12)
    impacts = s["bill_impacts"]
    pct = impacts[impacts["measure"] == "percent"].set_index("band")
    # M1: 519.96 -> 12 x (12 + 36.67) = 584.04, +12.3%; M2: 1,480.00 -> 144 + 1,496 = 1,640.00, +10.8%: both in 10% to 20%
    assert pct.loc["10% to 20%", "customers"] == 2 and pct["customers"].sum() == 2
    dollars = impacts[impacts["measure"] == "dollars"].set_index("band")
    assert dollars.loc["$50 to $100", "customers"] == 1 and dollars.loc["$100 to $250", "customers"] == 1
    top = s["largest_increases"]
    assert top["meter"].tolist() == ["M2", "M1"] and top["change"].tolist() == [160.00, 64.08]


def test_cost_of_service_parity_by_hand(hand, tmp_path):
    """Parity = (class revenue / cost) / (total revenue / total cost); one class: 1.000; file checks."""
    data, _ = hand
    path = tmp_path / "cos.csv"
    path.write_text("class,allocated_cost,revenue,parity\nRES,2500.00,1999.96,0.8\n")
    cos = build_schedules(data, read_cost_of_service(path))["cost_of_service"].iloc[0]
    assert cos["present_revenue_to_cost"] == pytest.approx(1999.96 / 2500) and cos["present_parity"] == pytest.approx(1)
    path.write_text("class,cost\nRES,1\n")
    with pytest.raises(Exception, match="no column 'allocated_cost'"):
        read_cost_of_service(path)
    path.write_text("class,allocated_cost\nRES,-5\n")
    with pytest.raises(Exception, match="row 2, field allocated_cost"):
        read_cost_of_service(path)


def _formula_value(sheet, formula: str, row: int) -> float:
    """An independent evaluation of the two formula shapes the workbook writes (SUM of a range; IF/ratio)."""
    found = re.fullmatch(r"=SUM\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)", formula)
    if found:
        col, first, last = found.group(1), int(found.group(2)), int(found.group(4))
        return sum(float(sheet[f"{col}{r}"].value or 0) for r in range(first, last + 1))
    found = re.fullmatch(r'=IF\(([A-Z]+)(\d+)=0,"",([A-Z]+)(\d+)/([A-Z]+)(\d+)(?:\*([\d.]+))?\)', formula)
    assert found, formula
    num = _formula_value(sheet, sheet[f"{found.group(3)}{found.group(4)}"].value, row)
    den = _formula_value(sheet, sheet[f"{found.group(5)}{found.group(6)}"].value, row)
    return num / den * float(found.group(7) or 1)


def test_workbook_formulas_and_pdf(hand, tmp_path):
    """The workbook: a sheet per schedule, titles, frozen headers, totals as formulas whose values (computed
    here from the cells) equal the schedule's totals; the PDF: titles, totals and page numbers as text."""
    data, root = hand
    out = tmp_path / "out"
    out.mkdir()
    result = write_filing(root / "ty", root / "present", root / "proposed", out, levels={"RES": [500]})
    book = openpyxl.load_workbook(out / "filing.xlsx")
    assert book.sheetnames == [SCHEDULES[n].sheet for n in result["schedules"]] + ["Run"]
    for name, frame in result["schedules"].items():
        sheet = book[SCHEDULES[name].sheet]
        assert sheet["A1"].value.startswith("Hand Test Utility: ") and "test year 2025" in sheet["A1"].value
        assert sheet.freeze_panes == f"A{FIRST_DATA_ROW + 1}"
        headers = [c.value for c in sheet[HEADER_ROW + 1]]
        totals_row = FIRST_DATA_ROW + len(frame) + 1
        expected = schedule_totals(name, frame)
        for col in SCHEDULES[name].columns:
            if col.name not in expected:
                continue
            cell = sheet.cell(row=totals_row, column=headers.index(col.header) + 1)
            assert isinstance(cell.value, str) and cell.value.startswith(("=SUM(", "=IF("))
            assert _formula_value(sheet, cell.value, totals_row) == pytest.approx(expected[col.name], rel=1e-12)
        # values of the cells are the schedule's numbers
        for j, col in enumerate(c for c in SCHEDULES[name].columns if c.name in frame):
            value = frame[col.name].iloc[0]
            if col.kind != "text" and pd.notna(value):
                assert sheet.cell(row=FIRST_DATA_ROW + 1, column=j + 1).value == pytest.approx(float(value))
    proof_sheet = book["Proof of revenue"]
    assert _formula_value(proof_sheet, proof_sheet.cell(row=FIRST_DATA_ROW + 4, column=8).value, 0) == pytest.approx(
        1999.96)
    assert book["Class summary"].page_setup.orientation == "landscape"
    reader = PdfReader(out / "filing.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    for name in result["schedules"]:
        assert SCHEDULES[name].title in text
    assert "$1,999.96" in text and "$2,224.04" in text
    assert f"Page 1 of {len(reader.pages)}" in text and f"Page {len(reader.pages)} of {len(reader.pages)}" in text
    assert result["identity"]["present_book_sha256"][:12] in text


# -- against the real bill cycle and `workbench bill` (slow: a sample utility, a scan, a cycle, papermill) -------

@pytest.fixture(scope="module")
def utility(tmp_path_factory):
    from workbench.billing.cycle import run_cycle
    from workbench.design.proposal import Proposal

    root = tmp_path_factory.mktemp("filing")
    cube = root / "cube.zarr"
    generate_sample_utility(cube, n_meters=80, year=2025, meter_chunk=30, progress=False)
    run_cycle(cube, REPO / "tariffs", root / "cycle", progress=False)
    Proposal.from_book(REPO / "tariffs").scale("RES-FLAT", "Energy", 1.1).set_customer_charge("RES-TOU", 16.0) \
        .write(root / "proposed")
    assert main(["filing", "--cube", str(cube), "--test-year", "2025", "--present", str(REPO / "tariffs"),
                 "--proposed", str(root / "proposed"), "--out", str(root / "filing"), "--quiet"]) == 0
    return root


def _cycle_bills(root: Path, net_metering: bool = False) -> pd.DataFrame:
    """The cycle's bills of 2025: the customers on no program (``net_metering`` True: every bill, the net-metering
    customers' included; the filing's revenue counts them, settled under their programs)."""
    bills = pd.read_parquet(root / "cycle" / "bills.parquet")
    last = pd.to_datetime(bills["period_end"]) - pd.Timedelta(days=1)
    others = (bills["nem_program"] == "") & (bills["received_kwh"] == 0)
    bills = bills[(others | net_metering) & (last.dt.year == 2025)]
    return bills.assign(cents=np.rint(bills["total"] * 100).astype(np.int64))


@pytest.mark.slow
def test_filing_ties_to_the_cycle(utility):
    """Class summary = proof of revenue = the cycle's billed revenue of 2025 by class and rate, to the cent;
    bill frequency counts the cycle's bills and their kWh; the kept files are all there."""
    root = utility
    out = root / "filing"
    for name in ("filing.xlsx", "filing.pdf", "run.json", "puc_filing.ipynb", "class_summary.csv",
                 "proof_of_revenue.csv", "bill_frequency.csv", "typical_bills.csv", "bill_impacts.csv"):
        assert (out / name).is_file(), name
    bills = _cycle_bills(root)
    cycle = _cycle_bills(root, net_metering=True).groupby(["customer_class", "rate_code"])["cents"].sum()
    summary = pd.read_csv(out / "class_summary.csv").set_index(["class", "rate_code"])
    assert np.rint(summary["present_revenue"] * 100).astype(np.int64).to_dict() == {
        k: int(v) for k, v in cycle.to_dict().items()}
    proof = pd.read_csv(out / "proof_of_revenue.csv")
    by_rate = np.rint(proof.groupby(["class", "rate_code"])["present_revenue"].sum() * 100).astype(np.int64)
    assert by_rate.to_dict() == {k: int(v) for k, v in cycle.to_dict().items()}
    freq = pd.read_csv(out / "bill_frequency.csv")
    assert freq["bills"].sum() == len(bills)
    # the CSV keeps kWh to 3 decimals (for people): each row off by at most half a watt-hour
    assert freq["kwh"].sum() == pytest.approx(bills["delivered_kwh"].sum(), abs=0.0005 * len(freq) + 1e-6)
    for cls, group in bills.groupby("customer_class"):
        assert freq.loc[freq["class"] == cls, "bills"].sum() == len(group)
    # the net-metering customers' bills: in their own bill frequency, by class and program, as the cycle billed them
    every = _cycle_bills(root, net_metering=True)
    nem = every[every["nem_program"] != ""]
    assert len(nem) and len(nem) + len(bills) == len(every)
    nem_freq = pd.read_csv(out / "nem_bill_frequency.csv")
    assert nem_freq.groupby(["class", "program"])["bills"].sum().to_dict() == {
        k: len(g) for k, g in nem.groupby(["customer_class", "nem_program"])}
    assert nem_freq["kwh"].sum() == pytest.approx(nem["delivered_kwh"].sum(), abs=0.0005 * len(nem_freq) + 1e-6)
    assert nem_freq["received_kwh"].sum() == pytest.approx(nem["received_kwh"].sum(),
                                                           abs=0.0005 * len(nem_freq) + 1e-6)
    run = json.loads((out / "run.json").read_text())
    assert len(run["present_book_sha256"]) == 64 and run["code_version"].startswith("workbench ")


@pytest.mark.slow
def test_filing_folder_holds_only_the_documented_files(utility):
    """OUT holds the files docs/filing.md lists and the output marker, nothing else (no lock file of the
    determinants' scan); beside OUT only the filing's own lock (docs/outputs.md)."""
    out = utility / "filing"
    schedules = json.loads((out / "run.json").read_text())["schedules"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["filing.xlsx", "filing.pdf", "run.json", "puc_filing.ipynb", "determinants", ".workbench-output.json",
         *(f"{name}.csv" for name in schedules)])
    codes = json.loads((out / "determinants" / "identity.json").read_text())["rate_codes"]
    assert sorted(p.name for p in (out / "determinants").iterdir()) == sorted(
        ["identity.json", "excluded.csv", ".workbench-output.json", *(f"{code}.parquet" for code in codes)])
    beside = sorted(p.name for p in utility.iterdir() if p.name.startswith((".filing", ".staging")))
    assert beside == [".filing.lock", ".filing.lock.holder"]


def _hourly_csv(path: Path, monthly_kwh: float, zone: str = "America/New_York") -> None:
    """A year (2025, local) of hourly reads with ``monthly_kwh`` in every local calendar month, spread evenly."""
    local = pd.date_range("2025-01-01", "2026-01-01", freq="h", tz=zone, inclusive="left")
    hours = pd.Series(1, index=local).groupby(local.month).transform("size").to_numpy()
    utc = local.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp": utc, "delivered_kwh": monthly_kwh / hours}).to_csv(path, index=False)


@pytest.mark.slow
@pytest.mark.parametrize("code", ["RES-FLAT", "RES-TIER"])
def test_typical_bills_equal_workbench_bill(utility, tmp_path, code, capsys):
    """The typical bill at 750 kWh a month equals what `workbench bill` bills for a year of 750 kWh months."""
    root = utility
    typical = pd.read_csv(root / "filing" / "typical_bills.csv")
    row = typical[(typical["rate_code"] == code) & (typical["level"] == "750 kWh")].iloc[0]
    _hourly_csv(tmp_path / "reads.csv", 750.0)
    for book, column in ((REPO / "tariffs", "present_annual"), (root / "proposed", "proposed_annual")):
        capsys.readouterr()
        assert main(["bill", "--tariff", str(book / f"{code}.yaml"), "--intervals", str(tmp_path / "reads.csv"),
                     "--format", "json"]) == 0
        bills = json.loads(capsys.readouterr().out)["bills"]
        assert len(bills) == 12
        assert round(sum(round(b["total"] * 100) for b in bills)) == round(row[column] * 100)


@pytest.mark.slow
def test_refile_reuses_the_determinants(utility, tmp_path, capsys):
    """An edited proposal re-filed into the same folder re-prices the kept determinants without a new scan."""
    root = utility
    from workbench.design.proposal import Proposal

    shutil.rmtree(tmp_path / "p2", ignore_errors=True)
    Proposal.from_book(REPO / "tariffs").scale("GS-TOU-DEMAND", "Energy", 1.05).write(tmp_path / "p2")
    capsys.readouterr()
    assert main(["filing", "--cube", str(root / "cube.zarr"), "--test-year", "2025", "--present",
                 str(REPO / "tariffs"), "--proposed", str(tmp_path / "p2"), "--out", str(root / "filing"),
                 "--quiet"]) == 0
    assert "determinants reused" in capsys.readouterr().out
    summary = pd.read_csv(root / "filing" / "class_summary.csv").set_index("rate_code")
    assert summary.loc["GS-TOU-DEMAND", "change"] > 0 and summary.loc["RES-FLAT", "change"] == 0


@pytest.mark.notebook
def test_filing_notebook_parameters_contract():
    """`workbench filing` passes these parameters to notebooks/puc_filing.ipynb."""
    import papermill as pm

    params = pm.inspect_notebook(str(REPO / "notebooks" / "puc_filing.ipynb"))
    assert {"determinants", "present", "proposed", "cost_of_service", "basis", "utility", "out",
            "record_determinants"} <= set(params)


def test_the_cos_csv_of_design_cos_is_read_as_it_is(tmp_path):
    # the header and rows `workbench design cos` writes (docs/cost-of-service.md): total_cost is the allocated cost
    path = tmp_path / "cos.csv"
    path.write_text("class,production_demand,total_cost,revenue,revenue_minus_cost,revenue_to_cost,parity_ratio\n"
                    "RES,600.0,1000.0,1100.0,100.0,1.1,1.02\nSGS,300.0,500.0,500.0,0.0,1.0,0.93\n"
                    "TOTAL,900.0,1500.0,1600.0,100.0,1.0667,1.0\n")
    table = read_cost_of_service(path)
    assert list(table["class"]) == ["RES", "SGS"]
    assert list(table["allocated_cost"]) == [1000.0, 500.0]


def test_design_price_refuses_a_proposed_book_missing_a_code_before_pricing(tmp_path, capsys, monkeypatch):
    """`design price --proposed` a book without the determinants' rate code HAND: one line naming the code and
    the book, exit 2, before the present book is priced."""
    from workbench.design.scenarios import Study

    _book(tmp_path / "present", 10.0, 0.10)
    (tmp_path / "proposed").mkdir()
    (tmp_path / "proposed" / "OTHER.yaml").write_text(
        FLAT.format(customer=12.0, energy=0.11).replace("code: HAND", "code: OTHER"))
    folder = _hand_folder(tmp_path, {"M1": [333.333] * 12})

    def no_pricing(*args, **kwargs):
        raise AssertionError("priced before the proposed book was checked")

    monkeypatch.setattr(Study, "price", no_pricing)
    assert main(["design", "price", "--determinants", str(folder), "--proposed", str(tmp_path / "proposed"),
                 "--out", str(tmp_path / "scenario")]) == 2
    err = capsys.readouterr().err
    assert f"--proposed {tmp_path / 'proposed'}" in err and "'HAND'" in err
    assert not (tmp_path / "scenario").exists()
