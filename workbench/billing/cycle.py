"""Bill a whole utility (or some bill cycles) from the interval cube, one meter chunk at a time.

A run has four steps:

1. **plan** (:func:`plan_cycle`): the tariff book, programs, per-interval schedules, which meters are held
   (a rate code or program not in the book) and the list of meter chunks to bill;
2. **bill each chunk** (:func:`workbench.billing.cycle_chunk.bill_chunk`): read the chunk from Zarr, scan,
   price, write its tables and a done-marker into the run's partial folder. Memory is bounded by the chunk,
   not the utility;
3. **execute** the chunks in this process (default) or on a dask cluster (``scheduler="local"`` for a
   ``LocalCluster`` of ``workers`` processes, or a scheduler address ``tcp://host:8786``, or a
   ``distributed.Client``); see :mod:`workbench.billing.distributed`;
4. **assemble** the chunks, in chunk order, into the outputs and move them into place.

Outputs, in ``out/`` (staged beside it and renamed into place only when complete, so a failed run never
leaves half-written results there; ``out`` must be new, empty or an earlier output of this command, is locked
for the run, and another run's bills are replaced only with ``replace=True``: docs/outputs.md,
:mod:`workbench.billing.cycle_output`):

- ``bills.parquet``: one row per meter and bill period (dates, days, kWh, kW, total, estimated flags)
- ``line_items.parquet``: one row per line item (description, category, quantity, unit, rate, amount)
- ``exceptions.csv``: meters held, with the reason (e.g. a rate code not in the tariff book)
- ``summary.csv``: bills, kWh and revenue by rate code
- ``run.json``: the run's parameters and its accounting (meters in = billed + held)

Resuming: finished chunks are kept in ``.<out>.partial-<key>/`` beside ``out`` (``key`` hashes the run's
inputs, see :mod:`workbench.billing.run_store`) until the run completes. Running the same command again
after an interruption, a crash or a lost worker bills only the chunks not yet done; ``fresh=True`` starts
over; a kept chunk whose files cannot be read is billed again (a note on stderr names it). The result is the
same, bit for bit, however the run was split, resumed or distributed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from workbench.ami.cube_calendar import cube_local_days, cube_time
from workbench.billing.cube_source import CHANGED_MESSAGE, begin_cube_read, cube_changed, open_run_cube
from workbench.billing.cycle_chunk import SCHEMAS, ChunkTask, CyclePlan, bill_chunk, program_export_price
from workbench.billing.cycle_output import (
    KIND,
    check_cycle_out,
    put_in_place,
    refuse_unsafe_out,
    run_identity,
)
from workbench.billing.distributed import bill_chunks_on_cluster
from workbench.billing.run_store import RunStore, UnreadableChunk, run_key
from workbench.calendar.periods import read_date_periods
from workbench.engine.determinants import schedule_arrays
from workbench.errors import BillingError, CubeError, WorkbenchError
from workbench.nem import load_programs
from workbench.nem.enrollments import load_enrollments
from workbench.outputs import atomic_write_text, remove_staging, staging_dir
from workbench.outputs.guard import clean_stale_staging, output_lock, write_error
from workbench.tariffs import load_tariff_book
from workbench.vee import load_config as load_vee_config


@dataclass
class CycleResult:
    out: Path
    meters_in: int
    meters_billed: int
    meters_held: int
    bills: int
    line_items: int
    revenue: float
    seconds: float
    summary: pd.DataFrame = field(repr=False, default=None)
    chunks: int = 0
    chunks_resumed: int = 0
    scheduler: str = "in-process"
    bills_held: int = 0  # bills computed but not bill-ready (VEE verdict), held for review

    def summary_text(self) -> str:
        lines = [f"Billed {self.meters_billed:,} of {self.meters_in:,} meters "
                 f"({self.meters_held:,} held as exceptions) in {self.seconds:.1f} s",
                 f"{self.bills:,} bills, {self.line_items:,} line items, revenue ${self.revenue:,.2f}"]
        if self.bills_held:
            lines.append(f"{self.bills_held:,} bills held for review: not bill-ready (too many estimated or missing "
                         "intervals; bills.parquet bill_ready / hold_reason)")
        if self.chunks_resumed:
            lines.append(f"resumed: {self.chunks_resumed:,} of {self.chunks:,} meter chunks were billed by an "
                         "earlier, interrupted run of the same inputs")
        lines.append("")
        if self.summary is not None and len(self.summary):
            table = self.summary.copy()
            table["kwh"] = table["kwh"].map("{:,.0f}".format)
            table["revenue"] = table["revenue"].map("${:,.2f}".format)
            table["average_bill"] = table["average_bill"].map("${:,.2f}".format)
            lines.append(table.to_string(index=False))
            lines.append("")
        lines.append(f"Outputs in {self.out}/: bills.parquet, line_items.parquet, summary.csv, exceptions.csv, run.json")
        return "\n".join(lines)


@dataclass
class CyclePlanned:
    """A planned run: the shared plan, the chunks to bill, and the meters held before any chunk is read."""

    plan: CyclePlan
    tasks: list[ChunkTask]
    exceptions: list[dict]
    meters_in: int
    meters_billable: int
    key: str
    inputs: dict
    cube_state: dict | None = None  # the cube's version when planned (begin_cube_read)


def plan_cycle(cube, tariffs_dir, out, *, cycles=None, period=None, chunk_meters=None, enrollments=None,
               vee_config=None) -> CyclePlanned:
    """Plan the billing of cycles ``cycles`` (None: all) of ``cube`` under the tariff book ``tariffs_dir``.

    ``enrollments``: an enrollment file (``workbench.nem.enrollments``); each listed account is billed under the
    program its history gives on the run's last day (the end of ``period``, else the cube's last day), with its
    own PTO date (export-value vintage, anniversary true-up) and true-up month. Accounts not in the file keep the
    cube's ``nem_program``. ``vee_config``: a site VEE configuration file whose bill-ready rule holds bills
    (default: ``workbench/vee/defaults.yaml``).
    """
    if period is not None:
        try:
            np.datetime64(period, "M")
        except ValueError:
            raise BillingError(f"--period {period!r}: expected a month like 2025-11") from None
    cube_state = begin_cube_read(cube)  # refuses while an ingest or VEE writes the cube
    ds = open_run_cube(cube)
    book = load_tariff_book(tariffs_dir)
    utc, step = cube_time(ds)
    local_day = cube_local_days(ds)
    cycle_of = ds["cycle"].values.astype(int)
    n_meters = ds.sizes["meter"]
    selected = np.ones(n_meters, bool) if cycles is None else np.isin(cycle_of, cycles)
    if cycles is not None:
        unknown = sorted(set(cycles) - set(cycle_of.tolist()))
        if unknown:
            raise BillingError(f"cycle(s) {unknown} have no meters in {cube}; cycles present: {sorted(set(cycle_of.tolist()))}")
    meters = ds["meter"].values
    accounts = ds["account"].values
    rate_codes = ds["rate_code"].values.astype(str)
    nem_codes = ds["nem_program"].values.astype(str)
    programs_dir = Path(tariffs_dir) / "programs"
    programs = load_programs(programs_dir) if programs_dir.exists() else {}
    pto = np.full(n_meters, "", dtype=object)
    true_up = np.zeros(n_meters, dtype=int)
    if enrollments is not None:
        nem_codes, pto, true_up = _enrolled(enrollments, programs, accounts, nem_codes, period, local_day)
    exceptions = [
        {"meter": m, "account": a, "rate_code": r, "reason": f"rate code {r!r} is not in the tariff book {tariffs_dir}"}
        for m, a, r, s in zip(meters, accounts, rate_codes, selected, strict=True)
        if s and r not in book
    ]
    exceptions += [
        {"meter": m, "account": a, "rate_code": r,
         "reason": f"net-metering program {p!r} is not in {programs_dir}/ (programs: {sorted(programs)})"}
        for m, a, r, p, s in zip(meters, accounts, rate_codes, nem_codes, selected, strict=True)
        if s and r in book and p and p not in programs
    ]
    billable = selected & np.isin(rate_codes, list(book)) & ((nem_codes == "") | np.isin(nem_codes, list(programs)))

    codes_used = sorted(set(rate_codes[billable].tolist()))
    schedules = {code: schedule_arrays(book[code], utc, step, timezone=book[code].timezone or ds.attrs["timezone"])
                 for code in codes_used}
    pairs = sorted(set(zip(rate_codes[billable], nem_codes[billable], pto[billable], strict=True)))
    export_prices = {(code, prog, when): program_export_price(programs[prog], schedules[code], utc, step, when)
                     for code, prog, when in pairs if prog}
    first = np.datetime64(int(local_day[0]), "D")
    end = np.datetime64(int(local_day[-1]), "D") + 1
    reads = ds["read_date"].values.astype("datetime64[D]")
    cycle_ids = list(ds["cycle_id"].values.astype(int))
    cycle_rows = {}
    for cycle in sorted(set(cycle_of[billable].tolist())):
        if cycle not in cycle_ids:
            raise CubeError(f"meter cycle {cycle} has no read dates in the cube (cycle_id {cycle_ids})")
        cycle_rows[cycle] = read_date_periods(reads[cycle_ids.index(cycle)], first, end, f"cycle {cycle} read dates")

    chunk = int(chunk_meters or _disk_meter_chunk(ds))
    key, inputs = run_key(cube, tariffs_dir, cycles=cycles, period=period, chunk_meters=chunk, n_meters=n_meters)
    vee_config = load_vee_config(vee_config)
    # the bill-ready thresholds decide which bills are held: other thresholds are a different run
    inputs["vee_bill_ready"] = vee_config.bill_ready.model_dump()
    key = hashlib.sha256((key + json.dumps(inputs["vee_bill_ready"], sort_keys=True)).encode()).hexdigest()[:16]
    if enrollments is not None:  # a changed enrollment file is a different run
        inputs["enrollments"] = hashlib.sha256(Path(enrollments).read_bytes()).hexdigest()
        key = hashlib.sha256((key + inputs["enrollments"]).encode()).hexdigest()[:16]
    store = RunStore(out, key)
    plan = CyclePlan(cube=str(cube), parts=str(store.parts), tariffs_dir=str(tariffs_dir), book=book,
                     programs=programs, schedules=schedules, export_prices=export_prices, utc=utc, step=step,
                     local_day=local_day, cycle_rows=cycle_rows, period=period, vee_config=vee_config)
    coords = {name: ds[name].values for name in ("account", "customer_class", "rate_code")}
    coords["nem_program"] = nem_codes  # the cube's, or the enrollment file's
    tasks = []
    for chunk_no, start in enumerate(range(0, n_meters, chunk)):
        stop = min(start + chunk, n_meters)
        if not billable[start:stop].any():
            continue
        tasks.append(ChunkTask(chunk_no=chunk_no, start=start, stop=stop, meter=meters[start:stop],
                               cycle=cycle_of[start:stop], billable=billable[start:stop], pto=pto[start:stop],
                               true_up=true_up[start:stop],
                               **{name: values[start:stop] for name, values in coords.items()}))
    return CyclePlanned(plan, tasks, exceptions, int(selected.sum()), int(billable.sum()), key, inputs, cube_state)


def _enrolled(path, programs, accounts, nem_codes, period, local_day):
    """Program, PTO date and true-up month per meter from an enrollment file (accounts not in it: unchanged)."""
    book = load_enrollments(path, programs)
    if period is not None:
        last = (np.datetime64(period, "M") + 1).astype("datetime64[D]") - 1
    else:
        last = np.datetime64(int(local_day[-1]), "D")
    day = last.astype(dt.date)
    codes = nem_codes.astype(object)
    pto = np.full(len(accounts), "", dtype=object)
    true_up = np.zeros(len(accounts), dtype=int)
    for i, account in enumerate(accounts.astype(str)):
        if account not in book:
            continue
        on = book.program_on(account, day)
        codes[i] = on.program if on else ""
        if on:
            pto[i], true_up[i] = on.pto_date.isoformat(), on.true_up_month or 0
    return codes.astype(str), pto, true_up


def _disk_meter_chunk(ds) -> int:
    enc = ds["delivered_kwh"].encoding.get("chunks")
    if enc:
        return int(enc[0])
    return int(ds["delivered_kwh"].chunks[0][0]) if ds["delivered_kwh"].chunks else 1000


def run_cycle(cube, tariffs_dir, out, *, cycles=None, period=None, progress=True, chunk_meters=None,
              scheduler=None, workers=None, fresh=False, enrollments=None, vee_config=None,
              replace=False) -> CycleResult:
    """Bill cycles ``cycles`` (None: all) of the cube at ``cube`` under the tariff book ``tariffs_dir``.

    ``period``: only bill periods ending in this month (``"2025-11"``). ``scheduler``: None (in this
    process), ``"local"`` (a ``LocalCluster`` of ``workers`` processes), a scheduler address
    (``"tcp://host:8786"``) or a ``distributed.Client``. ``fresh``: ignore chunks kept by an earlier,
    interrupted run of the same inputs. ``enrollments``: account program histories (see :func:`plan_cycle`).
    Same outputs whichever way it runs.

    ``out`` must be new, empty, or an earlier output of this command (:mod:`workbench.billing.cycle_output`); it
    is locked for the run. An earlier output of other inputs (cube, tariffs, cycles, period...) is replaced only
    with ``replace=True``.
    """
    started = time.perf_counter()
    out = Path(out)
    identity = run_identity(cube, tariffs_dir, cycles=cycles, period=period, enrollments=enrollments,
                            vee_config=vee_config)
    refuse_unsafe_out(out, cube, tariffs_dir)
    check_cycle_out(out, identity, replace=replace)  # a refused folder gets not even a lock file beside it
    # planning writes nothing: a bad cube or tariff book is refused before anything appears beside out
    planned = plan_cycle(cube, tariffs_dir, out, cycles=cycles, period=period, chunk_meters=chunk_meters,
                         enrollments=enrollments, vee_config=vee_config)
    timings = {"plan": time.perf_counter() - started}
    with output_lock(out, KIND):
        check_cycle_out(out, identity, replace=replace)  # again, now that no other run can change it
        clean_stale_staging(out, KIND)
        result = _run_locked(planned, out, identity, cube=cube, tariffs_dir=tariffs_dir, cycles=cycles,
                             period=period, progress=progress, scheduler=scheduler, workers=workers, fresh=fresh,
                             timings=timings, started=started)
    result.seconds = time.perf_counter() - started
    return result


def _run_locked(planned: CyclePlanned, out: Path, identity: dict, *, cube, tariffs_dir, cycles, period, progress,
                scheduler, workers, fresh, timings, started) -> CycleResult:
    store = RunStore(out, planned.key)
    store.create(planned.inputs, fresh=fresh)
    try:
        wanted = {t.chunk_no for t in planned.tasks}
        done = _readable(store, store.done_chunks() & wanted)
        todo = [t for t in planned.tasks if t.chunk_no not in done]
        if done and progress:
            print(f"resuming: {len(done):,} of {len(wanted):,} meter chunks already billed (kept in {store.root})",
                  file=sys.stderr)
        label = "in-process"
        try:
            if scheduler is None:
                bar = tqdm(todo, total=len(wanted), initial=len(done), desc="Billing meter chunks", unit="chunk",
                           disable=not progress)
                for task in bar:
                    bill_chunk(planned.plan, task)
            else:
                label = bill_chunks_on_cluster(planned.plan, todo, scheduler=scheduler, workers=workers,
                                               progress=progress, run_key=planned.key)
        except (WorkbenchError, KeyboardInterrupt) as exc:
            if not isinstance(exc, KeyboardInterrupt) and cube_changed(cube, planned.cube_state):
                store.remove()  # e.g. a chunk read while a writer replaced the cube: not this cube's error
                raise CubeError(f"{cube}: {CHANGED_MESSAGE}") from None
            kept = len(store.done_chunks() & wanted)
            note = (f"{kept:,} of {len(wanted):,} meter chunks billed so far are kept in {store.root}; run the same "
                    "command again to resume from them (or with --fresh to start over)")
            if isinstance(exc, KeyboardInterrupt):
                print(f"interrupted: {note}", file=sys.stderr)
                raise
            raise type(exc)(f"{exc}; {note}") from None
        timings["billing"] = time.perf_counter() - started - timings["plan"]
        missing = wanted - store.done_chunks()
        if missing:
            raise BillingError(f"meter chunks {sorted(missing)[:10]} report done but their files are not in "
                               f"{store.parts}: the workers must write to storage this machine can read (see docs/scale.md)")
        if cube_changed(cube, planned.cube_state):  # chunks of two versions: no outputs, nothing kept to resume
            store.remove()
            raise CubeError(f"{cube}: {CHANGED_MESSAGE}")
        result = _assemble(planned, store, out, identity, cube=cube, tariffs_dir=tariffs_dir, cycles=cycles,
                           period=period, chunks_resumed=len(done), scheduler=label, timings=timings)
    finally:
        store.release()
    return result


def _readable(store: RunStore, done: set[int]) -> set[int]:
    """The kept chunks whose files can be read; a damaged one is dropped (billed again) with a note."""
    good = set()
    for chunk_no in sorted(done):
        try:
            store.check_chunk(chunk_no)
        except UnreadableChunk as bad:
            print(f"note: {bad}; billing it again", file=sys.stderr)
            store.drop_chunk(chunk_no)
        else:
            good.add(chunk_no)
    return good


def _read_or_rebill(planned: CyclePlanned, store: RunStore, task: ChunkTask):
    """A chunk's marker and tables; a chunk whose files turn out damaged is billed again here, once."""
    try:
        return store.read_chunk(task.chunk_no)
    except UnreadableChunk as bad:
        print(f"note: {bad}; billing it again", file=sys.stderr)
        store.drop_chunk(task.chunk_no)
    bill_chunk(planned.plan, task)
    try:
        return store.read_chunk(task.chunk_no)
    except UnreadableChunk as bad:
        raise BillingError(f"{bad}, even after billing it again: check the disk holding {store.parts}") from None


