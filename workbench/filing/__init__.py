"""PUC filing package: rate-case schedules from kept test-year determinants, as CSV, Excel and PDF.

:func:`build_schedules` computes every schedule of a filing as a tidy DataFrame
(:mod:`workbench.filing.schedules`, :mod:`workbench.filing.typical`) from a
:class:`~workbench.filing.data.FilingData` (the determinants priced under the present and proposed books);
:func:`write_filing` writes them into a folder as ``<schedule>.csv``, ``filing.xlsx``
(:mod:`workbench.filing.workbook`) and ``filing.pdf`` (:mod:`workbench.filing.report`), with ``run.json``
(the inputs' checksums and the code version). ``workbench filing`` (``workbench/cli_filing.py``) runs this
through the notebook ``notebooks/puc_filing.ipynb``; docs/filing.md says what each schedule holds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from workbench.design.testyear_store import excluded_note
from workbench.filing.data import FilingData, open_filing, run_identity
from workbench.filing.nem_schedules import coverage, nem_bill_frequency, nem_bill_impacts, nem_typical_bills
from workbench.filing.report import render_html, render_pdf
from workbench.filing.schedules import (
    bill_frequency,
    bill_impacts,
    class_summary,
    cost_of_service,
    largest_increases,
    proof_of_revenue,
    rate_mapping,
    read_cost_of_service,
)
from workbench.filing.spec import csv_for_people
from workbench.filing.typical import typical_bills
from workbench.filing.workbook import write_workbook
from workbench.outputs import atomic_write_bytes, atomic_write_text

__all__ = ["FilingData", "build_schedules", "open_filing", "run_identity", "write_filing"]


def build_schedules(data: FilingData, cost_study=None, *, blocks=None, levels=None, load_factors=None) -> dict:
    """Every schedule (name -> DataFrame, in filing order); ``cost_of_service`` only with a ``cost_study``."""
    nem = len(data.net_metering or ()) > 0  # the net-metering schedules when the test year has such customers
    out = {"class_summary": class_summary(data), "proof_of_revenue": proof_of_revenue(data),
           "bill_frequency": bill_frequency(data, blocks)}
    if nem:
        out["nem_bill_frequency"] = nem_bill_frequency(data, blocks)
    out["typical_bills"] = typical_bills(data, levels, load_factors)
    if nem:
        out["nem_typical_bills"] = nem_typical_bills(data)
    out["bill_impacts"] = bill_impacts(data)
    if nem:
        out["nem_bill_impacts"] = nem_bill_impacts(data)
    out["largest_increases"] = largest_increases(data)
    out["rate_mapping"] = rate_mapping(data)
    if cost_study is not None:
        out["cost_of_service"] = cost_of_service(data, cost_study)
    covers = coverage(data)
    for name, frame in out.items():  # which customers each schedule counts: under its title in the workbook and PDF
        frame.attrs["covers"] = covers[name]
    return out


def write_filing(determinants, present, proposed, out, *, cost_of_service_file=None, basis=None, utility=None,
                 blocks=None, levels=None, load_factors=None, record_determinants=None) -> dict:
    """Compute the schedules and write the CSVs, ``filing.xlsx``, ``filing.pdf`` and ``run.json`` into ``out``
    (an existing folder the caller owns: ``workbench filing`` hands its staging folder). Returns the schedules,
    the identity, the timings [s] and the :class:`FilingData`."""
    out = Path(out)
    seconds = {}
    started = time.perf_counter()
    identity = run_identity(determinants, present, proposed, cost_of_service_file)
    if record_determinants:  # the folder's final name (workbench filing reads it from its staging folder)
        identity["determinants"] = str(record_determinants)
    note = excluded_note(determinants, record_determinants)
    if note:  # in the package itself (cover, Run sheet, run.json), not only on the preparer's terminal
        identity["excluded"] = note
    data = open_filing(determinants, present, proposed, basis=basis, utility=utility)
    identity.update(utility=data.utility, basis=data.basis)
    seconds["price"] = time.perf_counter() - started
    cost = None if cost_of_service_file is None else read_cost_of_service(cost_of_service_file)
    schedules = build_schedules(data, cost, blocks=blocks, levels=levels, load_factors=load_factors)
    seconds["schedules"] = time.perf_counter() - started - seconds["price"]
    for name, frame in schedules.items():
        atomic_write_text(out / f"{name}.csv", csv_for_people(name, frame).to_csv(index=False))
    t = time.perf_counter()
    atomic_write_bytes(out / "filing.xlsx", write_workbook(schedules, utility=data.utility, test_year=data.test_year,
                                                           basis=data.basis, identity=identity))
    seconds["excel"] = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(schedules, utility=data.utility, test_year=data.test_year, basis=data.basis, identity=identity)
    atomic_write_bytes(out / "filing.pdf", render_pdf(html))
    seconds["pdf"] = time.perf_counter() - t
    identity["schedules"] = list(schedules)
    atomic_write_text(out / "run.json", json.dumps(identity, indent=1, default=str))
    return {"schedules": schedules, "identity": identity, "seconds": seconds, "data": data}
