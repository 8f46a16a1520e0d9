"""Cost-of-service allocation, revenue at present rates and the study file, on the hand-made cube of
tests/test_cos_allocators.py (class allocators: cp1 RES 201, SGS 3, LGS 5; customers 2, 1, 1; kWh 26478,
26277, 44580). Every expected amount below is worked out by hand in its comment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.hostile._cli import assert_refused, run_in_process
from tests.test_cos_allocators import hand_cube
from workbench.ami.cube import write_cube
from workbench.design.allocators import allocator_table, class_loads
from workbench.design.cos_study import StudyFileError, load_study
from workbench.design.cost_of_service import CostOfServiceError, allocate, class_table, largest_remainder
from workbench.design.present_revenue import present_revenue

STUDY = """\
name: hand study
functions:
  - {function: production, classification: demand, cost: 1000.00, allocator: cp1}
  - {function: production, classification: energy, cost: 0.01, allocator: kwh}
  - {function: customer, classification: customer, cost: 100.00, allocator: customers}
"""


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    ds = hand_cube()
    ds["received_kwh"][:] = 0  # no exporter: every meter bills on the flat tariff alone
    ds = ds.assign_coords(nem_program=("meter", np.array([""] * 4)), rate_code=("meter", np.array(["FLAT"] * 4)))
    return write_cube(ds, tmp_path_factory.mktemp("cos") / "cube.zarr")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book")
    (folder / "FLAT.yaml").write_text("""\
code: FLAT
name: Flat
timezone: America/Chicago
versions:
  - effective: 2024-01-01
    charges:
      - {type: customer, amount: 10.00, per: month}
      - {type: energy, rates: 0.10}
