"""Read a payment file (BAI2 bank/lockbox file or the payment CSV layout) into payments, with nothing lost.

``read_payment_file(path)`` -> :class:`~workbench.ledger.payment_records.PaymentFile`: ``payments`` (one row
per accepted payment or returned item: item_id, bank, account, amount_cents [int64 cents], paid_on, kind
'payment' | 'return', reference, original_item_id (a CSV return's payment), source 'file:line'), ``rejected`` and ``ignored`` (source, reason, raw,
item_id, account, amount_cents), ``control`` (the file's control totals, checked), ``checksum`` (sha256 of the
bytes) and ``accounting`` (records in = accepted + rejected + ignored, in count and in cents; checked before
returning). Pure: no database. The format is told from the content, not the file name. See
docs/payment-files.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from workbench.ledger.payment_bai2 import read_bai2
from workbench.ledger.payment_csv import is_payment_csv, read_payment_csv
from workbench.ledger.payment_records import Outcomes, PaymentFile, PaymentFileError, file_checksum

__all__ = ["PaymentFile", "PaymentFileError", "read_payment_file"]


def read_payment_file(path, *, today: dt.date | None = None, expect_count: int | None = None,
                      expect_amount_cents: int | None = None) -> PaymentFile:
    """Read and validate one payment file.

    Parameters
    ----------
    path : the file (BAI2, or the CSV layout of docs/payment-files.md).
    today : the date after which a payment date is "in the future" (default: today).
    expect_count, expect_amount_cents : a CSV has no trailer; when the bank's remittance advice gives its item
        count and total [cents], pass them and a file that does not tie is refused. Ignored for BAI2, whose
        trailers are always checked.
    """
    path = Path(path)
    data = path.read_bytes()
    outcomes = Outcomes(path.name, today)
    head = data[:4096].decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    if head.startswith("01,"):
        fmt, control = "bai2", read_bai2(path, data, outcomes)
    elif is_payment_csv(head):
        fmt, control = "csv", read_payment_csv(path, data, outcomes, expect_count=expect_count,
                                                expect_amount_cents=expect_amount_cents)
    else:
        raise PaymentFileError(f"{path}: not a payment file: neither BAI2 (its first record is '01,') nor the "
                               "payment CSV (header item_id,account,amount,paid_on,kind; see docs/payment-files.md)")
    payments, rejected, ignored = outcomes.tables()
    result = PaymentFile(path, fmt, payments, rejected, ignored, control, file_checksum(data),
                         outcomes.accounting(control.detail_count, control.detail_amount_cents))
    result.check_accounting()
    return result
