"""The NEM 2.0 vs 3.0 dashboard's data store: the scanned study and the options the user picks.

Every option change re-prices the cached determinants (``StudyData.price_case``): no interval data is read.
Views watch ``case`` and ``summary``.
"""

from __future__ import annotations

import time

import pandas as pd
import param

from workbench.design.nem_study import StudyData, summarize


class NemStudyStore(param.Parameterized):
    """State of the NEM impact dashboard: options in, per-customer results and their summary out."""

    study = param.ClassSelector(class_=StudyData, constant=True, precedence=-1, doc="Determinants, scanned once")
    customer_class = param.Selector(objects=["RES"], label="Customer class")
    size_kw = param.Selector(objects=[5.0], label="System size [kW DC]")
    vintage = param.Selector(objects=[2025], label="Export-value vintage (NEM 3.0)")
    rate_multiplier = param.Number(1.0, bounds=(0.5, 2.0), step=0.05, label="Retail energy rates ×")
    cost_per_watt = param.Number(3.0, bounds=(1.0, 6.0), step=0.1, label="Installed cost [$/W DC]")
    first_year_adder = param.Boolean(True, label="First-year ACC Plus adder (NEM 3.0)")

    case = param.DataFrame(precedence=-1, doc="Per customer: bills, savings, payback, export share, cost shift")
    summary = param.DataFrame(precedence=-1, doc="summarize(case): one row per group")
    reprice_ms = param.Number(0.0, precedence=-1, doc="Time of the last re-pricing [ms]")

    OPTIONS = ("customer_class", "size_kw", "vintage", "rate_multiplier", "cost_per_watt", "first_year_adder")

    def __init__(self, study: StudyData, **params):
        super().__init__(study=study)
        classes = sorted(study.classes, key=lambda c: (c != "RES", c))
        sizes = [s for s in study.sizes if s > 0]
        if not sizes:
            raise ValueError("the study has no system size above 0 kW to show")
        # the choices are the scanned grid (instance parameters: every session has its own)
        self.param.customer_class.objects = classes
        self.param.size_kw.objects = sizes
        self.param.vintage.objects = list(study.vintages)
        options = {"customer_class": classes[0], "size_kw": 5.0 if 5.0 in sizes else sizes[len(sizes) // 2],
                   "vintage": study.vintages[-1], **params}
        with param.parameterized.discard_events(self):
            self.param.update(**options)
        self.reprice()

    @param.depends(*OPTIONS, watch=True)
    def reprice(self) -> None:
        """Price the current options on the cached determinants; updates ``case``, ``summary``, ``reprice_ms``."""
        started = time.perf_counter()
        case = self.study.price_case(self.customer_class, self.size_kw, self.vintage, self.rate_multiplier,
                                     self.cost_per_watt, self.first_year_adder)
        summary = summarize(case)
        self.param.update(case=case, summary=summary, reprice_ms=(time.perf_counter() - started) * 1000.0)

    @property
    def modelled(self) -> pd.DataFrame:
        """The customers given modelled PV (existing solar customers excluded)."""
        return self.case[~self.case["existing_solar"]]

    def headline(self) -> dict:
        """The numbers the dashboard shows, per participant with modelled PV [$/year, years, -]."""
        part = self.modelled
        return {
            "customers": int(len(part)),
            "mean_bill_no_solar": float(part["bill_no_solar"].mean()),
            "mean_savings_nem2": float(part["savings_nem2"].mean()),
            "mean_savings_nem3": float(part["savings_nem3"].mean()),
            "median_payback_nem2": float(part["payback_nem2"].median()),
            "median_payback_nem3": float(part["payback_nem3"].median()),
            "mean_export_share": float(part["export_share"].mean()),
            "mean_cost_shift_nem2": float(part["cost_shift_nem2"].mean()),
            "mean_cost_shift_nem3": float(part["cost_shift_nem3"].mean()),
        }
