"""The bill documents of a run: one HTML page per bill the run posted, PDFs and the print file.

Every bill the ledger holds as posted under the run becomes a :class:`~workbench.documents.BillDocument`
built from the cycle's tables (the numbers the ledger posted, in cents) with the ledger's bill id, bill and
due dates, the customer's name and addresses, the meter multiplier, the 13-month usage chart from the
account's posted bills and the balance: the amount due is the account's receivable balance after the bill
(previous balance = that balance less this bill's charges). Held bills get no document until released.

``documents/html/`` (one self-contained page per bill) and ``documents/pdf/`` (``pdfs`` bills as PDFs plus the
run's print file) are staged and renamed into place; a re-run writes them again from the ledger.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from workbench.documents import (
    AccountInfo,
    bill_file_name,
    document_from_cycle,
    render_bill_html,
    write_run_documents,
)
from workbench.ledger.db import new_session
from workbench.outputs import remove_staging, replace_dir, staging_dir
from workbench.runs import ledger_frames as lf

KIND = "run-bill-documents"


def run_documents(engine, ledger_run_id: int, billed) -> list:
    """The documents of the bills posted under ``ledger_run_id`` (in bill id order)."""
    with new_session(engine) as session:
        run = lf.run_bills(session, ledger_run_id)
        run = run[run["status"] == "posted"]
        people = lf.customers(session).set_index("account")
        multipliers = lf.multipliers(session)
        balances = lf.receivable_balances(session, run["account"].unique())
        history = lf.history(session)
    bills = billed.bills.assign(period_start=pd.to_datetime(billed.bills["period_start"]).dt.date)
    rows = bills.set_index(["account", "meter", "period_start"])
    items = billed.line_items.assign(period_start=pd.to_datetime(billed.line_items["period_start"]).dt.date)
    lines = {key: frame for key, frame in items.groupby(["meter", "period_start"], sort=False)}
    history = history.assign(month=pd.to_datetime(history["period_end"]).dt.strftime("%Y-%m"))
    monthly = history.groupby(["meter", "month"])["delivered_kwh"].sum()
    by_meter = {m: monthly.xs(m).round(3).to_dict() for m in monthly.index.get_level_values(0).unique()}
    docs = []
    for bill in run.itertuples(index=False):
        start = pd.Timestamp(bill.period_start).date()
        row = rows.loc[(bill.account, bill.meter, start)]
        person = people.loc[bill.account]
        info = AccountInfo(customer_name=person.customer_name, service_address=person.service_address or "",
                           mailing_address=person.mailing_address or "",
                           multiplier=multipliers.get(bill.meter, 1.0) or 1.0)
        own = lines.get((bill.meter, start), items.iloc[:0])
        through = pd.Timestamp(bill.period_end).strftime("%Y-%m")  # months by read date, as the history's
        chart = sorted((m, k) for m, k in by_meter.get(bill.meter, {}).items() if m <= through)[-13:]
        balance = balances.get(bill.account, 0)
        docs.append(document_from_cycle(
            {**row.to_dict(), "account": bill.account, "meter": bill.meter, "period_start": start}, own, info, chart,
            bill_id=str(bill.bill_id), bill_date=bill.bill_date, due_date=bill.due_date,
            previous_balance_cents=int(balance - bill.total_cents)))
    return docs


def render_run_documents(engine, ledger_run_id: int, billed, out_dir, *, pdfs: int = -1) -> dict:
    """Write the run's HTML bills (all) and PDFs (``pdfs``: -1 all, 0 none, N the first N); counts and timings."""
    started = time.perf_counter()
    docs = run_documents(engine, ledger_run_id, billed)
    built = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out_dir / "html")
    try:
        for doc in docs:
            (tmp / bill_file_name(doc).replace(".pdf", ".html")).write_text(render_bill_html(doc), encoding="utf-8")
        replace_dir(tmp, out_dir / "html", KIND)
    except BaseException:
        remove_staging(tmp)
        raise
    html_done = time.perf_counter()
    chosen = docs if pdfs < 0 else docs[:pdfs]
    if chosen:
        write_run_documents(chosen, out_dir / "pdf")
    return {"html": len(docs), "pdf": len(chosen), "seconds_build": round(built - started, 2),
            "seconds_html": round(html_done - built, 2), "seconds_pdf": round(time.perf_counter() - html_done, 2)}
