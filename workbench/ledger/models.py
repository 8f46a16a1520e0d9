"""The ledger's tables (SQLAlchemy 2 typed ORM): who is served where, what was billed, paid and adjusted.

Money is integer cents everywhere. Every balance is derived from the append-only :class:`JournalEntry`
table (no stored balance that could drift); the other tables say *why* an entry exists (a bill, a payment,
an adjustment...). Signs: a positive journal amount is owed by the customer (a charge), a negative one is
owed to the customer (a credit). Each entry belongs to a ``book``: ``receivable`` (what the customer owes
now), ``budget`` (the levelized-billing difference deferred to the settle-up month) or ``deposit`` (security
deposits held, a liability; positive = held).

The schema is created and upgraded only by the Alembic migrations in ``workbench/ledger/migrations``
(``workbench ledger init``); see docs/ledger.md for the tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """The ledger's declarative base (its ``metadata`` is what the migrations build)."""


# ------------------------------------------------------------------------------------------ who and where


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    mailing_address: Mapped[str] = mapped_column(String(400), default="")


class Premise(Base):
    __tablename__ = "premises"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_address: Mapped[str] = mapped_column(String(400), unique=True)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    premise_id: Mapped[int | None] = mapped_column(ForeignKey("premises.id"))
    customer_class: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | closed
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)


