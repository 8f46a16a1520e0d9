"""Revenue at present rates by class for a test year, from the billing engine.

Every meter is billed by the cycle's own machinery (:func:`workbench.billing.cycle_plan.plan_cycle` and
:func:`workbench.billing.cycle_chunk.bill_chunk`: its rate code's tariff, its net-metering program, the VEE
bill-ready verdict) on **calendar-month** bill periods instead of its read cycle's, so the 12 bills of the test
year are exactly the year (no read-cycle bill straddles its ends; see docs/cost-of-service.md). Revenue is the
sum of those bills' totals, in cents. Bills held for review by VEE are counted in the revenue and reported;
meters that cannot be billed (a rate code or program not in the book, exports with no program) are an error:
revenue short by their bills would make their class look cheaper than it is.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.billing.cycle_chunk import bill_chunk
from workbench.billing.cycle_plan import plan_cycle
from workbench.calendar.periods import calendar_month_periods
from workbench.errors import WorkbenchError


class PresentRevenueError(WorkbenchError):
    """Some meters cannot be billed at present rates, so the revenue by class would be short."""


def present_revenue(cube, tariffs_dir, year: int) -> pd.DataFrame:
    """One row per class: class, meters, bills, bills_held, revenue_cents (sum of the 12 monthly bills)."""
    with tempfile.TemporaryDirectory(prefix="workbench-cos-") as work:
        planned = plan_cycle(cube, tariffs_dir, Path(work) / "bills")
        plan = planned.plan
        first = np.datetime64(int(plan.local_day[0]), "D")
        end = np.datetime64(int(plan.local_day[-1]), "D") + 1
        months = calendar_month_periods(first, end)
        plan.cycle_rows = {cycle: months for cycle in plan.cycle_rows}
        plan.parts = str(Path(work) / "parts")
        Path(plan.parts).mkdir()
        held = list(planned.exceptions)
        tables = []
        for task in planned.tasks:
            marker, billed = bill_chunk(plan, task, with_tables=True)
            held += marker["held"]
            tables.append(billed["bills"].select(["meter", "customer_class", "period_start", "period_end", "total",
                                                  "bill_ready"]).to_pandas())
    if held:
        first_held = held[0]
        raise PresentRevenueError(
            f"{cube}: {len(held)} meter(s) cannot be billed at present rates under {tariffs_dir} (first: meter "
            f"{first_held['meter']}: {first_held['reason']}); fix the tariff book, or give the revenue by class "
            "with --revenue FILE")
    bills = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=["meter", "customer_class", "period_start", "period_end", "total", "bill_ready"])
    start, stop = pd.Timestamp(f"{int(year)}-01-01"), pd.Timestamp(f"{int(year) + 1}-01-01")
    inside = bills[(pd.to_datetime(bills["period_start"]) >= start) & (pd.to_datetime(bills["period_end"]) <= stop)]
    inside = inside.assign(cents=np.round(inside["total"].to_numpy(float) * 100).astype(np.int64),
                           held=~inside["bill_ready"].astype(bool))
    out = inside.groupby("customer_class").agg(meters=("meter", "nunique"), bills=("meter", "size"),
                                               bills_held=("held", "sum"), revenue_cents=("cents", "sum"))
    return out.reset_index().rename(columns={"customer_class": "class"})
