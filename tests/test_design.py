"""Rate design: test-year determinants, scenarios and the revenue-requirement solve.

The money checks compare with independent references: the real ``workbench cycle`` over the same cube (its
bills.parquet, summed in integer cents) and hand calculations on a one-customer case.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests._fixtures import GOOD_TARIFF
from workbench.billing.cycle import run_cycle
from workbench.cli import main
from workbench.design.nem_revenue import NetMeteringStudy
from workbench.design.proposal import Proposal
from workbench.design.revreq import check_recovers, revenue_neutral, solve
from workbench.design.scenarios import NeedsRescan, Study, check_schedule, price_rate_code
from workbench.design.testyear_store import from_table, schedule_fingerprint
from workbench.design.testyear_store import schema as determinants_schema
from workbench.sample import generate_sample_utility
from workbench.tariffs import load_tariff, read_yaml, tariff_from_spec

REPO = Path(__file__).resolve().parents[1]

FLAT = """\
code: HAND
name: Hand-checked flat rate
timezone: America/New_York
versions:
  - effective: 2020-01-01
    charges:
      - {type: customer, description: Customer charge, amount: 10.00, per: month}
      - {type: energy, description: Energy, rates: 0.10}
"""


def _one_meter(periods):
    """A determinants table of one meter: periods as (start, end, nominal_days, kwh)."""
    n = len(periods)
    cols = {"meter": ["M1"] * n, "account": ["A1"] * n, "customer_class": ["RES"] * n, "cycle": np.ones(n, np.int16),
            "period_no": np.arange(n, dtype=np.int16),
            "period_start": [dt.date.fromisoformat(p[0]) for p in periods],
            "period_end": [dt.date.fromisoformat(p[1]) for p in periods],
            "nominal_days": np.array([p[2] for p in periods], np.int16)}
    days = np.array([(dt.date.fromisoformat(p[1]) - dt.date.fromisoformat(p[0])).days for p in periods])
    first, end = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
    inside = [max(0, (min(dt.date.fromisoformat(p[1]), end) - max(dt.date.fromisoformat(p[0]), first)).days) for p in periods]
    last_day = [dt.date.fromisoformat(p[1]) - dt.timedelta(days=1) for p in periods]
    cols.update(days=days.astype(np.int16), test_year_days=np.array(inside, np.int16),
                billed=np.array([first <= d < end for d in last_day]), energy_kwh_0=[p[3] for p in periods],
                received_kwh_0=np.zeros(n), peak_kw=np.zeros(n), cp_kw=np.zeros(n), rtp_cost=np.zeros(n),
                intervals=np.zeros(n, np.int32), missing_intervals=np.zeros(n, np.int32),
                estimated_intervals=np.zeros(n, np.int32))
    return from_table("HAND", pa.table(cols, schema=schedule_schema()), 1, 0)


def schedule_schema():
    return determinants_schema(1, 0)


def test_calendarized_by_hand():
    """A read-cycle bill straddling 1 January counts its days in the test year, each line rounded to the cent."""
    tariff = tariff_from_spec(read_yaml(FLAT))
    rcd = _one_meter([("2024-12-15", "2025-01-15", 31, 310.0), ("2025-12-16", "2026-01-16", 31, 620.0)])
    cal = price_rate_code(tariff, rcd, "calendarized").customers()
    # hand: period 1 has 14 of its 31 days in 2025: customer 10.00 x 14/31 = 4.516 -> 4.52, energy 31.00 x 14/31
    # = 14.00; period 2 has 16 of 31: 10.00 x 16/31 = 5.161 -> 5.16, energy 62.00 x 16/31 = 32.00
    assert cal["annual_bill"].iloc[0] == pytest.approx(4.52 + 14.00 + 5.16 + 32.00, abs=1e-9)
    billed = price_rate_code(tariff, rcd, "billed").customers()
    # billed: only the bill ending in 2025 (the first), in full: 10.00 + 31.00
    assert billed["annual_bill"].iloc[0] == pytest.approx(41.00, abs=1e-9)
    assert billed["bills"].iloc[0] == 1 and cal["bills"].iloc[0] == 2


def test_components_carry_units_and_prices():
    """Each component line has its billing units, unit, price and revenue; the lines add up to the bills."""
    tariff = tariff_from_spec(read_yaml(FLAT))
    rcd = _one_meter([("2025-01-01", "2025-02-01", 31, 500.0), ("2025-02-01", "2025-03-01", 28, 250.0)])
    priced = price_rate_code(tariff, rcd, "billed")
    comp = priced.components().set_index("line")
    assert comp.loc["Energy", "billing_units"] == 750.0 and comp.loc["Energy", "unit"] == "kWh"
    assert comp.loc["Energy", "price"] == 0.10 and comp.loc["Energy", "revenue"] == 75.00  # hand: 750 x 0.10
    assert comp.loc["Customer charge", "billing_units"] == 2.0 and comp.loc["Customer charge", "revenue"] == 20.00
    assert round(comp["revenue"].sum() * 100) == priced.total_cents() == 9500


def test_proposal_round_trips_to_yaml(tmp_path):
    """An edited tariff written to YAML loads (workbench.tariffs) with the same prices as the edit compiled."""
    book = tmp_path / "book"
    book.mkdir()
    (book / "TEST.yaml").write_text(GOOD_TARIFF)
    prop = (Proposal.from_book(book).scale("TEST", "Energy", 1.0731).set_customer_charge("TEST", 12.34)
            .add_block("TEST", "Energy", 2000, 0.41))
    compiled = prop.compile()["TEST"]
    prop.write(tmp_path / "out")
    loaded = load_tariff(tmp_path / "out" / "TEST.yaml")
    for a, b in zip(compiled.versions[0].charges, loaded.versions[0].charges, strict=True):
        assert np.array_equal(np.asarray(a.rates), np.asarray(b.rates))
    energy = loaded.versions[0].charges[1]
    assert energy.rates.shape[1] == 4  # a fourth block
    assert energy.rates[0, 0] == 0.10 * 1.0731 and energy.rates[0, 3] == 0.41
    assert loaded.versions[0].charges[0].spec.amount == 12.34


def test_tou_change_needs_rescan(tmp_path):
    """A proposed change of ToU hours or seasons: refused, 'needs a re-scan', in one line."""
    present = tariff_from_spec(read_yaml(GOOD_TARIFF))
    identity = {"rate_codes": {"TEST": {"schedule": schedule_fingerprint(present)}}}
    check_schedule(identity, present)  # prices only: fine
    data = read_yaml(GOOD_TARIFF)
    data["time_of_use"]["periods"]["on_peak"][0]["hours"] = "15:00-19:00"
    data["time_of_use"]["periods"]["off_peak"][0]["hours"] = ["00:00-15:00", "19:00-24:00"]
    with pytest.raises(NeedsRescan, match="needs a re-scan") as info:
        check_schedule(identity, tariff_from_spec(data))
    assert "\n" not in str(info.value)
    data = read_yaml(GOOD_TARIFF)
    data["seasons"] = {"summer": [5, 6, 7, 8, 9], "winter": [1, 2, 3, 4, 10, 11, 12]}
    with pytest.raises(NeedsRescan, match="needs a re-scan"):
        check_schedule(identity, tariff_from_spec(data))


# -- against the real bill cycle (slow: a sample utility, a scan and cycles) ------------------------------------

@pytest.fixture(scope="module")
def utility(tmp_path_factory):
    root = tmp_path_factory.mktemp("design")
    cube = root / "cube.zarr"
    generate_sample_utility(cube, n_meters=80, year=2025, meter_chunk=30, progress=False)
    assert main(["design", "determinants", "--cube", str(cube), "--tariffs", str(REPO / "tariffs"), "--test-year",
                 "2025", "--out", str(root / "ty"), "--quiet"]) == 0
    cycle = run_cycle(cube, REPO / "tariffs", root / "cycle", progress=False)
    return root, cube, cycle


def _cycle_cents(folder, classes=None):
    bills = pd.read_parquet(Path(folder) / "bills.parquet")
    bills = bills[bills["nem_program"] == ""]
    if classes:
        bills = bills[bills["customer_class"].isin(classes)]
    bills["cents"] = np.rint(bills["total"] * 100).astype(np.int64)
    return bills.groupby(["customer_class", "rate_code"])["cents"].sum()


@pytest.mark.slow
def test_present_revenue_equals_the_cycle(utility):
    """Revenue at present rates = the sum of `workbench cycle`'s bills, by class and rate, to the cent."""
    root, _, _ = utility
    study = Study(root / "ty")
    priced = study.price(study.present_book(), "present")
    rev = priced.revenue().set_index(["customer_class", "rate_code"])
    ours = np.rint(rev["revenue"] * 100).astype(np.int64)
    theirs = _cycle_cents(root / "cycle")
    assert ours.sort_index().to_dict() == theirs.sort_index().to_dict()
    # cross-foot: components, customers and the revenue table are the same cents
    comp = priced.components()
    assert int(np.rint(comp["revenue"] * 100).sum()) == priced.total_cents() == int(ours.sum())
    assert int(np.rint(priced.customers()["annual_bill"] * 100).sum()) == priced.total_cents()
    # no meter is left out: the cycle's NEM customers are kept, and settled under their programs they bill what
    # the cycle bills them (tests/test_design_nem.py checks them by hand)
    assert pd.read_csv(root / "ty" / "excluded.csv").empty
    nem = NetMeteringStudy(root / "ty").price(study.present_book(), study.tariffs_dir, "present").revenue()
    bills = pd.read_parquet(root / "cycle" / "bills.parquet")
    bills = bills[bills["nem_program"] != ""]
    cycle_nem = np.rint(bills["total"] * 100).astype(np.int64).groupby(
        [bills["customer_class"], bills["rate_code"], bills["nem_program"]]).sum()
    assert len(nem) and np.rint(nem.set_index(["customer_class", "rate_code", "nem_program"])["revenue"] * 100
                                ).astype(np.int64).to_dict() == cycle_nem.to_dict()


