"""Posting payments: applied to accounts oldest debt first, unknown accounts to unapplied cash, returns (NSF).

:func:`apply_payments` takes the payments of one file (the ``payments`` table of
:func:`workbench.ledger.payment_files.read_payment_file`, or one built by hand: item_id, bank, account,
amount_cents, paid_on, kind 'payment' | 'return', source, optional original_item_id for a return) and posts
them in one transaction:

- a payment of a known account is a credit in the journal, applied to the account's oldest open charges; what
  is left over is a credit balance, applied to the next bill when it posts;
- a payment whose account the ledger does not know goes to the unapplied-cash queue with the reason;
- a return reverses the payment it returns (its applications are marked reversed, so the debts it paid are
  open again, with their original age) and charges the returned-payment (NSF) fee: ``nsf_fee_cents`` when
  given, else the utility's own setting in the ledger (:mod:`workbench.ledger.settings`); a file with a returned
  item and neither is refused before anything is posted;
- an item already posted (same bank and item id), a repeated item, a zero or negative amount or a payment
  dated after today is rejected with the reason; the same file (same checksum) twice posts nothing.

Nothing is lost: items in = applied + unapplied + returns + rejected, in count and in cents
(:meth:`PaymentPost.check`); a return matching no payment goes to the unapplied queue, not to ``returns``.
"""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workbench.ledger.bulk import insert_rows
from workbench.ledger.db import LedgerError
from workbench.ledger.models import (
    Account,
    JournalEntry,
    Payment,
    PaymentApplication,
    PaymentFile,
    UnappliedCash,
)
from workbench.ledger.settings import charge_due_on, nsf_fee_for
from workbench.ledger.settle import chunks, settle_accounts


@dataclass
class PaymentPost:
    """The accounting of one :func:`apply_payments` call (cents are the items' amounts, always positive)."""

    already_posted_file: bool = False
    items_in: int = 0
    cents_in: int = 0
    applied: int = 0
    applied_cents: int = 0
    unapplied: int = 0
    unapplied_cents: int = 0
    returns: int = 0  # returned payments (NSF) that reversed a payment; not counted in ``applied``
    returns_cents: int = 0
    fees_cents: int = 0  # the returned-payment fees charged for them (charges, not items of the file)
    rejected: list[dict] = field(default_factory=list)  # source, item_id, account, amount_cents, paid_on, reason

    @property
    def rejected_cents(self) -> int:
        return sum(int(r["amount_cents"]) for r in self.rejected)

    def check(self) -> None:
        """Items in = applied + unapplied + returns + rejected, in count and in cents (raises if not: a bug)."""
        if (self.items_in != self.applied + self.unapplied + self.returns + len(self.rejected)
                or self.cents_in != (self.applied_cents + self.unapplied_cents + self.returns_cents
                                     + self.rejected_cents)):
            raise LedgerError(f"payments do not tie out: in {self.items_in} / {self.cents_in} cents, applied "
                              f"{self.applied} / {self.applied_cents}, unapplied {self.unapplied} / "
                              f"{self.unapplied_cents}, returns {self.returns} / {self.returns_cents}, rejected "
                              f"{len(self.rejected)} / {self.rejected_cents}")


_Row = namedtuple("_Row", "bank item_id account amount_cents paid_on kind source original_item_id")


def _reject(post: PaymentPost, row, reason: str) -> None:
    post.rejected.append({"source": str(row.source), "item_id": str(row.item_id), "account": str(row.account),
                          "amount_cents": int(row.amount_cents), "paid_on": row.paid_on, "reason": reason})


def _items_by_bank(keys) -> dict[str, list[str]]:
    by_bank: dict[str, set[str]] = {}
    for bank, item in keys:
        by_bank.setdefault(bank, set()).add(item)
    return {bank: sorted(items) for bank, items in by_bank.items()}


def _known_items(session: Session, keys) -> set[tuple[str, str]]:
    """The (bank, item id) of ``keys`` the ledger already has (per bank: the unique index's leading column)."""
    known = set()
    for bank, items in _items_by_bank(keys).items():
        for part in chunks(items):
            known.update(session.execute(select(Payment.bank, Payment.item_id)
                                         .where(Payment.bank == bank, Payment.item_id.in_(part))).all())
    return known


