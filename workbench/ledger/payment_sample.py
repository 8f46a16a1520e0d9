"""Sample payment files for the demo and the tests: a BAI2 lockbox file and the payment CSV.

:func:`write_bai2` writes through the ``bai2`` package's writer, which computes the account, group and file
control totals and record counts; :func:`workbench.ledger.payment_files.read_payment_file` reads the file back
exactly (the tests check it). One group per payment date, one account section per group (the utility's
deposit account, with its total credits 100 and debits 400), one type-116 detail per payment (type 555 for a returned item): amount in cents, the
bank reference as item id, the customer's account number as the customer reference.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

from bai2 import bai2 as bai2_io
from bai2.constants import FundsType, GroupStatus, TypeCodes
from bai2.models import (
    Account,
    AccountIdentifier,
    AccountTrailer,
    Bai2File,
    Bai2FileHeader,
    Bai2FileTrailer,
    Group,
    GroupHeader,
    GroupTrailer,
    Summary,
    TransactionDetail,
)

_CODES = TypeCodes  # code -> TypeCode


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def write_bai2(path, payments, *, bank: str = "121000358", receiver: str = "SAMPLEUTIL",
               deposit_account: str = "4000123456", created: dt.datetime | None = None, file_id: str = "1",
               returns=()) -> Path:
    """Write a BAI2 lockbox file.

    Parameters
    ----------
    payments : iterable of (account, amount_cents, item_id, date): one customer payment each [cents].
    bank : the sending bank's routing number (originator of every group; item ids are unique per bank).
    returns : iterable of (account, amount_cents, item_id, date): returned items (type 555), same shape.
    """
    path = Path(path)
    rows = [(a, int(c), str(i), d, "116") for a, c, i, d in payments]
    rows += [(a, int(c), str(i), d, "555") for a, c, i, d in returns]
    if not rows:
        raise ValueError("write_bai2: no payments to write")
    for account, cents, item_id, _, _ in rows:
        if cents <= 0 or not account or not item_id or "," in account + item_id or "/" in account + item_id:
            raise ValueError(f"write_bai2: cannot write item {item_id!r} of account {account!r} ({cents} cents)")
    created = created or dt.datetime.now().replace(second=0, microsecond=0)
    groups = []
    for day in sorted({r[3] for r in rows}):
        details = [TransactionDetail(type_code=_CODES[code], amount=cents, funds_type=FundsType.immediate_availability,
                                     bank_reference=item_id, customer_reference=account,
                                     text="RETURNED ITEM" if code == "555" else "LOCKBOX ITEM")
                   for account, cents, item_id, d, code in rows if d == day]
        credits = [t.amount for t in details if t.type_code.code == "116"]
        debits = [t.amount for t in details if t.type_code.code == "555"]
        summary = [Summary(type_code=_CODES["100"], amount=sum(credits), item_count=len(credits)),
                   Summary(type_code=_CODES["400"], amount=sum(debits), item_count=len(debits))]
        header = AccountIdentifier(customer_account_number=deposit_account, currency="USD", summary_items=summary)
        account = Account(header=header, trailer=AccountTrailer(), children=details)
        account.update_totals()
        account.trailer.number_of_records = len(details) + 2
        group = Group(header=GroupHeader(ultimate_receiver_id=receiver, originator_id=bank,
                                         group_status=GroupStatus.update, as_of_date=day, currency="USD"),
                      trailer=GroupTrailer(), children=[account])
        groups.append(group)
    bai2_file = Bai2File(header=Bai2FileHeader(sender_id=bank, receiver_id=receiver, creation_date=created.date(),
                                               creation_time=created.time(), file_id=file_id, version_number=2),
                         trailer=Bai2FileTrailer(), children=groups)
    _atomic_write(path, bai2_io.write(bai2_file) + "\n")
    return path


def write_payment_csv(path, payments, *, returns=()) -> Path:
    """Write the payment CSV layout: payments and returns as (account, amount_cents, item_id, date)."""
    path = Path(path)
    lines = [["item_id", "account", "amount", "paid_on", "kind"]]
    for kind, items in (("payment", payments), ("return", returns)):
        for account, cents, item_id, day in items:
            cents = int(cents)
            lines.append([item_id, account, f"{cents // 100}.{cents % 100:02d}", day.isoformat(), kind])
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(lines)
    os.replace(tmp, path)
    return path
