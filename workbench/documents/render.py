"""Bill documents as HTML (Jinja2) and PDF (WeasyPrint), and the documents of a whole run.

- :func:`render_bill_html`: one bill as one self-contained HTML page (CSS inline, the usage chart as inline
  SVG; no script, no font or image fetched from anywhere);
- :func:`render_bill_pdf`: the same page as a PDF file (written atomically);
- :func:`render_files`: many bills as HTML or PDF files, in a pool of processes;
- :func:`write_run_documents`: one PDF per bill, named by account and bill id, plus one print file holding
  every bill of the run in order (each bill starts on a new page), all in an output folder that appears whole
  (staged beside it and renamed into place, :mod:`workbench.outputs`).

WeasyPrint is given a URL fetcher that refuses every URL, so a template edited to point at a web font or an
image fails with a :class:`WorkbenchError` instead of reaching for the network.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from importlib import resources
from itertools import repeat
from pathlib import Path

import pypdf
import weasyprint
from weasyprint.text.fonts import FontConfiguration

from workbench.documents.model import BillDocument, UsageMonth
from workbench.errors import WorkbenchError
from workbench.outputs import atomic_write_bytes, check_output_dir
from workbench.outputs.guard import refuse_working_dir, staged_output
from workbench.outputs.pdf import FetchRefused, offline_html
from workbench.outputs.templates import template_environment

KIND = "bill documents"
"""The marker kind of a folder written by :func:`write_run_documents`."""

PRINT_FILE = "print_file.pdf"
"""The name of the run's print file (every bill, in order) inside the output folder."""

CHART_WIDTH, CHART_HEIGHT = 330, 120  # the usage chart's drawing area [px]
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def money(cents: int) -> str:
    """``123456`` -> ``$1,234.56``; ``-117`` -> ``-$1.17``."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}${whole:,}.{part:02d}"


def quantity(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def price(value: float | None) -> str:
    if value is None:
        return ""
    text = f"{value:,.5f}".rstrip("0")
    return text + "00" if text.endswith(".") else (text + "0" if len(text.split(".")[1]) < 2 else text)


def charge_cells(charge) -> dict:
    """The quantity, unit and price cells of a charge line. A line on dollars (tax, credits) reads
    ``$183.53`` at ``6%`` rather than ``183.53 $`` at ``0.06``."""
    if charge.unit == "$" and charge.price is not None and abs(charge.price) == 1.0:
        return {"quantity": "", "unit": "", "price": ""}  # a credit or a fee in dollars: the amount says it all
    if charge.unit == "$" and charge.quantity is not None:
        rate = "" if charge.price is None else f"{charge.price * 100:g}%"
        return {"quantity": f"${charge.quantity:,.2f}", "unit": "", "price": rate}
    return {"quantity": quantity(charge.quantity), "unit": charge.unit, "price": price(charge.price)}


def long_date(day: dt.date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def _nice_top(value: float) -> float:
    """The chart's top gridline: the smallest of 1, 2, 2.5, 5 x 10^k at or above ``value``."""
    if value <= 0:
        return 1.0
    scale = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale


def usage_chart(history: Sequence[UsageMonth], current_month: str | None = None) -> dict:
    """Bar geometry of the 13-month usage chart, for the template to draw as inline SVG. [px]"""
    top = _nice_top(max((m.kwh for m in history), default=0.0))
    n = max(len(history), 1)
    left, base, ceiling = 40, CHART_HEIGHT - 20, 14
    slot = (CHART_WIDTH - left) / max(n, 13)
    bars = []
    for i, month in enumerate(history):
        height = (base - ceiling) * month.kwh / top
        year, mon = int(month.month[:4]), int(month.month[5:])
        bars.append({"x": round(left + i * slot + slot * 0.15, 1), "width": round(slot * 0.7, 1),
                     "y": round(base - height, 1), "height": round(height, 1),
                     "label": _MONTHS[mon - 1][0] if i not in (0, n - 1) else f"{_MONTHS[mon - 1]}",
                     "year": str(year) if mon == 1 or i == 0 else "",
                     "center": round(left + (i + 0.5) * slot, 1),
                     "title": f"{_MONTHS[mon - 1]} {year}: {month.kwh:,.0f} kWh",
                     "current": month.month == current_month})
    grid = [{"y": round(base - (base - ceiling) * f, 1), "label": f"{top * f:,.0f}"} for f in (0.0, 0.5, 1.0)]
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "left": left, "base": base, "bars": bars, "grid": grid}


@cache
def _css() -> str:
    return resources.files("workbench.documents").joinpath("templates", "bill.css").read_text(encoding="utf-8")


@cache
def _template():
    """The bill template, compiled once per process (compiling it took longer than rendering a bill)."""
    env = template_environment("workbench.documents")
    env.filters.update(money=money, quantity=quantity, price=price, long_date=long_date, cells=charge_cells)
    return env.get_template("bill.html.j2")


def _context(doc: BillDocument) -> dict:
    return {"doc": doc, "chart": usage_chart(doc.usage_history, doc.period_end.strftime("%Y-%m")),
            "read_type": "ESTIMATED" if doc.estimated else "ACTUAL",
            "estimated_percent": estimated_percent(doc.estimated_share)}