def apply_payments(session: Session, payments: pd.DataFrame, *, checksum: str | None = None, file_name: str = "",
                   nsf_fee_cents: int | None = None, today: dt.date | None = None) -> PaymentPost:
    """Post one file's payments (see the module docstring); one transaction, commits. Returns the accounting."""
    today = today or dt.date.today()
    post = PaymentPost()
    frame = payments.copy()
    for name, default in (("bank", ""), ("source", ""), ("original_item_id", "")):
        if name not in frame:
            frame[name] = default
    frame["bank"] = frame["bank"].fillna("").astype(str)
    frame["account"] = frame["account"].fillna("").astype(str).str.strip()
    frame["item_id"] = frame["item_id"].astype(str)
    post.items_in, post.cents_in = len(frame), int(frame["amount_cents"].sum()) if len(frame) else 0
    if checksum and session.scalar(select(PaymentFile.id).where(PaymentFile.checksum == checksum)) is not None:
        post.already_posted_file = True
        post.items_in = post.cents_in = 0
        return post
    n_returns = int((frame["kind"] == "return").sum()) if "kind" in frame else 0
    if n_returns:  # before anything is written: a fee nobody set is refused, not guessed
        nsf_fee_cents = nsf_fee_for(session, nsf_fee_cents, f"{file_name or 'the payment file'}: {n_returns} "
                                    "returned item(s)")
    file_id = None
    if checksum:
        file_id = session.scalar(insert(PaymentFile).returning(PaymentFile.id), [{
            "checksum": checksum, "name": file_name, "items_in": post.items_in, "cents_in": post.cents_in}])
    accounts = {}
    for part in chunks(frame["account"].unique()):
        accounts.update(session.execute(select(Account.account_number, Account.id)
                                        .where(Account.account_number.in_(part))).all())
    known, seen = _known_items(session, zip(frame["bank"].to_numpy(dtype=object), frame["item_id"].to_numpy(dtype=object),
                                                      strict=True)), set()
    rows, journal, unapplied, returns = [], [], [], []
    frame["paid_on"] = pd.to_datetime(frame["paid_on"]).dt.date
    frame["amount_cents"] = frame["amount_cents"].astype("int64")
    frame["_order"] = range(len(frame))
    frame = frame.sort_values(["kind", "paid_on", "_order"], kind="stable")  # payments before returns
    frame["source"] = frame["source"].astype(str)
    columns = ["bank", "item_id", "account", "amount_cents", "paid_on", "kind", "source", "original_item_id"]
    for row in (_Row(*values) for values in zip(*(frame[c].to_numpy(dtype=object).tolist() for c in columns), strict=True)):
        key = (row.bank, row.item_id)
        paid_on = row.paid_on
        if key in known:
            _reject(post, row, f"item {row.item_id} already posted")
        elif key in seen:
            _reject(post, row, f"item {row.item_id} repeated in the file")
        elif int(row.amount_cents) <= 0:
            _reject(post, row, "amount is not positive")
        elif paid_on > today:
            _reject(post, row, f"dated {paid_on}, after today {today}")
        elif row.kind not in ("payment", "return"):
            _reject(post, row, f"kind {row.kind!r} is neither payment nor return")
        else:
            seen.add(key)
            account_id = accounts.get(row.account)
            rows.append({"bank": row.bank, "item_id": row.item_id, "file_id": file_id, "account_number": row.account,
                         "account_id": account_id, "kind": row.kind, "amount_cents": int(row.amount_cents),
                         "paid_on": paid_on, "source": str(row.source), "returned_by_id": None})
            if row.kind == "return":
                returns.append((len(rows) - 1, str(row.original_item_id or "")))
            elif account_id is None:
                unapplied.append((len(rows) - 1, f"account {row.account or '(blank)'} is not in the ledger"))
    if not rows:
        session.commit()
        post.check()
        return post
    insert_rows(session.connection(), Payment.__table__, rows)  # executemany: RETURNING per row is far slower
    ids = _payment_ids(session, rows, file_id)
    for i, r in enumerate(rows):
        if r["kind"] == "payment" and r["account_id"] is not None:
            journal.append({"account_id": r["account_id"], "book": "receivable", "posted_on": r["paid_on"],
                            "kind": "payment", "amount_cents": -r["amount_cents"], "payment_id": ids[i],
                            "reference": f"payment {r['item_id']} ({r['source']})"})
            post.applied += 1
            post.applied_cents += r["amount_cents"]
    if journal:
        insert_rows(session.connection(), JournalEntry.__table__, journal)
    session.flush()
    for i, original in returns:
        reason = _reverse(session, rows[i], ids[i], original, nsf_fee_cents)
        if reason:
            unapplied.append((i, reason))
        else:
            post.returns += 1
            post.returns_cents += rows[i]["amount_cents"]
            post.fees_cents += nsf_fee_cents
    if unapplied:
        session.execute(insert(UnappliedCash), [{"payment_id": ids[i], "reason": why} for i, why in unapplied])
        post.unapplied += len(unapplied)
        post.unapplied_cents += sum(rows[i]["amount_cents"] for i, _ in unapplied)
    touched = {r["account_id"] for r in rows if r["account_id"] is not None}
    settle_accounts(session, touched, max(r["paid_on"] for r in rows), only_with_credit=False)
    post.check()
    session.commit()
    return post


