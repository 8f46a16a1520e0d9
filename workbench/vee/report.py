"""The ingest and VEE report: one self-contained HTML file plus CSVs of its tables.

``vee_report.html`` holds: the summary, the accounting line of the ingest (reads in = accepted + rejected +
duplicates, with the files and the rejects by reason), the counts per rule, the worst meters, the fault
injection scores when faults were injected, the held meter-periods, and a heat map of missing and estimated
intervals by meter and local day (an embedded PNG). The same tables are written as CSV beside it. The page is
the Jinja2 template ``templates/vee_report.html.j2`` (package data, autoescaped).

The heat map needs matplotlib. Without it the report is written all the same; its heat-map section says the
map was not drawn and how to get it, and a ``warning:`` line on stderr says so too.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from workbench.outputs import atomic_write_text, write_csv_for_people
from workbench.outputs.templates import template_environment
from workbench.vee.rules import INPUT_RULES, RULES

log = logging.getLogger(__name__)

HEATMAP_METERS = 200

def _table(frame: pd.DataFrame, max_rows: int | None = None) -> Markup:
    """A table as HTML for the template: pandas escapes every cell (``escape=True``), so it is safe markup."""
    if frame is None or not len(frame):
        return Markup("<p class='note'>none</p>")
    shown = frame if max_rows is None else frame.head(max_rows)
    more = "" if max_rows is None or len(frame) <= max_rows else (
        f"<p class='note'>{len(frame) - max_rows:,} more rows in the CSV</p>")
    return Markup(shown.to_html(index=False, escape=True, border=0, na_rep="") + more)


NO_MATPLOTLIB = ("heat map not drawn: matplotlib is not installed (pip install matplotlib); the counts per "
                 "rule, the worst meters and the exceptions below are complete without it")


def _heatmap_png(summary) -> tuple[str | None, int]:
    """Base64 PNG of missing / estimated intervals by meter x day (the meters with the most), and meters shown.

    ``(None, 0)``: nothing missing or estimated; ``(None, -1)``: there is, but matplotlib is not installed.
    """
    total = summary.missing_by_day.sum(axis=1) + summary.estimated_by_day.sum(axis=1)
    rows = np.flatnonzero(total)
    if not rows.size:
        return None, 0
    rows = rows[np.argsort(-total[rows], kind="stable")][:HEATMAP_METERS]
    try:
        import matplotlib
    except ImportError:
        return None, -1

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import PowerNorm

    days = summary.days
    fig_h = 2.0 + min(len(rows), HEATMAP_METERS) * 0.045
    fig, axes = plt.subplots(1, 2, figsize=(13, max(fig_h, 3.0)), sharey=True)
    for ax, data, title, cmap in ((axes[0], summary.missing_by_day, "missing intervals (before estimation)", "Reds"),
                                  (axes[1], summary.estimated_by_day, "estimated intervals", "Blues")):
        # a power scale: one missing interval must show beside a missing day
        norm = PowerNorm(gamma=0.4, vmin=0, vmax=max(1, int(data[rows].max())))
        img = ax.imshow(data[rows], aspect="auto", interpolation="nearest", cmap=cmap, norm=norm)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("local day")
        ticks = np.linspace(0, len(days) - 1, min(len(days), 8)).astype(int)
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(days[i]) for i in ticks], rotation=45, ha="right", fontsize=7)
        fig.colorbar(img, ax=ax, fraction=0.04, pad=0.02, label="intervals")
    labels = summary.meters[rows]
    if len(rows) <= 60:
        axes[0].set_yticks(range(len(rows)))
        axes[0].set_yticklabels(labels, fontsize=6)
    else:
        axes[0].set_yticks([])
    axes[0].set_ylabel(f"{len(rows)} meters with the most missing + estimated intervals")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii"), len(rows)


def _accounting(accounting: dict) -> tuple[dict, dict[str, pd.DataFrame]]:
    """The accounting section's values for the template, and its tables (also written as CSV)."""
    reads_in = int(accounting.get("reads_in", 0))
    parts = {k: int(accounting.get(k, 0)) for k in ("accepted", "rejected", "duplicates")}
    total = sum(parts.values())
    tables = {
        "accounting_files": pd.DataFrame(accounting.get("files") or [],
                                         columns=["file", "reads_in", "accepted", "rejected", "duplicates"]),
        "rejects_by_reason": pd.DataFrame(sorted((accounting.get("rejects_by_reason") or {}).items(),
                                                 key=lambda kv: -kv[1]), columns=["reason", "reads"]),
        "rejects_sample": pd.DataFrame(accounting.get("rejects_sample") or [],
                                       columns=["file", "row", "meter", "timestamp", "reason"]),
    }
    files = tables["accounting_files"]
    bad_files, files_reads_in = [], None
    if len(files):
        sums = files[["reads_in", "accepted", "rejected", "duplicates"]].sum()
        bad = files[files["reads_in"] != files["accepted"] + files["rejected"] + files["duplicates"]]
        bad_files = [str(f) for f in bad["file"]]
        if int(sums["reads_in"]) != reads_in:
            files_reads_in = int(sums["reads_in"])
    context = {"reads_in": reads_in, **parts, "adds_up": total == reads_in, "unaccounted": reads_in - total,
               "bad_files": bad_files, "files_reads_in": files_reads_in, "files_table": _table(files),
               "reasons_table": _table(tables["rejects_by_reason"]),
               "sample_table": _table(tables["rejects_sample"], 200)}
    return context, tables


