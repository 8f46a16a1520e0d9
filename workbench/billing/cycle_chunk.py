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
import pyarrow as pa

from workbench.ami.cube_schema import REACTIVE_VAR
from workbench.billing.chunk_data import exported_in_run, needs_reactive, period_mask, read_task
from workbench.billing.run_store import write_chunk
from workbench.calendar.periods import BillPeriods, periods_from_rows
from workbench.engine.bills import check_bill_tables
from workbench.engine.cube import _OUTPUTS
from workbench.engine.pricing import Determinants, billing_demand, price
from workbench.engine.reactive import reactive_determinants, reactive_refusals
from workbench.kernels.scan import scan_determinants
from workbench.nem.billing import Enrollment, bill_with_program
from workbench.nem.resolve import _hourly_net, vintage_prices
from workbench.vee import ready_verdict

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
    bills_parts, lines_parts = [], []
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
            bills, lines, mask, held = _bill_group(plan, sub, block, periods_all, rows, code, program_code, pto_date,
                                                   int(month))
            marker["held"].extend(held)
            if not bills.num_rows and held:
                continue
            bills_parts.append(bills)
            lines_parts.append(lines)
            totals = bills.column("total").to_numpy()
            marker["groups"].append({
                "rate_code": str(code), "nem_program": str(program_code), "meters": int(mask.any(axis=1).sum()),
                "bills": bills.num_rows, "line_items": lines.num_rows,
                "kwh": float(bills.column("delivered_kwh").to_numpy().sum()), "revenue": float(totals.sum()),
                "bills_held": int((~bills.column("bill_ready").to_numpy(zero_copy_only=False)).sum()),
            })
    tables = {"bills": pa.concat_tables([SCHEMAS["bills"].empty_table(), *bills_parts]),
              "line_items": pa.concat_tables([SCHEMAS["line_items"].empty_table(), *lines_parts])}
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
    """Bills and line items of the meters ``rows`` of one chunk on one rate code and program.

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
            return SCHEMAS["bills"].empty_table(), SCHEMAS["line_items"].empty_table(), empty, held
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
    bills, lines = _tables(sub, tariff, periods, det, items, mask, program_code, extras, plan.vee_config)
    return bills, lines, mask, held


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


SCHEMAS = {
    "bills": pa.schema([
        ("meter", pa.string()), ("account", pa.string()), ("customer_class", pa.string()), ("cycle", pa.int16()),
        ("rate_code", pa.string()), ("period_start", pa.date32()), ("period_end", pa.date32()), ("days", pa.int16()),
        ("partial", pa.bool_()), ("delivered_kwh", pa.float64()), ("received_kwh", pa.float64()),
        ("peak_kw", pa.float64()), ("billing_demand_kw", pa.float64()), ("intervals", pa.int32()),
        ("missing_intervals", pa.int32()), ("estimated_intervals", pa.int32()), ("nem_program", pa.string()),
        ("credit_earned", pa.float64()), ("credit_applied", pa.float64()), ("credit_carried", pa.float64()),
        ("kwh_carried", pa.float64()), ("true_up", pa.bool_()), ("total", pa.float64()),
        # the NEM bank's other flows (workbench.nem.results.with_bank_flows): brought forward from the previous
        # bill + earned (banked) - applied (used) - settled at the true-up = carried, in $ and in kWh
        ("credit_brought", pa.float64()), ("credit_settled", pa.float64()), ("kwh_brought", pa.float64()),
        ("kwh_banked", pa.float64()), ("kwh_used", pa.float64()), ("kwh_settled", pa.float64()),
        # the VEE bill-ready verdict on the period's intervals (workbench.vee.ready_verdict): a bill that is not
        # ready is computed but held for review, with the reason
        ("bill_ready", pa.bool_()), ("hold_reason", pa.string()),
    ]),
    "line_items": pa.schema([
        ("meter", pa.string()), ("period_start", pa.date32()), ("line", pa.int16()), ("description", pa.string()),
        ("category", pa.string()), ("quantity", pa.float64()), ("unit", pa.string()), ("rate", pa.float64()),
        ("amount", pa.float64()), ("tariff_version", pa.string()),
    ]),
}


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


def _tables(ds, tariff, periods, det, items, mask, program_code="", extras=None, vee_config=None):
    m_idx, b_idx = np.nonzero(mask)
    counts = det.counts[m_idx, b_idx]
    implausible = None
    if "implausible" in ds:  # withheld reads per (meter, period): cumulative counts at the period bounds
        hit = ds["implausible"]
        cum = np.zeros((hit.shape[0], hit.shape[1] + 1), np.int64)
        np.cumsum(hit, axis=1, out=cum[:, 1:])
        lo, hi = periods.bounds[m_idx, b_idx], periods.bounds[m_idx, b_idx + 1]
        implausible = cum[m_idx, hi] - cum[m_idx, lo]
    ready, reason = ready_verdict(counts[:, 0] + counts[:, 1], counts[:, 2], counts[:, 1], vee_config,
                                  implausible=implausible)
    # string columns: each distinct string converted to Arrow once, then gathered by index (``take``), not one
    # Python or numpy string per row
    meters = pa.array(ds["meter"].astype(str))
    amounts = np.stack(items.amount) if items.amount else np.zeros((0,) + mask.shape)
    totals = np.round(amounts.sum(axis=0), 2)
    bd = billing_demand(tariff, det, periods)
    bills = pa.table({
        "meter": meters.take(m_idx),
        "account": pa.array(ds["account"].astype(str)).take(m_idx),
        "customer_class": pa.array(ds["customer_class"].astype(str)).take(m_idx),
        "cycle": ds["cycle"].astype(np.int16)[m_idx],
        "rate_code": pa.repeat(pa.scalar(tariff.code, pa.string()), len(m_idx)),
        "period_start": periods.start[m_idx, b_idx],
        "period_end": periods.end[m_idx, b_idx],
        "days": periods.days[m_idx, b_idx].astype(np.int16),
        "partial": (periods.days < periods.nominal_days)[m_idx, b_idx],
        "delivered_kwh": det.energy_kwh.sum(axis=-1)[m_idx, b_idx],
        "received_kwh": det.received_kwh.sum(axis=-1)[m_idx, b_idx],
        "peak_kw": det.peak_kw[m_idx, b_idx],
        "billing_demand_kw": bd[m_idx, b_idx],
        "intervals": det.counts[m_idx, b_idx, 0].astype(np.int32),
        "missing_intervals": det.counts[m_idx, b_idx, 1].astype(np.int32),
        "estimated_intervals": det.counts[m_idx, b_idx, 2].astype(np.int32),
        "nem_program": pa.repeat(pa.scalar(str(program_code), pa.string()), len(m_idx)),
        **{name: (extras[name][m_idx, b_idx] if extras and name in extras else np.zeros(len(m_idx)))
           for name in ("credit_earned", "credit_applied", "credit_carried", "kwh_carried")},
        "true_up": (extras["true_up"][m_idx, b_idx] if extras and "true_up" in extras
                    else np.zeros(len(m_idx), bool)),
        "total": totals[m_idx, b_idx],
        **{name: (extras[name][m_idx, b_idx] if extras and name in extras else np.zeros(len(m_idx)))
           for name in ("credit_brought", "credit_settled", "kwh_brought", "kwh_banked", "kwh_used", "kwh_settled")},
        "bill_ready": ready,
        "hold_reason": reason,
    }, schema=SCHEMAS["bills"])
    # line items: every (item, meter, period) with a quantity or an amount
    qty = np.stack(items.quantity) if items.quantity else amounts
    rate = np.stack(items.rate) if items.rate else amounts
    keep = ((qty != 0) | (amounts != 0)) & mask[None]
    j, m, b = np.nonzero(keep)
    order = np.lexsort((j, b, m))
    j, m, b = j[order], m[order], b[order]
    line_no = np.zeros(len(j), np.int16)
    if len(j):
        new_bill = np.r_[True, (m[1:] != m[:-1]) | (b[1:] != b[:-1])]
        group_start = np.maximum.accumulate(np.where(new_bill, np.arange(len(j)), 0))
        line_no = (np.arange(len(j)) - group_start + 1).astype(np.int16)
    lines = pa.table({
        "meter": meters.take(m),
        "period_start": periods.start[m, b],
        "line": line_no,
        "description": _strings(items.description).take(j),
        "category": _strings(items.category).take(j),
        "quantity": np.round(qty[j, m, b], 6),
        "unit": _strings(items.unit).take(j),
        "rate": np.round(rate[j, m, b], 6),
        "amount": amounts[j, m, b],
        "tariff_version": _strings(items.version).take(j),
    }, schema=SCHEMAS["line_items"])
    return bills, lines


def _strings(values) -> pa.Array:
    """One Arrow string per line item (``take`` then gathers them per row)."""
    return pa.array(list(values), pa.string())
