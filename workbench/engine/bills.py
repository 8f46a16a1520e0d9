"""Bills: line items grouped per meter and bill period, for people and for files."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np

from workbench.calendar.periods import BillPeriods
from workbench.engine.pricing import Determinants, LineItems


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
    true_up: bool = False  # this bill carries the annual true-up

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data


def _date(value) -> dt.date:
    return dt.date.fromisoformat(str(np.datetime64(value, "D")))


def bills_for_meter(items: LineItems, periods: BillPeriods, det: Determinants, m: int = 0,
                    extras: dict | None = None) -> list[Bill]:
    """The bills of meter row ``m``, zero lines (no quantity, no amount) left out."""
    bills = []
    days = periods.days
    for b in np.flatnonzero(periods.valid[m]):
        lines, versions = [], set()
        for j in range(len(items.description)):
            qty, amount = float(items.quantity[j][m, b]), float(items.amount[j][m, b])
            if qty == 0 and amount == 0:
                continue
            versions.add(items.version[j])
            lines.append((j, LineItem(items.description[j], items.category[j], round(qty, 6), items.unit[j],
                                      round(float(items.rate[j][m, b]), 6), round(amount, 2))))
        if len(versions) > 1:  # a rate change inside the period: say which rates each line is at
            for j, line in lines:
                line.description += f" (rates of {items.version[j]})"
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
