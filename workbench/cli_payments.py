"""``workbench payments resolve-return`` / ``payments resolve``: take a returned item, or an unidentified payment,
out of the unapplied-cash queue. See docs/ledger.md.

Thin: parse, call :func:`workbench.ledger.returns.resolve_return`, print one line. The command joins the
``payments`` group that :mod:`workbench.cli_ledger` makes (this wing is registered after it in ``cli_wings.WINGS``).
A returned item is applied to the account it came from (reversing that account's payment of the amount and
charging the returned-payment fee), written off, or returned to the bank; a queued payment is refunded to the
payer or moved to unclaimed property (:mod:`workbench.ledger.refunds`); who and why are recorded each time.
"""

from __future__ import annotations

import argparse
import datetime as dt

from workbench.cli_parser import DB_HELP, iso_date, whole_number, wing_group
from workbench.errors import WorkbenchError
from workbench.ledger.amounts import money_text
from workbench.ledger.db import new_session, open_ledger, require_current
from workbench.ledger.refunds import LABELS, resolve_unapplied
from workbench.ledger.returns import resolve_return
from workbench.ledger.settings import MAX_FEE_CENTS

FEE_CENTS = whole_number(0, MAX_FEE_CENTS, "a fee in cents (2500 is 25.00)")  # as `ledger settings --nsf-fee`
PAYMENT_ID = whole_number(1, 2**63 - 1, "a payment id")  # as `payments apply`


def _resolve(args) -> int:
    on = args.on or dt.date.today()
    if on > dt.date.today():
        raise WorkbenchError(f"--on {on}: after today; a returned item is resolved on the day it is, today or earlier")
    action = "applied" if args.account is not None else "written_off" if args.write_off else "returned_to_bank"
    if action != "applied" and args.nsf_fee is not None:
        # a fee nobody is charged: refused rather than ignored, so the user knows no fee was charged
        raise WorkbenchError(f"--nsf-fee {args.nsf_fee}: only with --account (a returned item "
                             f"{action.replace('_', ' ')} charges no account, so no fee); nothing changed")
    engine = open_ledger(args.db)
    try:
        require_current(engine)
        with new_session(engine) as session:
            done = resolve_return(session, args.payment_id, action, args.who, args.why, on,
                                  account_number=args.account, payment_item=args.payment_item,
                                  nsf_fee_cents=args.nsf_fee)
    finally:
        engine.dispose()
    head = f"returned item {done.payment_id} (item {done.item_id}, {money_text(done.amount_cents)})"
    if action == "applied":
        print(f"{head}: applied to account {done.account} on {done.on} by {args.who.strip()}; reversed its payment "
              f"{done.reversed_item} and charged the returned-payment fee {money_text(done.fee_cents)}; out of the "
              "unapplied-cash queue")
    else:
        print(f"{head}: {action.replace('_', ' ')} on {done.on} by {args.who.strip()} (no account charged); out of "
              "the unapplied-cash queue")
    return 0


def _resolve_payment(args) -> int:
    on = args.on or dt.date.today()
    if on > dt.date.today():
        raise WorkbenchError(f"--on {on}: after today; a payment is resolved on the day it is, today or earlier")
    action = "refunded" if args.refund else "unclaimed"
    engine = open_ledger(args.db)
    try:
        require_current(engine)
        with new_session(engine) as session:
            done = resolve_unapplied(session, args.payment_id, action, args.who, args.why, on)
    finally:
        engine.dispose()
    print(f"payment {done.payment_id} (item {done.item_id}, {money_text(done.amount_cents)}, payer reference "
          f"{done.payer_reference!r}): {LABELS[action]} on {done.on} by {args.who.strip()} (no account credited); "
          "out of the unapplied-cash queue")
    return 0


def _add_resolve(psub) -> None:
    p = psub.add_parser(
        "resolve", help="take an unidentified payment out of the unapplied-cash queue without an account: refunded "
        "to the payer or moved to unclaimed property (who and why recorded)",
        epilog="examples: workbench payments resolve 4711 --refund --who jdoe --why 'check 1042 returned to payer'\n"
        "          workbench payments resolve 4711 --unclaimed --who jdoe --why 'escheat after 3 years'",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("payment_id", type=PAYMENT_ID, help="the payment's id (first column of `workbench payments "
                   "unapplied`, kind payment)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--refund", action="store_true", help="the cash was paid back to the payer")
    how.add_argument("--unclaimed", action="store_true", help="the cash goes to unclaimed property (escheat) or "
                     "miscellaneous income, after the escheat period")
    p.add_argument("--who", required=True, help="who resolves it (recorded)")
    p.add_argument("--why", required=True, help="why (recorded)")
    p.add_argument("--on", type=iso_date, help="the day it is resolved, YYYY-MM-DD, not before the payment was "
                   "received (default: today)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_resolve_payment)


def add_commands(sub) -> None:
    """Add ``payments resolve-return`` to the ``payments`` group of the ``workbench`` parser."""
    psub = wing_group(sub, "payments", "cli_payments")
    p = psub.add_parser(
        "resolve-return", help="take a returned item (NSF) out of the unapplied-cash queue: apply it to an account, "
        "write it off or return it to the bank (who and why recorded)",
        epilog="examples: workbench payments resolve-return 4712 --account 100234 --who jdoe --why 'bank says "
        "check 1042 was theirs'\n          workbench payments resolve-return 4712 --write-off --who jdoe --why "
        "'no customer found after 60 days'", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("payment_id", type=PAYMENT_ID, help="the returned item's id (first column of `workbench payments "
                   "unapplied`, kind return)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--account", help="apply it to this account: reverses the account's latest payment of the same "
                     "amount, received on or before the return and not already returned, and charges the fee")
    how.add_argument("--write-off", action="store_true", help="write it off: the utility bears it; no account charged")
    how.add_argument("--returned-to-bank", action="store_true",
                     help="it was returned to (disputed with) the bank: not ours; no account charged")
    p.add_argument("--payment-item", help="with --account: the item id of the payment it returns (default: the "
                   "latest unreturned payment of the amount)")
    p.add_argument("--who", required=True, help="who resolves it (recorded)")
    p.add_argument("--why", required=True, help="why (recorded)")
    p.add_argument("--on", type=iso_date, help="the day it is resolved, YYYY-MM-DD, not before it was returned "
                   "(default: today)")
    p.add_argument("--nsf-fee", type=FEE_CENTS, help="with --account only: the returned-payment fee in cents for this item "
                   "(default: the utility's fee set with `workbench ledger settings --nsf-fee`; neither: refused)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_resolve)
    _add_resolve(psub)
