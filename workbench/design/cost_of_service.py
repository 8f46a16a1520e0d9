"""A class cost-of-service study: the revenue requirement allocated to classes with allocators from AMI.

Each function row of the study (:mod:`workbench.design.cos_study`) is allocated to the classes in proportion to
its allocator (a column of :func:`workbench.design.allocators.allocator_table`), in whole cents by the largest
remainder method: every class gets the floor of its exact share, and the cents left over go one each to the
classes with the largest fractional parts (ties: the class listed first). So every function's allocation sums
to its cost to the cent, and the class totals sum to the revenue requirement.

Against the revenue at present rates by class (:mod:`workbench.design.present_revenue`, or a given table):

revenue_to_cost [-]
    class revenue / class allocated cost
parity_ratio [-]
    revenue_to_cost of the class / revenue_to_cost of the system (1 = the class pays its cost share)
rate_of_return, relative_rate_of_return [-] (when the study gives rate base and return)
    (revenue - (allocated cost - allocated return)) / allocated rate base, and that / the system's
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.design.cos_study import Study
from workbench.errors import WorkbenchError


class CostOfServiceError(WorkbenchError):
    """The study cannot be allocated as asked (a negative or all-zero allocator, a class without revenue)."""


def largest_remainder(total_cents: int, weights) -> np.ndarray:
    """``total_cents`` split in proportion to ``weights`` (>= 0, not all 0) into whole cents summing to it."""
    w = np.asarray(weights, dtype=float)
    exact = total_cents * (w / w.sum())
    cents = np.floor(exact).astype(np.int64)
    left = int(total_cents - cents.sum())
    order = np.argsort(-(exact - cents), kind="stable")  # largest fraction first; ties: first listed
    cents[order[:left]] += 1
    return cents


def allocate(study: Study, allocators: pd.DataFrame) -> pd.DataFrame:
    """Long table, one row per (function row, class): allocator value, share, allocated cost [$] (cents exact).

    Columns: function, classification, label, allocator, class, allocator_value, share, allocated_cents,
    allocated, allocated_rate_base, allocated_return.
    """
    classes = allocators["class"].astype(str).tolist()
    out = []
    for row in study.rows:
        if row.allocator not in allocators.columns:
            raise CostOfServiceError(f"{study.source}: {row.label}: allocator {row.allocator!r} was not computed "
                                     f"(columns {', '.join(allocators.columns[1:])}); kwh_<period> needs --tou-tariff")
        values = allocators[row.allocator].to_numpy(dtype=float)
        negative = np.flatnonzero(values < 0)
        if len(negative):
            raise CostOfServiceError(f"{study.source}: {row.label}: allocator {row.allocator} is negative for class "
                                     f"{classes[negative[0]]} ({values[negative[0]]:.3f}); net exports exceed its "
                                     "load at the peak: choose another allocator for this function")
        if values.sum() <= 0:
            raise CostOfServiceError(f"{study.source}: {row.label}: allocator {row.allocator} is 0 for every class")
        share = values / values.sum()
        out.append(pd.DataFrame({
            "function": row.function, "classification": row.classification, "label": row.label,
            "allocator": row.allocator, "class": classes, "allocator_value": values, "share": share,
            "allocated_cents": largest_remainder(row.cost_cents, values),
            "rate_base_cents": largest_remainder(row.rate_base_cents, values),
            "return_cents": largest_remainder(row.return_cents, values),
        }))
    long = pd.concat(out, ignore_index=True)
    for row in study.rows:  # the cross-foot, in cents: a broken split is a bug, never a rounding difference
        got = int(long.loc[long["label"] == row.label, "allocated_cents"].sum())
        if got != row.cost_cents:
            raise AssertionError(f"{row.label}: allocated {got} cents of {row.cost_cents}")
    long["allocated"] = long["allocated_cents"] / 100
    long["allocated_rate_base"] = long.pop("rate_base_cents") / 100
    long["allocated_return"] = long.pop("return_cents") / 100
    return long


def class_table(study: Study, long: pd.DataFrame, revenue_cents: dict[str, int]) -> pd.DataFrame:
    """cos.csv: one row per class and a ``TOTAL`` row: each function's allocated cost [$], total cost,
    revenue at present rates [$], revenue - cost, revenue_to_cost, parity_ratio (and rates of return)."""
    classes = list(dict.fromkeys(long["class"]))
    missing = [c for c in classes if c not in revenue_cents]
    if missing:
        raise CostOfServiceError(f"no revenue at present rates for class {missing[0]!r} (classes {classes})")
    cents = long.pivot(index="class", columns="label", values="allocated_cents").loc[classes, [r.label for r in study.rows]]
    table = cents.copy()
    table["total_cost"] = cents.sum(axis=1)
    table["revenue"] = [int(revenue_cents[c]) for c in classes]
    table.loc["TOTAL"] = table.sum(axis=0)
    table["revenue_minus_cost"] = table["revenue"] - table["total_cost"]
    dollars = table.astype(np.int64) / 100  # every money column is whole cents summed: the TOTAL row cross-foots
    dollars["revenue_to_cost"] = np.divide(table["revenue"], table["total_cost"],
                                           out=np.full(len(table), np.nan), where=table["total_cost"] > 0)
    dollars["parity_ratio"] = dollars["revenue_to_cost"] / dollars.loc["TOTAL", "revenue_to_cost"]
    rate_base = long.groupby("class")["allocated_rate_base"].sum()
    if rate_base.sum() > 0:
        ret = long.groupby("class")["allocated_return"].sum()
        rate_base.loc["TOTAL"], ret.loc["TOTAL"] = rate_base.sum(), ret.sum()
        income = dollars["revenue"] - (dollars["total_cost"] - ret.reindex(dollars.index))
        dollars["rate_base"] = rate_base.reindex(dollars.index)
        dollars["rate_of_return"] = income / dollars["rate_base"]
        system = dollars.loc["TOTAL", "rate_of_return"]
        # over a system return <= 0 the ratio inverts (the worst class shows the highest): left empty then
        dollars["relative_rate_of_return"] = dollars["rate_of_return"] / system if system > 0 else np.nan
    dollars.index.name = "class"
    return dollars.reset_index()


def read_revenue_table(path) -> dict[str, int]:
    """A revenue-by-class CSV (columns ``class,revenue`` [$]) as class -> cents."""
    try:
        table = pd.read_csv(path, dtype={"class": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CostOfServiceError(f"{path}: not a CSV with columns class,revenue ({exc})") from None
    for name in ("class", "revenue"):
        if name not in table.columns:
            raise CostOfServiceError(f"{path}: no column {name!r}; expected columns class,revenue")
    values = pd.to_numeric(table["revenue"], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise CostOfServiceError(f"{path}: row {bad[0] + 2}: field revenue {table['revenue'].iloc[bad[0]]!r} "
                                 "is not an amount of dollars")
    twice = table["class"][table["class"].duplicated()]
    if len(twice):
        raise CostOfServiceError(f"{path}: class {twice.iloc[0]!r} appears twice; give each class once")
    return {str(c): int(round(v * 100)) for c, v in zip(table["class"], values, strict=True)}
