"""Bill document throughput: HTML (Jinja2) and PDF (WeasyPrint) bills per second, one process.

Usage: python benchmarks/docs_bench.py CYCLE_OUT [N_PDF]
CYCLE_OUT is a ``workbench cycle`` output folder. Floors measured in the same run: for HTML, serializing the
same documents to JSON (pydantic ``model_dump_json``); for PDF, WeasyPrint laying out and writing a one-line page
(its fixed cost per document).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import weasyprint

from workbench.documents import documents_from_cycle_output, render_bill_html, write_run_documents
from workbench.documents.render import _document


def rate(n, seconds):
    return n / seconds if seconds else float("inf")


def main(cycle_out: str, n_pdf: int = 60) -> None:
    t = time.perf_counter()
    docs = documents_from_cycle_output(cycle_out)
    build = time.perf_counter() - t
    render_bill_html(docs[0])  # template compiled once
    t = time.perf_counter()
    for d in docs:
        render_bill_html(d)
    html_s = time.perf_counter() - t
    t = time.perf_counter()
    for d in docs:
        d.model_dump_json()
    json_s = time.perf_counter() - t
    sample = docs[:n_pdf]
    _document(render_bill_html(sample[0])).write_pdf()  # warm fonts
    t = time.perf_counter()
    for d in sample:
        _document(render_bill_html(d)).write_pdf()
    pdf_s = time.perf_counter() - t
    t = time.perf_counter()
    for _ in sample:
        weasyprint.HTML(string="<p>Account A1</p>").render().write_pdf()
    floor_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = write_run_documents(sample, Path(tmp) / "docs")
        run_s = time.perf_counter() - t
    print(f"bills: {len(docs)} built from the cycle tables in {build:.2f} s ({rate(len(docs), build):,.0f}/s)")
    print(f"HTML: {rate(len(docs), html_s):,.0f} bills/s; floor (JSON of the same model) "
          f"{rate(len(docs), json_s):,.0f}/s; ratio {html_s / json_s:.1f}x")
    print(f"PDF: {rate(len(sample), pdf_s):.1f} bills/s over {len(sample)} bills; floor (WeasyPrint one-line page) "
          f"{rate(len(sample), floor_s):.1f}/s; ratio {pdf_s / floor_s:.1f}x")
    print(f"run documents ({len(sample)} PDFs + print file, {len(paths)} files): {run_s:.2f} s, "
          f"{rate(len(sample), run_s):.1f} bills/s")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 60)