def write_report(out_dir: str | os.PathLike, vee_result_or_summary, accounting: dict | None = None,
                 *, title: str = "Ingest and VEE report") -> Path:
    """Write ``vee_report.html`` and the CSVs of its tables into ``out_dir``; return the HTML path.

    ``vee_result_or_summary``: a :class:`~workbench.vee.engine.VeeResult` or
    :class:`~workbench.vee.summary.VeeSummary`. ``accounting``: the ingest's dict (reads_in, accepted, rejected,
    duplicates, rejects_by_reason, files, rejects_sample); when given, the report shows whether it adds up.
    """
    summary = vee_result_or_summary
    if hasattr(summary, "summary") and callable(summary.summary):
        summary = summary.summary()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rules = summary.rule_table()
    meaning = {code: text for code, (_, text) in RULES.items()} | INPUT_RULES
    rules.insert(1, "meaning", rules["rule"].map(meaning).fillna("intervals estimated by this method"))
    worst = summary.worst_meters(25)
    exceptions = summary.exceptions.to_pandas() if summary.exceptions.num_rows else pd.DataFrame(
        columns=summary.exceptions.schema.names)
    held = summary.held if summary.held is not None else pd.DataFrame(
        columns=["meter", "period_start", "period_end", "intervals", "estimated", "missing", "reason"])
    csvs = {"rules": rules, "worst_meters": worst, "exceptions": exceptions, "held": held}

    first, last = (str(summary.days[0]), str(summary.days[-1])) if len(summary.days) else ("", "")
    info = {
        "meters": f"{summary.n_meters:,}", "local days": f"{len(summary.days):,} ({first} to {last})",
        "intervals": f"{summary.n_intervals:,}", "intervals estimated": f"{summary.intervals_estimated:,}",
        "values changed (edits, originals kept)": f"{summary.edits:,}",
        "failed, not estimated": f"{summary.counts.get('NOT_ESTIMATED', {}).get('intervals', 0):,}",
        "meter-periods checked for bill-readiness": f"{summary.meter_periods:,}",
        "meter-periods held": f"{len(held):,}", "meters not bill-ready": f"{summary.meters_not_ready:,}",
        "VEE seconds": f"{summary.seconds:.2f}", **summary.info}
    context = {"title": title, "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "info": info,
               "accounting": None, "faults": None, "rules_table": _table(rules), "worst_table": _table(worst),
               "held_table": _table(held, 200), "exceptions_table": _table(exceptions, 300)}
    if accounting is not None:
        context["accounting"], tables = _accounting(accounting)
        csvs.update(tables)
    if summary.faults is not None:
        bf, br = summary.faults["by_fault"], summary.faults["by_rule"]
        context["faults"] = {"recall": _table(bf), "precision": _table(br)}
        csvs.update({"faults_recall": bf, "faults_precision": br})
    png, shown = _heatmap_png(summary)
    if shown < 0:
        log.warning(f"warning: {out / 'vee_report.html'}: {NO_MATPLOTLIB}")
    context["heatmap"] = {"png": png, "shown": shown, "n_meters": summary.n_meters,
                          "message": NO_MATPLOTLIB if shown < 0 else ""}
    doc = template_environment("workbench.vee").get_template("vee_report.html.j2").render(context)
    path = out / "vee_report.html"
    for name, frame in csvs.items():
        write_csv_for_people(frame, out / f"{name}.csv")
    atomic_write_text(path, doc)
    return path