def _payment_ids(session: Session, rows: list[dict], file_id: int | None) -> list[int]:
    """The ids of the payments just inserted, in the order of ``rows`` (keyed by bank and item id): the file's
    payments in one query, or (no file) per bank through the unique index."""
    found = {}
    if file_id is not None:
        query = [select(Payment.id, Payment.bank, Payment.item_id).where(Payment.file_id == file_id)]
    else:
        query = [select(Payment.id, Payment.bank, Payment.item_id).where(Payment.bank == bank,
                                                                         Payment.item_id.in_(part))
                 for bank, items in _items_by_bank((r["bank"], r["item_id"]) for r in rows).items()
                 for part in chunks(items)]
    for q in query:
        found.update(((bank, item), pid) for pid, bank, item in session.execute(q))
    return [found[(r["bank"], r["item_id"])] for r in rows]


def _reverse(session: Session, row: dict, payment_id: int, original_item: str, fee_cents: int) -> str | None:
    """Reverse the payment a return returns; the reason it cannot (for the unapplied queue), or None."""
    if row["account_id"] is None:
        return f"return of a payment to account {row['account_number'] or '(blank)'}, which is not in the ledger"
    query = select(Payment).where(Payment.account_id == row["account_id"], Payment.kind == "payment",
                                  Payment.returned_by_id.is_(None), Payment.paid_on <= row["paid_on"])
    if original_item:
        query = query.where(Payment.item_id == original_item, Payment.bank == row["bank"])
    else:
        query = query.where(Payment.amount_cents == row["amount_cents"])
    original = session.scalars(query.order_by(Payment.paid_on.desc(), Payment.id.desc())).first()
    if original is None or original.amount_cents != row["amount_cents"]:
        what = (f"payment item {original_item} of {row['amount_cents'] / 100:.2f}" if original_item
                else f"payment of {row['amount_cents'] / 100:.2f}")
        return f"return matches no {what} not already returned on account {row['account_number']}"
    original.returned_by_id = payment_id
    credit_entry = session.scalar(select(JournalEntry.id).where(JournalEntry.payment_id == original.id))
    session.execute(update(PaymentApplication).where(PaymentApplication.credit_entry_id == credit_entry)
                    .values(reversed=True))
    entries = [{"account_id": row["account_id"], "book": "receivable", "posted_on": row["paid_on"],
                "kind": "payment_return", "amount_cents": row["amount_cents"], "payment_id": payment_id,
                "reference": f"return of payment {original.item_id} ({row['source']})", "due_on": None}]
    if fee_cents:
        entries.append({"account_id": row["account_id"], "book": "receivable", "posted_on": row["paid_on"],
                        "kind": "nsf_fee", "amount_cents": fee_cents, "payment_id": payment_id,
                        "reference": f"returned payment fee, item {original.item_id}",
                        "due_on": charge_due_on(session, row["paid_on"])})
    session.execute(insert(JournalEntry), entries)
    session.flush()
    return None
