"""Loading accounts into the ledger: from the meter registry, and from a CSV of accounts with opening balances.

The accounts CSV (docs/ledger.md) is what a utility migrating from another billing system exports: one row
per meter, with the account's customer, addresses, rate, class, cycle, opening balance [$] on the opening
date, deposit held [$] and, optionally, a budget-billing installment [$] and settle-up month. Every row is
checked before anything is written; a bad row is one error naming the file, the row and the field, and
nothing is loaded. Loading is repeatable: an account, service point or meter already in the ledger is kept
as it is (its opening balance is never posted twice); the counts say what was new.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workbench.ami.registry import load_registry
from workbench.ami.registry_meter import CUSTOMER_CLASSES
from workbench.ledger.db import LedgerError
from workbench.ledger.models import (
    Account,
    BudgetPlan,
    Customer,
    Deposit,
    JournalEntry,
    Meter,
    Premise,
    ProgramAssignment,
    RateAssignment,
    ServicePoint,
)

REQUIRED = ("account_number", "customer_name", "service_address", "meter_id", "rate_code", "customer_class",
            "opening_date")
OPTIONAL = ("mailing_address", "service_point", "cycle", "nem_program", "multiplier", "opening_balance", "deposit",
            "budget_installment", "budget_settle_month")
SINCE_EVER = dt.date(1900, 1, 1)  #: effective date of a registry rate assignment with no install date


@dataclass
class AccountRow:
    """One checked row of an accounts file (money in cents)."""

    row: int
    account_number: str
    customer_name: str
    service_address: str
    mailing_address: str
    meter_id: str
    service_point: str
    rate_code: str
    customer_class: str
    cycle: int
    nem_program: str
    multiplier: float
    opening_date: dt.date
    opening_cents: int = 0
    deposit_cents: int = 0
    budget_cents: int | None = None
    settle_month: int | None = None


@dataclass
class LoadCounts:
    """What a load added (rows already in the ledger count as ``kept``)."""

    rows: int = 0
    accounts: int = 0
    meters: int = 0
    kept: int = 0
    opening_cents: int = 0


def _cents(text: str, where: str) -> int:
    text = text.strip().replace(",", "").replace("$", "")
    if not text:
        return 0
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise LedgerError(f"{where}: {text!r} is not an amount in dollars (e.g. 125.40 or -12.00)") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) > Decimal("1e9"):
        raise LedgerError(f"{where}: {text!r} is not an amount in whole cents under $1,000,000,000")
    return int(value * 100)


def read_accounts_csv(path) -> list[AccountRow]:
    """Read and check an accounts CSV (see the module docstring); raises :class:`LedgerError` naming the row."""
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"{path}: accounts file not found")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise LedgerError(f"{path}: header lacks column(s) {', '.join(missing)} (see docs/ledger.md)")
        rows, seen = [], {}
        for n, raw in enumerate(reader, start=2):
            rec = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            rows.append(_row(path, n, rec))
            if rows[-1].meter_id in seen:
                raise LedgerError(f"{path}, row {n}, meter_id: {rows[-1].meter_id} is already on row {seen[rows[-1].meter_id]}")
            seen[rows[-1].meter_id] = n
    if not rows:
        raise LedgerError(f"{path}: no accounts in the file")
    _agree(path, rows)
    return rows


def _row(path: Path, n: int, rec: dict) -> AccountRow:
    def where(name):
        return f"{path}, row {n}, {name}"

    for name in REQUIRED:
        if not rec.get(name):
            raise LedgerError(f"{where(name)}: empty; expected a value")
    if rec["customer_class"] not in CUSTOMER_CLASSES:
        raise LedgerError(f"{where('customer_class')}: {rec['customer_class']!r}; expected one of {', '.join(CUSTOMER_CLASSES)}")
    try:
        opening = dt.date.fromisoformat(rec["opening_date"])
    except ValueError:
        raise LedgerError(f"{where('opening_date')}: {rec['opening_date']!r} is not a date YYYY-MM-DD") from None
    ints = {}
    for name, default, lo, hi in (("cycle", 1, 1, 99), ("budget_settle_month", None, 1, 12)):
        text = rec.get(name, "")
        if not text:
            ints[name] = default
            continue
        if not text.isdigit() or not lo <= int(text) <= hi:
            raise LedgerError(f"{where(name)}: {text!r}; expected a whole number {lo} to {hi}")
        ints[name] = int(text)
    try:
        multiplier = float(rec.get("multiplier") or 1.0)
    except ValueError:
        multiplier = -1.0
    if not 0 < multiplier <= 1e8:
        raise LedgerError(f"{where('multiplier')}: {rec.get('multiplier')!r}; expected a number > 0")
    budget = rec.get("budget_installment", "")
    budget_cents = _cents(budget, where("budget_installment")) if budget else None
    if budget_cents is not None and (budget_cents <= 0 or ints["budget_settle_month"] is None):
        raise LedgerError(f"{where('budget_installment')}: a budget plan needs an installment > 0 and a "
                          "budget_settle_month (1-12)")
    deposit = _cents(rec.get("deposit", ""), where("deposit"))
    if deposit < 0:
        raise LedgerError(f"{where('deposit')}: {rec['deposit']!r}; a deposit held cannot be negative")
    return AccountRow(n, rec["account_number"], rec["customer_name"], rec["service_address"],
                      rec.get("mailing_address") or rec["service_address"], rec["meter_id"],
                      rec.get("service_point") or rec["meter_id"], rec["rate_code"], rec["customer_class"],
                      ints["cycle"], rec.get("nem_program", ""), multiplier, opening,
                      _cents(rec.get("opening_balance", ""), where("opening_balance")), deposit, budget_cents,
                      ints["budget_settle_month"])


def _agree(path: Path, rows: list[AccountRow]) -> None:
    """Rows of one account (one per meter) must agree on the account's fields; money is on its first row."""
    first: dict[str, AccountRow] = {}
    for r in rows:
        f = first.setdefault(r.account_number, r)
        for name in ("customer_name", "customer_class", "cycle", "rate_code", "opening_date"):
            if getattr(r, name) != getattr(f, name):
                raise LedgerError(f"{path}, row {r.row}, {name}: {getattr(r, name)!r} differs from row {f.row} of "
                                  f"the same account {r.account_number} ({getattr(f, name)!r})")
        if r is not f and (r.opening_cents or r.deposit_cents or r.budget_cents):
            raise LedgerError(f"{path}, row {r.row}, opening_balance: money of account {r.account_number} goes on "
                              f"its first row ({f.row}) only, so it is not counted twice")