@pytest.mark.slow
def test_solved_proposal_bills_the_requirement(utility, tmp_path):
    """A tariff solved for a revenue requirement, written to YAML and billed by `workbench cycle`, bills exactly
    the required revenue (the issue's 'done when')."""
    root, cube, _ = utility
    requirement = 123_456.78
    assert main(["design", "solve", "--determinants", str(root / "ty"), "--class", "RES", "--requirement",
                 str(requirement), "--charge", "RES-FLAT:Energy", "--charge", "RES-TIER:Energy", "--charge",
                 "RES-TOU:Energy", "--out", str(tmp_path / "book")]) == 0
    solution = pd.read_json(tmp_path / "book" / "solution.json", typ="series")
    assert solution["unrounded"]["residual"] == 0.0
    # the written book has its prices rounded ($/kWh to 5 decimals): the cycle bills the requirement plus the
    # difference the solve reported for the rounded book, to the cent
    assert abs(solution["difference"]) < 0.001 * requirement
    cycle = run_cycle(cube, tmp_path / "book", tmp_path / "cycle", progress=False)
    assert cycle.bills > 0
    assert int(_cycle_cents(tmp_path / "cycle", ["RES"]).sum()) == round((requirement + solution["difference"]) * 100)


@pytest.mark.slow
def test_revenue_neutral_and_check(utility):
    """Raising the customer charge and solving energy keeps the class's revenue; the check confirms it."""
    root, _, _ = utility
    study = Study(root / "ty", classes=["SGS"])
    before = study.price(study.present_book(), "present").total_cents()
    sol = revenue_neutral(study, ("GS-TOU-DEMAND", "Customer charge"), 50.0, [("GS-TOU-DEMAND", "Energy")])
    assert sol.residual == 0.0 and round(sol.revenue * 100) == before
    assert sol.x < 1.0  # energy falls as the customer charge rises
    book = sol.proposal.compile()
    assert check_recovers(study, book, before / 100.0, ["GS-TOU-DEMAND"]) == (True, 0.0)
    # a price rounded to 4 decimals: the residual says what the rounding costs, and is what the engine bills
    rounded = solve(study, 300_000.0, [("GS-TOU-DEMAND", "Energy")], how="scale", decimals=4)
    recovers, residual = check_recovers(study, rounded.proposal.compile(), 300_000.0, ["GS-TOU-DEMAND"])
    assert residual == rounded.residual and round(rounded.x, 4) == rounded.x


@pytest.mark.slow
def test_cli_price_writes_tidy_tables(utility, tmp_path):
    """`workbench design price` with a proposed book writes revenue, components and customers with the change."""
    root, _, _ = utility
    book = tmp_path / "book"
    Proposal.from_book(REPO / "tariffs").scale("RES-FLAT", "Energy", 1.1).write(book)
    shutil.rmtree(tmp_path / "sc", ignore_errors=True)
    assert main(["design", "price", "--determinants", str(root / "ty"), "--proposed", str(book), "--class", "RES",
                 "--out", str(tmp_path / "sc")]) == 0
    rev = pd.read_csv(tmp_path / "sc" / "revenue.csv").set_index("rate_code")
    assert rev.loc["RES-TIER", "change"] == 0 and rev.loc["RES-FLAT", "change"] > 0
    cust = pd.read_csv(tmp_path / "sc" / "customers.csv")
    assert round(cust["change"].sum(), 2) == round(rev["change"].sum(), 2)