class ServicePoint(Base):
    __tablename__ = "service_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # the cube's ``meter`` row
    premise_id: Mapped[int | None] = mapped_column(ForeignKey("premises.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)


class Meter(Base):
    __tablename__ = "meters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_id: Mapped[str] = mapped_column(String(64), unique=True)  # the registry's meter_id
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_points.id"), index=True)
    multiplier: Mapped[float] = mapped_column(Float, default=1.0)
    installed_on: Mapped[dt.date | None] = mapped_column(Date)
    removed_on: Mapped[dt.date | None] = mapped_column(Date)


class RateAssignment(Base):
    __tablename__ = "rate_assignments"
    __table_args__ = (UniqueConstraint("account_id", "effective_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    rate_code: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)  # exclusive; None = open


class ProgramAssignment(Base):
    __tablename__ = "program_assignments"
    __table_args__ = (UniqueConstraint("account_id", "program_code", "effective_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    program_code: Mapped[str] = mapped_column(String(64))  # net-metering program
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)


# ------------------------------------------------------------------------------------------ the journal


class JournalEntry(Base):
    """One append-only line of the ledger: every balance is a sum of these (never updated, never deleted)."""

    __tablename__ = "journal"
    __table_args__ = (Index("ix_journal_account_book", "account_id", "book", "posted_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    book: Mapped[str] = mapped_column(String(16), default="receivable")  # receivable | budget | deposit
    posted_on: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(200), default="")
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("adjustments.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    # a charge that is not a bill (a service charge): its due date; None = due when posted (migration 0006)
    due_on: Mapped[dt.date | None] = mapped_column(Date)


# ------------------------------------------------------------------------------------------ bills


class BillRun(Base):
    __tablename__ = "bill_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(128), unique=True)
    cycle: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    code_version: Mapped[str] = mapped_column(String(64), default="")
    inputs_checksum: Mapped[str] = mapped_column(String(128), default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Bill(Base):
    """A bill as posted. ``status``: held (not in the journal), posted, or cancelled (reversed by an adjustment)."""

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("account_id", "meter", "period_start", "version", name="uq_bill_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("bill_runs.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    meter: Mapped[str] = mapped_column(String(64))  # service point (cube row)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    rate_code: Mapped[str] = mapped_column(String(64))
    customer_class: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer)
    delivered_kwh: Mapped[float] = mapped_column(Float, default=0.0)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    bill_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    replaces_bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))


class BillLineItem(Base):
    __tablename__ = "bill_line_items"
    __table_args__ = (UniqueConstraint("bill_id", "line"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"))
    line: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), default="")
    quantity: Mapped[float] = mapped_column(Float, default=0.0)
    unit: Mapped[str] = mapped_column(String(16), default="")
    rate: Mapped[float] = mapped_column(Float, default=0.0)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class Hold(Base):
    """Why a bill is held, who held it and when; released_by/at/why once released (rows are never deleted)."""

    __tablename__ = "holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    held_by: Mapped[str] = mapped_column(String(64))
    held_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    reason: Mapped[str] = mapped_column(Text)
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    release_reason: Mapped[str | None] = mapped_column(Text)


class Adjustment(Base):
    __tablename__ = "adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # bill_cancel | credit | debit | ...
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))
    made_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    made_on: Mapped[dt.date] = mapped_column(Date)


# ------------------------------------------------------------------------------------------ cash


class PaymentFile(Base):
    __tablename__ = "payment_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checksum: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(400))
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    items_in: Mapped[int] = mapped_column(Integer, default=0)
    cents_in: Mapped[int] = mapped_column(BigInteger, default=0)


class Payment(Base):
    """One payment (or returned payment) item. ``account_id`` is None for unapplied cash."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("bank", "item_id", name="uq_payment_item"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank: Mapped[str] = mapped_column(String(64), default="")  # item ids are unique per bank
    item_id: Mapped[str] = mapped_column(String(128))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("payment_files.id"))
    account_number: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # payment | return
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(400), default="")
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))


class PaymentApplication(Base):
    """A credit (payment, credit adjustment) applied to a charge, oldest charge first. ``reversed`` when returned."""

    __tablename__ = "payment_applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_entry_id: Mapped[int] = mapped_column(ForeignKey("journal.id"), index=True)
    charge_entry_id: Mapped[int] = mapped_column(ForeignKey("journal.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    applied_on: Mapped[dt.date] = mapped_column(Date)
    reversed: Mapped[bool] = mapped_column(Boolean, default=False)


class UnappliedCash(Base):
    __tablename__ = "unapplied_cash"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)


class UnappliedResolution(Base):
    """How an item left the unapplied-cash queue: a returned item ``applied`` (it reversed a payment of
    ``account_id``, ``reversed_payment_id``, charging ``fee_cents``), ``written_off`` or ``returned_to_bank``;
    a payment ``refunded`` or ``unclaimed`` (a payment applied to an account has its adjustment instead);
    who and why. One per queued item; never updated."""

    __tablename__ = "unapplied_resolutions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    action: Mapped[str] = mapped_column(String(32))  # applied | written_off | returned_to_bank | refunded | unclaimed
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reversed_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), unique=True)
    fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    made_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    resolved_on: Mapped[dt.date] = mapped_column(Date)
    made_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Deposit(Base):
    __tablename__ = "deposits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[dt.date] = mapped_column(Date)
    interest_paid_to: Mapped[dt.date] = mapped_column(Date)  # interest accrued up to (exclusive)
    refunded_on: Mapped[dt.date | None] = mapped_column(Date)


class BudgetPlan(Base):
    __tablename__ = "budget_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    installment_cents: Mapped[int] = mapped_column(BigInteger)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    settle_month: Mapped[int] = mapped_column(Integer)  # 1..12: the bill of this month settles up
    ended_on: Mapped[dt.date | None] = mapped_column(Date)


class LateFee(Base):
    """One late fee, on one overdue charge (never twice on the same charge)."""

    __tablename__ = "late_fees"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_entry_id: Mapped[int] = mapped_column(ForeignKey("journal.id"), unique=True)
    fee_entry_id: Mapped[int] = mapped_column(ForeignKey("journal.id"))
    overdue_cents: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[float] = mapped_column(Float)
    assessed_on: Mapped[dt.date] = mapped_column(Date)


# ------------------------------------------------------------------------------------------ collections


class CollectionNotice(Base):
    """A past-due notice issued (``reminder`` or ``final``, the disconnect notice) for one past-due charge: the
    account's oldest open one on the notice date. Never the same kind twice for the same charge."""

    __tablename__ = "collection_notices"
    __table_args__ = (UniqueConstraint("kind", "charge_entry_id", name="uq_notice_charge"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reminder | final
    charge_entry_id: Mapped[int] = mapped_column(ForeignKey("journal.id"))
    notice_date: Mapped[dt.date] = mapped_column(Date)
    days_past_due: Mapped[int] = mapped_column(Integer)
    past_due_cents: Mapped[int] = mapped_column(BigInteger)
    disconnect_on: Mapped[dt.date | None] = mapped_column(Date)  # final notices only
    rules: Mapped[str] = mapped_column(String(400), default="")  # the rules file it was issued under
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class PaymentArrangement(Base):
    """A past-due balance split into monthly installments, agreed with the customer (who and why recorded)."""

    __tablename__ = "payment_arrangements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    total_cents: Mapped[int] = mapped_column(BigInteger)  # the past-due balance arranged
    starts_on: Mapped[dt.date] = mapped_column(Date)  # the first installment's due date
    installments: Mapped[int] = mapped_column(Integer)
    made_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    made_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class ArrangementInstallment(Base):
    __tablename__ = "arrangement_installments"
    __table_args__ = (UniqueConstraint("arrangement_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arrangement_id: Mapped[int] = mapped_column(ForeignKey("payment_arrangements.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1..installments
    due_on: Mapped[dt.date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class ServiceOrder(Base):
    """A disconnection or reconnection done in the field, acting on a final notice; append-only. ``seq`` numbers
    the account's orders 1, 2, ... (disconnect, reconnect, ...): two clerks recording at once cannot both."""

    __tablename__ = "service_orders"
    __table_args__ = (UniqueConstraint("account_id", "seq", name="uq_service_order_seq"),
                      UniqueConstraint("notice_id", "kind", name="uq_service_order_notice"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # disconnect | reconnect
    order_date: Mapped[dt.date] = mapped_column(Date)
    made_by: Mapped[str] = mapped_column(String(200))
    notice_id: Mapped[int] = mapped_column(ForeignKey("collection_notices.id"))  # the final notice acted on
    past_due_cents: Mapped[int] = mapped_column(BigInteger)  # the noticed amount still unpaid that day
    fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # reconnection fee charged
    fee_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal.id"))
    without_payment: Mapped[bool] = mapped_column(Boolean, default=False)  # reconnected with the debt unpaid
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)

# ------------------------------------------------------------------------------------------ the utility's settings


class LedgerSetting(Base):
    """One value of one of the utility's own settings (``workbench ledger settings``), e.g. the returned-payment
    (NSF) fee. Append-only: a change is a new row; the latest row of a name is in force, the earlier ones say
    what was in force before, who set it and when."""

    __tablename__ = "ledger_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    value_cents: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
