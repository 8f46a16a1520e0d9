"""The workbench's plots as HoloViews objects, and their static images (PNG, SVG, PDF) without a browser.

:func:`bill_distribution` is the histogram of annual bills the NEM dashboard shows. :func:`save_static`
writes any HoloViews/hvplot plot as an image through HoloViews' matplotlib renderer: bokeh's own image export
(``export_png``) drives a browser through selenium, which a utility's analysis server seldom has. The plot
keeps its interactive (bokeh) form in notebooks and dashboards; only the saved file is drawn by matplotlib.

>>> save_static(bills.hvplot.hist("annual_bill", by="case"), "reports/bills.png")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot on DataFrames)
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.outputs import atomic_write_bytes

FORMATS = ("png", "svg", "pdf")
#: options an hvplot sets for bokeh that mean the same to matplotlib (carried over to the static image)
SHARED_OPTIONS = {"plot": ("title", "xlabel", "ylabel", "xlim", "ylim", "logx", "logy", "invert_axes", "xrotation",
                           "yrotation", "show_legend", "show_grid"),
                  "style": ("alpha", "color")}
#: the columns of a study's per-customer annual bills and the names the plots show for them
CASE_LABELS = {"bill_no_solar": "no solar", "bill_nem2": "NEM 2.0", "bill_nem3": "NEM 3.0"}


def bill_distribution(modelled: pd.DataFrame, title: str = "") -> hv.Element:
    """Histogram of annual bills [$] per case (one row per meter; columns ``meter`` and :data:`CASE_LABELS`)."""
    cases = [c for c in CASE_LABELS if c in modelled.columns]
    bills = modelled.melt(id_vars=["meter"], value_vars=cases, var_name="case", value_name="annual_bill").dropna()
    bills["case"] = bills["case"].map(CASE_LABELS)
    return bills.hvplot.hist("annual_bill", by="case", bins=40, alpha=0.5, height=340, responsive=True,
                             xlabel="annual bill [$]", ylabel="customers", title=title)


def save_static(plot, path, *, dpi: int = 150) -> Path:
    """Write ``plot`` as a PNG, SVG or PDF image (by ``path``'s suffix), atomically; return the path.

    Drawn by matplotlib (a core dependency), so no browser, browser driver or network is involved; the
    notebook's current plotting backend (bokeh) is left as it was.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise WorkbenchError(f"{path}: a static plot is written as {', '.join('.' + f for f in FORMATS)} "
                             f"(not {path.suffix or 'a file without a suffix'})")
    renderer = hv.renderer("matplotlib").instance(dpi=dpi)
    data, _info = renderer(plot.map(_with_bokeh_labels, specs=None), fmt=fmt)
    atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _with_bokeh_labels(obj):
    """A copy of ``obj`` whose matplotlib options repeat its bokeh title, axis labels, limits and alpha (hvplot
    sets them for the backend that was current, bokeh)."""
    carried = {}
    for group, names in SHARED_OPTIONS.items():
        given = hv.Store.lookup_options("bokeh", obj, group).kwargs
        carried.update({name: given[name] for name in names if name in given})
    return obj.opts(backend="matplotlib", clone=True, **carried) if carried else obj
