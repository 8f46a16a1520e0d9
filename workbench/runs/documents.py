"""The bill documents of a run: one HTML page per bill the run posted, PDFs and the print file.

Every bill the ledger holds as posted under the run becomes a :class:`~workbench.documents.BillDocument`
built from the cycle's tables (the numbers the ledger posted, in cents) with the ledger's bill id, bill and
due dates, the customer's name and addresses, the meter multiplier, the 13-month usage chart from the
account's posted bills and the balance: the amount due is the account's receivable balance after the bill
(previous balance = that balance less what this bill put in the receivable book and less the fees it carries:
a reconnection, returned-payment or late fee charged since the last bill is printed under "Other charges since
your last bill" with its date, :mod:`workbench.ledger.carried`). On budget billing that is
the installment (plus the budget balance in the settle-up month), not the actual charges; the document shows
both and the difference carried in the budget book. Held bills get no document until released.

``documents/html/`` (one self-contained page per bill) and ``documents/pdf/`` (``pdfs`` bills as PDFs plus the
run's print file) are staged and renamed into place; a re-run writes them again from the ledger.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from workbench.documents import (
    AccountInfo,
    BudgetBilling,
    OtherCharge,
    bill_file_name,
    document_from_cycle,
    monthly_usage,
    write_run_documents,
)
from workbench.documents.render import render_files
from workbench.ledger.carried import carried_by_bills
from workbench.ledger.db import new_session
from workbench.outputs import remove_staging, replace_dir, staging_dir
from workbench.runs import ledger_frames as lf

KIND = "run-bill-documents"


def _budget(journal: dict, state: tuple[int, int] | None) -> BudgetBilling | None:
    """The bill's budget billing from its journal entries: the installment (receivable ``bill``), the deferral
    (budget ``budget_deferral``) and a settle-up (receivable ``budget_settle``)."""
    if state is None or ("budget", "budget_deferral") not in journal:
        return None
    return BudgetBilling(installment_cents=journal.get(("receivable", "bill"), 0),
                         deferred_cents=journal[("budget", "budget_deferral")],
                         settled_cents=journal.get(("receivable", "budget_settle"), 0),
                         balance_cents=state[0], settle_month=state[1])


def run_documents(engine, ledger_run_id: int, billed) -> list:
    """The documents of the bills posted under ``ledger_run_id`` (in bill id order)."""
    with new_session(engine) as session:
        run = lf.run_bills(session, ledger_run_id)
        run = run[run["status"] == "posted"]
        people = {r[0]: r[1:] for r in lf.customers(session).itertuples(index=False, name=None)}
        multipliers = lf.multipliers(session)
        balances = lf.receivable_balances(session, run["account"].unique())
        budgets = lf.budget_accounts(session)
        journal: dict[int, dict] = {}
        for bill_id, book, kind, cents in lf.run_journal(session, ledger_run_id).itertuples(index=False, name=None):
            entries = journal.setdefault(bill_id, {})
            entries[(book, kind)] = entries.get((book, kind), 0) + int(cents)
        history = lf.history(session)
        carried = carried_by_bills(session, run["bill_id"].tolist())
    bills = billed.bills.assign(period_start=pd.to_datetime(billed.bills["period_start"]).dt.date)
    rows = {(str(r["account"]), str(r["meter"]), r["period_start"]): r for r in bills.to_dict("records")}
    items = billed.line_items.assign(period_start=pd.to_datetime(billed.line_items["period_start"]).dt.date)
    lines: dict[tuple, list] = {}
    for item in items.to_dict("records"):
        lines.setdefault((str(item["meter"]), item["period_start"]), []).append(item)
    by_meter = monthly_usage(history)  # meter -> month of the read date -> kWh
    docs = []
    for bill in run.itertuples(index=False):
        start = pd.Timestamp(bill.period_start).date()
        row = rows[(bill.account, bill.meter, start)]
        name, service, mailing = people[bill.account]
        info = AccountInfo(customer_name=name, service_address=service or "", mailing_address=mailing or "",
                           multiplier=multipliers.get(bill.meter, 1.0) or 1.0)
        through = pd.Timestamp(bill.period_end).strftime("%Y-%m")  # months by read date, as the history's
        chart = sorted((m, round(k, 3)) for m, k in by_meter.get(bill.meter, {}).items() if m <= through)[-13:]
        entries = journal.get(bill.bill_id, {})
        this_bill = sum(c for (book, _), c in entries.items() if book == "receivable")
        other = [OtherCharge(description=label, charged_on=day, amount_cents=cents)
                 for label, day, cents, _due in carried.get(int(bill.bill_id), [])]
        fees = sum(c.amount_cents for c in other)
        docs.append(document_from_cycle(
            {**row, "account": bill.account, "meter": bill.meter, "period_start": start},
            lines.get((bill.meter, start), []), info, chart, bill_id=str(bill.bill_id), bill_date=bill.bill_date,
            due_date=bill.due_date, previous_balance_cents=int(balances.get(bill.account, 0) - this_bill - fees),
            budget=_budget(entries, budgets.get(bill.account)), other_charges=other))
    return docs


def render_run_documents(engine, ledger_run_id: int, billed, out_dir, *, pdfs: int = -1,
                         workers: int | None = None) -> dict:
    """Write the run's HTML bills (all) and PDFs (``pdfs``: -1 all, 0 none, N the first N), rendered in
    ``workers`` processes (default: one per core); counts and timings."""
    started = time.perf_counter()
    docs = run_documents(engine, ledger_run_id, billed)
    built = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out_dir / "html")
    try:
        render_files(docs, [bill_file_name(d).replace(".pdf", ".html") for d in docs], tmp, "html", workers)
        replace_dir(tmp, out_dir / "html", KIND)
    except BaseException:
        remove_staging(tmp)
        raise
    html_done = time.perf_counter()
    chosen = docs if pdfs < 0 else docs[:pdfs]
    if chosen:
        write_run_documents(chosen, out_dir / "pdf", workers=workers)
    return {"html": len(docs), "pdf": len(chosen), "seconds_build": round(built - started, 2),
            "seconds_html": round(html_done - built, 2), "seconds_pdf": round(time.perf_counter() - html_done, 2)}
