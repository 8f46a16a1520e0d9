"""Bill a whole utility (or some bill cycles) from the interval cube, one meter chunk at a time.

A run has four steps:

1. **plan** (:func:`workbench.billing.cycle_plan.plan_cycle`): the tariff book, programs, per-interval
   schedules, which meters are held (a rate code or program not in the book) and the list of meter chunks to bill;
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
- ``exceptions.csv``: meters held (``held`` yes), with the reason (e.g. a rate code not in the tariff book), and
  meters billed but to review (``held`` no): an enrollment with no opening bank (its bank starts at zero)
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
import json
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from workbench.billing.chunk_data import EarlyChunk, read_task
from workbench.billing.cube_source import CHANGED_MESSAGE, cube_changed
from workbench.billing.cycle_chunk import SCHEMAS, ChunkTask, bill_chunk
from workbench.billing.cycle_output import (
    KIND,
    OutputTables,
    check_cycle_out,
    put_in_place,
    refuse_unsafe_out,
    run_identity,
)
from workbench.billing.cycle_plan import CyclePlanned, plan_cycle
from workbench.billing.distributed import bill_chunks_on_cluster
from workbench.billing.run_store import RunStore, UnreadableChunk
from workbench.errors import BillingError, CubeError, WorkbenchError
from workbench.nem.true_up import ASSUMED_CHECK, ASSUMED_MONTH, split_review, warning_line
from workbench.outputs import atomic_write_text, remove_staging, staging_dir, write_csv_for_people
from workbench.outputs.guard import clean_stale_staging, output_lock, write_error

log = logging.getLogger(__name__)

#: chunks read ahead of the one being billed, each on a reader thread of its own (see :func:`_bill_in_process`), as
#: long as their interval arrays hold no more than READ_AHEAD_BYTES together: two of a month's 1,000-meter chunks
#: (53 MB each), one of a year's (315 MB), so a year's run holds no more than it did with one reader
READ_AHEAD = 2
READ_AHEAD_BYTES = 160_000_000


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
    review: list[dict] = field(default_factory=list)  # billed meters to review (exceptions.csv, held no)

    def summary_text(self) -> str:
        lines = [f"Billed {self.meters_billed:,} of {self.meters_in:,} meters "
                 f"({self.meters_held:,} held as exceptions) in {self.seconds:.1f} s",
                 f"{self.bills:,} bills, {self.line_items:,} line items, revenue ${self.revenue:,.2f}"]
        unopened, assumed = split_review(self.review)
        if assumed:
            lines.append(warning_line(len(assumed), sorted({r["program"] for r in assumed}),
                                      assumed[0]["meter"]) + "; listed in exceptions.csv (held: no)")
        if unopened:
            accounts = sorted({str(r["account"]) for r in unopened})
            lines.append(f"WARNING: {len(unopened):,} meter(s) of {len(accounts):,} account(s) on a net-metering "
                         "program that banks were billed with a bank starting at zero: enrolled before the cube's "
                         "first day, and the enrollment file gives no opening balance (e.g. account "
                         f"{accounts[0]}); listed in exceptions.csv (held: no). Give the balance, or 0 to say it "
                         "is empty, and bill again")
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



def run_cycle(cube, tariffs_dir, out, *, cycles=None, period=None, progress=True, chunk_meters=None,
              scheduler=None, workers=None, fresh=False, enrollments=None, vee_config=None,
              replace=False, system_peaks=None, peak_zone=None) -> CycleResult:
    """Bill cycles ``cycles`` (None: all) of the cube at ``cube`` under the tariff book ``tariffs_dir``.

    ``period``: only bill periods ending in this month (``"2025-11"``). ``scheduler``: None (in this
    process), ``"local"`` (a ``LocalCluster`` of ``workers`` processes), a scheduler address
    (``"tcp://host:8786"``) or a ``distributed.Client``. ``fresh``: ignore chunks kept by an earlier,
    interrupted run of the same inputs. ``enrollments``: account program histories; ``system_peaks``,
    ``peak_zone``: the system-peak file of coincident-peak charges (see :func:`plan_cycle`).
    Same outputs whichever way it runs.

    ``out`` must be new, empty, or an earlier output of this command (:mod:`workbench.billing.cycle_output`); it
    is locked for the run. An earlier output of other inputs (cube, tariffs, cycles, period...) is replaced only
    with ``replace=True``.
    """
    started = time.perf_counter()
    out = Path(out)
    identity = run_identity(cube, tariffs_dir, cycles=cycles, period=period, enrollments=enrollments,
                            vee_config=vee_config, system_peaks=system_peaks, peak_zone=peak_zone)
    refuse_unsafe_out(out, cube, tariffs_dir)
    check_cycle_out(out, identity, replace=replace)  # a refused folder gets not even a lock file beside it
    # the first chunks are decoded on the other core while the run is planned (in this process; see EarlyChunk)
    early = EarlyChunk(cube, chunk_meters) if scheduler is None else None
    # planning writes nothing: a bad cube or tariff book is refused before anything appears beside out
    planned = plan_cycle(cube, tariffs_dir, out, cycles=cycles, period=period, chunk_meters=chunk_meters,
                         enrollments=enrollments, vee_config=vee_config, system_peaks=system_peaks,
                         peak_zone=peak_zone)
    timings = {"plan": time.perf_counter() - started}
    with output_lock(out, KIND):
        check_cycle_out(out, identity, replace=replace)  # again, now that no other run can change it
        clean_stale_staging(out, KIND)
        result = _run_locked(planned, out, identity, cube=cube, tariffs_dir=tariffs_dir, cycles=cycles,
                             period=period, progress=progress, scheduler=scheduler, workers=workers, fresh=fresh,
                             timings=timings, started=started, early=early)
    result.seconds = time.perf_counter() - started
    return result


def _run_locked(planned: CyclePlanned, out: Path, identity: dict, *, cube, tariffs_dir, cycles, period, progress,
                scheduler, workers, fresh, timings, started, early=None) -> CycleResult:
    store = RunStore(out, planned.key)
    store.create(planned.inputs, fresh=fresh)
    try:
        wanted = {t.chunk_no for t in planned.tasks}
        done = _readable(store, store.done_chunks() & wanted)
        todo = [t for t in planned.tasks if t.chunk_no not in done]
        if done:
            log.info(f"resuming: {len(done):,} of {len(wanted):,} meter chunks already billed (kept in {store.root})")
        label = "in-process"
        assemble = dict(cube=cube, tariffs_dir=tariffs_dir, cycles=cycles, period=period, chunks_resumed=len(done),
                        timings=timings)
        try:
            if scheduler is None:
                bar = tqdm(total=len(wanted), initial=len(done), desc="Billing meter chunks", unit="chunk",
                           disable=not progress)
                # billed and written to the outputs in one pass: each chunk's tables go to the output writers as
                # they are billed (its parts are still written, for resuming), never read back
                chunks = _bill_in_process(planned, store, todo, bar, timings, started, early)
                result = _assemble(planned, store, out, identity, chunks, scheduler=label, **assemble)
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
                log.warning(f"interrupted: {note}")
                raise
            raise type(exc)(f"{exc}; {note}") from None
        if scheduler is not None:
            _billed(planned, store, timings, started)
            chunks = (_read_or_rebill(planned, store, task) for task in planned.tasks)
            result = _assemble(planned, store, out, identity, chunks, scheduler=label, **assemble)
    finally:
        store.release()
    return result


def _billed(planned: CyclePlanned, store: RunStore, timings: dict, started: float) -> None:
    """Once every chunk is billed: check that all are done and that the cube did not change meanwhile."""
    timings["billing"] = time.perf_counter() - started - timings["plan"]
    missing = {t.chunk_no for t in planned.tasks} - store.done_chunks()
    if missing:
        raise BillingError(f"meter chunks {sorted(missing)[:10]} report done but their files are not in "
                           f"{store.parts}: the workers must write to storage this machine can read (see docs/scale.md)")
    if cube_changed(planned.plan.cube, planned.cube_state):  # chunks of two versions: no outputs, nothing kept
        store.remove()
        raise CubeError(f"{planned.plan.cube}: {CHANGED_MESSAGE}")


def _bill_in_process(planned: CyclePlanned, store: RunStore, todo: list[ChunkTask], bar, timings: dict,
                     started: float, early: EarlyChunk | None = None):
    """Every chunk's (marker, tables) in chunk order: the chunks kept by an earlier run read from their parts, the
    others billed here (their parts written too), then the checks of :func:`_billed`.

    While chunk i is scanned and priced (numba, without the GIL), chunks i + 1 and i + 2 are read (Zarr decoding,
    which also releases the GIL) on two reader threads: decoding takes about twice as long as billing a chunk, so
    with one reader the run waited on it, while the Zarr-read floor decodes on both cores. At most
    :data:`READ_AHEAD` chunks are read ahead (one when two would hold more than :data:`READ_AHEAD_BYTES`), so
    memory stays bounded by three chunks (two of a year's). ``early``: the first chunks, decoded while the run was
    planned (each used for its own chunk if it is of the planned cube version)."""
    billing = {t.chunk_no for t in todo}
    queue = iter(todo)
    n_ahead = _read_ahead(planned, todo)
    with ThreadPoolExecutor(n_ahead, thread_name_prefix="chunk-reader") as reader:

        def read(task):  # the early arrays go to the reader alone (no name here keeps them): freed once billed
            return None if task is None else reader.submit(
                read_task, planned.plan, task, None if early is None else early.take(task, planned.cube_state))

        ahead = deque(f for f in (read(next(queue, None)) for _ in range(n_ahead)) if f is not None)
        for task in planned.tasks:
            if task.chunk_no not in billing:
                yield _read_or_rebill(planned, store, task)
                continue
            data = ahead.popleft().result()  # a read error surfaces here, for this chunk, as without the threads
            following = read(next(queue, None))
            if following is not None:
                ahead.append(following)
            try:
                billed = bill_chunk(planned.plan, task, data, with_tables=True)
            except BaseException:
                for future in ahead:
                    future.cancel()
                raise
            del data
            bar.update(1)
            yield billed
    bar.close()
    _billed(planned, store, timings, started)


def _read_ahead(planned: CyclePlanned, todo: list[ChunkTask]) -> int:
    """How many chunks to read ahead: :data:`READ_AHEAD`, fewer if their interval arrays (two float32 and a uint8
    per meter and interval) would hold more than :data:`READ_AHEAD_BYTES`; at least one."""
    meters = max((t.stop - t.start for t in todo), default=0)
    per_chunk = max(meters * len(planned.plan.utc) * 9, 1)
    return max(1, min(READ_AHEAD, READ_AHEAD_BYTES // per_chunk))


def _readable(store: RunStore, done: set[int]) -> set[int]:
    """The kept chunks whose files can be read; a damaged one is dropped (billed again) with a note."""
    good = set()
    for chunk_no in sorted(done):
        try:
            store.check_chunk(chunk_no)
        except UnreadableChunk as bad:
            log.warning(f"note: {bad}; billing it again")  # damage on disk: shown with -q too
            store.drop_chunk(chunk_no)
        else:
            good.add(chunk_no)
    return good


def _read_or_rebill(planned: CyclePlanned, store: RunStore, task: ChunkTask):
    """A chunk's marker and tables; a chunk whose files turn out damaged is billed again here, once."""
    try:
        return store.read_chunk(task.chunk_no)
    except UnreadableChunk as bad:
        log.warning(f"note: {bad}; billing it again")  # damage on disk: shown with -q too
        store.drop_chunk(task.chunk_no)
    bill_chunk(planned.plan, task)
    try:
        return store.read_chunk(task.chunk_no)
    except UnreadableChunk as bad:
        raise BillingError(f"{bad}, even after billing it again: check the disk holding {store.parts}") from None


def _assemble(planned: CyclePlanned, store: RunStore, out: Path, identity: dict, chunks, *, cube, tariffs_dir,
              cycles, period, chunks_resumed, scheduler, timings) -> CycleResult:
    """Write the chunks ``chunks`` ((marker, tables) in chunk order) into a staging folder; move it to ``out``;
    drop the partial folder."""
    started = time.perf_counter()
    tmp = staging_dir(out)
    try:
        try:
            result = _write_outputs(planned, chunks, tmp, identity, cube=cube, tariffs_dir=tariffs_dir,
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


def _write_outputs(planned: CyclePlanned, chunks, tmp: Path, identity: dict, *, cube, tariffs_dir, cycles,
                   period, chunks_resumed, scheduler, timings, started) -> CycleResult:
    exceptions = list(planned.exceptions)
    counts = {"bills": 0, "line_items": 0, "revenue": 0.0, "held_in_chunks": 0, "bills_held": 0}
    by_code = {}
    writers = OutputTables(tmp, SCHEMAS)
    try:
        for marker, tables in chunks:
            exceptions += marker["held"]
            counts["held_in_chunks"] += len(marker["held"])
            writers.write(tables)
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
        writers.finish()
    finally:
        writers.close()
    if scheduler == "in-process":  # the tables were written while billing (counted there): the rest is assembly
        started = time.perf_counter()
    summary = pd.DataFrame(list(by_code.values()), columns=["rate_code", "meters", "bills", "kwh", "revenue"])
    summary["revenue"] = summary["revenue"].round(2)
    summary["average_bill"] = (summary["revenue"] / summary["bills"].where(summary["bills"] > 0)).round(2)
    write_csv_for_people(summary, tmp / "summary.csv")  # kWh to 3 decimals, $ to cents
    unopened, assumed = split_review(planned.review)
    listing = [{**row, "held": "yes"} for row in exceptions] + [{**row, "held": "no"} for row in planned.review]
    write_csv_for_people(pd.DataFrame(listing, columns=["meter", "account", "rate_code", "reason", "held"]),
                         tmp / "exceptions.csv")
    meters_in = planned.meters_in
    result = CycleResult(tmp, meters_in, planned.meters_billable - counts["held_in_chunks"], len(exceptions),
                         counts["bills"], counts["line_items"], round(counts["revenue"], 2), 0.0, summary,
                         chunks=len(planned.tasks), chunks_resumed=chunks_resumed, scheduler=scheduler,
                         bills_held=counts["bills_held"], review=list(planned.review))
    run = {"cube": str(cube), "tariffs": str(tariffs_dir), "cycles": cycles or "all", "period": period,
           "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "meters_in": meters_in,
           "meters_billed": result.meters_billed, "meters_held": result.meters_held, "bills": result.bills,
           "line_items": result.line_items, "revenue": result.revenue,
           "accounting": f"{meters_in} meters in = {result.meters_billed} billed + {result.meters_held} held",
           "bills_held_not_bill_ready": result.bills_held,
           "review": {"no_opening_bank": {
               "meters": len(unopened), "accounts": len({str(r["account"]) for r in unopened}),
               "note": "billed with a net-metering bank starting at zero (enrolled before the cube, no opening "
                       "balance given); listed in exceptions.csv with held = no"},
               ASSUMED_CHECK: {"meters": len(assumed), "month": ASSUMED_MONTH, "examples": [r["meter"] for r in assumed[:10]],
                               "note": "true-up on the PTO anniversary but no PTO date: settled in this month; "
                                       "listed in exceptions.csv with held = no"}},
           "chunks": result.chunks, "chunks_resumed": chunks_resumed, "scheduler": scheduler,
           "run_key": planned.key, "inputs": identity,
           "seconds": {**{k: round(v, 2) for k, v in timings.items()},
                       "assembly": round(time.perf_counter() - started, 2)}}
    atomic_write_text(tmp / "run.json", json.dumps(run, indent=2))
    return result
