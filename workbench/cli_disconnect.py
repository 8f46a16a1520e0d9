"""After the final notice, from the command line: ``workbench ledger disconnects`` (the field work list of the
day), ``ledger disconnect`` and ``ledger reconnect`` (the service orders, with the reconnection fee). See
docs/collections.md.

Thin: parse, call :mod:`workbench.ledger.disconnects` / :mod:`workbench.ledger.service_orders`, print. The
commands join the ``ledger`` group that :mod:`workbench.cli_ledger` makes (registered after it in
``cli_wings.WINGS``). Without ``--rules`` the rules file the final notices were issued under (recorded in the
ledger) is read again, now: its medical certificates and moratorium are the ones that protect on the day.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from workbench.cli_parser import DB_HELP, iso_date, whole_number, wing_group
from workbench.errors import WorkbenchError
from workbench.ledger.db import session_on
from workbench.ledger.disconnects import (
    as_frame,
    check_disconnects,
    plan_disconnects,
    recorded_rules,
    unknown_certificates,
)
from workbench.ledger.notice_rules import RulesError, load_rules
from workbench.ledger.receivables import account_id
from workbench.ledger.service_orders import disconnect, reconnect
from workbench.ledger.settings import MAX_FEE_CENTS
from workbench.outputs import write_report_csv

log = logging.getLogger(__name__)

FEE_CENTS = whole_number(0, MAX_FEE_CENTS, "a fee in cents (2500 is 25.00)")  # as `ledger settings --reconnect-fee`
RULES_HELP = ("the collections rules YAML (docs/examples/notices.yaml) whose minimum amount, medical certificates "
              "and moratorium apply on the day (default: the file the final notices were issued under, as recorded "
              "in the ledger, read now)")


def _as_dollars(frame: pd.DataFrame) -> pd.DataFrame:
    """``*_cents`` columns as dollars (two decimals) for a CSV for people."""
    out = frame.copy()
    for column in [c for c in out.columns if c.endswith("_cents")]:
        out[column.removesuffix("_cents")] = [f"{int(v) / 100:.2f}" for v in out.pop(column)]
    return out


def _rules(session, given, as_of, account_ids=None):
    """(rules, the file read): ``--rules``, else the one file the final notices past their date were issued
    under ((None, "") when there is no such notice: nothing to check); notices issued under more than one file:
    refused, --rules is needed. A medical certificate naming no account of the ledger is warned of."""
    if given:
        name, rules = str(given), load_rules(given)
    else:
        names = recorded_rules(session, as_of, account_ids)
        if not names:
            return None, ""
        if len(names) > 1:
            raise WorkbenchError(f"--rules: not given, and the final notices past their date were issued under "
                                 f"{len(names)} rules files ({', '.join(names[:3])}); give --rules FILE (the one in "
                                 "force)")
        name = names[0]
        try:
            rules = load_rules(name)
        except RulesError as exc:
            where = "" if Path(name).is_absolute() else f", a relative path read from this folder ({Path.cwd()})"
            raise RulesError(f"{exc} (the rules file the final notices were issued under, as recorded{where}; give "
                             "--rules FILE)") from None
    unknown = unknown_certificates(session, rules)
    if unknown:
        log.warning(f"warning: --rules {name}: protections.medical_certificates names {len(unknown)} account(s) not "
                    f"in the ledger ({', '.join(unknown[:10])}{', ...' if len(unknown) > 10 else ''}): they protect "
                    "no one; check the account numbers")
    return rules, name + ("" if given else " (recorded with the notices)")


def _disconnects(args) -> int:
    with session_on(args.db) as session:
        rules, rules_name = _rules(session, args.rules, args.as_of)
        rows = plan_disconnects(session, rules, args.as_of) if rules is not None else []
        check_disconnects(session, rows, args.as_of)
    table = _as_dollars(as_frame(rows))
    listed = sum(r.listed for r in rows)
    if args.out:  # before anything is printed: an --out that is refused leaves one line, not a list then an error
        write_report_csv(args.out, table)
    print(f"disconnects on {args.as_of}: {len(rows)} final notice(s) past their disconnection date: {listed} to "
          f"disconnect (account(s) on the list), {len(rows) - listed} not (reason listed); nothing recorded"
          + (f"; rules: {rules_name}" if rules_name else ""))
    if len(table):
        print(table.drop(columns=["customer", "service_address"]).to_string(index=False))
    if args.out:
        print(f"written: {args.out}")
    return 0


def _disconnect(args) -> int:
    with session_on(args.db) as session:
        rules, rules_name = _rules(session, args.rules, args.on, [account_id(session, args.account)])
        done = disconnect(session, rules, args.account, args.on, args.who)
    print(f"account {done.account}: disconnected on {done.on} by {args.who.strip()} (service order {done.order_id}, "
          f"final notice {done.notice_id}; {done.past_due_cents / 100:,.2f} of it unpaid); rules: {rules_name}")
    return 0


def _reconnect(args) -> int:
    if args.why is not None and not args.without_payment:
        raise WorkbenchError("workbench ledger reconnect: --why goes with --without-payment (why the account is "
                             "reconnected with its debt unpaid)")
    with session_on(args.db) as session:
        done = reconnect(session, args.account, args.on, args.who, fee_cents=args.fee_cents,
                         without_payment=args.without_payment, why=args.why, fee_due_on=args.fee_due_on)
    fee = (f"reconnection fee {done.fee_cents / 100:,.2f} charged, due {done.fee_due_on}" if done.fee_cents
           else "no reconnection fee (0)")
    print(f"account {done.account}: reconnected on {done.on} by {args.who.strip()} (service order {done.order_id}, "
          f"final notice {done.notice_id}); {done.reason}; {fee}")
    if done.warning:
        log.warning(done.warning)
    if args.without_payment and not done.without_payment:
        print("note: --without-payment was not needed (recorded as paid or arranged)")
    return 0


def add_commands(sub) -> None:
    """Add ``disconnects``, ``disconnect`` and ``reconnect`` to the ``ledger`` group of the ``workbench`` parser."""
    lsub = wing_group(sub, "ledger", "cli_disconnect")
    fmt = argparse.RawDescriptionHelpFormatter
    p = lsub.add_parser("disconnects", help="the field list of the day: final notices past their disconnection date "
                        "still eligible, re-checked on the day (each other one with its reason); writes nothing to "
                        "the ledger", formatter_class=fmt,
                        epilog="example: workbench ledger disconnects --as-of 2025-04-21 --out reports/disconnects.csv")
    p.add_argument("--as-of", type=iso_date, required=True, help="the day of the field work, YYYY-MM-DD")
    p.add_argument("--out", help="also write the list as CSV (default: none)")
    p.add_argument("--rules", help=RULES_HELP)
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_disconnects)

    p = lsub.add_parser("disconnect", help="record a disconnection done in the field (the account must be on that "
                        "day's disconnect list)", formatter_class=fmt,
                        epilog="example: workbench ledger disconnect --account 100234 --on 2025-04-21 --who crew7")
    p.add_argument("--account", required=True, help="account number")
    p.add_argument("--on", type=iso_date, required=True, help="the day it was disconnected, YYYY-MM-DD (not after today)")
    p.add_argument("--who", required=True, help="who disconnected it (recorded)")
    p.add_argument("--rules", help=RULES_HELP)
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_disconnect)

    p = lsub.add_parser("reconnect", help="record a reconnection and charge the reconnection fee (the past-due "
                        "amount paid or arranged, or --without-payment)", formatter_class=fmt,
                        epilog="examples: workbench ledger reconnect --account 100234 --on 2025-04-23 --who crew7\n"
                        "          workbench ledger reconnect --account 100234 --on 2025-04-23 --who jdoe "
                        "--without-payment --why 'heat advisory; supervisor approval'")
    p.add_argument("--account", required=True, help="account number")
    p.add_argument("--on", type=iso_date, required=True, help="the day it was reconnected, YYYY-MM-DD (not after today)")
    p.add_argument("--who", required=True, help="who reconnected it (recorded)")
    p.add_argument("--fee-cents", type=FEE_CENTS, help="the reconnection fee in cents for this one (default: the "
                   "utility's fee set with `workbench ledger settings --reconnect-fee`; neither: refused)")
    p.add_argument("--fee-due-on", type=iso_date, help="the fee's due date for this one, YYYY-MM-DD, from --on "
                   "to 90 days after it (default: --on plus the days set with `workbench ledger settings --fee-due-days`; neither, "
                   "with a fee: refused)")
    p.add_argument("--without-payment", action="store_true", help="reconnect although the past-due amount is "
                   "neither paid nor arranged (needs --why; recorded) (default: refused)")
    p.add_argument("--why", help="with --without-payment: why (recorded)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_reconnect)
