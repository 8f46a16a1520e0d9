"""Executing the billing-cycle notebook with papermill as one audited run (``workbench run-cycle``).

The executed notebook is kept in the run's folder (``reports/runs/<run-id>/notebook-<UTC time>.ipynb``) even
when the run fails part-way: it shows how far the run got. ``record.json`` lists every execution, its
outcome and the code version; ``summary.json`` is what the last finished execution counted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.errors import WorkbenchError, require
from workbench.ledger.db import absolute_url, ledger_url
from workbench.outputs.kernel import KERNEL_ARGUMENTS
from workbench.runs import pipeline
from workbench.runs.record import (
    PACKAGE_ROOT,
    add_execution,
    code_version,
    now_stamp,
    run_folder,
    run_id,
    run_inputs,
)

NOTEBOOK = PACKAGE_ROOT / "notebooks" / "billing_cycle.ipynb"


def default_notebook() -> Path:
    """The checkout's ``notebooks/billing_cycle.ipynb`` (beside the package), else the working directory's."""
    return NOTEBOOK if NOTEBOOK.exists() else Path("notebooks") / "billing_cycle.ipynb"


@dataclass
class RunOutcome:
    run_id: str
    folder: Path
    notebook: Path
    summary: dict


def execute_run(*, cycle: int, period: str, cube, tariffs, db=None, rules=None, reports="reports/runs",
                batch_size: int = 500, pdfs: int = -1, documents: bool = True, notebook=None,
                progress=False) -> RunOutcome:
    """Run cycle ``cycle`` for bill month ``period`` through the notebook; raises on failure naming the notebook."""
    pm = require("papermill", "notebooks", "workbench run-cycle (it executes notebooks/billing_cycle.ipynb)")
    try:
        dt.date.fromisoformat(f"{period}-01")
    except ValueError:
        raise WorkbenchError(f"--period {period!r}: expected a bill month like 2025-11") from None
    notebook = Path(notebook) if notebook else default_notebook()
    for what, path in (("--cube", cube), ("--tariffs", tariffs), ("notebook", notebook)):
        if not Path(path).exists():
            raise WorkbenchError(f"{what} {path}: not found")
    url = absolute_url(ledger_url(db))  # the notebook runs in the run folder
    preflight(cube, cycle, period, url)
    inputs = run_inputs(cube=cube, tariffs=tariffs, cycle=cycle, period=period, notebook=notebook, db_url=url,
                        rules=rules)
    rid = run_id(inputs)
    folder = run_folder(reports, rid)
    executed = folder / f"notebook-{now_stamp()}.ipynb"
    version = code_version()
    checksum = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    parameters = {"cube": str(Path(cube).resolve()), "tariffs": str(Path(tariffs).resolve()), "cycle": int(cycle),
                  "period": str(period), "db": url, "run_dir": str(folder.resolve()), "run_key": rid,
                  "rules": str(Path(rules).resolve()) if rules else "", "batch_size": int(batch_size),
                  "pdfs": int(pdfs), "documents": bool(documents),
                  "code_version": version["git"] or version["workbench"],
                  "inputs_checksum": checksum}
    execution = {"notebook": executed.name, "started": started, "parameters": parameters}
    try:
        pm.execute_notebook(str(notebook), str(executed), parameters=parameters, cwd=str(folder),
                            kernel_name="python3", progress_bar=progress,
                            extra_arguments=KERNEL_ARGUMENTS)
    except pm.PapermillExecutionError as exc:
        last = (exc.evalue or exc.ename or "").strip().splitlines()
        why = f"{exc.ename}: {last[-1] if last else ''}"
        add_execution(folder, inputs, {**execution, "outcome": "failed", "error": why,
                                       "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
        raise WorkbenchError(f"run {rid} failed in cell {exc.exec_count}: {why} (the executed notebook, kept as "
                             f"the record: {executed})") from None
    summary = json.loads((folder / "summary.json").read_text())
    add_execution(folder, inputs, {**execution, "outcome": "finished", "summary": summary,
                                   "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    return RunOutcome(rid, folder, executed, summary)


def preflight(cube, cycle: int, period: str, url: str) -> None:
    """What would fail the notebook's first cells, checked in a second before a kernel starts (no run folder is
    made): the ledger reachable and initialised, the cycle in the cube, a read date of the cycle in the month."""
    pipeline.ledger(url)
    pipeline.readiness(cube, cycle)
    reads = pipeline.cycle_read_dates(cube, cycle)
    if not (reads.to_period("M") == pd.Period(period, "M")).any():
        raise WorkbenchError(f"--period {period}: bill cycle {cycle} has no read date in that month (its read dates "
                             f"in {cube}: {reads.min():%Y-%m-%d} to {reads.max():%Y-%m-%d})")


def summary_text(outcome: RunOutcome) -> str:
    s = outcome.summary
    acct, post = s["accounting"], s["posting"]
    lines = [f"run {outcome.run_id}: cycle {s['cycle']}, bill month {s['period']}",
             f"  {acct['meters_in']:,} meters in = {acct['meters_billed']:,} billed + {acct['meters_held']:,} held "
             "without a bill",
             f"  {acct['bills']:,} bills: {post['posted']:,} posted now, {post['held']:,} held now, "
             f"{post['already']:,} already in the ledger (ledger run {post['ledger_run_id']})",
             "  in the ledger: " + ", ".join(f"{n:,} {k}" for k, n in sorted(acct["status"].items()))]
    if s.get("not_yet_read"):
        lines.append(f"  {s['not_yet_read']:,} bill periods cut short by the end of the cube's data are not posted "
                     "(the meters' next reads are later; the run after them bills the periods whole)")
    if s.get("rules"):
        lines.append("  exceptions: " + ", ".join(f"{k} {v}" for k, v in sorted(s["rules"].items())))
    for row in s.get("by_class", []):
        amounts = ", ".join(f"{k} ${v:,.2f}" for k, v in row.items() if k != "customer_class")
        lines.append(f"  {row['customer_class']}: {amounts}")
    docs = s.get("documents", {})
    lines.append(f"  documents: {docs.get('html', 0):,} HTML, {docs.get('pdf', 0):,} PDF in "
                 f"{outcome.folder / 'documents'}")
    lines.append("  ties out" if acct["ties"] else "  DOES NOT TIE OUT: " + "; ".join(acct["breaks"]))
    lines.append(f"  record: {outcome.notebook}")
    return "\n".join(lines)
