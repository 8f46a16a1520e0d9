"""Test-year determinants: every customer's billing units for a 12-month test year, scanned once and kept.

:func:`build_test_year` plans the run as the bill cycle does (:func:`workbench.billing.cycle_plan.plan_cycle`:
the same tariff book, schedules, read-cycle bill periods and held meters), reads the cube one meter chunk at a
time (memory bounded by the chunk), runs the engine's numba scan on each rate code's meters and appends their
(meter, bill period) determinants to ``<RATE-CODE>.parquet``; nothing of the interval data is kept. Later
scenarios only re-price these files (:mod:`workbench.design.scenarios`), which is why a change of ToU hours or
seasons, which would need other determinants, is refused there.

Two bases, both kept (the identity records which one the study asked for; either can be priced):

- ``billed``: the bills whose period ends in the test year's twelve months, exactly the bills that
  ``workbench cycle --period YYYY-01`` ... ``--period YYYY-12`` bill, at their full amounts;
- ``calendarized``: every bill period that overlaps the test year, each line item weighted by the share of
  the period's days inside the year (``test_year_days / days``) and rounded to the cent; a read-cycle bill
  straddling 1 January thus counts its January days in this year and its December days in the last.

Net-metering customers (a ``nem_program`` on the meter) are kept in their rate code's file with their
program and settlement inputs; their bills settle credits across bills under the program, so the study prices
them apart (:mod:`workbench.design.nem_revenue`). ``excluded.csv`` lists the meters the cycle would hold (a
rate code or program not in the book; energy received but no program), each with the reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from workbench.billing.chunk_data import read_chunk
from workbench.billing.cube_source import cube_changed, is_url
from workbench.billing.cycle_chunk import ChunkTask, CyclePlan, _hourly_netted, _scan
from workbench.billing.cycle_plan import plan_cycle
from workbench.billing.distributed import cluster_client
from workbench.calendar.periods import BillPeriods, periods_from_rows
from workbench.design.testyear_store import (
    BASES,
    IDENTITY,
    KIND,
    book_checksum,
    chunk_table,
    schedule_fingerprint,
    schema,
)
from workbench.errors import CubeError, WorkbenchError
from workbench.nem.true_up import ASSUMED_MONTH, split_review
from workbench.outputs import atomic_write_text, check_output_dir
from workbench.outputs.checksums import file_sha256
from workbench.outputs.guard import staged_output

EXCLUDED_COLUMNS = ["meter", "account", "rate_code", "reason"]


def scan_chunk(plan: CyclePlan, task: ChunkTask, test_year: int) -> dict:
    """Determinants of one meter chunk: ``{"tables": {rate code: pa.Table}, "excluded": [rows]}``.

    A net-metering customer is scanned as the cycle scans it for its program (hourly netting first where the
    program nets hourly; each exported kWh valued at the program's export values of its vintage) and its rows
    carry the program, PTO date, true-up month and opening bank, so that its bills can be settled again under
    any book (:mod:`workbench.design.nem_revenue`)."""
    excluded = []
    parts: dict[str, list] = {}
    idx = np.flatnonzero(task.billable)
    if not len(idx):
        return {"tables": {}, "excluded": excluded}
    data = read_chunk(plan.cube, task.start, task.stop, task.meter)
    block = {name: values[idx] for name, values in data.items() if name != "implausible"}
    del data
    nem = task.nem_program[idx].astype(str)
    exported = (np.nansum(block["received_kwh"], axis=1) > 0) & (nem == "")
    for i in np.flatnonzero(exported):
        excluded.append({"meter": str(task.meter[idx[i]]), "account": str(task.account[idx[i]]),
                         "rate_code": str(task.rate_code[idx[i]]), "reason": "received energy from the customer but "
                         "the account is on no net-metering program (the cycle holds it)"})
    periods_all = periods_from_rows([plan.cycle_rows[int(c)] for c in task.cycle[idx]], plan.local_day)
    codes = task.rate_code[idx].astype(str)
    pto, true_up = task.pto[idx].astype(str), task.true_up[idx].astype(int)
    opening = {name: (np.zeros(len(idx)) if getattr(task, name) is None else getattr(task, name)[idx].astype(float))
               for name in ("opening_credit", "opening_kwh")}
    # the cycle's groups: a rate code, a program (or none), a PTO date and a true-up month
    groups = sorted(set(zip(codes[~exported], nem[~exported], pto[~exported], true_up[~exported], strict=True)))
    for code, program_code, pto_date, month in groups:
        rows = np.flatnonzero((codes == code) & (nem == program_code) & (pto == pto_date) & (true_up == month)
                              & ~exported)
        tariff = plan.book[code]
        periods = BillPeriods(periods_all.start[rows], periods_all.end[rows], periods_all.nominal_days[rows],
                              periods_all.bounds[rows])
        sub = {name: values[rows] for name, values in block.items()}
        meta = {"meter": task.meter[idx][rows], "account": task.account[idx][rows],
                "customer_class": task.customer_class[idx][rows], "cycle": task.cycle[idx][rows]}
        if program_code:
            program = plan.programs[program_code]
            price_array = plan.export_prices[(code, program_code, pto_date)]
            if program.netting_interval == "hourly":
                sub = _hourly_netted(sub, plan.utc, plan.step)
            det = _scan(sub, tariff, periods, plan.schedules[code], export_price=price_array,
                        parallel=plan.parallel_scan)
            if price_array is None:
                det.export_credit = None
            meta.update(nem_program=nem[rows], pto_date=pto[rows], true_up_month=true_up[rows],
                        opening_credit=opening["opening_credit"][rows], opening_kwh=opening["opening_kwh"][rows])
        else:
            det = _scan(sub, tariff, periods, plan.schedules[code], parallel=plan.parallel_scan)
            det.export_credit = None
        parts.setdefault(code, []).append(chunk_table(meta, periods, det, test_year, tariff.n_demand_buckets))
    return {"tables": {code: pa.concat_tables(tables) for code, tables in parts.items()}, "excluded": excluded}


def build_test_year(cube, tariffs_dir, test_year: int, out, *, basis: str = "billed", chunk_meters=None,
                    scheduler=None, workers=None, progress: bool = True, enrollments=None) -> dict:
    """Scan the cube once for the test year ``test_year`` and keep the determinants in ``out``; returns the identity.

    ``scheduler``: None (this process), ``"local"`` or a dask scheduler address, as for the cycle.
    ``enrollments``: an enrollment file (docs/net-metering.md), read as ``workbench cycle --enrollments`` reads it
    without ``--period``: each listed account's program, PTO date, true-up month and opening bank on the cube's
    last day (recorded in the identity with its sha256).
    ``out`` must be new, empty or an earlier determinants folder (it is replaced as a whole, atomically).
    """
    started = time.perf_counter()
    if basis not in BASES:
        raise WorkbenchError(f"--basis {basis!r}: expected one of {', '.join(BASES)}")
    out = Path(out)
    check_output_dir(out, KIND)  # refused before anything is read
    planned = plan_cycle(cube, tariffs_dir, out, enrollments=enrollments)
    plan, tasks = planned.plan, planned.tasks
    local_day = plan.local_day
    first, last = np.datetime64(int(local_day[0]), "D"), np.datetime64(int(local_day[-1]), "D")
    year_first, year_last = np.datetime64(f"{test_year}-01-01", "D"), np.datetime64(f"{test_year}-12-31", "D")
    if first > year_first or last < year_last:
        raise WorkbenchError(f"--test-year {test_year}: the cube {cube} covers {first} to {last}; a test year needs "
                             f"all twelve months ({year_first} to {year_last}) in the cube")
    excluded = list(planned.exceptions)
    counts: dict[str, dict] = {}

    def check(path: Path) -> bool:
        check_output_dir(path, KIND)
        return False

    with staged_output(out, KIND, check) as tmp:
        writers: dict[str, pq.ParquetWriter] = {}
        try:
            for result in _results(plan, tasks, test_year, scheduler, workers, progress):
                excluded += result["excluded"]
                for code, table in result["tables"].items():
                    tariff = plan.book[code]
                    if code not in writers:
                        writers[code] = pq.ParquetWriter(tmp / f"{code}.parquet",
                                                         schema(tariff.n_energy_buckets, tariff.n_demand_buckets,
                                                                net_metering=True),
                                                         compression="zstd")
                    writers[code].write_table(table)
                    agg = counts.setdefault(code, {"rows": 0, "billed_bills": 0, "net_metering_meters": {}})
                    agg["rows"] += table.num_rows
                    agg["billed_bills"] += int(table.column("billed").to_numpy(zero_copy_only=False).sum())
                    nem = table.select(["meter", "nem_program"]).to_pandas().drop_duplicates("meter")
                    for program, n in nem.loc[nem["nem_program"] != "", "nem_program"].value_counts().items():
                        agg["net_metering_meters"][program] = agg["net_metering_meters"].get(program, 0) + int(n)
        finally:
            for writer in writers.values():
                writer.close()
        if cube_changed(cube, planned.cube_state):
            raise CubeError(f"{cube}: the cube changed during the scan (an ingest or VEE wrote it); run it again")
        pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS).to_csv(tmp / "excluded.csv", index=False)
        unopened, assumed = split_review(planned.review)
        identity = {
            "kind": KIND, "test_year": int(test_year), "basis": basis,
            "cube": str(cube) if is_url(cube) else str(Path(cube).resolve()),  # found from anywhere, like the book
            "cube_version": planned.cube_state, "tariffs": str(Path(tariffs_dir).resolve()),  # found from anywhere
            "tariff_book_sha256": book_checksum(tariffs_dir),
            "meters_in": planned.meters_in, "meters_excluded": len(excluded),
            # the enrollment file the net-metering customers were scanned with (None: the cube's nem_program)
            "enrollments": None if enrollments is None else str(Path(enrollments).resolve()),
            "enrollments_sha256": None if enrollments is None else file_sha256(enrollments),
            "no_opening_bank_meters": len(unopened),  # enrolled before the cube, no opening bank given: 0
            # anniversary true-up with no PTO date: settled in the assumed month (workbench.nem.true_up)
            "true_up_assumed_meters": len(assumed), "true_up_assumed_month": ASSUMED_MONTH,
            "rate_codes": {code: {"file": f"{code}.parquet", **counts[code],
                                  "energy_buckets": [plan.book[code].energy_bucket_label(e) or "all"
                                                     for e in range(plan.book[code].n_energy_buckets)],
                                  "demand_buckets": [plan.book[code].demand_bucket_label(d) or "all"
                                                     for d in range(plan.book[code].n_demand_buckets)],
                                  "schedule": schedule_fingerprint(plan.book[code])}
                           for code in sorted(counts)},
            "seconds": round(time.perf_counter() - started, 3),
        }
        atomic_write_text(tmp / IDENTITY, json.dumps(identity, indent=1, default=str))
    return identity


def _results(plan, tasks, test_year, scheduler, workers, progress):
    """Each chunk's result, in chunk order (so the files are the same however the scan ran)."""
    if scheduler is None:
        for task in tqdm(tasks, desc="Scanning meter chunks", unit="chunk", disable=not progress):
            yield scan_chunk(plan, task, test_year)
        return
    plan.parallel_scan = False  # the workers are the parallelism
    with cluster_client(scheduler, workers) as client:
        futures = client.map(scan_chunk, [plan] * len(tasks), tasks, [test_year] * len(tasks), pure=False)
        for future in tqdm(futures, desc="Scanning meter chunks", unit="chunk", disable=not progress):
            yield future.result()
            future.release()
