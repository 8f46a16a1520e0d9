"""Payments dated before the ledger could have had them: before the account opened, or (an account the ledger
does not know) before the ledger's first activity.

A billing manager does post old lockbox files late (a file found in a drawer, a bank's re-send), so these are
posted, not refused; but a 2022 file posted into a ledger that starts in 2025 is more often the wrong file or
the wrong ledger, so ``workbench payments post`` says so loudly: how many, how much, the earliest date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.ledger.models import Account, JournalEntry
from workbench.ledger.settle import chunks


@dataclass(frozen=True)
class EarlyItems:
    """Items of a payment file dated before their account opened or before the ledger's first activity."""
    count: int
    cents: int
    earliest: dt.date
    ledger_start: dt.date
    items: tuple = ()  # (source, item id, cents, date) of each early item, to leave out the ones then rejected

    def posted(self, rejected: list[dict]) -> EarlyItems | None:
        """These items less the ones the posting rejected (a duplicate of an item already posted, a repeat in the
        file, ...: ``PaymentPost.rejected``), one for one; None if none is left."""
        gone = Counter((str(r.get("source", "")), str(r["item_id"]), int(r["amount_cents"]), r.get("paid_on"))
                       for r in rejected)
        kept = []
        for item in self.items:
            if gone[item] > 0:
                gone[item] -= 1
            else:
                kept.append(item)
        if not kept:
            return None
        return EarlyItems(len(kept), sum(c for _, _, c, _ in kept), min(d for *_, d in kept), self.ledger_start,
                          tuple(kept))


def ledger_start(session: Session) -> dt.date | None:
    """The ledger's first activity: the earliest account opening; with no opening date in the ledger, its first
    journal entry (None: an empty ledger). The journal has no index leading with the date: read only then."""
    return (session.scalar(select(func.min(Account.opened_on)))
            or session.scalar(select(func.min(JournalEntry.posted_on))))


def early_items(session: Session, payments: pd.DataFrame) -> EarlyItems | None:
    """The items of ``payments`` (columns account, amount_cents, paid_on) dated before their account's opening
    date, or before the ledger's first activity when the account is unknown or has no opening date; None if none.
    Run it before the file is posted (its own entries would move the ledger's first activity), then leave out
    the items the posting rejected with ``EarlyItems.posted``."""
    start = ledger_start(session)
    if start is None or not len(payments):
        return None
    latest_open = session.scalar(select(func.max(Account.opened_on))) or start
    paid = pd.to_datetime(payments["paid_on"]).dt.date
    maybe = payments[paid < max(start, latest_open)]  # only these can be early: one query per chunk of them
    if not len(maybe):
        return None
    opened = {}
    for part in chunks(sorted(set(maybe["account"].dropna().astype(str)))):
        opened.update(session.execute(select(Account.account_number, Account.opened_on)
                                      .where(Account.account_number.in_(part))).all())
    bound = [opened.get(str(a)) or start for a in maybe["account"]]
    dates = pd.to_datetime(maybe["paid_on"]).dt.date
    early = [d < b for d, b in zip(dates, bound, strict=True)]
    if not any(early):
        return None
    hit = maybe[early]
    source = hit["source"].fillna("").astype(str) if "source" in hit else [""] * len(hit)
    items = tuple(zip(source, hit["item_id"].astype(str), hit["amount_cents"].astype("int64").tolist(),
                      pd.to_datetime(hit["paid_on"]).dt.date, strict=True))
    return EarlyItems(len(hit), int(hit["amount_cents"].sum()), min(d for *_, d in items), start, items)