def _assemble(planned: CyclePlanned, store: RunStore, out: Path, identity: dict, *, cube, tariffs_dir, cycles,
              period, chunks_resumed, scheduler, timings) -> CycleResult:
    """Concatenate the chunks in chunk order into a staging folder; move it to ``out``; drop the partial folder."""
    started = time.perf_counter()
    tmp = staging_dir(out)
    try:
        try:
            result = _write_outputs(planned, store, tmp, identity, cube=cube, tariffs_dir=tariffs_dir,
                                    cycles=cycles, period=period, chunks_resumed=chunks_resumed,
                                    scheduler=scheduler, timings=timings, started=started)
            result.out = out
            put_in_place(tmp, out)
        except OSError as exc:
            raise write_error(out, exc) from None
    except BaseException:
        remove_staging(tmp)
        raise
    store.remove()
    return result


def _write_outputs(planned: CyclePlanned, store: RunStore, tmp: Path, identity: dict, *, cube, tariffs_dir, cycles,
                   period, chunks_resumed, scheduler, timings, started) -> CycleResult:
    exceptions = list(planned.exceptions)
    counts = {"bills": 0, "line_items": 0, "revenue": 0.0, "held_in_chunks": 0, "bills_held": 0}
    by_code = {}
    writers = {name: pq.ParquetWriter(tmp / f"{name}.parquet", SCHEMAS[name], compression="zstd")
               for name in ("bills", "line_items")}
    try:
        for task in planned.tasks:
            marker, tables = _read_or_rebill(planned, store, task)
            exceptions += marker["held"]
            counts["held_in_chunks"] += len(marker["held"])
            for name, writer in writers.items():
                table = tables[name]
                if table.num_rows:
                    writer.write_table(table.cast(SCHEMAS[name]))
            # the same additions in the same order as billing chunk by chunk in one process
            for group in marker["groups"]:
                counts["bills"] += group["bills"]
                counts["line_items"] += group["line_items"]
                counts["revenue"] += group["revenue"]
                counts["bills_held"] += group.get("bills_held", 0)
                agg = by_code.setdefault(group["rate_code"], {"rate_code": group["rate_code"], "meters": 0, "bills": 0,
                                                              "kwh": 0.0, "revenue": 0.0})
                agg["meters"] += group["meters"]
                agg["bills"] += group["bills"]
                agg["kwh"] += group["kwh"]
                agg["revenue"] += group["revenue"]
    finally:
        for writer in writers.values():
            writer.close()
    summary = pd.DataFrame(list(by_code.values()), columns=["rate_code", "meters", "bills", "kwh", "revenue"])
    summary["revenue"] = summary["revenue"].round(2)
    summary["average_bill"] = (summary["revenue"] / summary["bills"].where(summary["bills"] > 0)).round(2)
    summary.to_csv(tmp / "summary.csv", index=False)
    pd.DataFrame(exceptions, columns=["meter", "account", "rate_code", "reason"]).to_csv(tmp / "exceptions.csv", index=False)
    meters_in = planned.meters_in
    result = CycleResult(tmp, meters_in, planned.meters_billable - counts["held_in_chunks"], len(exceptions),
                         counts["bills"], counts["line_items"], round(counts["revenue"], 2), 0.0, summary,
                         chunks=len(planned.tasks), chunks_resumed=chunks_resumed, scheduler=scheduler,
                         bills_held=counts["bills_held"])
    run = {"cube": str(cube), "tariffs": str(tariffs_dir), "cycles": cycles or "all", "period": period,
           "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "meters_in": meters_in,
           "meters_billed": result.meters_billed, "meters_held": result.meters_held, "bills": result.bills,
           "line_items": result.line_items, "revenue": result.revenue,
           "accounting": f"{meters_in} meters in = {result.meters_billed} billed + {result.meters_held} held",
           "bills_held_not_bill_ready": result.bills_held,
           "chunks": result.chunks, "chunks_resumed": chunks_resumed, "scheduler": scheduler,
           "run_key": planned.key, "inputs": identity,
           "seconds": {**{k: round(v, 2) for k, v in timings.items()},
                       "assembly": round(time.perf_counter() - started, 2)}}
    atomic_write_text(tmp / "run.json", json.dumps(run, indent=2))
    return result
