"""``workbench run-cycle``, ``workbench bills ...`` and ``workbench compare-bills``: the cycle runs' commands.

Thin: parse, call :mod:`workbench.runs`, print. See docs/cycle-runs.md and docs/compare-bills.md.
"""

from __future__ import annotations

import argparse

from workbench.errors import WorkbenchError
from workbench.ledger.db import new_session
from workbench.ledger.posting import bill_history, cancel_and_rebill, hold_bill, release_bill
from workbench.runs import holds
from workbench.runs.compare import (
    compare_bills,
    legacy_bills,
    workbench_bills_from_db,
    workbench_bills_from_dir,
)
from workbench.runs.execute import execute_run, summary_text
from workbench.runs.pipeline import ledger

_FMT = argparse.ArgumentDefaultsHelpFormatter


def add_commands(sub) -> None:
    run = sub.add_parser("run-cycle", formatter_class=_FMT, help="bill, judge, post and render one bill cycle "
                         "(an audited run of notebooks/billing_cycle.ipynb)",
                         epilog="example: workbench run-cycle --cycle 7 --period 2025-11 "
                                "--cube data/sample/billing.zarr --db sqlite:///data/sample/ledger.sqlite")
    run.add_argument("--cycle", type=int, required=True, help="the bill cycle number")
    run.add_argument("--period", required=True, help="bill month YYYY-MM: bill periods ending in this month")
    run.add_argument("--db", help="ledger URL (default: $WORKBENCH_DB_URL, else sqlite:///data/ledger.sqlite)")
    run.add_argument("--cube", default="data/sample/billing.zarr", help="the validated interval cube")
    run.add_argument("--tariffs", default="tariffs", help="tariff book folder")
    run.add_argument("--rules", help="site exception rules (YAML merged over workbench/runs/defaults.yaml)")
    run.add_argument("--reports", default="reports/runs", help="where run folders (reports/runs/<run-id>/) go")
    run.add_argument("--batch-size", type=int, default=500, help="bills posted per ledger transaction")
    run.add_argument("--pdfs", type=int, default=-1, help="bill PDFs to render: -1 every posted bill, 0 none, N the "
                     "first N (HTML bills are always written for every posted bill)")
    run.add_argument("--no-documents", action="store_true", help="post without rendering bill documents")
    run.add_argument("--notebook", help="the run notebook (default: the workbench's notebooks/billing_cycle.ipynb)")
    run.set_defaults(func=_run_cycle)

    bills = sub.add_parser("bills", help="list, hold, release or cancel/rebill bills in the ledger")
    verbs = bills.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", formatter_class=_FMT, help="bills with their status and holds",
                               epilog="example: workbench bills list --status held --db sqlite:///data/sample/ledger.sqlite")
    listing.add_argument("--db", help="ledger URL (default: $WORKBENCH_DB_URL, else sqlite:///data/ledger.sqlite)")
    listing.add_argument("--account", help="one account's bills, every version (its history)")
    listing.add_argument("--status", choices=["held", "posted", "cancelled"], help="only bills in this status")
    listing.add_argument("--run", type=int, help="only the bills of this ledger bill run id")
    listing.add_argument("--csv", help="also write the list to this CSV file")
    listing.set_defaults(func=_bills_list)
    for verb, text in (("hold", "hold a bill not yet posted, with who and why"),
                       ("release", "release a held bill: post it, recording who and why"),
                       ("rebill", "cancel a bill (a posted one is reversed by an adjustment) and post its correction")):
        p = verbs.add_parser(verb, formatter_class=_FMT, help=text,
                             epilog=f"example: workbench bills {verb} 42 --who jdoe --why 'read verified on site'"
                                    + (" --from reports/runs/<run-id>/cycle" if verb == "rebill" else ""))
        p.add_argument("bill_id", type=int, help="the ledger's bill id (workbench bills list)")
        p.add_argument("--who", required=True, help="who does it (recorded)")
        p.add_argument("--why", required=True, help="why (recorded)")
        p.add_argument("--db", help="ledger URL (default: $WORKBENCH_DB_URL, else sqlite:///data/ledger.sqlite)")
        if verb == "rebill":
            p.add_argument("--from", dest="source", help="a cycle output folder (bills.parquet, line_items.parquet) "
                           "holding the corrected bill of the same meter and period")
            p.add_argument("--cancel-only", action="store_true", help="cancel without a new bill")
        p.set_defaults(func={"hold": _hold, "release": _release, "rebill": _rebill}[verb])

    cmp = sub.add_parser("compare-bills", formatter_class=_FMT, help="compare a legacy system's bills with the "
                         "workbench's (a parallel run)", epilog="example: workbench compare-bills --legacy legacy.csv "
                         "--bills reports/runs/<run-id>/cycle --out reports/compare.csv")
    cmp.add_argument("--legacy", required=True, help="legacy bills CSV: account, period, total[, <category>...] "
                     "(docs/compare-bills.md)")
    source = cmp.add_mutually_exclusive_group()
    source.add_argument("--db", help="compare with the ledger's posted bills (default when --bills is not given)")
    source.add_argument("--bills", help="compare with a cycle output folder (bills.parquet, line_items.parquet)")
    cmp.add_argument("--tolerance", type=float, default=0.01, help="differences up to this many dollars match")
    cmp.add_argument("--out", default="compare-bills.csv", help="the per-bill comparison CSV")
    cmp.set_defaults(func=_compare)


