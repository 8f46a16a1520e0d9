"""The NEM study's summary numbers: simple payback and the per-class headline table (savings, cost shift)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simple_payback(cost, savings) -> np.ndarray:
    """Simple payback [years]: ``cost / savings``; ``inf`` when the annual savings are not positive."""
    cost, savings = np.asarray(cost, float), np.asarray(savings, float)
    out = np.full(np.broadcast(cost, savings).shape, np.inf)
    ok = savings > 0
    np.divide(cost, savings, out=out, where=ok)
    return np.where(np.isnan(cost) | np.isnan(savings), np.nan, out)


def summarize(case: pd.DataFrame) -> pd.DataFrame:
    """Summary of a :meth:`StudyData.price_case` table: one row per group ("modelled PV", "existing solar").

    Means are per customer of the group; ``total_cost_shift_*`` sums the group [$/year]. Dollars are rounded to
    the cent (half to even, after the mean), paybacks to 0.1 year, the export share to 4 places.
    """
    rows = {}
    for label, part in (("modelled PV", case[~case["existing_solar"]]), ("existing solar", case[case["existing_solar"]])):
        if not len(part):
            continue
        rows[label] = {
            "customer_class": part["customer_class"].iloc[0], "size_kw": part["size_kw"].iloc[0],
            "vintage": part["vintage"].iloc[0], "customers": len(part),
            "mean_bill_no_solar": part["bill_no_solar"].mean(), "mean_bill_nem2": part["bill_nem2"].mean(),
            "mean_bill_nem3": part["bill_nem3"].mean(), "mean_savings_nem2": part["savings_nem2"].mean(),
            "mean_savings_nem3": part["savings_nem3"].mean(), "median_payback_nem2": part["payback_nem2"].median(),
            "median_payback_nem3": part["payback_nem3"].median(), "mean_export_share": part["export_share"].mean(),
            "mean_cost_shift_nem2": part["cost_shift_nem2"].mean(), "mean_cost_shift_nem3": part["cost_shift_nem3"].mean(),
            "total_cost_shift_nem2": part["cost_shift_nem2"].sum(min_count=1),
            "total_cost_shift_nem3": part["cost_shift_nem3"].sum(min_count=1),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    if table.empty:
        return table
    # shown to the unit people read: dollars to the cent, paybacks to a tenth of a year, the export share to 0.01%
    places = {c: 2 for c in table.columns if c.startswith(("mean_bill", "mean_savings", "mean_cost", "total_cost"))}
    places.update({c: 1 for c in table.columns if c.startswith("median_payback")}, mean_export_share=4)
    return table.round(places)
