"""Bill a whole utility (or some bill cycles) from the interval cube.

Streams over meter chunks of the Zarr cube, so memory is bounded by the chunk, not the utility: each chunk
is read once, scanned under each tariff its meters are on, priced, and appended to Parquet. Outputs, in
``out/`` (written to a temporary folder and moved into place only when complete, so a failed run leaves no
half-written results):

- ``bills.parquet``: one row per meter and bill period (dates, days, kWh, kW, total, estimated flags)
- ``line_items.parquet``: one row per line item (description, category, quantity, unit, rate, amount)
- ``exceptions.csv``: meters held, with the reason (e.g. a rate code not in the tariff book)
- ``summary.csv``: bills, kWh and revenue by rate code
- ``run.json``: the run's parameters and its accounting (meters in = billed + held)
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from workbench.ami.cube import open_cube
from workbench.billing.cube import (
    cube_determinants,
    cube_local_days,
    cube_periods,
    cube_time,
    determinants_from_dataset,
)
from workbench.billing.determinants import schedule_arrays
from workbench.billing.periods import BillPeriods
from workbench.billing.pricing import billing_demand, price
from workbench.errors import BillingError
from workbench.nem import load_programs
from workbench.nem.billing import Enrollment, bill_with_program
from workbench.tariffs import load_tariff_book


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

    def summary_text(self) -> str:
        lines = [f"Billed {self.meters_billed:,} of {self.meters_in:,} meters "
                 f"({self.meters_held:,} held as exceptions) in {self.seconds:.1f} s",
                 f"{self.bills:,} bills, {self.line_items:,} line items, revenue ${self.revenue:,.2f}", ""]
        if self.summary is not None and len(self.summary):
            table = self.summary.copy()
            table["kwh"] = table["kwh"].map("{:,.0f}".format)
            table["revenue"] = table["revenue"].map("${:,.2f}".format)
            table["average_bill"] = table["average_bill"].map("${:,.2f}".format)
            lines.append(table.to_string(index=False))
            lines.append("")
        lines.append(f"Outputs in {self.out}/: bills.parquet, line_items.parquet, summary.csv, exceptions.csv, run.json")
        return "\n".join(lines)


def _period_mask(periods: BillPeriods, period: str | None) -> np.ndarray:
    valid = periods.valid
    if period is None:
        return valid
    try:
        month = np.datetime64(period, "M")
    except ValueError:
        raise BillingError(f"--period {period!r}: expected a month like 2025-11") from None
    return valid & ((periods.end - 1).astype("datetime64[M]") == month)


def run_cycle(cube, tariffs_dir, out, *, cycles=None, period=None, progress=True, chunk_meters=None) -> CycleResult:
    """Bill cycles ``cycles`` (None: all) of the cube at ``cube`` under the tariff book ``tariffs_dir``."""
    started = time.perf_counter()
    ds = open_cube(cube)
    book = load_tariff_book(tariffs_dir)
    out = Path(out)
    utc, step = cube_time(ds)
    local_day = cube_local_days(ds)
    cycle_of = ds["cycle"].values.astype(int)
    selected = np.ones(ds.sizes["meter"], bool) if cycles is None else np.isin(cycle_of, cycles)
    if cycles is not None:
        unknown = sorted(set(cycles) - set(cycle_of.tolist()))
        if unknown:
            raise BillingError(f"cycle(s) {unknown} have no meters in {cube}; cycles present: {sorted(set(cycle_of.tolist()))}")
    schedules = {}
    rate_codes = ds["rate_code"].values.astype(str)
    nem_codes = ds["nem_program"].values.astype(str)
    programs_dir = Path(tariffs_dir) / "programs"
    programs = load_programs(programs_dir) if programs_dir.exists() else {}
    exceptions = [
        {"meter": m, "account": a, "rate_code": r, "reason": f"rate code {r!r} is not in the tariff book {tariffs_dir}"}
        for m, a, r, s in zip(ds["meter"].values, ds["account"].values, rate_codes, selected, strict=True)
        if s and r not in book
    ]
    exceptions += [
        {"meter": m, "account": a, "rate_code": r,
         "reason": f"net-metering program {p!r} is not in {programs_dir}/ (programs: {sorted(programs)})"}
        for m, a, r, p, s in zip(ds["meter"].values, ds["account"].values, rate_codes, nem_codes, selected, strict=True)
        if s and r in book and p and p not in programs
    ]
    billable = selected & np.isin(rate_codes, list(book)) & ((nem_codes == "") | np.isin(nem_codes, list(programs)))
    export_prices_cache = {}

    chunk = chunk_meters or (ds["delivered_kwh"].chunks[0][0] if ds["delivered_kwh"].chunks else 1000)
    tmp = out.parent / f".{out.name}.partial-{int(time.time() * 1e6)}"
    tmp.mkdir(parents=True)
    writers = {}
    counts = {"bills": 0, "line_items": 0, "revenue": 0.0, "held_in_chunks": 0}
    by_code = {}
    try:
        starts = range(0, ds.sizes["meter"], chunk)
        bar = tqdm(starts, desc="Billing meter chunks", unit="chunk", disable=not progress)
        for start in bar:
            idx = np.flatnonzero(billable[start : start + chunk]) + start
            if not len(idx):
                continue
            block = ds.isel(meter=slice(start, start + chunk)).load().isel(meter=idx - start)
            periods_all = cube_periods(block, local_day)
            codes = rate_codes[idx]
            nem = nem_codes[idx]
            # a meter that exports but is on no program cannot be billed right: hold it, with the reason
            exported = np.nansum(block["received_kwh"].values, axis=1) > 0
            unassigned = exported & (nem == "")
            for i in np.flatnonzero(unassigned):
                exceptions.append({"meter": str(block["meter"].values[i]), "account": str(block["account"].values[i]),
                                   "rate_code": codes[i], "reason": "received energy from the customer but the "
                                   "account is on no net-metering program (nem_program is empty)"})
            counts["held_in_chunks"] += int(unassigned.sum())
            for code, program_code in sorted(set(zip(codes[~unassigned], nem[~unassigned], strict=True))):
                tariff = book[code]
                if code not in schedules:
                    schedules[code] = schedule_arrays(tariff, utc, step, timezone=tariff.timezone or ds.attrs["timezone"])
                rows = np.flatnonzero((codes == code) & (nem == program_code) & ~unassigned)
                sub = block.isel(meter=rows)
                periods = BillPeriods(periods_all.start[rows], periods_all.end[rows], periods_all.nominal_days[rows],
                                      periods_all.bounds[rows])
                extras = None
                if program_code:
                    program = programs[program_code]
                    key = (code, program_code)
                    if key not in export_prices_cache:
                        export_prices_cache[key] = _program_export_price(program, tariff, utc, step, schedules[code])
                    price_array = export_prices_cache[key]
                    if program.netting_interval == "hourly":
                        sub = _hourly_netted(sub, utc, step)
                    det = determinants_from_dataset(
                        cube_determinants(sub, tariff, periods, schedules[code], export_price=price_array))
                    result = bill_with_program(tariff, det, periods, Enrollment(program), export_valued=price_array is not None)
                    items, extras = result.items, result.extras
                else:
                    det = determinants_from_dataset(cube_determinants(sub, tariff, periods, schedules[code]))
                    items = price(tariff, det, periods)
                mask = _period_mask(periods, period)
                bills, lines = _tables(sub, tariff, periods, det, items, mask, program_code, extras)
                _append(writers, tmp, "bills", bills)
                _append(writers, tmp, "line_items", lines)
                counts["bills"] += bills.num_rows
                counts["line_items"] += lines.num_rows
                totals = bills.column("total").to_numpy()
                counts["revenue"] += float(totals.sum())
                agg = by_code.setdefault(code, {"rate_code": code, "meters": 0, "bills": 0, "kwh": 0.0, "revenue": 0.0})
                agg["meters"] += int(mask.any(axis=1).sum())
                agg["bills"] += bills.num_rows
                agg["kwh"] += float(bills.column("delivered_kwh").to_numpy().sum())
                agg["revenue"] += float(totals.sum())
        for writer in writers.values():
            writer.close()
        for name in ("bills", "line_items"):
            if name not in writers:
                pq.write_table(_empty(name), tmp / f"{name}.parquet")
        summary = pd.DataFrame(list(by_code.values()), columns=["rate_code", "meters", "bills", "kwh", "revenue"])
        summary["revenue"] = summary["revenue"].round(2)
        summary["average_bill"] = (summary["revenue"] / summary["bills"].where(summary["bills"] > 0)).round(2)
        summary.to_csv(tmp / "summary.csv", index=False)
        pd.DataFrame(exceptions, columns=["meter", "account", "rate_code", "reason"]).to_csv(tmp / "exceptions.csv", index=False)
        meters_in = int(selected.sum())
        result = CycleResult(out, meters_in, int(billable.sum()) - counts["held_in_chunks"], len(exceptions), counts["bills"],
                             counts["line_items"], round(counts["revenue"], 2), time.perf_counter() - started, summary)
        run = {"cube": str(cube), "tariffs": str(tariffs_dir), "cycles": cycles or "all", "period": period,
               "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "meters_in": meters_in,
               "meters_billed": result.meters_billed, "meters_held": result.meters_held, "bills": result.bills,
               "line_items": result.line_items, "revenue": result.revenue,
               "accounting": f"{meters_in} meters in = {result.meters_billed} billed + {result.meters_held} held"}
        (tmp / "run.json").write_text(json.dumps(run, indent=2))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.seconds = time.perf_counter() - started
    return result


_SCHEMAS = {
    "bills": pa.schema([
        ("meter", pa.string()), ("account", pa.string()), ("customer_class", pa.string()), ("cycle", pa.int16()),
        ("rate_code", pa.string()), ("period_start", pa.date32()), ("period_end", pa.date32()), ("days", pa.int16()),
        ("partial", pa.bool_()), ("delivered_kwh", pa.float64()), ("received_kwh", pa.float64()),
        ("peak_kw", pa.float64()), ("billing_demand_kw", pa.float64()), ("intervals", pa.int32()),
        ("missing_intervals", pa.int32()), ("estimated_intervals", pa.int32()), ("nem_program", pa.string()),
        ("credit_earned", pa.float64()), ("credit_applied", pa.float64()), ("credit_carried", pa.float64()),
        ("kwh_carried", pa.float64()), ("true_up", pa.bool_()), ("total", pa.float64()),
    ]),
    "line_items": pa.schema([
        ("meter", pa.string()), ("period_start", pa.date32()), ("line", pa.int16()), ("description", pa.string()),
        ("category", pa.string()), ("quantity", pa.float64()), ("unit", pa.string()), ("rate", pa.float64()),
        ("amount", pa.float64()), ("tariff_version", pa.string()),
    ]),
}


def _empty(name):
    return _SCHEMAS[name].empty_table()


def _append(writers, folder, name, table):
    if name not in writers:
        writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", _SCHEMAS[name], compression="zstd")
    writers[name].write_table(table)


def _program_export_price(program, tariff, utc, step, schedule):
    """Per-interval export values of a program (the vintage of the data's first year: the cube holds no PTO)."""
    if program.kind == "net_metering" or program.export_values is None:
        return None
    from workbench.nem.resolve import vintage_prices

    return vintage_prices(program, utc, schedule.local, step, pto=None)


def _hourly_netted(sub, utc, step):
    from workbench.nem.resolve import _hourly_net

    d, r = _hourly_net(sub["delivered_kwh"].values, sub["received_kwh"].values, utc, step)
    return sub.assign(delivered_kwh=(("meter", "time"), d), received_kwh=(("meter", "time"), r))


def _tables(ds, tariff, periods, det, items, mask, program_code="", extras=None):
    m_idx, b_idx = np.nonzero(mask)
    meters = ds["meter"].values.astype(str)
    amounts = np.stack(items.amount) if items.amount else np.zeros((0,) + mask.shape)
    totals = np.round(amounts.sum(axis=0), 2)
    bd = billing_demand(tariff, det, periods)
    bills = pa.table({
        "meter": meters[m_idx],
        "account": ds["account"].values.astype(str)[m_idx],
        "customer_class": ds["customer_class"].values.astype(str)[m_idx],
        "cycle": ds["cycle"].values.astype(np.int16)[m_idx],
        "rate_code": np.full(len(m_idx), tariff.code),
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
        "nem_program": np.full(len(m_idx), program_code),
        **{name: (extras[name][m_idx, b_idx] if extras and name in extras else np.zeros(len(m_idx)))
           for name in ("credit_earned", "credit_applied", "credit_carried", "kwh_carried")},
        "true_up": (extras["true_up"][m_idx, b_idx] if extras and "true_up" in extras
                    else np.zeros(len(m_idx), bool)),
        "total": totals[m_idx, b_idx],
    }, schema=_SCHEMAS["bills"])
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
        "meter": meters[m],
        "period_start": periods.start[m, b],
        "line": line_no,
        "description": np.asarray(items.description, dtype=object)[j] if len(j) else np.array([], dtype=object),
        "category": np.asarray(items.category, dtype=object)[j] if len(j) else np.array([], dtype=object),
        "quantity": np.round(qty[j, m, b], 6),
        "unit": np.asarray(items.unit, dtype=object)[j] if len(j) else np.array([], dtype=object),
        "rate": np.round(rate[j, m, b], 6),
        "amount": amounts[j, m, b],
        "tariff_version": np.asarray(items.version, dtype=object)[j] if len(j) else np.array([], dtype=object),
    }, schema=_SCHEMAS["line_items"])
    return bills, lines