def _run_cycle(args) -> int:
    outcome = execute_run(cycle=args.cycle, period=args.period, cube=args.cube, tariffs=args.tariffs, db=args.db,
                          rules=args.rules, reports=args.reports, batch_size=args.batch_size, pdfs=args.pdfs,
                          documents=not args.no_documents, notebook=args.notebook, progress=not args.quiet)
    print(summary_text(outcome))
    return 0 if outcome.summary["accounting"]["ties"] else 1


def _bills_list(args) -> int:
    engine = ledger(args.db)
    with new_session(engine) as session:
        frame = (bill_history(session, args.account) if args.account
                 else holds.list_bills(session, status=args.status, run=args.run))
    if args.account and args.status:
        frame = frame[frame["status"] == args.status]
    if args.csv:
        frame.to_csv(args.csv, index=False)
    print(frame.to_string(index=False) if len(frame) else "no bills")
    return 0


def _hold(args) -> int:
    with new_session(ledger(args.db)) as session:
        hold_bill(session, args.bill_id, args.who, args.why)
    print(f"bill {args.bill_id} held by {args.who}: {args.why}")
    return 0


def _release(args) -> int:
    with new_session(ledger(args.db)) as session:
        release_bill(session, args.bill_id, args.who, args.why)
    print(f"bill {args.bill_id} released and posted by {args.who}: {args.why}")
    return 0


def _rebill(args) -> int:
    if not args.source and not args.cancel_only:
        raise WorkbenchError("bills rebill: give --from <cycle output> with the corrected bill, or --cancel-only")
    with new_session(ledger(args.db)) as session:
        corrected = (None, None) if args.cancel_only else holds.corrected_bill(session, args.bill_id, args.source)
        new_id = cancel_and_rebill(session, args.bill_id, args.who, args.why, *corrected)
    print(f"bill {args.bill_id} cancelled by {args.who}: {args.why}"
          + (f"; its correction is bill {new_id}" if new_id else ""))
    return 0


def _compare(args) -> int:
    legacy = legacy_bills(args.legacy)
    ours = workbench_bills_from_dir(args.bills) if args.bills else workbench_bills_from_db(ledger(args.db))
    result = compare_bills(legacy, ours, tolerance=args.tolerance)
    result.table.to_csv(args.out, index=False)
    print(result.summary_text())
    print(f"per-bill comparison: {args.out}")
    return 0

