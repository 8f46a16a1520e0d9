"""The rate-design dashboard: pick a class and a tariff, edit its prices, see revenue and bill impacts live.

```python
from workbench.app.rates_app import serve
server = serve(5007, "reports/testyear-2025")   # a thread; open http://127.0.0.1:5007/
server.join()                                   # block (a command line), or server.stop()
```

Every session gets its own :class:`workbench.app.rates_store.RatesStore` (the kept determinants are read once
per session and class; no interval data is read). Served on 127.0.0.1 only, with the NEM dashboard's
WebSocket origin allow-list (:func:`workbench.app.nem_app.serve_sessions`). Bokeh and Panel's JavaScript
and CSS come from this server, never from a CDN: the page works with no network.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param

from workbench.app.nem_app import serve_sessions
from workbench.app.rates_store import RatesStore
from workbench.errors import WorkbenchError

TITLE = "Rate design: revenue and bill impacts of a proposed tariff"
hv.extension("bokeh", logo=False)


class TariffControls(pn.viewable.Viewer):
    """Class and tariff pickers, the revenue requirement, and one input per price of the tariff."""

    store = param.ClassSelector(class_=RatesStore)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.store.param
        self.class_select = pn.widgets.Select.from_param(s.customer_class, name="Customer class")
        self.rate_select = pn.widgets.Select.from_param(s.rate_code, name="Tariff (rate code)")
        self.requirement = pn.widgets.FloatInput.from_param(s.requirement, name="Revenue requirement of the class [$]",
                                                            step=1000.0)
        self.reset = pn.widgets.Button(label="Back to present prices")
        self.reset.on_click(lambda event: self.store.reset())
        self.prices = pn.Column(sizing_mode="stretch_width")
        self._build_prices()
        self.store.param.watch(lambda event: self._build_prices(), ["fields"])
        self._layout = pn.Column(self.class_select, self.rate_select, self.requirement, pn.pane.Markdown("**Prices**"),
                                 self.prices, self.reset, width=330)

    def _build_prices(self):
        widgets = []
        for field in self.store.fields:
            widget = pn.widgets.FloatInput(label=field.label, value=field.value, step=0.001 if field.value < 1 else 0.5,
                                           format="0.0000", css_classes=["price-input"], width=300)
            widget.param.watch(lambda event, f=field: self._edit(f, event.new), "value")
            widgets.append(widget)
        self.prices.objects = widgets

    def _edit(self, field, value):
        if value is None:
            return
        self.store.set_price(field.component, field.where, value)

    def __panel__(self):
        return self._layout


class RevenueNumbers(pn.viewable.Viewer):
    """Revenue of the class at present and proposed prices against the requirement."""

    store = param.ClassSelector(class_=RatesStore)

    def __init__(self, **params):
        super().__init__(**params)
        self.numbers = pn.pane.Markdown(self.text(), css_classes=["revenue-numbers"], width=700)
        self.store.param.watch(lambda event: setattr(self.numbers, "object", self.text()), ["revenue"])

    def text(self) -> str:
        r, s = self.store.revenue, self.store
        n = 0 if s.customers is None else len(s.customers)
        verdict = ("recovers the requirement" if r["residual"] >= 0 else "short of the requirement")
        return (f"| {s.customer_class} revenue | $ |\n|---|---:|\n"
                f"| present rates | {r['present']:,.2f} |\n| proposed | {r['proposed']:,.2f} |\n"
                f"| requirement | {r['requirement']:,.2f} |\n| proposed − requirement | {r['residual']:+,.2f} |\n\n"
                f"Proposed {verdict}. Re-priced {n:,} customers on {s.rate_code} in {s.reprice_ms:,.0f} ms."
                + (f" Not in these figures: the class's {k:,} net-metering customer(s), whose bills settle credits "
                   "under their programs (`workbench design price` prices them)."
                   if (k := s.net_metering_customers()) else ""))

    def __panel__(self):
        return self.numbers


class ImpactHistogram(pn.viewable.Viewer):
    """How many real customers see each change of their annual bill [%]."""

    store = param.ClassSelector(class_=RatesStore)

    def __init__(self, **params):
        super().__init__(**params)
        self.pane = pn.pane.HoloViews(self.plot(), sizing_mode="stretch_width", height=330)
        self.store.param.watch(lambda event: setattr(self.pane, "object", self.plot()), ["customers"])

    def plot(self):
        table = self.store.customers
        change = table["change_pct"].to_numpy(float) if table is not None else np.zeros(0)
        change = change[np.isfinite(change)]
        lo, hi = (float(change.min()), float(change.max())) if len(change) else (0.0, 0.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        counts, edges = np.histogram(change, bins=40, range=(lo, hi))
        title = (f"{self.store.customer_class} on {self.store.rate_code}: change of annual bill, mean "
                 f"{change.mean() if len(change) else 0:+.2f}%")
        return hv.Histogram((edges, counts), kdims=["Change of annual bill [%]"], vdims=["Customers"]).opts(
            title=title, responsive=True, height=320, color="#4c78a8", line_color=None, tools=["hover"])

    def __panel__(self):
        return self.pane


class TypicalBills(pn.viewable.Viewer):
    """The customers nearest the 10th-90th annual-kWh percentiles: present and proposed annual bill."""

    store = param.ClassSelector(class_=RatesStore)

    def __init__(self, **params):
        super().__init__(**params)
        self.table = pn.pane.DataFrame(self.frame(), index=False, css_classes=["typical-bills"], width=700)
        self.store.param.watch(lambda event: setattr(self.table, "object", self.frame()), ["customers"])

    def frame(self):
        table = self.store.typical_bills()
        for col in ("present", "proposed", "change"):
            table[col] = table[col].map(lambda v: f"{v:,.2f}")
        table["change_pct"] = table["change_pct"].map(lambda v: "n/a" if not np.isfinite(v) else f"{v:+.2f}%")
        return table.rename(columns={"annual_kwh": "annual kWh", "present": "present [$]",
                                     "proposed": "proposed [$]", "change": "change [$]", "change_pct": "change"})

    def __panel__(self):
        return pn.Column(pn.pane.Markdown("**Typical bills** (annual, real customers)"), self.table)


class SaveTariff(pn.viewable.Viewer):
    """Save the edited tariff as YAML: a new file, or an existing one only when 'replace' is ticked."""

    store = param.ClassSelector(class_=RatesStore)

    def __init__(self, **params):
        super().__init__(**params)
        self.path = pn.widgets.TextInput(label="Save the tariff as (a .yaml file)",
                                         placeholder="proposed/RES-TOU.yaml", width=330)
        self.replace = pn.widgets.Checkbox(label="replace the file if it exists", value=False)
        self.button = pn.widgets.Button(label="Save tariff YAML", color="primary")
        self.status = pn.pane.Markdown("", css_classes=["save-status"])
        self.button.on_click(lambda event: self.save())

    def save(self):
        try:
            path = self.store.save(self.path.value.strip(), replace=self.replace.value)
        except WorkbenchError as exc:
            self.status.object = f"Not saved: {exc}"
            return
        self.replace.value = False
        self.status.object = f"Saved {self.store.rate_code} to {path}"

    def __panel__(self):
        return pn.Column(self.path, self.replace, self.button, self.status, width=340)


def create_app(determinants=None, *, store: RatesStore | None = None, **store_options) -> pn.Column:
    """The dashboard for one session; the layout carries ``store`` and ``views`` attributes."""
    store = store or RatesStore(determinants, **store_options)
    views = {"controls": TariffControls(store=store), "numbers": RevenueNumbers(store=store),
             "impacts": ImpactHistogram(store=store), "typical": TypicalBills(store=store),
             "save": SaveTariff(store=store)}
    intro = pn.pane.Markdown(
        f"## {TITLE}\nEvery customer of the class on no net-metering program, priced from the kept test-year "
        "determinants with the billing "
        "engine's own pricing; edit a price and the revenue, the bill impacts and the typical bills follow.",
        sizing_mode="stretch_width")
    layout = pn.Column(
        intro,
        pn.Row(pn.Column(views["controls"], views["save"]),
               pn.Column(views["numbers"], views["impacts"], views["typical"], sizing_mode="stretch_width"),
               sizing_mode="stretch_width"),
        sizing_mode="stretch_width")
    layout.store, layout.views = store, views
    return layout


def serve(port: int = 5007, determinants="reports/testyear", show: bool = False, *, on_session=None,
          allow_origins=(), **store_options):
    """Serve the dashboard at http://127.0.0.1:``port``/ in a background thread; returns the server thread."""
    RatesStore.check_folder(determinants)

    def session():
        app = create_app(determinants, **store_options)
        if on_session is not None:
            on_session(app)
        return app

    return serve_sessions(session, port, TITLE, show=show, allow_origins=allow_origins)
