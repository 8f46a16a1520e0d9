"""Receivables from the command line: ``workbench ledger late-fees``, ``ledger deposits take|refund|interest|list``,
``ledger budget start|list``, ``workbench payments unapplied`` and ``payments apply``. See docs/ledger.md.

Thin: parse, call :mod:`workbench.ledger.receivables` / :mod:`workbench.ledger.unapplied`, print. The commands
join the ``ledger`` and ``payments`` groups that :mod:`workbench.cli_ledger` makes (this wing is registered
after it in ``cli_wings.WINGS``). Every command takes ``--db URL`` (default ``$WORKBENCH_DB_URL``, else
``sqlite:///data/ledger.sqlite``). A rate that costs or pays customers money is never defaulted, and is written
with a percent sign (``1.5%``) so 1.5 and 0.015 cannot be confused. A ``--dry-run`` runs the ledger's own
code in a transaction that is rolled back: what it lists is exactly what the real run would write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from decimal import Decimal

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from workbench.cli_parser import DB_HELP, iso_date, whole_number, wing_group
from workbench.errors import WorkbenchError
from workbench.ledger.amounts import money_text
from workbench.ledger.db import session_on
from workbench.ledger.models import Account, Bill, BudgetPlan, Deposit, JournalEntry, LateFee
from workbench.ledger.receivables import (
    accrue_deposit_interest,
    assess_late_fees,
    budget_installment,
    refund_deposits,
    start_budget_plan,
    take_deposit,
)
from workbench.ledger.unapplied import apply_unapplied, unapplied_cash
from workbench.outputs import check_report_csv, write_report_csv

_DOLLARS = re.compile(r"\d{1,10}(\.\d{1,2})?")
_PERCENT = re.compile(r"\d{1,3}(\.\d{1,6})?%")


# ------------------------------------------------------------------------------------------ argument types



def percent(text: str) -> float:
    """``'1.5%'`` -> 0.015. Only a finite percentage from 0% to under 100%, written with its % sign."""
    body = str(text).strip()
    value = Decimal(body[:-1]) if _PERCENT.fullmatch(body) else None
    if value is None or not 0 <= value < 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage; expected a number from 0 to under 100 "
                                         "with a % sign, e.g. 1.5% (not 1.5 or 0.015)")
    return float(value / 100)


def dollars(text: str) -> int:
    """``'200'``, ``'200.5'``, ``'200.50'`` -> cents. Digits with at most two decimals, more than zero."""
    body = str(text).strip()
    if not _DOLLARS.fullmatch(body) or Decimal(body) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in dollars; expected a positive amount with "
                                         "at most two decimals, e.g. 200 or 200.50")
    return int(Decimal(body) * 100)



# ------------------------------------------------------------------------------------------ sessions, output



def _session(args, dry_run: bool = False):
    """A session on ``--db`` (see :func:`workbench.ledger.db.session_on`)."""
    return session_on(args.db, dry_run)




def _as_dollars(frame: pd.DataFrame) -> pd.DataFrame:
    """``*_cents`` columns as dollars (two decimals) for a CSV for people."""
    out = frame.copy()
    for column in [c for c in out.columns if c.endswith("_cents")]:
        out[column.removesuffix("_cents")] = [f"{int(v) / 100:.2f}" for v in out.pop(column)]
    return out


def _show(args, frame: pd.DataFrame, always: bool = False, most: int = 50) -> None:
    """Print the rows (a listing: all; fees and interest: up to ``most``, stdout never depends on -v) and write
    ``--out``."""
    table = _as_dollars(frame)
    if getattr(args, "out", None):  # before anything is printed: a refused --out is one line
        write_report_csv(args.out, table)
    if len(table) and (always or len(table) <= most):
        print(table.to_string(index=False))
    elif len(table):
        print(table.head(most).to_string(index=False))
        print(f"... and {len(table) - most:,} more (every row: --out FILE.csv)")
    if getattr(args, "out", None):
        print(f"written: {args.out}")


# ------------------------------------------------------------------------------------------ late fees


def _check_out(args, columns) -> None:
    """Refuse a bad ``--out`` before the ledger is written (after, the fees would be charged and the command fail)."""
    if getattr(args, "out", None):
        check_report_csv(args.out, _as_dollars(pd.DataFrame(columns=columns)).columns)


LATE_FEE_COLUMNS = ["account", "bill_id", "due_date", "overdue_cents", "fee_cents"]
INTEREST_COLUMNS = ["account", "interest_cents", "reference"]


def _late_fees(args) -> int:
    _check_out(args, LATE_FEE_COLUMNS)
    with _session(args, dry_run=args.dry_run) as session:
        before = session.scalar(select(func.coalesce(func.max(LateFee.id), 0)))
        total = assess_late_fees(session, args.as_of, rate=args.rate, grace_days=args.grace_days)
        fee, charge = aliased(JournalEntry), aliased(JournalEntry)
        rows = session.execute(
            select(Account.account_number, charge.bill_id, Bill.due_date, LateFee.overdue_cents, fee.amount_cents)
            .join(fee, fee.id == LateFee.fee_entry_id).join(Account, Account.id == fee.account_id)
            .join(charge, charge.id == LateFee.charge_entry_id).outerjoin(Bill, Bill.id == charge.bill_id)
            .where(LateFee.id > before).order_by(Account.account_number, charge.bill_id)).all()
    frame = pd.DataFrame(rows, columns=LATE_FEE_COLUMNS)
    verb = "would charge" if args.dry_run else "charged"
    print(f"late fees on {args.as_of} at {args.rate:.2%} after {args.grace_days} grace days: {verb} {len(frame)} "
          f"fee(s), {money_text(total)} on {frame['account'].nunique()} account(s)"
          + (" (dry run: nothing written)" if args.dry_run else ""))
    if not len(frame):
        print("  no bill is past its grace days without a fee already (a bill is charged once)")
    _show(args, frame)
    return 0


# ------------------------------------------------------------------------------------------ deposits


def _deposits_take(args) -> int:
    with _session(args) as session:
        same = session.scalar(select(func.count()).select_from(Deposit).join(Account, Account.id == Deposit.account_id)
                              .where(Account.account_number == args.account, Deposit.amount_cents == args.amount,
                                     Deposit.received_on == args.on))
        if same and not args.another:
            raise WorkbenchError(f"account {args.account}: a deposit of {money_text(args.amount)} received on {args.on} is "
                                 "already recorded; pass --another if this is a second deposit (nothing changed)")
        take_deposit(session, args.account, args.amount, args.on)
    print(f"account {args.account}: deposit of {money_text(args.amount)} received on {args.on} (held in the deposit "
          "book; interest from that day)")
    return 0


def _deposits_refund(args) -> int:
    with _session(args) as session:
        cents = refund_deposits(session, args.account, args.on)
    if cents:
        print(f"account {args.account}: deposits of {money_text(cents)} refunded on {args.on}, credited to the bill "
              "(applied to its oldest open charges)")
    else:
        print(f"account {args.account}: no deposit held; nothing refunded")
    return 0


def _deposits_interest(args) -> int:
    _check_out(args, INTEREST_COLUMNS)
    with _session(args, dry_run=args.dry_run) as session:
        before = session.scalar(select(func.coalesce(func.max(JournalEntry.id), 0)))
        total = accrue_deposit_interest(session, args.as_of, annual_rate=args.rate)
        rows = session.execute(select(Account.account_number, -JournalEntry.amount_cents, JournalEntry.reference)
                               .join(Account, Account.id == JournalEntry.account_id)
                               .where(JournalEntry.id > before, JournalEntry.kind == "deposit_interest")
                               .order_by(Account.account_number, JournalEntry.id)).all()
    frame = pd.DataFrame(rows, columns=INTEREST_COLUMNS)
    verb = "would credit" if args.dry_run else "credited"
    print(f"deposit interest to {args.as_of} at {args.rate:.2%} a year: {verb} {money_text(total)} to "
          f"{frame['account'].nunique()} account(s)" + (" (dry run: nothing written)" if args.dry_run else ""))
    _show(args, frame)
    return 0


def _by_account(args, model, ended, **columns) -> pd.DataFrame:
    """Rows of ``model`` with their account number, by account; only those not ``ended`` unless ``--all``."""
    with _session(args) as session:
        query = (select(Account.account_number, *columns.values()).join(Account, Account.id == model.account_id)
                 .order_by(Account.account_number, model.id))
        if not args.all:
            query = query.where(ended.is_(None))
        rows = session.execute(query).all()
    return pd.DataFrame(rows, columns=["account", *columns])


def _deposits_list(args) -> int:
    frame = _by_account(args, Deposit, Deposit.refunded_on, deposit_id=Deposit.id, amount_cents=Deposit.amount_cents,
                        received_on=Deposit.received_on, interest_paid_to=Deposit.interest_paid_to,
                        refunded_on=Deposit.refunded_on)
    held = frame[frame["refunded_on"].isna()]
    print(f"deposits held: {len(held)}, {money_text(held['amount_cents'].sum())} on {held['account'].nunique()} account(s)"
          + (f"; refunded: {len(frame) - len(held)}, {money_text(frame['amount_cents'].sum() - held['amount_cents'].sum())}"
             if args.all else ""))
    _show(args, frame, always=True)
    return 0


# ------------------------------------------------------------------------------------------ budget billing


def _budget_start(args) -> int:
    with _session(args) as session:
        if args.levelize:
            cents = budget_installment(session, args.account, args.levelize)
            how = f"levelized: the average of its last {args.levelize} posted bill(s) at most"
        else:
            cents, how = args.installment, "as given"
        start_budget_plan(session, args.account, cents, args.settle_month, args.on)
    print(f"account {args.account}: budget billing from {args.on}, installment {money_text(cents)} ({how}), settle-up "
          f"on the bill of month {args.settle_month}")
    return 0


def _budget_list(args) -> int:
    frame = _by_account(args, BudgetPlan, BudgetPlan.ended_on, plan_id=BudgetPlan.id,
                        installment_cents=BudgetPlan.installment_cents, starts_on=BudgetPlan.starts_on,
                        settle_month=BudgetPlan.settle_month, ended_on=BudgetPlan.ended_on)
    active = frame[frame["ended_on"].isna()]
    print(f"budget plans in force: {len(active)}, installments {money_text(active['installment_cents'].sum())} a month"
          + (f"; ended: {len(frame) - len(active)}" if args.all else ""))
    _show(args, frame, always=True)
    return 0


# ------------------------------------------------------------------------------------------ unapplied cash


def _unapplied(args) -> int:
    with _session(args) as session:
        frame = unapplied_cash(session)
    # cash received (the utility holds it) and returned items (the bank took cash back) are opposite in sign for
    # the utility: two lines, never one total
    payments, returns = frame[frame["kind"] == "payment"], frame[frame["kind"] != "payment"]
    print(f"unapplied cash: {len(payments)} item(s), {money_text(payments['amount_cents'].sum())} (received, no account "
          "credited yet)")
    print(f"returned items matching no payment: {len(returns)} item(s), {money_text(returns['amount_cents'].sum())} "
          "(taken back by the bank, no account charged yet)")
    _show(args, frame, always=True)
    return 0


def _apply(args) -> int:
    on = args.on or dt.date.today()
    if on > dt.date.today():
        raise WorkbenchError(f"--on {on}: after today; cash is applied on the day it is applied, today or earlier")
    with _session(args) as session:
        done = apply_unapplied(session, args.payment_id, args.account, args.who, args.why, on)
    print(f"payment {done.payment_id} (item {done.item_id}, {money_text(done.amount_cents)}): applied to account "
          f"{done.account} on {done.on} by {args.who.strip()}; out of the unapplied-cash queue "
          f"({done.pairings} charge(s) paid, oldest first)")
    return 0


# ------------------------------------------------------------------------------------------ the parsers



def add_commands(sub) -> None:
    """Add the receivables commands to the ``ledger`` and ``payments`` groups of the ``workbench`` parser."""
    lsub, psub = wing_group(sub, "ledger", "cli_receivables"), wing_group(sub, "payments", "cli_receivables")
    p = lsub.add_parser("late-fees", help="charge late fees on bills past due by more than the grace days (once "
                        "per bill)", epilog="example: workbench ledger late-fees --as-of 2025-03-01 --rate 1.5% "
                        "--grace-days 5 --dry-run")
    p.add_argument("--as-of", type=iso_date, required=True, help="the day the fees are assessed and posted, YYYY-MM-DD")
    p.add_argument("--rate", type=percent, required=True, help="fee as a percentage of the overdue part of a bill, "
                   "with its %% sign (e.g. 1.5%%); required: no default")
    p.add_argument("--grace-days", type=whole_number(0, 365, "a number of days"), required=True,
                   help="days after the due date before a bill is charged a fee; required: no default")
    p.add_argument("--dry-run", action="store_true", help="list the fees that would be charged; write nothing")
    p.add_argument("--out", help="also write the fees, one row per bill, as CSV (default: none)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_late_fees)

    dep = lsub.add_parser("deposits", help="security deposits: take, refund, credit interest, list")
    dsub = dep.add_subparsers(dest="deposits_command", required=True)
    p = dsub.add_parser("take", help="record a deposit received from an account (held, not a payment of its bill)",
                        epilog="example: workbench ledger deposits take 100234 200.00 --on 2025-03-01")
    p.add_argument("account", help="account number")
    p.add_argument("amount", type=dollars, help="dollars, at most two decimals (e.g. 200 or 200.50)")
    p.add_argument("--on", type=iso_date, required=True, help="the day it was received, YYYY-MM-DD")
    p.add_argument("--another", action="store_true", help="record it even if the account has a deposit of the same "
                   "amount on the same day (a second deposit, not the same one twice)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_deposits_take)
    p = dsub.add_parser("refund", help="refund every deposit the account holds to its bill (a credit, oldest "
                        "charge first)", epilog="example: workbench ledger deposits refund 100234 --on 2026-03-01")
    p.add_argument("account", help="account number")
    p.add_argument("--on", type=iso_date, required=True, help="the day of the refund, YYYY-MM-DD")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_deposits_refund)
    p = dsub.add_parser("interest", help="credit simple interest on deposits held, to the day given",
                        epilog="example: workbench ledger deposits interest --as-of 2025-12-31 --rate 2%")
    p.add_argument("--as-of", type=iso_date, required=True, help="interest up to this day, YYYY-MM-DD (credited on it)")
    p.add_argument("--rate", type=percent, required=True, help="annual simple interest rate with its %% sign "
                   "(e.g. 2%%); required: no default")
    p.add_argument("--dry-run", action="store_true", help="list the interest that would be credited; write nothing")
    p.add_argument("--out", help="also write the credits, one row per deposit, as CSV (default: none)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_deposits_interest)
    p = dsub.add_parser("list", help="deposits held (with --all: refunded ones too)",
                        epilog="example: workbench ledger deposits list --out deposits.csv")
    p.add_argument("--all", action="store_true", help="include refunded deposits")
    p.add_argument("--out", help="also write the list as CSV (default: none)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_deposits_list)

    bud = lsub.add_parser("budget", help="budget (levelized) billing plans: start, list")
    bsub = bud.add_subparsers(dest="budget_command", required=True)
    p = bsub.add_parser("start", help="put an account on budget billing (ends any plan it had)",
                        epilog="examples: workbench ledger budget start 100234 --settle-month 9 --levelize 12 "
                        "--on 2025-10-01\n          workbench ledger budget start 100234 --settle-month 9 "
                        "--installment 85.00 --on 2025-10-01")
    p.add_argument("account", help="account number")
    p.add_argument("--settle-month", type=whole_number(1, 12, "a month"), required=True,
                   help="month 1-12 whose bill settles up the deferred difference")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--installment", type=dollars, help="the monthly installment in dollars (e.g. 85.00)")
    how.add_argument("--levelize", type=whole_number(1, 36, "a number of months"), metavar="MONTHS",
                     help="installment = the average of the account's last MONTHS posted bills (printed)")
    p.add_argument("--on", type=iso_date, required=True, help="the day the plan starts, YYYY-MM-DD")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_budget_start)
    p = bsub.add_parser("list", help="budget plans in force (with --all: ended ones too)",
                        epilog="example: workbench ledger budget list --all")
    p.add_argument("--all", action="store_true", help="include plans that have ended")
    p.add_argument("--out", help="also write the list as CSV (default: none)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_budget_list)

    p = psub.add_parser("unapplied", help="the unapplied-cash queue: payments no account of the ledger claimed",
                        epilog="example: workbench payments unapplied --out unapplied.csv")
    p.add_argument("--out", help="also write the queue as CSV (default: none)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_unapplied)
    p = psub.add_parser("apply", help="apply a payment of the unapplied-cash queue to an account (who and why "
                        "recorded)", epilog="example: workbench payments apply 4711 --account 100234 --who jdoe "
                        "--why 'customer called; check stub shows old account number'")
    p.add_argument("payment_id", type=whole_number(1, 2**63 - 1, "a payment id"),
                   help="the payment's id (first column of `workbench payments unapplied`)")
    p.add_argument("--account", required=True, help="the account number to apply it to")
    p.add_argument("--who", required=True, help="who applies it (recorded)")
    p.add_argument("--why", required=True, help="why this account (recorded)")
    p.add_argument("--on", type=iso_date, help="the day it is applied, YYYY-MM-DD, not before it was received "
                   "(default: today)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_apply)
