"""The ledger's commands: ``workbench ledger init|settings|load-accounts|check|reconcile|aging`` and
``workbench payments post FILE``. Thin: parse, call :mod:`workbench.ledger`, print. See docs/ledger.md.

Every command takes ``--db URL`` (default ``$WORKBENCH_DB_URL``, else ``sqlite:///data/ledger.sqlite``).
A refusal is one line naming the file, row and field, exit 2 (the ledger raises ``LedgerError``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from workbench.cli_parser import DB_HELP, iso_date, whole_number
from workbench.ledger.accounts import load_accounts, read_accounts_csv, rows_from_registry
from workbench.ledger.amounts import money_text
from workbench.ledger.check import check_ledger, reconcile_day
from workbench.ledger.db import (
    LedgerError,
    init_ledger,
    ledger_url,
    new_session,
    open_ledger,
    require_current,
)
from workbench.ledger.payment_dates import early_items
from workbench.ledger.payment_files import read_payment_file
from workbench.ledger.payments import apply_payments
from workbench.ledger.receivables import BUCKETS, aging
from workbench.ledger.settings import (
    FEE_DUE_DAYS,
    FEES,
    MAX_DUE_DAYS,
    MAX_FEE_CENTS,
    NSF_FEE,
    RECONNECT_FEE,
    fee_setting,
    set_fee,
    set_fee_due_days,
)
from workbench.outputs import write_report_csv
from workbench.runs.assure import assure_command

FEE_CENTS = whole_number(0, MAX_FEE_CENTS, "a fee in cents (2500 is 25.00)")  # --nsf-fee, --reconnect-fee
DUE_DAYS = whole_number(0, MAX_DUE_DAYS, "whole days (0: due the day charged)")  # --fee-due-days
NOT_SET = {NSF_FEE: "`payments post` refuses a file with returned items and `payments resolve-return --account` "
                    "refuses",
           RECONNECT_FEE: "`ledger reconnect` refuses"}



def _session(args):
    engine = open_ledger(args.db)
    require_current(engine)
    return engine, new_session(engine)




def _init(args) -> int:
    engine, before, after = init_ledger(args.db)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"ledger {where}: schema {after}, already current (nothing changed)")
    else:
        print(f"ledger {where}: schema {before or 'none'} -> {after}")
    return 0


def _settings(args) -> int:
    given = [(name, value) for name, value in ((NSF_FEE, args.nsf_fee), (RECONNECT_FEE, args.reconnect_fee))
             if value is not None]
    if (given or args.fee_due_days is not None) and args.who is None:
        option = FEES[given[0][0]][0] if given else "--fee-due-days"
        raise LedgerError(f"workbench ledger settings: {option} and --who go together (the setting and who sets it)")
    if args.who is not None and not given and args.fee_due_days is None:
        raise LedgerError("workbench ledger settings: --nsf-fee and --who go together (or --reconnect-fee or "
                          "--fee-due-days and --who): the setting and who sets it")
    _, session = _session(args)
    with session:
        changed = {name: set_fee(session, name, value, args.who) for name, value in given}
        if args.fee_due_days is not None:
            changed[FEE_DUE_DAYS] = set_fee_due_days(session, args.fee_due_days, args.who)
        for name, (option, what, run_option) in FEES.items():
            current = fee_setting(session, name)
            if current is None:
                print(f"{what}: NOT SET: {NOT_SET[name]}, until it is set with {option} CENTS --who NAME (or "
                      f"given on each with {run_option})")
            else:
                print(f"{what}: {money_text(current.value_cents)} ({current.value_cents} cents), set by "
                      f"{current.set_by} at {current.set_at:%Y-%m-%d %H:%M} UTC"
                      + ("" if name not in changed else " (changed)" if changed[name] else
                         " (already so; nothing changed)"))
        _show_due_days(session, changed)
    return 0


def _show_due_days(session, changed: dict) -> None:
    current = fee_setting(session, FEE_DUE_DAYS)
    if current is None:
        print("service charges due: NOT SET: NSF and late fees are due the day they are charged and `ledger "
              "reconnect` refuses to charge a fee, until it is set with --fee-due-days N --who NAME")
        return
    days = int(current.value_cents)
    print(f"service charges due: {days} days after they are charged" + (" (the same day)" if not days else "")
          + f", set by {current.set_by} at {current.set_at:%Y-%m-%d %H:%M} UTC"
          + ("" if FEE_DUE_DAYS not in changed else " (changed)" if changed[FEE_DUE_DAYS] else
             " (already so; nothing changed)"))


def _load_accounts(args) -> int:
    rows = rows_from_registry(args.file) if args.registry else read_accounts_csv(args.file)
    _, session = _session(args)
    with session:
        counts = load_accounts(session, rows)
    print(f"{args.file}: {counts.rows} rows; {counts.accounts} new accounts, {counts.meters} new meters, "
          f"{counts.kept} already in the ledger (kept as they are); opening balances {money_text(counts.opening_cents)}")
    return 0


def _check(args) -> int:
    _, session = _session(args)
    with session:
        breaks = check_ledger(session)
    if breaks:
        for line in breaks:
            print(f"break: {line}", file=sys.stderr)
        raise LedgerError(f"ledger check: {len(breaks)} break(s); the first: {breaks[0]}")
    print(f"ledger {ledger_url(args.db)}: every balance is the sum of its journal; receivables roll forward; "
          "no breaks")
    return 0


def _reconcile(args) -> int:
    _, session = _session(args)
    with session:
        report, breaks = reconcile_day(session, args.date)
    print(f"Reconciliation of {args.date}")
    w1, w2 = max([14, *report["section"].str.len()]), max([26, *report["item"].str.len()])
    for row in report.itertuples():
        print(f"  {row.section:<{w1}} {row.item:<{w2}} {row.count:>7} {money_text(row.cents):>16}")
    out = Path(args.out or f"reports/ledger/reconcile-{args.date}.csv")
    frame = report.assign(amount=report["cents"] / 100)
    write_report_csv(out, frame)
    print(f"written: {out}")
    if breaks:
        for line in breaks:
            print(f"break: {line}", file=sys.stderr)
        raise LedgerError(f"reconcile {args.date}: {len(breaks)} break(s); the first: {breaks[0]}")
    print("ties out to the cent: opening + billed - paid +/- adjustments = closing")
    return 0


def _aging(args) -> int:
    _, session = _session(args)
    as_of = args.as_of or dt.date.today()
    with session:
        table = aging(session, as_of)
    totals = {b: int(table[b].sum()) for b in (*BUCKETS, "credit", "total")}
    if args.out:  # before anything is printed: a refused --out is one line
        write_report_csv(args.out, table)
    print(f"Aging of receivables on {as_of} ({len(table)} accounts with open items)")
    for name, cents in totals.items():
        print(f"  {name:<8} {money_text(cents):>16}")
    if args.out:
        print(f"written: {args.out}")
    return 0


def _payments_post(args) -> int:
    read = read_payment_file(args.file)
    _, session = _session(args)
    with session:
        early = early_items(session, read.payments)  # before posting: the file's own entries would move the start
        post = apply_payments(session, read.payments, checksum=read.checksum, file_name=str(args.file),
                              nsf_fee_cents=args.nsf_fee)
    if post.already_posted_file:
        print(f"{args.file}: already posted (same file checksum); nothing posted")
        return 0
    n_file, c_file = len(read.rejected), int(read.rejected["amount_cents"].fillna(0).sum()) if len(read.rejected) else 0
    n_skip = len(read.ignored)
    c_skip = int(read.ignored["amount_cents"].fillna(0).sum()) if n_skip else 0
    print(f"{args.file}: {post.items_in + n_file + n_skip} items, {money_text(post.cents_in + c_file + c_skip)}")
    print(f"  applied to accounts  {post.applied:>7} {money_text(post.applied_cents):>16}")
    print(f"  unapplied (queue)    {post.unapplied:>7} {money_text(post.unapplied_cents):>16}")
    print(f"  returns (reversed)   {post.returns:>7} {money_text(post.returns_cents):>16}  (returned-payment fees "
          f"charged: {money_text(post.fees_cents)})")
    print(f"  rejected             {len(post.rejected) + n_file:>7} {money_text(post.rejected_cents + c_file):>16}")
    print(f"  ignored              {n_skip:>7} {money_text(c_skip):>16}"
          + ("  (not customer payments: bank transactions, deposit totals)" if n_skip else ""))
    early = early and early.posted(post.rejected)  # a duplicate or a refused item was not posted
    if early is not None:
        # posted, not refused (an old lockbox file posted late is real), but said loudly: it is more often the
        # wrong file or the wrong ledger
        said = (f"WARNING: {early.count} item(s), {money_text(early.cents)}, dated before their account opened or "
                f"before the ledger's first activity ({early.ledger_start}); earliest {early.earliest}: posted; "
                "check this is the right file for this ledger")
        print(f"  {said}")
        print(f"{args.file}: {said}", file=sys.stderr)
    for r in post.rejected:
        print(f"  rejected {r['source']}: {r['reason']}", file=sys.stderr)
    for r in read.rejected.itertuples():
        print(f"  rejected {r.source}: {r.reason}", file=sys.stderr)
    return 0


def add_commands(sub) -> None:
    """Add ``ledger`` and ``payments`` to the ``workbench`` subparsers ``sub``."""
    fmt = argparse.RawDescriptionHelpFormatter
    ledger = sub.add_parser("ledger", help="the ledger: accounts, posted bills, receivables, reconciliation")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True)

    p = lsub.add_parser("init", help="create the ledger, or upgrade it to this version's schema (keeps its data)",
                        formatter_class=fmt, epilog="example: workbench ledger init --db sqlite:///data/ledger.sqlite")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_init)

    p = lsub.add_parser("settings", help="the utility's own ledger settings: show them, or set the returned-payment "
                        "(NSF) fee, the reconnection fee or when such fees are due", formatter_class=fmt, epilog="example: workbench ledger settings --nsf-fee 2500 "
                        "--who jdoe --db sqlite:///data/ledger.sqlite")
    p.add_argument("--nsf-fee", type=FEE_CENTS,
                   help="the fee charged for a returned payment, in cents (0: none); every change is kept "
                   "(default: show the one in force, change nothing)")
    p.add_argument("--reconnect-fee", type=FEE_CENTS,
                   help="the fee charged when service is reconnected after a disconnection for non-payment, in "
                   "cents (0: none); every change is kept (default: show the one in force, change nothing)")
    p.add_argument("--fee-due-days", type=DUE_DAYS,
                   help="a reconnection, returned-payment or late fee is due this many days after it is charged "
                   "(with the customer's next bill; 0: the same day, e.g. paid before reconnection); recorded with "
                   "each charge; every change is kept (default: show the one in force, change nothing)")
    p.add_argument("--who", help="who sets it (recorded; required with --nsf-fee, --reconnect-fee or --fee-due-days)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_settings)

    p = lsub.add_parser("load-accounts", help="load accounts from an accounts CSV (opening balances) or a meter registry",
                        formatter_class=fmt, epilog="example: workbench ledger load-accounts data/sample/accounts.csv\n"
                        "         workbench ledger load-accounts --registry data/sample/ami/meters.csv")
    p.add_argument("file", help="accounts CSV (docs/ledger.md), or with --registry a meter registry CSV/YAML")
    p.add_argument("--registry", action="store_true", help="FILE is a meter registry (docs/registry.md) (default: off)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_load_accounts)

    p = lsub.add_parser("check", help="check every balance against the journal; exit 2 naming each break",
                        formatter_class=fmt, epilog="example: workbench ledger check --db $WORKBENCH_DB_URL")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_check)

    p = lsub.add_parser("reconcile", help="one day's reconciliation, to the cent (prints it and writes CSV)",
                        formatter_class=fmt, epilog="example: workbench ledger reconcile --date 2025-02-03")
    p.add_argument("--date", type=iso_date, required=True, help="the day to reconcile, YYYY-MM-DD")
    p.add_argument("--out", help="CSV to write (default: reports/ledger/reconcile-DATE.csv)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_reconcile)

    p = lsub.add_parser("aging", help="receivables by days past due: current, 1-30, 31-60, 61-90, 90+",
                        formatter_class=fmt, epilog="example: workbench ledger aging --as-of 2025-03-31 --out aging.csv")
    p.add_argument("--as-of", type=iso_date, help="the day to age to, YYYY-MM-DD (default: today)")
    p.add_argument("--out", help="also write the per-account table as CSV (default: none)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_aging)

    # ---- RUNS: `workbench ledger assure` goes here (lsub.add_parser("assure", ...)) ----
    p = lsub.add_parser("assure", formatter_class=fmt, help="revenue assurance: the cube's kWh tied to bills, holds "
                        "and explanations; exit 1 while any kWh is unexplained", epilog="example: workbench ledger "
                        "assure --period 2025-11 --cube data/sample/billing.zarr --out reports/assure")
    p.add_argument("--period", required=True, help="bill month YYYY-MM (bill periods ending in it)")
    p.add_argument("--cube", default="data/sample/billing.zarr", help="the interval cube (default: %(default)s)")
    p.add_argument("--cycle", type=int, action="append", help="only the meters of this bill cycle (repeat for "
                   "several: the cycles run so far this month; default: every cycle)")
    p.add_argument("--runs", help="folder of run-cycle records (run-cycle --reports): meters a run held without a "
                   "bill (its cycle/exceptions.csv) count as held_no_bill, explained (default: none)")
    p.add_argument("--out", default="reports/assure", help="folder for the CSV files (default: %(default)s)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=assure_command)

    payments = sub.add_parser("payments", help="post bank payment files to the ledger")
    psub = payments.add_subparsers(dest="payments_command", required=True)
    p = psub.add_parser("post", help="post a BAI2 or payment CSV file (the same file twice posts once)",
                        formatter_class=fmt, epilog="example: workbench payments post lockbox-2025-02-03.bai")
    p.add_argument("file", help="BAI2 lockbox/bank file or payment CSV (docs/payment-files.md)")
    p.add_argument("--nsf-fee", type=FEE_CENTS,
                   help="returned-payment fee in cents for this file's returned items (default: the utility's fee "
                   "set with `workbench ledger settings --nsf-fee`; neither, with a returned item: refused)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_payments_post)
