"""Bill register-read meters (no interval data) through the same tariffs, pricing and tables as the cycle.

:func:`bill_register_reads` reads a register-read CSV (:mod:`workbench.ami.register_reads`), looks each meter
up in the meter registry (account, class, cycle, rate code, CT x PT), and prices each read period with
:func:`workbench.engine.pricing.price` on determinants built from the reads, then writes the bills and line
items with the cycle's own table writer (:func:`workbench.billing.chunk_tables.tables`, schemas
:data:`~workbench.billing.chunk_tables.SCHEMAS`), so register-read and AMI bills stack into one table.

The determinants: a period's kWh spread evenly over its days, so a period across a season change is priced
by days in each season (as :mod:`workbench.billing.register` does for Green Button monthly data); its
billing demand the demand register's kW reading x multiplier (then the tariff's minimum and ratchet). A
meter is refused, with its reason, when its tariff cannot bill register reads
(:func:`workbench.billing.register.register_refusal`: time of use, real-time prices, coincident peaks, demand
by time of use, or demand with no kW reading), when it is not in the registry, its rate code is not in the
tariff book, or it is on a net-metering program. A bill on an estimated read, or on a period over
:data:`LONG_DAYS` days (a missed read), is computed but held with the reason, like a VEE-held AMI bill.
In the bills table ``intervals`` is 1 (one register read), ``peak_kw`` the demand reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.ami.register_reads import RegisterPeriods, read_register_reads
from workbench.ami.registry import MeterRegistry, load_registry
from workbench.billing.chunk_data import period_mask
from workbench.billing.chunk_tables import SCHEMAS
from workbench.billing.chunk_tables import tables as _tables
from workbench.billing.register import FULL_DAYS, register_refusal
from workbench.calendar.periods import BillPeriods
from workbench.engine.bills import check_bill_tables
from workbench.engine.pricing import Determinants, price
from workbench.tariffs import load_tariff_book

LONG_DAYS = 45  # a read period longer than this spans a missed read: held for review


@dataclass
class RegisterBills:
    """Bills and line items of register-read meters (the cycle's tables), what was refused, and the reads."""

    bills: pa.Table
    line_items: pa.Table
    refused: list[dict] = field(default_factory=list)  # meter, account, rate_code, reason (every period of it)
    reads: RegisterPeriods | None = None

    def summary_text(self) -> str:
        r = self.reads
        return (f"{r.path.name}: {r.reads} reads ({r.opening_reads} opening) -> {len(r.periods)} read periods "
                f"+ {len(r.rejected)} rejected; {_count(self.bills.num_rows, 'bill')}, "
                f"{_count(len(self.refused), 'meter')} refused")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def bill_register_reads(reads_path, registry, tariffs, *, period: str | None = None,
                        vee_config=None) -> RegisterBills:
    """Bill a register-read CSV.

    Parameters
    ----------
    reads_path : the register reads (docs/register-reads.md).
    registry : a :class:`MeterRegistry` or its file: each meter's account, class, cycle, rate code, CT x PT.
    tariffs : the tariff book folder, or a dict rate code -> compiled tariff.
    period : 'YYYY-MM': only the read periods ending in that month (as ``workbench cycle --period``).
    """
    registry = registry if isinstance(registry, MeterRegistry) else load_registry(registry)
    book = tariffs if isinstance(tariffs, dict) else load_tariff_book(tariffs)
    reads = read_register_reads(reads_path, {m.meter_id: m.multiplier for m in registry})
    frame = reads.periods
    refused, groups = [], {}
    for meter_id, rows in frame.groupby("meter_id", sort=True):
        why, meter = _refusal(meter_id, rows, registry, book)
        if why:
            refused.append({"meter": meter_id, "account": meter.account if meter else "",
                            "rate_code": meter.rate_code if meter else "", "reason": why})
            continue
        groups.setdefault(meter.rate_code, []).append((meter, rows.sort_values("period_start")))
    bills_parts, lines_parts = [SCHEMAS["bills"].empty_table()], [SCHEMAS["line_items"].empty_table()]
    for code in sorted(groups):
        bills, lines = _bill_group(book[code], groups[code], period, vee_config)
        bills_parts.append(bills)
        lines_parts.append(lines)
    bills, lines = pa.concat_tables(bills_parts), pa.concat_tables(lines_parts)
    check_bill_tables(bills, lines, str(reads_path))  # every bill adds up to its line items, in cents
    return RegisterBills(bills, lines, refused, reads)


def _refusal(meter_id, rows: pd.DataFrame, registry, book):
    if meter_id not in registry:
        return f"meter {meter_id} is not in the meter registry {registry.source}", None
    meter = registry[meter_id]
    if meter.rate_code not in book:
        return f"rate code {meter.rate_code!r} is not in the tariff book", meter
    if meter.nem_program:
        return f"on net-metering program {meter.nem_program}, which needs interval data", meter
    tariff = book[meter.rate_code]
    has_kw = rows["kw_demand"].notna()
    why = register_refusal(tariff, demand_read=bool(has_kw.all()))
    if why and tariff.needs_demand and has_kw.any() and not has_kw.all():
        first = rows.loc[~has_kw, "source"].iloc[0]
        return f"the tariff {tariff.code} bills demand but the read at {first} has no kw_demand", meter
    if why:
        return f"the tariff {tariff.code} cannot bill register reads: {why}", meter
    return "", meter


def _bill_group(tariff, members, period, vee_config):
    """Bills and line items of the register meters ``members`` [(meter, its periods)] on one tariff."""
    width = max(len(rows) for _, rows in members)
    n = len(members)
    start = np.zeros((n, width), "datetime64[D]")
    end = np.zeros((n, width), "datetime64[D]")
    nominal = np.ones((n, width), int)
    kwh, kw, estimated, source = np.zeros((n, width)), np.zeros((n, width)), np.zeros((n, width), bool), {}
    for i, (_, rows) in enumerate(members):
        k = len(rows)
        start[i, :k] = rows["period_start"].to_numpy().astype("datetime64[D]")
        end[i, :k] = rows["period_end"].to_numpy().astype("datetime64[D]")
        start[i, k:] = end[i, k:] = end[i, k - 1]
        days = (end[i, :k] - start[i, :k]).astype(int)
        month = start[i, :k].astype("datetime64[M]")
        month_days = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(int)
        nominal[i, :k] = np.where(days < FULL_DAYS, month_days, days)  # a short read pays its share of a month
        kwh[i, :k] = rows["kwh"].to_numpy(float)
        kw[i, :k] = np.nan_to_num(rows["kw_demand"].to_numpy(float))
        estimated[i, :k] = rows["estimated"].to_numpy(bool)
        for b, src in enumerate(rows["source"]):
            source[(i, b)] = src
    periods = BillPeriods(start, end, nominal, np.zeros((n, width + 1), np.int64))
    valid = periods.valid
    share = periods.season_days(tariff.month_season, len(tariff.season_names)) / np.maximum(periods.days, 1)[..., None]
    n_tou, n_energy = len(tariff.tou_names), tariff.n_energy_buckets
    energy = np.zeros((n, width, n_energy))
    for s in range(len(tariff.season_names)):
        energy[..., s * n_tou] = kwh * share[..., s]
    zeros = np.zeros((n, width))
    counts = np.stack([valid.astype(np.int64), np.zeros((n, width), np.int64), (estimated & valid).astype(np.int64)], -1)
    det = Determinants(energy_kwh=energy, received_kwh=np.zeros_like(energy), peak_kw=kw,
                      tou_peak_kw=np.repeat(kw[..., None], tariff.n_demand_buckets, axis=-1), cp_kw=zeros,
                      rtp_cost=zeros, counts=counts)
    items = price(tariff, det, periods)
    mask = period_mask(periods, period)
    ds = {"meter": np.array([m.meter_id for m, _ in members]), "account": np.array([m.account for m, _ in members]),
          "customer_class": np.array([m.customer_class for m, _ in members]),
          "cycle": np.array([m.cycle for m, _ in members])}
    bills, lines = _tables(ds, tariff, periods, det, items, mask, vee_config=vee_config)
    return _holds(bills, periods, mask, estimated, source), lines


def _holds(bills: pa.Table, periods: BillPeriods, mask, estimated, source) -> pa.Table:
    """The register reads' own bill-ready verdict: held on an estimated read or a long period, with the read."""
    m_idx, b_idx = np.nonzero(mask)
    ready, reasons = [], []
    for m, b in zip(m_idx, b_idx, strict=True):
        parts = []
        if estimated[m, b]:
            parts.append(f"estimated register read ({source[(m, b)]}): check it or read the meter")
        if periods.days[m, b] > LONG_DAYS:
            parts.append(f"read period of {periods.days[m, b]} days ({source[(m, b)]}): a missed read?")
        ready.append(not parts)
        reasons.append("; ".join(parts))
    for name, values, kind in (("bill_ready", ready, pa.bool_()), ("hold_reason", reasons, pa.string())):
        bills = bills.set_column(bills.schema.get_field_index(name), name, pa.array(values, kind))
    return bills

