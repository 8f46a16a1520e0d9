"""Bill one meter chunk of the interval cube: the unit of work of a billing run.

:func:`bill_chunk` is pure in the sense that matters for scheduling: given the run's :class:`CyclePlan`
and a :class:`ChunkTask` it opens the Zarr chunk itself, bills its meters and writes the chunk's tables and
done-marker (see :mod:`workbench.billing.run_store`); running it twice writes the same files. So the same
function runs in-process, on a dask ``LocalCluster`` or on a remote cluster, and a task retried after a
worker died simply writes its chunk again.

Per-chunk checks (future ones, such as a bill-ready verdict from VEE or per-meter PTO dates, belong here
too): a data chunk missing on disk is an error naming the variable and chunk, never NaN bills; a meter that
exports energy but is on no net-metering program is held, with the reason.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from workbench.ami.cube_schema import REACTIVE_VAR
from workbench.billing.chunk_data import exported_in_run, needs_reactive, period_mask, read_task
from workbench.billing.chunk_tables import (
    SCHEMAS,  # noqa: F401 (the run's table schemas, imported from here)
    ChunkTables,
    GroupColumns,
    group_columns,
)
from workbench.billing.run_store import write_chunk
from workbench.calendar.periods import BillPeriods, periods_from_rows
from workbench.engine.bills import check_bill_tables
from workbench.engine.cube import _OUTPUTS
from workbench.engine.pricing import Determinants, price
from workbench.engine.reactive import reactive_determinants, reactive_refusals
from workbench.kernels.scan import scan_determinants
from workbench.nem.billing import Enrollment, bill_with_program
from workbench.nem.resolve import _hourly_net, vintage_prices

#: test hook (documented in docs/scale.md): the chunk number whose first attempt kills its worker process
KILL_ENV = "WORKBENCH_TEST_KILL_CHUNK"


@dataclass
class CyclePlan:
    """Everything a chunk needs that is the same for every chunk of the run (shipped once to each worker)."""

    cube: str
    parts: str
    tariffs_dir: str
    book: dict  # rate code -> compiled tariff
    programs: dict  # program code -> program
    schedules: dict  # rate code -> Schedule on the cube's time axis
    export_prices: dict  # (rate code, program code) -> per-interval export values or None
    utc: np.ndarray  # UTC interval starts, datetime64[m]
    step: int  # minutes per interval
    local_day: np.ndarray  # local date (days since epoch) of every interval
    cycle_rows: dict  # cycle -> (start, end, nominal_days) bill periods clipped to the cube
    period: str | None = None
    #: numba's threads inside the scan; False on a dask cluster, whose workers are the parallelism (numba
    #: threads in every worker would oversubscribe the cores). Same results either way.
    parallel_scan: bool = True
    vee_config: object = None  # the VEE configuration whose bill-ready rule the bills are checked against


@dataclass
class ChunkTask:
    """One meter chunk: its position in the cube and its meters' attributes (so workers never read them)."""

    chunk_no: int
    start: int
    stop: int
    meter: np.ndarray
    account: np.ndarray
    customer_class: np.ndarray
    rate_code: np.ndarray
    nem_program: np.ndarray
    cycle: np.ndarray
    billable: np.ndarray  # bool per meter: selected and with a known rate code and program
    # from an enrollment file: PTO date ("" = none) and true-up month (0 = the program's) per meter
    pto: np.ndarray | None = None
    true_up: np.ndarray | None = None
    opening_credit: np.ndarray | None = None  # [$] per meter, the bank brought into the cube's first bill (None: 0)
    opening_kwh: np.ndarray | None = None  # [kWh] per meter
    #: bool per meter: the cube holds its kVARh reads (``has_reactive``; None: a cube without the channel)
    has_reactive: np.ndarray | None = None
    meters_billable: int = field(init=False)

    def __post_init__(self):
        self.meters_billable = int(np.count_nonzero(self.billable))
        n = len(self.meter)
        self.pto = np.full(n, "", dtype=object) if self.pto is None else self.pto
        self.true_up = np.zeros(n, dtype=int) if self.true_up is None else self.true_up
        self.has_reactive = np.zeros(n, dtype=bool) if self.has_reactive is None else self.has_reactive


