"""Reviewing held bills from the command line: listing bills with their holds, finding a corrected bill.

Holding, releasing and cancel/rebill themselves are the ledger's (:mod:`workbench.ledger.posting`), which
records who, when and why and never deletes a bill, a hold or a journal entry.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.errors import WorkbenchError
from workbench.ledger.models import Account, Bill, Hold


def list_bills(session: Session, *, status: str | None = None, run: int | None = None, limit: int = 10_000) -> pd.DataFrame:
    """Bills (newest first) with their open hold reasons: bill_id, account, meter, period, status, total, holds."""
    q = (select(Bill.id, Account.account_number, Bill.meter, Bill.period_start, Bill.period_end, Bill.version,
                Bill.status, Bill.total_cents, Bill.run_id).join(Account, Account.id == Bill.account_id)
         .order_by(Bill.id.desc()).limit(limit))
    if status:
        q = q.where(Bill.status == status)
    if run is not None:
        q = q.where(Bill.run_id == run)
    frame = pd.DataFrame(session.execute(q).all(), columns=["bill_id", "account", "meter", "period_start",
                                                            "period_end", "version", "status", "total_cents", "run"])
    open_holds = {}
    ids = frame["bill_id"].tolist()
    for i in range(0, len(ids), 500):
        for bill_id, held_by, reason in session.execute(select(Hold.bill_id, Hold.held_by, Hold.reason).where(
                Hold.bill_id.in_(ids[i:i + 500]), Hold.released_at.is_(None))):
            open_holds.setdefault(bill_id, []).append(f"{reason} ({held_by})")
    frame["total"] = (frame.pop("total_cents") / 100).map("{:.2f}".format)
    frame["holds"] = ["; ".join(open_holds.get(b, [])) for b in frame["bill_id"]]
    return frame


def corrected_bill(session: Session, bill_id: int, source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The corrected bill (one row) and its line items for ``bill_id`` from the cycle output folder ``source``."""
    bill = session.get(Bill, bill_id)
    if bill is None:
        raise WorkbenchError(f"bill {bill_id}: no such bill in the ledger")
    folder = Path(source)
    try:
        bills = pd.read_parquet(folder / "bills.parquet")
        items = pd.read_parquet(folder / "line_items.parquet")
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"--from {folder}: not a cycle output with bills.parquet and line_items.parquet "
                             f"({exc})") from None
    start = pd.Timestamp(bill.period_start)
    row = bills[(bills["meter"] == bill.meter) & (pd.to_datetime(bills["period_start"]) == start)]
    if len(row) != 1:
        raise WorkbenchError(f"--from {folder}: bills.parquet has {len(row)} bills of meter {bill.meter} for the "
                             f"period starting {bill.period_start}; expected exactly one (the corrected bill)")
    lines = items[(items["meter"] == bill.meter) & (pd.to_datetime(items["period_start"]) == start)]
    # the corrected bill is posted (not held again) unless the user re-holds it; it was reviewed to be rebilled
    return row.assign(hold_reason="").reset_index(drop=True), lines.reset_index(drop=True)
