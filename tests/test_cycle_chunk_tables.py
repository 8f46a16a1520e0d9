"""A chunk's bills and line items built once per chunk (workbench.billing.chunk_tables), and the two chunks read ahead.

The expected values come from the cube itself (each meter's id, account, class and rate code as written by the
sample generator) and from billing each rate code's meters of a chunk alone (one group: nothing to map or offset). Bugs each test catches, one line each:

- the group's meter rows not mapped to the chunk's rows (``rows[meter_row]`` written ``meter_row``: the bills of
  every group but the first carry other meters' ids): ``test_every_row_names_its_own_meter_and_tariff``;
- the line items' charge index not offset by the groups before it (every group's lines described with the first
  group's charges): ``test_a_group_billed_with_others_is_the_group_billed_alone``;
- the done-marker's counts taken from another group than its own: ``test_marker_counts_are_the_tables``;
- a table of one batch per group again (the resume part three times as costly to write):
  ``test_each_table_is_one_batch``;
- every chunk read at once instead of two ahead (memory no longer bounded), or two ahead of a year's 315 MB
  chunks (``// per_chunk`` dropped): ``test_at_most_two_chunks_read_ahead``.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import zarr

import workbench.billing.cycle as cycle_module
from workbench.ami.cube_schema import _as_unicode
from workbench.billing.chunk_data import read_task
from workbench.billing.cycle_chunk import bill_chunk
from workbench.billing.cycle_plan import plan_cycle

N_METERS, CHUNK = 60, 12  # the cycle_cube of tests/conftest.py: five chunks


@pytest.fixture(scope="module")
def cube(cycle_cube):
    return cycle_cube  # tests/conftest.py: 60 meters in five chunks, October-November 2025


@pytest.fixture(scope="module")
def billed(cube, tmp_path_factory):
    """Every chunk billed with its tables: (marker, tables) per chunk."""
    planned = plan_cycle(cube, "tariffs", tmp_path_factory.mktemp("run") / "out", period="2025-11")
    planned.plan.parts = str(tmp_path_factory.mktemp("parts"))
    return [bill_chunk(planned.plan, task, read_task(planned.plan, task), with_tables=True) for task in planned.tasks]


def _attributes(cube) -> dict[str, dict]:
    group = zarr.open_group(str(cube), mode="r")
    names = ("meter", "account", "customer_class", "rate_code")
    values = {name: [str(v) for v in _as_unicode(group[name][:])] for name in names}
    return {meter: {name: values[name][i] for name in names} for i, meter in enumerate(values["meter"])}


def test_every_row_names_its_own_meter_and_tariff(cube, billed):
    cube_meters = _attributes(cube)
    codes_seen = set()
    for _, tables in billed:
        bills = tables["bills"].to_pylist()
        codes_seen |= {bill["rate_code"] for bill in bills}
        for bill in bills:
            meter = cube_meters[bill["meter"]]
            assert (bill["account"], bill["customer_class"], bill["rate_code"]) == (
                meter["account"], meter["customer_class"], meter["rate_code"])
        billed_meters = {(b["meter"], b["period_start"]) for b in bills}
        assert {(line["meter"], line["period_start"]) for line in tables["line_items"].to_pylist()} <= billed_meters
    assert len(codes_seen) >= 3  # several groups per chunk, or the mapping was not put to the test


def test_a_group_billed_with_others_is_the_group_billed_alone(cube, tmp_path):
    """Each rate code's rows of a chunk billed whole equal that chunk billed with only that rate code's meters
    billable (one group: no row mapping, no charge offset, nothing from the other groups)."""
    planned = plan_cycle(cube, "tariffs", tmp_path / "out", period="2025-11")
    planned.plan.parts = str(tmp_path)
    task = planned.tasks[1]
    _, whole = bill_chunk(planned.plan, task, with_tables=True)
    codes = sorted(set(task.rate_code[task.billable]))
    assert len(codes) >= 3
    for code in codes:
        alone = dataclasses.replace(task, billable=task.billable & (task.rate_code == code))
        _, tables = bill_chunk(planned.plan, alone, with_tables=True)
        for name in ("bills", "line_items"):
            if name == "bills":
                keep = pc.equal(whole["bills"]["rate_code"], code)
            else:
                meters = pa.array(sorted(set(tables["bills"]["meter"].to_pylist())))
                keep = pc.is_in(whole["line_items"]["meter"], value_set=meters)
            assert whole[name].filter(keep).equals(tables[name]), (code, name)


def test_marker_counts_are_the_tables(billed):
    for marker, tables in billed:
        bills = tables["bills"].to_pandas()
        assert marker["bills"] == len(bills) == sum(g["bills"] for g in marker["groups"])
        assert marker["line_items"] == tables["line_items"].num_rows == sum(g["line_items"] for g in marker["groups"])
        for group in marker["groups"]:
            rows = bills[(bills["rate_code"] == group["rate_code"]) & (bills["nem_program"] == group["nem_program"])]
            assert group["bills"] == len(rows)
            assert group["revenue"] == pytest.approx(rows["total"].sum(), abs=1e-6)
            assert group["kwh"] == pytest.approx(rows["delivered_kwh"].sum(), rel=1e-12)
            assert group["bills_held"] == int((~rows["bill_ready"]).sum())


def test_each_table_is_one_batch(billed):
    for _, tables in billed:
        for table in tables.values():
            assert all(column.num_chunks == 1 for column in table.columns)


@pytest.mark.parametrize("budget, ahead", [(None, 2), (12 * 5860 * 9, 1)])
def test_at_most_two_chunks_read_ahead(cube, tmp_path, monkeypatch, budget, ahead):
    """Two chunks ahead; one when two would hold more interval data than READ_AHEAD_BYTES (here one chunk's worth:
    12 meters x 5,860 intervals x 9 bytes)."""
    if budget is not None:
        monkeypatch.setattr(cycle_module, "READ_AHEAD_BYTES", budget)
    real_read, real_bill = cycle_module.read_task, cycle_module.bill_chunk
    lock, state = threading.Lock(), {"read": 0, "billed": 0, "most": 0}

    def read(plan, task, early=None):
        data = real_read(plan, task, early)
        with lock:
            state["read"] += 1
        return data

    def bill(plan, task, data=None, **kw):
        time.sleep(0.1)  # time for every read already asked for to finish
        with lock:  # chunks read and not yet billed, this one included
            state["most"] = max(state["most"], state["read"] - state["billed"])
        result = real_bill(plan, task, data, **kw)
        with lock:
            state["billed"] += 1
        return result

    monkeypatch.setattr(cycle_module, "read_task", read)
    monkeypatch.setattr(cycle_module, "bill_chunk", bill)
    result = cycle_module.run_cycle(cube, "tariffs", tmp_path / "out", period="2025-11", progress=False)
    assert result.chunks == N_METERS // CHUNK and state["billed"] == 5
    assert state["most"] == 1 + ahead  # the chunk billed and those read ahead of it
    assert np.isfinite(result.revenue)
