"""A billing run from cube to posted bills and HTML bills, step by step (BENCHMARKS.md, "Meter to cash").

    PYTHONPATH=. python -m benchmarks.bench_runs --meters 25000 [--db sqlite|postgres|URL] [--pdfs 40] [--workers N]

Generates (once, under data/bench/runs-<meters>/) a sample utility of ``--meters`` meters for two months,
puts every meter on one bill cycle's read dates (a single cycle of that many accounts), loads the accounts
into a fresh ledger and times: billing the cycle, the exception rules, posting in batches, building the
documents and rendering HTML for every posted bill (in ``--workers`` processes), and PDF throughput on
``--pdfs`` bills with one process and with ``--workers``. Floors: reading the cube's delivered kWh once (the
least any billing run must do); for HTML, the same documents dumped as JSON by pydantic.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from workbench.billing.cube_source import open_run_cube
from workbench.documents import render_bill_html
from workbench.documents.render import render_files
from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.db import init_ledger, new_session
from workbench.runs import pipeline
from workbench.runs.documents import render_run_documents, run_documents


def _utility(meters: int) -> Path:
    from workbench.sample import generate_sample_utility

    root = Path("data/bench") / f"runs-{meters}"
    cube = root / "cube.zarr"
    if not (root / "accounts.csv").exists():
        shutil.rmtree(root, ignore_errors=True)
        generate_sample_utility(cube, n_meters=meters, seed=11, months=(10, 11), meter_chunk=2000, progress=True)
        group = zarr.open_group(str(cube), mode="r+")
        group["cycle"][:] = np.full(meters, 7, dtype=group["cycle"].dtype)  # one cycle of every account
        ds = open_run_cube(cube)
        registry = pd.DataFrame({"meter_id": ds["meter"].values, "service_point": ds["meter"].values,
                                 "account": ds["account"].values, "customer_class": ds["customer_class"].values,
                                 "rate_code": ds["rate_code"].values, "cycle": 7, "nem_program": ds["nem_program"].values})
        accounts = pd.DataFrame({"account_number": registry["account"], "customer_name": "Bench Customer",
                                 "service_address": registry["service_point"] + " Bench St",
                                 "meter_id": registry["meter_id"], "service_point": registry["service_point"],
                                 "rate_code": registry["rate_code"], "customer_class": registry["customer_class"],
                                 "cycle": 7, "nem_program": registry["nem_program"], "opening_date": "2025-01-01"})
        accounts.to_csv(root / "accounts.csv", index=False)
    return root


def _cpu() -> float:
    """CPU seconds of this process and its finished children (workers, kernels): what the work costs,
    however loaded the machine is."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _run(args, url: str, root: Path, work: Path) -> dict:
    cube = root / "cube.zarr"
    t = {}
    cpu0 = _cpu()
    start = time.perf_counter()
    ds = open_run_cube(cube)
    _ = float(np.nansum(ds["delivered_kwh"].values))
    t["floor_read_cube"] = time.perf_counter() - start
    engine, _, _ = init_ledger(url)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(root / "accounts.csv"))
        session.commit()
    steps = time.perf_counter()
    billed = pipeline.bill(cube, args.tariffs, 7, "2025-11", work)
    t["bill_cycle"] = time.perf_counter() - steps
    s = time.perf_counter()
    verdict = pipeline.judge(engine, billed.bills)
    t["exception_rules"] = time.perf_counter() - s
    s = time.perf_counter()
    posted = pipeline.post(engine, "bench", 7, "2025-11", billed.bills, billed.line_items, verdict,
                           batch_size=args.batch_size)
    t["post"] = time.perf_counter() - s
    s = time.perf_counter()
    acct = pipeline.accounting(engine, billed, posted)
    t["accounting"] = time.perf_counter() - s
    s = time.perf_counter()
    written = render_run_documents(engine, posted.ledger_run_id, billed, work / "documents", pdfs=0,
                                   workers=args.workers)
    t["documents_build"] = written["seconds_build"]
    t["documents_html"] = written["seconds_html"]
    t["cube_to_html_total"] = time.perf_counter() - steps
    cpu_total = _cpu() - cpu0
    docs = run_documents(engine, posted.ledger_run_id, billed)
    s = time.perf_counter()
    _ = [render_bill_html(d) for d in docs[:2000]]
    html_one = (time.perf_counter() - s) / max(1, min(2000, len(docs)))
    s = time.perf_counter()
    _ = [d.model_dump_json() for d in docs[:2000]]
    json_floor = (time.perf_counter() - s) / max(1, min(2000, len(docs)))
    pdf = {}
    sample = docs[: args.pdfs]
    for workers in sorted({1, args.workers or os.cpu_count() or 1}):
        folder = work / f"pdf-{workers}"
        folder.mkdir()
        s = time.perf_counter()
        render_files(sample, [f"{k}.pdf" for k in range(len(sample))], folder, "pdf", workers)
        pdf[workers] = round(len(sample) / (time.perf_counter() - s), 2) if sample else None
    engine.dispose()
    return {"meters": args.meters, "bills": len(billed.bills), "posted": posted.posted, "held": posted.held,
            "ties": acct["ties"], "html": written["html"], "db": url.split(":")[0],
            "seconds": {k: round(v, 2) for k, v in t.items()},
            "post_ms_per_bill": round(1000 * t["post"] / max(1, len(billed.bills)), 3),
            "html_ms_per_bill_one_process": round(1000 * html_one, 3),
            "floor_json_ms_per_bill": round(1000 * json_floor, 3),
            "ratio_total_to_floor": round(t["cube_to_html_total"] / t["floor_read_cube"], 1),
            "cpu_seconds_floor_and_cube_to_html": round(cpu_total, 1),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "pdf_bills_per_second_by_workers": pdf}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=25000)
    parser.add_argument("--db", default="sqlite",
                        help="sqlite (a fresh file), postgres (a throw-away server, fsync on, started like the "
                             "tests' in tests/_postgres.py) or a database URL")
    parser.add_argument("--pdfs", type=int, default=40, help="bills rendered to PDF for the throughput figure")
    parser.add_argument("--workers", type=int, default=None, help="render processes (default: os.cpu_count())")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--tariffs", default=str(Path(__file__).resolve().parents[1] / "tariffs"), help="tariff book")
    args = parser.parse_args(argv)
    root = _utility(args.meters)
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    try:
        if args.db == "postgres":
            from tests._postgres import new_database, postgres_server

            with postgres_server(fsync=True) as server:
                result = _run(args, new_database(*server), root, work)
        else:
            result = _run(args, f"sqlite:///{work / 'ledger.sqlite'}" if args.db == "sqlite" else args.db, root, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