def load_accounts(session: Session, rows: list[AccountRow]) -> LoadCounts:
    """Write checked rows (one transaction, commits): customers, premises, accounts, service points, meters,
    rate and program assignments, the opening balance and deposit in the journal, budget plans."""
    counts = LoadCounts(rows=len(rows))
    accounts = dict(session.execute(select(Account.account_number, Account.id)).all())
    meters = set(session.scalars(select(Meter.meter_id)))
    points = dict(session.execute(select(ServicePoint.code, ServicePoint.id)).all())
    premises = dict(session.execute(select(Premise.service_address, Premise.id)).all())
    for r in rows:
        if r.meter_id in meters:
            counts.kept += 1
            continue
        if r.service_address not in premises:
            premises[r.service_address] = session.scalar(insert(Premise).returning(Premise.id),
                                                         [{"service_address": r.service_address}])
        premise_id = premises[r.service_address]
        if r.account_number not in accounts:
            accounts[r.account_number] = _new_account(session, r, premise_id)
            counts.accounts += 1
            counts.opening_cents += r.opening_cents
        account_id = accounts[r.account_number]
        if r.service_point not in points:
            points[r.service_point] = session.scalar(insert(ServicePoint).returning(ServicePoint.id), [{
                "code": r.service_point, "premise_id": premise_id, "account_id": account_id}])
        session.execute(insert(Meter), [{"meter_id": r.meter_id, "service_point_id": points[r.service_point],
                                         "multiplier": r.multiplier, "installed_on": None, "removed_on": None}])
        meters.add(r.meter_id)
        counts.meters += 1
    session.commit()
    return counts


def _new_account(session: Session, r: AccountRow, premise_id: int) -> int:
    customer_id = session.scalar(insert(Customer).returning(Customer.id), [{
        "name": r.customer_name, "mailing_address": r.mailing_address}])
    account_id = session.scalar(insert(Account).returning(Account.id), [{
        "account_number": r.account_number, "customer_id": customer_id, "premise_id": premise_id,
        "customer_class": r.customer_class, "cycle": r.cycle, "status": "active", "opened_on": r.opening_date}])
    session.execute(insert(RateAssignment), [{"account_id": account_id, "rate_code": r.rate_code,
                                              "effective_from": r.opening_date, "effective_to": None}])
    if r.nem_program:
        session.execute(insert(ProgramAssignment), [{"account_id": account_id, "program_code": r.nem_program,
                                                     "effective_from": r.opening_date, "effective_to": None}])
    journal = []
    if r.opening_cents:
        journal.append({"account_id": account_id, "book": "receivable", "posted_on": r.opening_date,
                        "kind": "opening", "amount_cents": r.opening_cents, "reference": f"opening balance row {r.row}"})
    if r.deposit_cents:
        session.execute(insert(Deposit), [{"account_id": account_id, "amount_cents": r.deposit_cents,
                                           "received_on": r.opening_date, "interest_paid_to": r.opening_date}])
        journal.append({"account_id": account_id, "book": "deposit", "posted_on": r.opening_date,
                        "kind": "deposit", "amount_cents": r.deposit_cents, "reference": f"deposit held row {r.row}"})
    if journal:
        session.execute(insert(JournalEntry), journal)
    if r.budget_cents:
        session.execute(insert(BudgetPlan), [{"account_id": account_id, "installment_cents": r.budget_cents,
                                              "starts_on": r.opening_date, "settle_month": r.settle_month}])
    return account_id


def rows_from_registry(path) -> list[AccountRow]:
    """Account rows from a meter registry file (no names, addresses or balances: placeholders say so)."""
    registry = load_registry(path)
    rows = []
    for m in registry:
        since = m.install.date() if m.install else SINCE_EVER
        rows.append(AccountRow(m.row, m.account, f"(customer of account {m.account})",
                               f"(service point {m.service_point})", "", m.meter_id, m.service_point, m.rate_code,
                               m.customer_class, m.cycle, m.nem_program, float(m.ct_ratio * m.pt_ratio), since))
    # an account's rows must agree on the opening date: the earliest install of its meters
    earliest: dict[str, dt.date] = {}
    for r in rows:
        earliest[r.account_number] = min(earliest.get(r.account_number, r.opening_date), r.opening_date)
    for r in rows:
        r.opening_date = earliest[r.account_number]
    return rows