""")
    return folder


@pytest.fixture(scope="module")
def allocators(cube):
    return allocator_table(class_loads(cube, 2025))[0]


def test_largest_remainder_by_hand():
    # 100000 cents by 201:3:5 -> 96172.249, 1435.407, 2392.344: floors leave 1 cent, the largest fraction (SGS) gets it
    assert largest_remainder(100000, [201, 3, 5]).tolist() == [96172, 1436, 2392]
    assert largest_remainder(1, [2, 1, 1]).tolist() == [1, 0, 0]
    assert largest_remainder(2, [1, 1, 1]).tolist() == [1, 1, 0]  # ties: the class listed first


def test_allocation_cross_foots_and_matches_hand(tmp_path, allocators):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY)
    long = allocate(load_study(path), allocators)
    got = long.pivot(index="class", columns="label", values="allocated_cents")
    # classes sorted LGS, RES, SGS; cp1 LGS 5, RES 201, SGS 3 -> 2392, 96172, 1436 cents
    assert got.loc[["LGS", "RES", "SGS"], "production_demand"].tolist() == [2392, 96172, 1436]
    # one cent by kWh goes to the largest share (LGS, 44580 kWh)
    assert got.loc[["LGS", "RES", "SGS"], "production_energy"].tolist() == [1, 0, 0]
    assert got.loc[["LGS", "RES", "SGS"], "customer_customer"].tolist() == [2500, 5000, 2500]
    assert got.sum().tolist() == [10000, 100000, 1]  # every function cross-foots to the cent


def test_parity_ratio_by_hand(tmp_path, allocators):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY)
    study = load_study(path)
    table = class_table(study, allocate(study, allocators), {"RES": 100000, "SGS": 5000, "LGS": 6000}).set_index("class")
    # cost: LGS 23.92 + 0.01 + 25 = 48.93; RES 961.72 + 50 = 1011.72; SGS 14.36 + 25 = 39.36; total 1100.01
    assert table["total_cost"].to_dict() == pytest.approx({"LGS": 48.93, "RES": 1011.72, "SGS": 39.36, "TOTAL": 1100.01})
    assert table.loc["TOTAL", "revenue"] == pytest.approx(1110.00)
    system = 1110.00 / 1100.01
    assert table.loc["RES", "parity_ratio"] == pytest.approx((1000.00 / 1011.72) / system, rel=1e-12)
    assert table.loc["SGS", "parity_ratio"] == pytest.approx((50.00 / 39.36) / system, rel=1e-12)
    assert "rate_of_return" not in table  # no rate base given


def test_rate_of_return_by_hand(tmp_path, allocators):
    path = tmp_path / "study.csv"
    path.write_text("function,classification,cost,allocator,rate_base,return\n"
                    "customer,customer,400.00,customers,2000.00,100.00\n")
    study = load_study(path)
    table = class_table(study, allocate(study, allocators), {"RES": 30000, "SGS": 5000, "LGS": 10000}).set_index("class")
    # RES: cost 200, return 50, rate base 1000, revenue 300: (300 - 150) / 1000
    assert table.loc["RES", "rate_of_return"] == pytest.approx(0.15)
    # system: (450 - (400 - 100)) / 2000 = 0.075; LGS: cost 100, return 25, rate base 500: (100 - 75) / 500 = 0.05
    assert table.loc["LGS", "relative_rate_of_return"] == pytest.approx(0.05 / 0.075)


def test_revenue_at_present_rates_is_the_engines_monthly_bills(cube, book):
    revenue = present_revenue(cube, book, 2025).set_index("class")
    # 12 × $10 + $0.10 × kWh (the missing hour bills 0 and holds M2's July bill for review)
    assert revenue["revenue_cents"].to_dict() == {"RES": 2 * 12000 + 264780, "SGS": 12000 + 262770,
                                                  "LGS": 12000 + 445800}
    assert revenue["bills"].to_dict() == {"RES": 24, "SGS": 12, "LGS": 12}
    assert revenue.loc["RES", "bills_held"] == 1


def test_cos_command_writes_cross_footed_tables(cube, book, tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY)
    out = tmp_path / "cos"
    run = run_in_process(["design", "cos", "--cube", cube, "--test-year", "2025", "--study", study,
                          "--tariffs", book, "--out", out], capsys)
    assert run.status == 0, run.stderr
    table = pd.read_csv(out / "cos.csv").set_index("class")
    money = ["production_demand", "production_energy", "customer_customer", "total_cost", "revenue"]
    np.testing.assert_allclose(table.loc[["LGS", "RES", "SGS"], money].sum(), table.loc["TOTAL", money], atol=1e-9)
    assert table.loc["TOTAL", "revenue"] == pytest.approx(2887.80 + 2747.70 + 4578.00)
    assert "parity_ratio" in run.stdout and {p.name for p in out.iterdir()} >= {
        "cos.csv", "allocation.csv", "allocators.csv", "peaks.csv", "revenue.csv"}
    # CSVs for people (a new analyst read kwh 174728903.79805183): kWh and kW to 3 decimals, as every CSV for people
    for name in ("allocators.csv", "peaks.csv"):
        frame = pd.read_csv(out / name, dtype=str)
        for column in [c for c in frame.columns if c == "kwh" or c.endswith("_kw")]:
            assert frame[column].str.partition(".")[2].str.len().max() <= 3, (name, column, frame[column].tolist())


@pytest.mark.parametrize(("row", "fragments"), [
    ("{function: production, classification: demand, cost: 10, allocator: cp5}",
     ["functions[0]", "field 'allocator'", "unknown allocator 'cp5'"]),
    ("{function: production, classification: demand, cost: -10, allocator: cp4}",
     ["functions[0]", "field 'cost'", "negative"]),
    ("{classification: demand, cost: 10, allocator: cp4}", ["functions[0]", "field 'function' is missing"]),
    ("{function: production, classification: demand, cost: 10.001, allocator: cp4}", ["whole number of cents"]),
    ("{function: production, classification: demand, cost: .nan, allocator: cp4}", ["not a finite amount"]),
])
def test_a_bad_study_row_is_one_line_naming_the_field(tmp_path, row, fragments):
    path = tmp_path / "study.yaml"
    path.write_text(f"functions:\n  - {row}\n")
    with pytest.raises(StudyFileError) as caught:
        load_study(path)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_csv_study_names_the_row(tmp_path):
    path = tmp_path / "study.csv"
    path.write_text("function,classification,cost,allocator\nproduction,demand,10,cp4\n,energy,5,kwh\n")
    with pytest.raises(StudyFileError, match=r"row 3: field 'function' is missing"):
        load_study(path)


def test_a_negative_allocator_is_refused(tmp_path, allocators):
    path = tmp_path / "study.yaml"
    path.write_text("functions:\n  - {function: p, classification: d, cost: 5, allocator: cp1}\n")
    negative = allocators.assign(cp1_kw=[-1.0, 3.0, 4.0])
    with pytest.raises(CostOfServiceError, match=r"allocator cp1_kw is negative for class LGS"):
        allocate(load_study(path), negative)


def test_cos_command_refuses_a_bad_study_before_reading_intervals(cube, tmp_path, capsys):
    path = tmp_path / "study.yaml"
    path.write_text("functions:\n  - {function: p, classification: d, cost: 5, allocator: kwh_on_peak}\n")
    revenue = tmp_path / "revenue.csv"
    revenue.write_text("class,revenue\nRES,1\nSGS,1\nLGS,1\n")
    run = run_in_process(["design", "cos", "--cube", cube, "--test-year", "2025", "--study", path,
                          "--revenue", revenue, "--out", tmp_path / "out"], capsys)
    assert_refused(run, "functions[0]", "field 'allocator'", "kwh_<ToU period> with a --tou-tariff")
    assert not (tmp_path / "out").exists()
