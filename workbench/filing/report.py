"""The filing PDF: every schedule as a table, the charts, page numbers and the run's identity.

Rendered from the Jinja2 template ``templates/filing.html.j2`` (autoescaped, :mod:`workbench.outputs.templates`)
to HTML, then to PDF by WeasyPrint with a URL fetcher that fetches nothing (the page is self-contained: CSS
inline, charts inline SVG drawn by matplotlib). The totals printed are computed here from the schedules the
way the workbook's formulas compute them (:func:`schedule_totals`), so the PDF and the workbook agree.
"""

from __future__ import annotations

import io
import math
import re
from functools import cache
from importlib import resources

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from workbench.errors import WorkbenchError
from workbench.filing.spec import SCHEDULES, identity_text, schedule_totals  # noqa: E402,F401 (schedule_totals: API)
from workbench.outputs.pdf import FetchRefused, offline_html  # noqa: E402
from workbench.outputs.templates import template_environment  # noqa: E402


def fmt(value, kind: str) -> str:
    """A cell as printed: money with $ and cents, kWh whole, prices to 5 decimals, % to 2."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "text":
        return str(value)
    v = float(value)
    return {"int": f"{v:,.0f}", "kwh": f"{v:,.0f}", "kw": f"{v:,.1f}", "units": f"{v:,.2f}",
            "money": f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}", "price": f"{v:.5f}", "pct": f"{v:.2f}%",
            "cents": f"{v:.3f}", "ratio": f"{v:.3f}"}[kind]


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def frequency_chart(freq: pd.DataFrame) -> str:
    """Cumulative % of bills against kWh per bill (block upper edges), one line per class and season."""
    fig, axes = plt.subplots(1, max(freq["class"].nunique(), 1), figsize=(9.5, 2.8), squeeze=False)
    for ax, (cls, group) in zip(axes[0], freq.groupby("class", sort=True), strict=False):
        for season, g in group.groupby("season", sort=True):
            top = g["block_high_kwh"].fillna(g["block_low_kwh"].max() * 1.25)
            ax.plot(top, g["cumulative_bills_pct"], marker="o", markersize=3, label=season)
        ax.set_title(f"{cls}: cumulative bills", fontsize=9)
        ax.set_xlabel("kWh per bill", fontsize=8)
        ax.set_ylim(0, 101)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("% of bills", fontsize=8)
    return _svg(fig)


def impact_chart(impacts: pd.DataFrame) -> str:
    """Customers by band of annual bill change [%], one bar group per class."""
    pct = impacts[impacts["measure"] == "percent"]
    bands = list(dict.fromkeys(pct["band"]))
    classes = sorted(pct["class"].unique())
    fig, ax = plt.subplots(figsize=(9.5, 2.8))
    width = 0.8 / max(len(classes), 1)
    for k, cls in enumerate(classes):
        share = pct[pct["class"] == cls].set_index("band").reindex(bands)["share_pct"].fillna(0)
        ax.bar([i + k * width for i in range(len(bands))], share, width=width, label=cls)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(bands))], bands, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("% of class customers", fontsize=8)
    ax.set_title("Annual bill change: customers by band", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return _svg(fig)


@cache
def _css() -> str:
    return resources.files("workbench.filing").joinpath("templates", "filing.css").read_text(encoding="utf-8")


def render_html(schedules: dict, *, utility: str, test_year: int, basis: str, identity: dict) -> str:
    tables = []
    for name, frame in schedules.items():
        spec = SCHEDULES[name]
        columns = [c for c in spec.columns if c.name in frame.columns]
        rows = [[fmt(v, c.kind) for v, c in zip(r, columns, strict=True)]
                for r in frame[[c.name for c in columns]].itertuples(index=False)]
        totals = schedule_totals(name, frame)
        total_row = [fmt(totals.get(c.name), c.kind) for c in columns] if totals else None
        if total_row:
            total_row[0] = "Total"
        note = f"{spec.note} {frame.attrs.get('covers', '')}".strip()
        tables.append({"name": name, "title": spec.title, "note": note, "rows": rows, "total": total_row,
                       "columns": [{"header": c.header, "numeric": c.kind != "text"} for c in columns]})
    charts = {}
    if "bill_frequency" in schedules and len(schedules["bill_frequency"]):
        charts["bill_frequency"] = frequency_chart(schedules["bill_frequency"])
    if "bill_impacts" in schedules:
        charts["bill_impacts"] = impact_chart(schedules["bill_impacts"])
    env = template_environment("workbench.filing")
    return env.get_template("filing.html.j2").render(
        css=_css(), utility=utility, test_year=test_year, basis=basis, identity=identity, tables=tables,
        identity_rows=[(key, identity_text(value)) for key, value in identity.items()],
        charts=charts)




def render_pdf(html: str) -> bytes:
    # matplotlib's SVG carries no external references, but say so if a template is edited to fetch one
    if re.search(r"(?:src|href)\s*=\s*[\"'](?:https?:|//)", html):
        raise WorkbenchError("filing template asks for an outside resource; the filing PDF uses none")
    try:
        return offline_html(html).write_pdf()
    except FetchRefused as exc:
        raise WorkbenchError(f"filing template asks for an outside resource ({exc}); put it inline") from None
