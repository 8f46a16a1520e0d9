"""Collections from the command line: ``workbench ledger notices`` (past-due reminders and final/disconnect
notices) and ``workbench ledger arrange`` / ``ledger arrange list`` (payment arrangements). See
docs/collections.md.

Thin: parse, call :mod:`workbench.ledger.collections` / :mod:`workbench.ledger.arrangements`, write, print.
The commands join the ``ledger`` group that :mod:`workbench.cli_ledger` makes (registered after it in
``cli_wings.WINGS``). ``--dry-run`` runs the same code in a transaction that is rolled back and writes no
folder: what it lists is what the real run would issue.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from workbench.cli_parser import DB_HELP, iso_date, whole_number, wing_group
from workbench.documents.notice import NoticeDocument, NoticeLine, render_notice_html, render_notice_pdf
from workbench.errors import WorkbenchError
from workbench.ledger.amounts import money_text
from workbench.ledger.arrangements import MAX_START_DAYS, make_arrangement, standings
from workbench.ledger.collections import as_frame, bill_numbers, check_plan, plan_notices, record_notices
from workbench.ledger.db import session_on
from workbench.ledger.models import Account, ArrangementInstallment, PaymentArrangement
from workbench.ledger.notice_rules import load_rules
from workbench.ledger.settings import RECONNECT_FEE, fee_due_days, fee_setting
from workbench.outputs import atomic_write_text, check_output_dir, write_report_csv
from workbench.outputs.guard import refuse_working_dir, staged_output

log = logging.getLogger(__name__)

KIND = "collection notices"
LIST_NAME = "notices.csv"


# ------------------------------------------------------------------------------------------ shared with the
# receivables wing (same rank: a wing may not import another, so these few lines are repeated)




def _as_dollars(frame: pd.DataFrame) -> pd.DataFrame:
    """``*_cents`` columns as dollars (two decimals) for a CSV for people."""
    out = frame.copy()
    for column in [c for c in out.columns if c.endswith("_cents")]:
        out[column.removesuffix("_cents")] = [f"{int(v) / 100:.2f}" for v in out.pop(column)]
    return out


def _session(args, dry_run: bool = False):
    """A session on ``--db`` (see :func:`workbench.ledger.db.session_on`)."""
    return session_on(args.db, dry_run)



def _documents(session, rows, as_of) -> list[NoticeDocument]:
    periods = bill_numbers(session, rows)
    fee = fee_setting(session, RECONNECT_FEE)  # a final notice states the charge for reconnection
    fee_cents = None if fee is None else int(fee.value_cents)
    docs = []
    for row in rows:
        if not row.notice:
            continue
        lines = []
        for c in row.charges:
            if c.bill_id in periods:
                start, end = periods[c.bill_id]
                what = f"Bill {c.bill_id}, service {start:%b %d} to {end:%b %d, %Y}"
            else:
                what = c.kind.replace("_", " ").capitalize()
            lines.append(NoticeLine(what, c.due_on, c.open_cents))
        credit = row.past_due_cents - sum(line.open_cents for line in lines)
        if credit:  # an open credit on the account lowers what is past due: shown, so the lines add up
            lines.append(NoticeLine("Credit on your account", as_of, credit))
        docs.append(NoticeDocument(row.notice, row.notice_id, row.account, row.customer, row.mailing_address,
                                   row.service_address, as_of, row.past_due_cents, row.days_past_due,
                                   row.disconnect_on, lines,
                                   reconnect_fee_cents=fee_cents if row.notice == "final" else None,
                                   reconnect_fee_due_days=fee_due_days(session)))
    return docs


def _file_stem(doc: NoticeDocument) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in doc.account_number)[:64]
    return f"{doc.kind}-{safe}-{doc.notice_id or 'draft'}"


def _new_folder(out: Path) -> bool:
    """Refuse any folder that holds something, even an earlier run's notices: a re-run issues only new notices,
    so replacing the folder would lose the documents of the ones issued before."""
    check_output_dir(out, KIND)
    if out.exists() and any(out.iterdir()):
        raise WorkbenchError(f"--out {out}: already holds files (an earlier run's notices are kept); name a new "
                             "folder for each run, e.g. reports/notices-<date>")
    return False


def _write(out: Path, docs: list[NoticeDocument], listing: pd.DataFrame, pdfs: int) -> int:
    """The notices (HTML each, PDF for the first ``pdfs``; -1 every one) and the list, in ``out`` as a whole."""
    written = 0
    with staged_output(out, KIND, _new_folder) as tmp:
        for n, doc in enumerate(docs):
            stem = _file_stem(doc)
            atomic_write_text(tmp / f"{stem}.html", render_notice_html(doc))
            if pdfs < 0 or n < pdfs:
                (tmp / f"{stem}.pdf").write_bytes(render_notice_pdf(doc))
                written += 1
        write_report_csv(tmp / LIST_NAME, listing)
    return written


def _unknown_certificates(session, rules, path) -> None:
    """Warn of medical certificates naming no account of the ledger: a mistyped number protects no one, and the
    customer it was meant for would get a disconnect notice."""
    certified = list(rules.protections.medical_certificates)
    known = set(session.scalars(select(Account.account_number).where(Account.account_number.in_(certified))))
    unknown = [number for number in certified if number not in known]
    if unknown:
        log.warning(f"warning: --rules {path}: protections.medical_certificates names {len(unknown)} account(s) not "
                    f"in the ledger ({', '.join(unknown[:10])}{', ...' if len(unknown) > 10 else ''}): they protect "
                    "no one; check the account numbers")


def _no_reconnect_fee(session, docs, dry_run: bool) -> None:
    """Warn, in one line, of final notices that state no reconnection fee because the ledger has none set: the
    customer is told service may be cut but not what reconnecting it costs (many commissions require both)."""
    finals = sum(doc.kind == "final" for doc in docs)
    if finals and fee_setting(session, RECONNECT_FEE) is None:
        log.warning(f"warning: {finals} final notice(s) {'would state' if dry_run else 'state'} no reconnection fee: "
                    "this ledger has none set; set the utility's fee with `workbench ledger settings --reconnect-fee "
                    "CENTS --who NAME` (0: no charge, and the notice says so) before issuing final notices")


def _notices(args) -> int:
    rules = load_rules(args.rules)
    if not args.dry_run:
        refuse_working_dir(args.out, KIND)
        _new_folder(Path(args.out))
    with _session(args, dry_run=args.dry_run) as session:
        _unknown_certificates(session, rules, args.rules)
        rows = plan_notices(session, rules, args.as_of)
        check_plan(session, rows, args.as_of)
        record_notices(session, rows, args.as_of, str(args.rules))
        docs = _documents(session, rows, args.as_of)
        _no_reconnect_fee(session, docs, args.dry_run)
        listing = _as_dollars(as_frame(rows))
        if not args.dry_run:
            pdfs = _write(Path(args.out), docs, listing, args.pdfs)
            session.commit()  # the notices are recorded once their documents are in place
    finals = sum(r.notice == "final" for r in rows)
    reminders = sum(r.notice == "reminder" for r in rows)
    withheld = sum(bool(r.withheld) for r in rows)
    quiet = sum(not r.notice for r in rows)
    verb = "would issue" if args.dry_run else "issued"
    print(f"notices on {args.as_of}: {len(rows)} past-due account(s): {verb} {finals} final (disconnect) and "
          f"{reminders} reminder notice(s); {withheld} final notice(s) withheld by a protection; {quiet} account(s) "
          "with no notice (reason listed)" + (" (dry run: nothing recorded or written)" if args.dry_run else ""))
    if len(listing):
        # a dry run's ids were taken by a transaction rolled back: no notice has them, so none is shown
        shown = listing.drop(columns=["customer", *(["notice_id"] if args.dry_run else [])]).astype(object)
        print(shown.where(shown.notna(), "").to_string(index=False))  # an empty date blank, not None
    if not args.dry_run:
        print(f"written: {args.out} ({len(docs)} HTML, {pdfs} PDF, {LIST_NAME})")
    return 0


def _arrange(args) -> int:
    if args.account is None:
        raise WorkbenchError("workbench ledger arrange: --account is required (or `ledger arrange list`)")
    missing = [o for o, v in (("--installments", args.installments), ("--start", args.start), ("--who", args.who),
                              ("--why", args.why)) if v is None]
    if missing:
        raise WorkbenchError(f"workbench ledger arrange: {', '.join(missing)} required (who and why are recorded)")
    on = args.on or dt.date.today()
    with _session(args) as session:
        arr_id, schedule = make_arrangement(session, args.account, args.installments, args.start, args.who,
                                            args.why, on, args.max_start_days)
        session.commit()
    total = sum(c for _, c in schedule)
    print(f"account {args.account}: arrangement {arr_id}: past-due balance {money_text(total)} on {on} in "
          f"{len(schedule)} monthly installment(s)")
    for n, (due, cents) in enumerate(schedule, start=1):
        print(f"  {n:>2}  due {due}  {money_text(cents)}")
    return 0


def _arrange_list(args) -> int:
    as_of = args.as_of or dt.date.today()
    with _session(args) as session:
        rows = session.execute(select(PaymentArrangement, Account.account_number)
                               .join(Account, Account.id == PaymentArrangement.account_id)
                               .order_by(Account.account_number, PaymentArrangement.id)).all()
        state = standings(session, as_of)
        paid_to = {}
        for arr, _ in rows:
            paid_to[arr.id] = session.scalar(select(ArrangementInstallment.due_on).where(
                ArrangementInstallment.arrangement_id == arr.id).order_by(ArrangementInstallment.number.desc()).limit(1))
    out = []
    for arr, number in rows:
        now = state.get(arr.account_id)
        if now is None or now.arrangement_id != arr.id:
            standing = "replaced"
        else:
            standing = "complete" if now.complete else ("good standing" if now.good else
                                                        f"broken (behind {money_text(now.missed_cents)})")
        out.append({"arrangement": arr.id, "account": number, "total_cents": arr.total_cents,
                    "installments": arr.installments, "first_due": arr.starts_on, "last_due": paid_to[arr.id],
                    "standing": standing, "made_by": arr.made_by, "reason": arr.reason})
    table = _as_dollars(pd.DataFrame(out, columns=["arrangement", "account", "total_cents", "installments",
                                                   "first_due", "last_due", "standing", "made_by", "reason"]))
    if args.out:  # before anything is printed: a refused --out is one line
        write_report_csv(args.out, table)
    print(f"payment arrangements on {as_of}: {len(table)}")
    if len(table):
        print(table.to_string(index=False))
    if args.out:
        print(f"written: {args.out}")
    return 0


def add_commands(sub) -> None:
    """Add ``notices`` and ``arrange`` to the ``ledger`` group of the ``workbench`` parser."""
    lsub = wing_group(sub, "ledger", "cli_collections")
    fmt = argparse.RawDescriptionHelpFormatter
    p = lsub.add_parser("notices", help="past-due reminders and final (disconnect) notices from the aging, by the "
                        "rules file; protected accounts listed with the reason", formatter_class=fmt,
                        epilog="example: workbench ledger notices --as-of 2025-04-15 --rules "
                        "docs/examples/notices.yaml --out reports/notices-2025-04-15 --dry-run")
    p.add_argument("--as-of", type=iso_date, required=True, help="the notice date, YYYY-MM-DD (the aging on it)")
    p.add_argument("--rules", required=True, help="the rules YAML (docs/examples/notices.yaml); every day count, "
                   "amount and protection is required there: no defaults")
    p.add_argument("--out", required=True, help="output folder: one HTML per notice, PDFs, and notices.csv (a new "
                   "or empty folder; an earlier run's folder is refused: name one per run)")
    p.add_argument("--pdfs", type=whole_number(-1, 10**7, "a number of PDFs"), default=-1,
                   help="notice PDFs to render: -1 every notice, 0 none, N the first N")
    p.add_argument("--dry-run", action="store_true", help="list who would get which notice; record and write nothing")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_notices)

    p = lsub.add_parser("arrange", help="payment arrangements: split an account's past-due balance into monthly "
                        "installments (who and why recorded); `arrange list` shows them", formatter_class=fmt,
                        epilog="examples: workbench ledger arrange --account 100234 --installments 3 --start "
                        "2025-05-01 --who jdoe --why 'job loss; agreed by phone'\n"
                        "          workbench ledger arrange list --as-of 2025-06-15")
    p.add_argument("action", nargs="?", choices=["list"], help="`list`: the arrangements and their standing")
    p.add_argument("--account", help="account number")
    p.add_argument("--installments", type=whole_number(1, 60, "a number of installments"),
                   help="monthly installments, 1-60")
    p.add_argument("--start", type=iso_date, help="the first installment's due date, YYYY-MM-DD, from --on to "
                   "--max-start-days after it")
    p.add_argument("--max-start-days", type=whole_number(0, 3660, "a number of days"), default=MAX_START_DAYS,
                   help="the latest first installment, in days after --on (an arrangement in good standing protects "
                   "the account from disconnection, so a far start is refused unless stated) (default: %(default)s)")
    p.add_argument("--who", help="who agreed the arrangement (recorded)")
    p.add_argument("--why", help="why (recorded)")
    p.add_argument("--on", type=iso_date, help="the day it is made: the past-due balance on that day is arranged "
                   "(default: today)")
    p.add_argument("--as-of", type=iso_date, help="list: standing on this day (default: today)")
    p.add_argument("--out", help="list: also write the list as CSV (default: none)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=lambda args: _arrange_list(args) if args.action == "list" else _arrange(args))