def _one_period():
    """A stand-in of one valid bill period, for the reason of a meter refused whole."""
    return SimpleNamespace(valid=np.ones((1, 1), bool))


def bill_chunk(plan: CyclePlan, task: ChunkTask, data: dict[str, np.ndarray] | None = None, *,
               with_tables: bool = False):
    """Bill the meters of one chunk, write ``parts/<chunk>.*`` and return the done-marker (counts).

    ``data``: the chunk's interval data already read with :func:`read_task` (None: read it here).
    ``with_tables``: return ``(marker, tables)``, the tables as written, so that a run in this process hands them
    to its output writers without reading the parts back."""
    started = time.perf_counter()
    _test_kill_hook(plan, task.chunk_no)
    marker = {"chunk": task.chunk_no, "start": task.start, "stop": task.stop, "meters_billable": task.meters_billable,
              "held": [], "groups": [], "pid": os.getpid()}
    chunk = None
    idx = np.flatnonzero(task.billable)
    if len(idx):
        data = read_task(plan, task) if data is None else data
        # plain numpy from here: xarray's alignment per rate-code group cost more than the scan itself. Every
        # meter billable (the usual case): the arrays as read, no copy (a fresh 140 MB array costs more in page
        # faults than the scan of it on this VM)
        everyone = len(idx) == len(task.meter)
        block = {name: (values if everyone else values[idx]) for name, values in data.items()}
        block.update(meter=task.meter[idx], account=task.account[idx], customer_class=task.customer_class[idx],
                     cycle=task.cycle[idx], **{name: np.zeros(len(idx)) if getattr(task, name) is None else
                                                getattr(task, name)[idx] for name in ("opening_credit", "opening_kwh")})
        has_reactive = task.has_reactive[idx]
        del data
        chunk = ChunkTables(block)
        periods_all = periods_from_rows([plan.cycle_rows[int(c)] for c in task.cycle[idx]], plan.local_day)
        codes = task.rate_code[idx]
        nem = task.nem_program[idx]
        pto, true_up = task.pto[idx].astype(str), task.true_up[idx].astype(int)
        # a meter that exports in a bill period of the run but is on no program cannot be billed right: hold it
        exported = exported_in_run(block["received_kwh"], periods_all, plan.period)
        unassigned = exported & (nem == "")
        for i in np.flatnonzero(unassigned):
            marker["held"].append({"meter": str(block["meter"][i]), "account": str(block["account"][i]),
                                   "rate_code": str(codes[i]), "reason": "received energy from the customer but the "
                                   "account is on no net-metering program (nem_program is empty)"})
        keep = ~unassigned
        # a tariff with kVA demand, $/kVAR or power-factor charges needs kVARh: a meter whose kVARh the cube does
        # not hold is held with the reason, never billed as if its power factor were 1
        for i in np.flatnonzero(keep & ~has_reactive & needs_reactive(plan.book, codes)):
            keep[i] = False
            marker["held"].append({"meter": str(block["meter"][i]), "account": str(block["account"][i]),
                                   "rate_code": str(codes[i]), "reason": reactive_refusals(
                                       plan.book[codes[i]], None, _one_period(), [f"meter {block['meter'][i]}"])[0]})
        # meters bill together when they share tariff, program, PTO date and true-up month (an enrollment file
        # gives each account its own; without one every meter of a program shares the program's defaults)
        for code, program_code, pto_date, month in sorted(set(zip(codes[keep], nem[keep], pto[keep], true_up[keep],
                                                                     strict=True))):
            rows = np.flatnonzero((codes == code) & (nem == program_code) & (pto == pto_date) & (true_up == month) & keep)
            # the group's per-meter attributes; its interval data stay in the chunk, scanned by row index (groups
            # are interleaved: copying each group's rows out would copy the whole chunk once more)
            sub = {name: values[rows] for name, values in block.items() if name not in SCANNED}
            group, rows, mask, held = _bill_group(plan, sub, block, periods_all, rows, code, program_code, pto_date,
                                                  int(month))
            marker["held"].extend(held)
            if not group.n_bills and held:
                continue
            chunk.add(rows, group)
            counts = group.counts()
            marker["groups"].append({
                "rate_code": str(code), "nem_program": str(program_code), "meters": int(mask.any(axis=1).sum()),
                "bills": counts["bills"], "line_items": counts["line_items"], "kwh": counts["kwh"],
                "revenue": counts["revenue"], "bills_held": counts["bills_held"],
            })
    # one table of each per chunk, strings converted once (chunk_tables)
    tables = (chunk or ChunkTables({})).tables()
    marker["bills"] = tables["bills"].num_rows
    marker["line_items"] = tables["line_items"].num_rows
    marker["seconds"] = round(time.perf_counter() - started, 4)
    check_bill_tables(tables["bills"], tables["line_items"], f"chunk {task.chunk_no}")  # money adds up, in cents
    write_chunk(Path(plan.parts), task.chunk_no, tables, marker)
    return (marker, tables) if with_tables else marker