def estimated_percent(share: float) -> str:
    """The estimated share as a customer reads it: never "0.0%" on an estimated bill, nor "100.0%" unless all."""
    if 0.0 < share < 0.0005:
        return "Less than 0.1%"
    if 0.9995 <= share < 1.0:
        return "More than 99.9%"
    return f"{share * 100:.1f}%"


def render_bill_html(doc: BillDocument) -> str:
    """One bill as a self-contained HTML page (inline CSS and SVG; every value HTML-escaped)."""
    return _template().render(bills=[_context(doc)], css=_css(), title=f"Bill {doc.bill_id}")


def render_bills_html(docs: Sequence[BillDocument], title: str = "Bills") -> str:
    """Several bills in one HTML page, each starting on a new printed page (the print file's source)."""
    return _template().render(bills=[_context(d) for d in docs], css=_css(), title=title)




@cache
def _fonts() -> FontConfiguration:
    return FontConfiguration()  # one per process: building it for every bill costs ~10% of a bill


def _document(html: str) -> weasyprint.Document:
    try:
        return offline_html(html).render(font_config=_fonts())
    except FetchRefused as exc:
        raise WorkbenchError(f"bill template asks for an outside resource ({exc}): bill documents use none "
                             "(fonts, images, style sheets); put them inline in the template") from None


def render_bill_pdf(doc: BillDocument, path: str | os.PathLike) -> Path:
    """Write one bill as a PDF at ``path`` (atomically: a reader never sees half a file). Returns the path."""
    path = Path(path)
    atomic_write_bytes(path, _document(render_bill_html(doc)).write_pdf())
    return path


def bill_file_name(doc: BillDocument) -> str:
    """``<account>_<bill id>.pdf``, with anything but letters, digits, ``-`` and ``_`` made ``-``."""
    def safe(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9_-]", "-", text) or "-"
    return f"{safe(doc.account_number)}_{safe(doc.bill_id)}.pdf"


def _check(out: Path) -> bool:
    check_output_dir(out, KIND)
    return False


def _render_chunk(kind: str, docs: Sequence[BillDocument], names: Sequence[str], folder: str) -> int:
    """Write ``docs`` as ``kind`` ('html' or 'pdf') files ``names`` in ``folder`` (a worker's share)."""
    for doc, name in zip(docs, names, strict=True):
        html = render_bill_html(doc)
        if kind == "html":
            (Path(folder) / name).write_text(html, encoding="utf-8")
        else:
            (Path(folder) / name).write_bytes(_document(html).write_pdf())
    return len(docs)


def render_files(docs: Sequence[BillDocument], names: Sequence[str], folder, kind: str = "pdf",
                 workers: int | None = None) -> int:
    """Render every bill to ``folder/<name>`` as HTML or PDF, in ``workers`` processes (default
    ``os.cpu_count()``; 1, or a handful of bills, renders in this process). One bill is independent of the
    next, so PDFs (WeasyPrint: about a second a bill) scale with the cores. Returns the number written."""
    workers = max(1, int(workers or os.cpu_count() or 1))
    size = max(1, min(200, -(-len(docs) // (workers * 4))))
    if workers == 1 or len(docs) <= size:
        return _render_chunk(kind, docs, names, str(folder))
    parts = [(docs[i:i + size], names[i:i + size]) for i in range(0, len(docs), size)]
    # fork: a worker starts with WeasyPrint and the template already loaded (spawn re-imports them, seconds a
    # worker); the workers only render, touching no lock, socket or database connection of the parent
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(parts)), mp_context=context) as pool:
        done = pool.map(_render_chunk, repeat(kind), [d for d, _ in parts], [n for _, n in parts],
                        repeat(str(folder)))
        return sum(done)


def write_run_documents(docs: Sequence[BillDocument], out_dir: str | os.PathLike, *,
                        print_file: bool = True, workers: int | None = None) -> list[Path]:
    """Write one PDF per bill and the run's print file (:data:`PRINT_FILE`) into ``out_dir``.

    ``out_dir`` must be new, empty or an earlier output of this function (otherwise nothing is written and a
    :class:`WorkbenchError` names it); the folder appears whole or not at all. Each bill is laid out once, in
    one of ``workers`` processes (:func:`render_files`); the print file joins the bills' PDFs in order (pypdf).
    Returns the bill PDFs in the order given, then the print file. Two bills with the same file name (same
    account and bill id) are refused.
    """
    out = Path(out_dir)
    names = [bill_file_name(d) for d in docs]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise WorkbenchError(f"bills {seen[name] + 1} and {i + 1} of the run are both {name} (account "
                                 f"{docs[i].account_number}, bill {docs[i].bill_id}); every bill needs its own id")
        seen[name] = i
    refuse_working_dir(out, KIND)
    with staged_output(out, KIND, _check) as tmp:
        render_files(list(docs), names, tmp, "pdf", workers)
        if print_file and docs:
            joined = pypdf.PdfWriter()
            for name in names:
                joined.append(str(tmp / name))
            with open(tmp / PRINT_FILE, "wb") as handle:
                joined.write(handle)
    paths = [out / name for name in names]
    return paths + ([out / PRINT_FILE] if print_file and docs else [])
