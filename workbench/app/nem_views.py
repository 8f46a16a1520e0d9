"""Views of the NEM 2.0 vs 3.0 study store: controls, headline numbers, bill distribution, summary table.

Each view is a ``pn.viewable.Viewer`` over one ``NemStudyStore``; it builds its panes once and updates them
when the store's results change (the browser receives new values, not a new page).
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param

from workbench.app.nem_store import NemStudyStore
from workbench.app.plots import bill_distribution


def _money(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"${value:,.0f}"


def _years(value: float) -> str:
    return "never" if value == np.inf else ("n/a" if not np.isfinite(value) else f"{value:.1f} years")


class StudyControls(pn.viewable.Viewer):
    """Widgets for the store's options (class, size, vintage, retail rate, cost, adder)."""

    store = param.ClassSelector(class_=NemStudyStore)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.store.param
        self.class_select = pn.widgets.Select.from_param(s.customer_class, name="Customer class")
        self.size_select = pn.widgets.Select.from_param(s.size_kw, name="System size [kW DC]")
        self.vintage_select = pn.widgets.Select.from_param(s.vintage, name="Export-value vintage (NEM 3.0)")
        self.rate_slider = pn.widgets.FloatSlider.from_param(s.rate_multiplier, name="Retail energy rates ×")
        self.cost_slider = pn.widgets.FloatSlider.from_param(s.cost_per_watt, name="Installed cost [$/W DC]")
        self.adder_toggle = pn.widgets.Checkbox.from_param(s.first_year_adder, name="First-year ACC Plus adder")
        self._layout = pn.Column(self.class_select, self.size_select, self.vintage_select, self.rate_slider,
                                 self.cost_slider, self.adder_toggle, width=280)

    def __panel__(self):
        return self._layout


class HeadlineNumbers(pn.viewable.Viewer):
    """Mean savings, payback and cost shift per participant with modelled PV, NEM 2.0 vs NEM 3.0."""

    store = param.ClassSelector(class_=NemStudyStore)

    def __init__(self, **params):
        super().__init__(**params)
        self.numbers = pn.pane.Markdown(self.text(), css_classes=["nem-numbers"], width=720)
        self.status = pn.pane.Markdown(self.status_text(), css_classes=["nem-status"])
        self.store.param.watch(self._update, ["summary"])

    def text(self) -> str:
        h = self.store.headline()
        return (
            f"| per participant, {self.store.size_kw:g} kW DC | NEM 2.0 | NEM 3.0 |\n"
            f"|---|---:|---:|\n"
            f"| mean annual savings | {_money(h['mean_savings_nem2'])} | {_money(h['mean_savings_nem3'])} |\n"
            f"| median simple payback | {_years(h['median_payback_nem2'])} | {_years(h['median_payback_nem3'])} |\n"
            f"| mean cost shift to non-participants | {_money(h['mean_cost_shift_nem2'])}"
            f" | {_money(h['mean_cost_shift_nem3'])} |\n\n"
            f"Mean bill without solar {_money(h['mean_bill_no_solar'])}; mean export share "
            f"{h['mean_export_share']:.0%}; {h['customers']:,} {self.store.customer_class} customers with modelled PV."
        )

    def status_text(self) -> str:
        return (f"Re-priced {len(self.store.case):,} customers in {self.store.reprice_ms:.0f} ms "
                "(cached determinants, no re-scan).")

    def _update(self, *_):
        self.numbers.object = self.text()
        self.status.object = self.status_text()

    def __panel__(self):
        return pn.Column(self.numbers, self.status)


class BillDistribution(pn.viewable.Viewer):
    """Histogram of annual bills: without solar, NEM 2.0 and NEM 3.0 (customers with modelled PV)."""

    store = param.ClassSelector(class_=NemStudyStore)
    title = param.String(doc="Title of the plot shown (tests read it)")

    def __init__(self, **params):
        super().__init__(**params)
        self.pane = pn.pane.HoloViews(self.plot(), sizing_mode="stretch_width", min_height=340)
        self.store.param.watch(self._update, ["case"])

    def plot(self) -> hv.Element:
        store = self.store
        self.title = (f"{store.customer_class} annual bills, {store.size_kw:g} kW DC, {store.vintage} vintage, "
                      f"energy rates x{store.rate_multiplier:g}")
        return bill_distribution(store.modelled, self.title)

    def _update(self, *_):
        self.pane.object = self.plot()

    def __panel__(self):
        return self.pane


class SummaryTable(pn.viewable.Viewer):
    """The study summary (one column per group: modelled PV, existing solar)."""

    store = param.ClassSelector(class_=NemStudyStore)

    def __init__(self, **params):
        super().__init__(**params)
        self.pane = pn.pane.DataFrame(self.table(), css_classes=["nem-summary"], sizing_mode="stretch_width")
        self.store.param.watch(self._update, ["summary"])

    def table(self):
        return self.store.summary.T.astype(object)

    def _update(self, *_):
        self.pane.object = self.table()

    def __panel__(self):
        return self.pane
