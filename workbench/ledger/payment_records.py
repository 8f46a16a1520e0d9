"""What a payment file reader hands the ledger: accepted payments, rejected and ignored records, controls.

Shared by the BAI2 reader (:mod:`workbench.ledger.payment_bai2`) and the CSV reader
(:mod:`workbench.ledger.payment_csv`); :func:`workbench.ledger.payment_files.read_payment_file` picks one.
Nothing is lost: every record read is accepted, rejected (with a reason: it may be a customer's money that
needs a person) or ignored (with a reason: a bank's own transaction, not a customer's payment), and
:meth:`PaymentFile.check_accounting` proves records in = accepted + rejected + ignored, in count and in cents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.errors import WorkbenchError

KINDS = ("payment", "return")
PAYMENT_COLUMNS = ["item_id", "bank", "account", "amount_cents", "paid_on", "kind", "reference", "original_item_id", "source"]
OTHER_COLUMNS = ["source", "reason", "raw", "item_id", "account", "amount_cents"]


class PaymentFileError(WorkbenchError):
    """A payment file cannot be read at all (not BAI2 nor the CSV layout, control totals that do not tie...)."""


@dataclass(frozen=True)
class Control:
    """The file's own control totals, as checked.

    count, amount_cents : for BAI2 the file trailer's (99) record count and control total [cents], which
        include the balance (status/summary) amounts of the 03 records; for CSV the data rows read and the
        sum of their readable amounts (a CSV has no trailer: compare with the bank's remittance advice).
    detail_count, detail_amount_cents : the transaction records (BAI2 16, CSV rows) and their total [cents]
        that the controls vouch for: for BAI2 the trailers' totals less the 03 summary amounts.
    checked : True when the totals were checked against the records (BAI2 trailers; CSV with an expected
        count and amount passed to the reader).
    """

    count: int
    amount_cents: int
    detail_count: int
    detail_amount_cents: int
    checked: bool
    note: str = ""


@dataclass
class PaymentFile:
    """One payment file, read and validated (no database touched)."""

    path: Path
    format: str  # "bai2" or "csv"
    payments: pd.DataFrame
    rejected: pd.DataFrame
    ignored: pd.DataFrame
    control: Control
    checksum: str  # sha256 of the file's bytes
    accounting: dict = field(default_factory=dict)

    def check_accounting(self) -> None:
        """Refuse (PaymentFileError) unless records in = accepted + rejected + ignored, in count and cents."""
        a = self.accounting
        for what in ("count", "amount_cents"):
            parts = a["accepted"][what] + a["rejected"][what] + a["ignored"][what]
            if parts != a["in"][what]:
                raise PaymentFileError(
                    f"{self.path}: records do not account: {a['in'][what]} {what} in, but accepted + rejected + "
                    f"ignored = {parts}; the file was not posted (please report this)")

    def summary_text(self) -> str:
        a = self.accounting

        def show(part):
            return f"{a[part]['count']:,} (${a[part]['amount_cents'] / 100:,.2f})"

        return (f"{self.path.name} ({self.format}): {show('in')} records in = {show('accepted')} accepted + "
                f"{show('rejected')} rejected + {show('ignored')} ignored")


def file_checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Outcomes:
    """Collects each record's outcome as it is read, then builds the three tables and the accounting."""

    def __init__(self, name: str, today: dt.date | None = None):
        self.name = name
        self.today = today or dt.date.today()
        self.accepted: list[dict] = []
        self.rejected: list[dict] = []
        self.ignored: list[dict] = []
        self._seen: dict[tuple[str, str], str] = {}

    def source(self, line: int) -> str:
        return f"{self.name}:{line}"

    def reject(self, line, reason, raw, *, item_id="", account="", amount_cents=None):
        self.rejected.append({"source": self.source(line), "reason": reason, "raw": raw, "item_id": item_id,
                              "account": account, "amount_cents": amount_cents})

    def ignore(self, line, reason, raw, *, item_id="", account="", amount_cents=None):
        self.ignored.append({"source": self.source(line), "reason": reason, "raw": raw, "item_id": item_id,
                             "account": account, "amount_cents": amount_cents})

    def offer(self, line, raw, *, item_id, bank, account, amount_cents, paid_on, kind, reference="",
              original_item_id="", blank_account_ok=False):
        """Accept one payment or return, or reject it with the first reason that applies.

        ``blank_account_ok``: a bank's credit with no customer reference is money received all the same; it is
        accepted with a blank account, which the ledger puts in the unapplied-cash queue with the reason.
        """
        common = {"item_id": item_id, "account": account, "amount_cents": amount_cents}
        if not item_id:
            return self.reject(line, "no item id (the bank's reference for this item)", raw, **common)
        if not account and not blank_account_ok:
            return self.reject(line, "no account number (the customer reference is empty)", raw, **common)
        if amount_cents is None or amount_cents <= 0:
            what = "zero" if amount_cents == 0 else "negative"
            return self.reject(line, f"{what} amount: a {kind} must be more than $0.00", raw, **common)
        if paid_on > self.today:
            return self.reject(line, f"paid on {paid_on}, after today ({self.today}): a future date", raw, **common)
        first = self._seen.get((bank, item_id))
        if first is not None:
            return self.reject(line, f"duplicate item id {item_id!r} (first at {first})", raw, **common)
        self._seen[(bank, item_id)] = self.source(line)
        self.accepted.append({"item_id": item_id, "bank": bank, "account": account, "amount_cents": amount_cents,
                              "paid_on": paid_on, "kind": kind, "reference": reference,
                              "original_item_id": original_item_id, "source": self.source(line)})
        return None

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        payments = pd.DataFrame(self.accepted, columns=PAYMENT_COLUMNS)
        payments["amount_cents"] = payments["amount_cents"].astype("int64")
        for name in ("item_id", "bank", "account", "kind", "reference", "original_item_id", "source"):
            payments[name] = payments[name].astype(str)
        others = []
        for rows in (self.rejected, self.ignored):
            frame = pd.DataFrame(rows, columns=OTHER_COLUMNS)
            frame["amount_cents"] = frame["amount_cents"].astype("Int64")
            others.append(frame)
        return payments, others[0], others[1]

    def accounting(self, records_in: int, cents_in: int) -> dict:
        def part(rows):
            return {"count": len(rows), "amount_cents": int(sum(r["amount_cents"] or 0 for r in rows))}

        return {"in": {"count": int(records_in), "amount_cents": int(cents_in)}, "accepted": part(self.accepted),
                "rejected": part(self.rejected), "ignored": part(self.ignored)}