#: the interval arrays the scan reads in place from the whole chunk, by row (see :func:`_bill_group`)
SCANNED = ("delivered_kwh", "received_kwh", "quality")


def _bill_group(plan: CyclePlan, sub: dict, block: dict, periods_all: BillPeriods, rows, code, program_code,
                pto_date="", true_up_month=0):
    """Bills and line items of the meters ``rows`` of one chunk on one rate code and program: (their columns, the
    rows of the meters billed, the bill periods of the run, the meters held).

    ``block``: the chunk's arrays by name; ``sub``: the group's rows of those not in :data:`SCANNED`. The scan
    reads ``block``'s interval data at ``rows`` in place; the paths that transform the interval data first
    (kVARh checks, hourly netting) take a copy of the group's rows, as they always did."""
    tariff = plan.book[code]
    schedule = plan.schedules[code]
    periods = BillPeriods(periods_all.start[rows], periods_all.end[rows], periods_all.nominal_days[rows],
                          periods_all.bounds[rows])
    held, rdet = [], None
    program = plan.programs[program_code] if program_code else None
    scanned, scan_rows = block, rows
    if tariff.needs_reactive or (program is not None and program.netting_interval == "hourly"):
        sub = {**sub, **{name: block[name][rows] for name in SCANNED if name in block}}
        scanned, scan_rows = sub, None
    if tariff.needs_reactive:
        sub, periods, rows, rdet, held = _reactive_checked(plan, sub, periods, rows, tariff, schedule)
        scanned = sub
        if not len(rows):
            empty = np.zeros((0, periods.valid.shape[1]), bool)
            return GroupColumns.empty(tariff.code, program_code), rows, empty, held
    extras = None
    if program_code:
        price_array = plan.export_prices[(code, program_code, pto_date)]
        if program.netting_interval == "hourly":
            scanned = _hourly_netted(scanned, plan.utc, plan.step)
        det = _scan(scanned, tariff, periods, schedule, export_price=price_array, parallel=plan.parallel_scan,
                    rows=scan_rows)
        det.reactive = rdet
        enrollment = Enrollment(program, np.datetime64(pto_date, "D") if pto_date else None, true_up_month or None,
                                opening_credit=sub["opening_credit"], opening_kwh=sub["opening_kwh"])
        result = bill_with_program(tariff, det, periods, enrollment, export_valued=price_array is not None)
        items, extras = result.items, result.extras
    else:
        det = _scan(scanned, tariff, periods, schedule, parallel=plan.parallel_scan, rows=scan_rows)
        det.reactive = rdet
        items = price(tariff, det, periods)
    mask = period_mask(periods, plan.period)
    group = group_columns(sub, tariff, periods, det, items, mask, program_code, extras, plan.vee_config)
    return group, rows, mask, held


