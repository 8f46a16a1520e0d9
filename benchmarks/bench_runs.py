"""A billing run from cube to posted bills and HTML bills, step by step (changes/runs-bench.md).

    PYTHONPATH=. python -m benchmarks.bench_runs --meters 25000 [--db postgresql://...] [--pdfs 200]

Generates (once, under data/bench/runs-<meters>/) a sample utility of ``--meters`` meters for two months,
puts every meter on one bill cycle's read dates (a single cycle of that many accounts), loads the accounts
into a fresh ledger and times: billing the cycle, the exception rules, posting in batches, building the
documents and rendering HTML for every posted bill, and PDF throughput on ``--pdfs`` bills. Floor: reading
the cube's delivered kWh once (the least any billing run must do).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from workbench.billing.cube_source import open_run_cube
from workbench.documents import render_bill_pdf
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=25000)
    parser.add_argument("--db", help="ledger URL (default: a fresh SQLite file in a temporary folder)")
    parser.add_argument("--pdfs", type=int, default=100, help="bills rendered to PDF for the throughput figure")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--tariffs", default=str(Path(__file__).resolve().parents[1] / "tariffs"), help="tariff book")
    args = parser.parse_args(argv)
    root = _utility(args.meters)
    cube = root / "cube.zarr"
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    url = args.db or f"sqlite:///{work / 'ledger.sqlite'}"
    t = {}
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
    written = render_run_documents(engine, posted.ledger_run_id, billed, work / "documents", pdfs=0)
    t["documents_html"] = time.perf_counter() - s
    t["cube_to_html_total"] = time.perf_counter() - steps
    docs = run_documents(engine, posted.ledger_run_id, billed)[: args.pdfs]
    s = time.perf_counter()
    for k, doc in enumerate(docs):
        render_bill_pdf(doc, work / f"{k}.pdf")
    pdf_seconds = time.perf_counter() - s
    result = {"meters": args.meters, "bills": len(billed.bills), "posted": posted.posted, "held": posted.held,
              "ties": acct["ties"], "html": written["html"], "db": url.split(":")[0],
              "seconds": {k: round(v, 2) for k, v in t.items()},
              "ratio_total_to_floor": round(t["cube_to_html_total"] / t["floor_read_cube"], 1),
              "pdf_per_second": round(len(docs) / pdf_seconds, 2) if docs else None}
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
