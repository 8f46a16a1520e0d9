"""Bills: line items grouped per meter and bill period, for people and for files.

Every bill adds up: its total is the sum of its line items, each rounded to the cent, exactly in integer
cents (:func:`check_bills_add_up` for Bill objects, :func:`check_bill_tables` for a billing run's tables).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa

from workbench.calendar.periods import BillPeriods
from workbench.engine.money_checks import MAX_LINE_AMOUNT, MAX_QUANTITY, insane_line, sane_line
from workbench.engine.pricing import Determinants, LineItems
from workbench.errors import BillingError


@dataclass
class LineItem:
    description: str
    category: str  # fixed, energy, demand, minimum, rider, tax, credit
    quantity: float
    unit: str
    rate: float
    amount: float  # [$], rounded to the cent


@dataclass
class Bill:
    start: dt.date
    end: dt.date  # exclusive
    days: int
    total: float
    line_items: list[LineItem] = field(default_factory=list)
    delivered_kwh: float = 0.0
    received_kwh: float = 0.0
    peak_kw: float = 0.0
    partial: bool = False
    estimated_intervals: int = 0
    missing_intervals: int = 0
    # net metering / net billing (zero without a program)
    credit_earned: float = 0.0  # [$] export credits earned in this bill
    credit_applied: float = 0.0  # [$] credits that offset this bill's charges
    credit_carried: float = 0.0  # [$] credit balance carried to the next bill
    kwh_carried: float = 0.0  # [kWh] banked kWh carried to the next bill (kWh credits)
    # the bank's other flows: brought + earned - applied - settled = carried ($ and kWh alike)
    credit_brought: float = 0.0  # [$] credit balance brought forward from the previous bill
    credit_settled: float = 0.0  # [$] credit balance taken out at the true-up (paid out or forfeited)
    kwh_brought: float = 0.0  # [kWh] banked kWh brought forward from the previous bill
    kwh_banked: float = 0.0  # [kWh] surplus kWh put in the bank by this bill
    kwh_used: float = 0.0  # [kWh] banked kWh that offset this bill's imports
    kwh_settled: float = 0.0  # [kWh] banked kWh cleared at the true-up (or lost rolling to this bill's periods)
    true_up: bool = False  # this bill carries the annual true-up

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data


def _date(value) -> dt.date:
    return dt.date.fromisoformat(str(np.datetime64(value, "D")))


def bills_for_meter(items: LineItems, periods: BillPeriods, det: Determinants, m: int = 0,
                    extras: dict | None = None, label: str = "") -> list[Bill]:
    """The bills of meter row ``m``, zero lines (no quantity, no amount) left out.

    A line item whose amount is not finite or beyond any real bill's is a BillingError naming ``label`` (the
    meter or its file) and the bill period, never a bill.
    """
    bills = []
    days = periods.days
    for b in np.flatnonzero(periods.valid[m]):
        lines, versions = [], set()
        for j in range(len(items.description)):
            qty, amount = float(items.quantity[j][m, b]), float(items.amount[j][m, b])
            if not sane_line(qty, amount):
                raise BillingError(insane_line(label or f"meter row {m}", _date(periods.start[m, b]),
                                               _date(periods.end[m, b]), items.description[j], qty, items.unit[j],
                                               float(items.rate[j][m, b])))
            if qty == 0 and amount == 0:
                continue
            versions.add(items.version[j])
            lines.append((j, LineItem(items.description[j], items.category[j], round(qty, 6), items.unit[j],
                                      round(float(items.rate[j][m, b]), 6), round(amount, 2))))
        if len(versions) > 1:  # a rate change inside the period: say which rates each line is at
            for j, line in lines:
                line.description += f" (rates of {items.version[j]})"
        share = partial_share_text(periods, m, b)
        if share:  # a partial period's demand lines pay its share of a month, as its customer charge does
            for j, line in lines:
                if items.prorated and items.prorated[j]:
                    line.description += f" (prorated {share})"
        lines = [line for _, line in lines]
        total = round(sum(li.amount for li in lines), 2)
        counts = det.counts[m, b]
        bills.append(Bill(
            start=_date(periods.start[m, b]), end=_date(periods.end[m, b]), days=int(days[m, b]), total=total,
            line_items=lines, delivered_kwh=round(float(det.energy_kwh[m, b].sum()), 4),
            received_kwh=round(float(det.received_kwh[m, b].sum()), 4), peak_kw=round(float(det.peak_kw[m, b]), 4),
            partial=bool(days[m, b] < periods.nominal_days[m, b]), estimated_intervals=int(counts[2]),
            missing_intervals=int(counts[1]),
            **{k: (bool(v[m, b]) if k == "true_up" else round(float(v[m, b]), 4)) for k, v in (extras or {}).items()},
        ))
    return bills


def partial_share_text(periods: BillPeriods, m: int, b: int) -> str:
    """'7/31 days' (or '75/744 hours' when the data cover part of a day) for a partial period, '' for a full one."""
    nominal = int(periods.nominal_days[m, b])
    if periods.proration[m, b] >= 1.0:
        return ""
    hours = periods.covered_share[m, b] if periods.covered_share is not None else np.nan
    if not np.isnan(hours):
        return f"{round(hours * nominal * 24, 2):g}/{nominal * 24} hours"
    return f"{int(periods.days[m, b])}/{nominal} days"


def _cents(amounts) -> tuple[np.ndarray, np.ndarray]:
    """(integer cents, on the cent grid?) of dollar amounts."""
    hundredfold = np.asarray(amounts, dtype=float) * 100.0
    with np.errstate(invalid="ignore"):
        cents = np.rint(hundredfold)
        on_grid = np.isfinite(hundredfold) & (np.abs(hundredfold - cents) < 1e-3)
    return np.where(on_grid, cents, 0).astype(np.int64), on_grid


def check_bills_add_up(bills: list[Bill], label: str = "") -> None:
    """Every bill's total equals the sum of its line items, to the cent, in integer cents; else BillingError.

    Also every amount is a finite number of whole cents. ``label`` names the meter (or its file).
    """
    for bill in bills:
        where = f"{label + ', ' if label else ''}bill period {bill.start} to {bill.end}"
        lines, on_grid = _cents([li.amount for li in bill.line_items])
        total, total_ok = _cents([bill.total])
        if not on_grid.all():
            bad = bill.line_items[int(np.argmin(on_grid))]
            raise BillingError(f"{where}: line item '{bad.description}' amount {bad.amount!r} is not a whole "
                               "number of cents")
        if not total_ok[0] or int(total[0]) != int(lines.sum()):
            raise BillingError(f"{where}: the bill total {bill.total!r} is not the sum of its line items "
                               f"({lines.sum() / 100:.2f}); the bill does not add up")


def check_bill_tables(bills: pa.Table, lines: pa.Table, label: str = "") -> None:
    """A billing run's ``bills`` and ``line_items`` tables (workbench.billing.cycle_chunk.SCHEMAS): every
    amount finite, sane and in whole cents, every bill's total the sum of its line items in integer cents.

    A meter's bill that does not add up stops the run with a BillingError naming the meter and the period.
    """
    prefix = f"{label}: " if label else ""
    amount = lines.column("amount").to_numpy(zero_copy_only=False)
    quantity = lines.column("quantity").to_numpy(zero_copy_only=False)
    cents, on_grid = _cents(amount)
    with np.errstate(invalid="ignore"):
        sane = on_grid & (np.abs(amount) < MAX_LINE_AMOUNT) & (np.abs(quantity) < MAX_QUANTITY)
    if not sane.all():
        i = int(np.argmin(sane))
        row = {name: lines.column(name)[i].as_py() for name in lines.column_names}
        raise BillingError(prefix + insane_line(f"meter {row['meter']}", row["period_start"], None,
                                                row["description"], float(quantity[i]), row["unit"],
                                                float(row["rate"] if row["rate"] is not None else np.nan)))
    bill_key, line_key = _keys(bills, lines)
    unique, inverse = np.unique(line_key, return_inverse=True)
    # float sums of whole cents are exact far beyond any bill (2**53 cents)
    sums = np.rint(np.bincount(inverse.ravel(), weights=cents, minlength=len(unique))).astype(np.int64)
    pos = np.minimum(np.searchsorted(unique, bill_key), max(len(unique) - 1, 0))
    found = (unique[pos] == bill_key) if len(unique) else np.zeros(len(bill_key), dtype=bool)
    expected = np.where(found, sums[pos] if len(unique) else 0, 0)
    total = bills.column("total").to_numpy(zero_copy_only=False)
    total_cents, total_ok = _cents(total)
    bad = ~total_ok | (total_cents != expected)
    if bad.any():
        i = int(np.argmax(bad))
        meter, start = bills.column("meter")[i].as_py(), bills.column("period_start")[i].as_py()
        raise BillingError(f"{prefix}meter {meter}, bill period from {start}: the bill total {float(total[i])!r} is not "
                           f"the sum of its line items ({expected[i] / 100:.2f}); the bill does not add up")


def _keys(bills: pa.Table, lines: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per (meter, period start) of each bill and each line: meter code << 32 | day."""
    meters = pa.chunked_array(bills.column("meter").chunks + lines.column("meter").chunks, pa.string())
    codes = meters.combine_chunks().dictionary_encode().indices.to_numpy(zero_copy_only=False).astype(np.int64)
    days = np.concatenate([table.column("period_start").cast(pa.int32()).to_numpy(zero_copy_only=False)
                           for table in (bills, lines)]).astype(np.int64) + (1 << 31)
    key = (codes << 32) | days
    return key[: bills.num_rows], key[bills.num_rows:]
