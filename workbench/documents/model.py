"""The bill document: everything a customer's bill shows, as one validated pydantic model.

:class:`BillDocument` is the contract between whoever knows the numbers (the bill cycle, the ledger) and the
templates that print them. Money is integer cents everywhere; the model refuses a document that does not add
up on paper:

- ``current_charges_cents`` equals the sum of the itemized charges' ``amount_cents``;
- ``other_charges_cents`` equals the sum of the ``other_charges`` (the fees charged since the last bill, each
  dated: a reconnection or returned-payment fee);
- ``amount_due_cents`` equals ``previous_balance_cents - payments_cents + adjustments_cents +
  other_charges_cents + current_charges_cents`` (payments are a positive number of cents received; adjustments
  are signed: a credit to the customer is negative);
- on a net-metering bill, the credit bank adds up in the program's units: ``credit_brought_cents +
  credit_earned_cents - credit_applied_cents - credit_settled_cents = balance_carried_cents`` (dollar
  credits) and ``kwh_brought + kwh_banked - kwh_used - kwh_settled = kwh_carried`` (banked kWh, to
  :data:`KWH_TOLERANCE`).

A refused document raises :class:`pydantic.ValidationError` whose message names the bill and the two sums.
"""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KWH_TOLERANCE = 0.005
"""[kWh] how far the kWh bank may be off: five terms each rounded to 0.001 kWh."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Utility(_Frozen):
    """Who sends the bill: printed in the header and on the payment stub."""

    name: str
    address: str = ""
    phone: str = ""
    web: str = Field("", description="the utility's web address as printed (text only; nothing is fetched)")


class PeriodUsage(_Frozen):
    """Energy billed in one time-of-use period (or 'All hours' on a rate without periods). [kWh]"""

    name: str
    kwh: float

    @field_validator("kwh")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"kWh must be a finite number, got {v}")
        return v


class Charge(_Frozen):
    """One itemized line: ``quantity`` [unit] at ``price`` [$/unit] comes to ``amount_cents`` [¢]."""

    description: str
    quantity: float | None = None
    unit: str = ""
    price: float | None = Field(None, description="[$ per unit]")
    amount_cents: int

    @field_validator("quantity", "price")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError(f"must be a finite number, got {v}")
        return v


class OtherCharge(_Frozen):
    """A charge made since the last bill, not for energy (a reconnection, returned-payment or late fee): printed
    with the day it was charged under "Other charges since your last bill" and due with this bill."""

    description: str = Field(min_length=1)
    charged_on: dt.date
    amount_cents: int


class NemCredits(_Frozen):
    """Net-metering credits of this bill: the balance brought in, what this bill adds and uses, the balance out.

    Dollar credits: brought + earned - applied - settled at the true-up = carried. Banked kWh (kWh netting):
    brought + banked - used - settled at the true-up = carried. A program uses one or the other; the other
    side is all zeros.
    """

    program: str = ""
    received_kwh: float = Field(0.0, description="energy sent to the grid this period [kWh]")
    credit_brought_cents: int = Field(0, description="credit balance brought forward from the last bill")
    credit_earned_cents: int = 0
    credit_applied_cents: int = 0
    credit_settled_cents: int = Field(0, description="credit balance taken out at the true-up (paid or forfeited)")
    balance_carried_cents: int = 0
    kwh_brought: float = Field(0.0, description="banked kWh brought forward from the last bill [kWh]")
    kwh_banked: float = Field(0.0, description="surplus kWh banked this period [kWh]")
    kwh_used: float = Field(0.0, description="banked kWh that offset this period's use [kWh]")
    kwh_settled: float = Field(0.0, description="banked kWh cleared at the true-up [kWh]")
    kwh_carried: float = Field(0.0, description="kWh credit carried to the next bill [kWh]")
    true_up: bool = False

    @field_validator("received_kwh", "kwh_brought", "kwh_banked", "kwh_used", "kwh_settled", "kwh_carried")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"kWh must be a finite number, got {v}")
        return v

    def bank_error(self) -> str:
        """Why the credit bank does not add up, or "" when it does."""
        cents = (self.credit_brought_cents + self.credit_earned_cents - self.credit_applied_cents
                 - self.credit_settled_cents)
        if cents != self.balance_carried_cents:
            return (f"net-metering credit brought forward {self.credit_brought_cents} + earned "
                    f"{self.credit_earned_cents} - applied {self.credit_applied_cents} - settled at true-up "
                    f"{self.credit_settled_cents} = {cents} cents, but the balance carried forward is "
                    f"{self.balance_carried_cents} cents")
        kwh = self.kwh_brought + self.kwh_banked - self.kwh_used - self.kwh_settled
        if abs(kwh - self.kwh_carried) > KWH_TOLERANCE:
            return (f"banked kWh brought forward {self.kwh_brought} + banked {self.kwh_banked} - used "
                    f"{self.kwh_used} - settled at true-up {self.kwh_settled} = {kwh:.3f} kWh, but "
                    f"{self.kwh_carried} kWh are carried forward")
        return ""


class BudgetBilling(_Frozen):
    """Budget (levelized) billing on this bill: the installment comes due instead of the actual charges.

    ``deferred_cents`` = actual charges - installment, carried in the budget balance (negative when the
    month cost less than the installment); ``settled_cents``: the budget balance brought due on this bill
    (the settle-up month); ``balance_cents``: the budget balance after this bill.
    """

    installment_cents: int
    deferred_cents: int
    settled_cents: int = 0
    balance_cents: int = 0
    settle_month: int | None = Field(None, ge=1, le=12)


class UsageMonth(_Frozen):
    """One bar of the usage history chart: ``month`` as ``YYYY-MM``. [kWh]"""

    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    kwh: float

    @field_validator("kwh")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"kWh must be a finite number >= 0, got {v}")
        return v


class BillDocument(_Frozen):
    """One customer's bill, as printed. Money in integer cents; energy in kWh."""

    utility: Utility
    account_number: str = Field(min_length=1)
    customer_name: str
    service_address: str
    mailing_address: str = ""
    bill_id: str = Field(min_length=1)
    bill_date: dt.date
    due_date: dt.date
    period_start: dt.date
    period_end: dt.date
    days: int = Field(ge=0)
    meter_number: str
    multiplier: float = Field(1.0, gt=0)
    rate_code: str = ""
    estimated: bool = False
    estimated_share: float = Field(0.0, ge=0.0, le=1.0, description="share of the period's intervals estimated")
    delivered_kwh: float | None = Field(None, description="energy delivered to the customer [kWh]")
    received_kwh: float | None = Field(None, description="energy received from the customer [kWh]")
    billing_demand_kw: float | None = Field(None, description="[kW]")
    usage_by_period: list[PeriodUsage] = Field(default_factory=list)
    charges: list[Charge]
    nem_credits: NemCredits | None = None
    previous_balance_cents: int = 0
    payments_cents: int = Field(0, description="payments received since the last bill, a positive number")
    adjustments_cents: int = Field(0, description="signed: a credit to the customer is negative")
    other_charges: list[OtherCharge] = Field(default_factory=list)
    other_charges_cents: int = Field(0, description="the sum of other_charges")
    current_charges_cents: int
    budget: BudgetBilling | None = None
    amount_due_cents: int
    usage_history: list[UsageMonth] = Field(default_factory=list, max_length=13)
    messages: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _adds_up(self) -> BillDocument:
        where = f"bill {self.bill_id} (account {self.account_number})"
        if self.period_end < self.period_start:
            raise ValueError(f"{where}: period ends {self.period_end} before it starts {self.period_start}")
        if self.due_date < self.bill_date:
            raise ValueError(f"{where}: due date {self.due_date} is before the bill date {self.bill_date}")
        items = sum(c.amount_cents for c in self.charges)
        if items != self.current_charges_cents:
            raise ValueError(f"{where}: the charges add up to {items} cents but current charges are "
                             f"{self.current_charges_cents} cents; a bill must add up to its line items")
        other = sum(c.amount_cents for c in self.other_charges)
        if other != self.other_charges_cents:
            raise ValueError(f"{where}: the other charges since the last bill add up to {other} cents but "
                             f"{self.other_charges_cents} cents are stated")
        due = (self.previous_balance_cents - self.payments_cents + self.adjustments_cents + self.other_charges_cents
               + self.current_charges_cents)
        budget = ""
        if self.budget is not None:
            due += self.budget.settled_cents - self.budget.deferred_cents
            budget = f" - budget deferral {self.budget.deferred_cents} + budget settle-up {self.budget.settled_cents}"
        if due != self.amount_due_cents:
            raise ValueError(f"{where}: previous balance {self.previous_balance_cents} - payments "
                             f"{self.payments_cents} + adjustments {self.adjustments_cents} + other charges "
                             f"{self.other_charges_cents} + current charges "
                             f"{self.current_charges_cents}{budget} = {due} cents, but the amount due is "
                             f"{self.amount_due_cents} cents")
        if self.nem_credits is not None and (why := self.nem_credits.bank_error()):
            raise ValueError(f"{where}: {why}")
        return self