def _reactive_checked(plan: CyclePlan, sub: dict, periods: BillPeriods, rows, tariff, schedule):
    """The reactive determinants of a group on a tariff that needs kVARh, and its meters refused for a kVARh gap
    in a bill period of the run (held with the engine's reason, the others billed): (sub, periods, rows,
    determinants, held)."""
    reactive = sub.get(REACTIVE_VAR)
    rdet = reactive_determinants(tariff, schedule, sub["delivered_kwh"], reactive, periods.bounds,
                                 parallel=plan.parallel_scan)
    in_run = SimpleNamespace(valid=period_mask(periods, plan.period), start=periods.start, end=periods.end)
    refused = reactive_refusals(tariff, rdet, in_run, [f"meter {m}" for m in sub["meter"]])
    held = [{"meter": str(sub["meter"][i]), "account": str(sub["account"][i]), "rate_code": str(tariff.code),
             "reason": reason} for i, reason in sorted(refused.items())]
    # a gap outside the run's bill periods refuses nothing here (those bills are not issued by this run)
    rdet.kvar_missing = np.where(in_run.valid, rdet.kvar_missing, 0)
    if not refused:
        return sub, periods, rows, rdet, held
    ok = np.setdiff1d(np.arange(len(sub["meter"])), list(refused))
    periods = BillPeriods(periods.start[ok], periods.end[ok], periods.nominal_days[ok], periods.bounds[ok])
    return {name: values[ok] for name, values in sub.items()}, periods, rows[ok], rdet.take(ok), held


def _test_kill_hook(plan: CyclePlan, chunk_no: int) -> None:
    """Kill this process on the first attempt at the chunk named by ``WORKBENCH_TEST_KILL_CHUNK``.

    For the worker-death test only. ``WORKBENCH_TEST_KILL_CHUNK=<chunk>[@<flag file>]``: the first attempt
    creates the flag file (default ``killed-<chunk>`` in the run's partial folder) and exits the process at
    once, without cleanup, as a crashed or OOM-killed dask worker would; later attempts find the flag and
    bill the chunk.
    """
    setting = os.environ.get(KILL_ENV, "")
    if not setting:
        return
    chunk, _, flag = setting.partition("@")
    if chunk.strip() != str(chunk_no):
        return
    flag = Path(flag) if flag else Path(plan.parts).parent / f"killed-{chunk_no}"
    if not flag.exists():
        flag.write_text(str(os.getpid()))
        os._exit(1)


def program_export_price(program, schedule, utc, step, pto=None):
    """Per-interval export values of a program: the vintage of the PTO year (default: the data's first year)."""
    if program.kind == "net_metering" or program.export_values is None:
        return None
    return vintage_prices(program, utc, schedule.local, step, pto=pto or None)


def _scan(sub: dict, tariff, periods: BillPeriods, schedule, export_price=None, parallel=True,
          rows=None) -> Determinants:
    """The numba scan of the meters ``sub`` (or of its rows ``rows``), as :func:`workbench.engine.cube.cube_determinants`
    runs it."""
    out = scan_determinants(
        sub["delivered_kwh"], sub["received_kwh"], periods.bounds, schedule.energy_bucket, schedule.demand_bucket,
        tariff.n_energy_buckets, tariff.n_demand_buckets, quality=sub["quality"], block_pos=schedule.block_pos,
        window=schedule.window, rolling=schedule.rolling, kw_factor=schedule.kw_factor, rtp_price=schedule.rtp_price,
        cp_flag=schedule.cp_flag, parallel=parallel, export_price=export_price, rows=rows,
    )
    return Determinants(**{name: np.asarray(out[name]) for name in _OUTPUTS})


def _hourly_netted(sub, utc, step):
    d, r = _hourly_net(sub["delivered_kwh"], sub["received_kwh"], utc, step)
    return {**sub, "delivered_kwh": d, "received_kwh": r}
