"""Net-metering and net-billing programs: what a program file in ``tariffs/programs/`` may say.

A program decides how a customer-generator's two channels become charges and credits on top of the retail
tariff: which kWh are billed at retail (net per ToU period, or every imported kWh), what an exported kWh
earns (the retail rate of its period, an hourly export value, a flat supply rate), what credits may offset,
how they carry from month to month, and what happens at the annual true-up.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.errors import WorkbenchError


class ProgramError(WorkbenchError):
    """A program file is invalid, or a program name is unknown."""


#: no program's rate or fee reaches this [$/kWh or $]; a larger number is a typo, never billed
MAX_RATE = 1e6


class _Strict(BaseModel):
    """Unknown fields, NaN and infinity refused (``allow_inf_nan``); every rate and fee below MAX_RATE."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _sane_numbers(self):
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, float) and abs(value) >= MAX_RATE:
                raise ValueError(f"{name}: {value:g} is beyond any program's rate or fee (less than {MAX_RATE:,.0f})")
        return self


class TrueUp(_Strict):
    """The annual settlement."""

    # the bill month that carries the true-up: 1-12, or "anniversary" (the month before the month of the
    # customer's permission-to-operate date, so each 12-month period starts at enrollment)
    month: int | Literal["anniversary"] = "anniversary"
    surplus_rate: float = Field(0.0, ge=0)  # [$/kWh] for net surplus kWh of the 12 months (NSC, avoided cost)
    leftover: Literal["forfeit", "pay", "roll_over"] = "forfeit"  # leftover $ credits at the true-up
    leftover_rate: float = Field(1.0, ge=0, le=1)  # share of leftover $ credits paid when leftover = pay
    kwh_rate: float | None = Field(None, ge=0)  # [$/kWh] cash-out of banked kWh (kWh credits); default surplus_rate
    fee: float = Field(0.0, ge=0)  # [$] true-up fee (e.g. Healdsburg $30.63)

    @model_validator(mode="after")
    def _month(self):
        if isinstance(self.month, int) and not 1 <= self.month <= 12:
            raise ValueError(f"true-up month {self.month} is not 1-12")
        return self


class ExportValues(_Strict):
    """Hourly export values by vintage (the table in force at enrollment).

    Each file is either a 576-row table (columns month 1-12, day_type weekday/weekend, hour 0-23, value
    [$/kWh]) or a series (timestamp ISO 8601 hour start, export_rate [$/kWh]). Relative to the program file.
    """

    vintages: dict[int, str]  # first PTO year the table applies to -> file
    adders: list[ExportAdder] = Field(default_factory=list)


class ExportAdder(_Strict):
    description: str = "Export adder"
    rate: float = Field(ge=0)  # [$/kWh] added to every exported kWh's value
    years: float = Field(1.0, gt=0)  # for this many years after the PTO date (ACC Plus: 1)


class Program(_Strict):
    code: str
    name: str
    # net_metering: kWh netted per ToU period over the bill period; net imports billed at retail, net exports
    #   earn the retail energy rate of their period (dollar credits) or are banked as kWh
    # net_billing: no netting; every imported kWh billed at retail, every exported kWh earns its export value
    # buy_all_sell_all: all imports billed, all exports paid at the export rate (a separate sale)
    kind: Literal["net_metering", "net_billing", "buy_all_sell_all"]
    credits: Literal["dollars", "kwh"] = "dollars"  # how a surplus carries (net_metering only may bank kWh)
    # netting interval for the channels before billing: as metered (instantaneous), or net within each hour
    netting_interval: Literal["instantaneous", "hourly"] = "instantaneous"
    # what an exported kWh earns under net billing / buy-all-sell-all: a flat rate (inflow/outflow supply
    # rate), hourly export values by vintage, or (neither) the tariff's sell rates or a series given at billing
    export_rate: float | None = Field(None, ge=0)  # [$/kWh]
    export_values: ExportValues | None = None
    non_bypassable_rate: float = Field(0.0, ge=0)  # [$/kWh] on every imported kWh; credits cannot offset it
    # True: the NBC is part of the tariff's retail energy rates, as every customer pays it (California). Net
    # metering must not let exports net it away: the imported kWh that exports offset are charged the NBC, and a
    # net surplus kWh earns the retail rate minus the NBC. False: the NBC is a charge on top of the retail rates.
    non_bypassable_in_retail: bool = False
    # line-item categories credits may offset; never fixed charges
    offsets: list[Literal["energy", "demand", "rider", "minimum"]] = Field(
        default_factory=lambda: ["energy", "demand", "rider", "minimum"]
    )
    apply_current_month: bool = True  # credits offset the bill of the month they are earned in
    true_up: TrueUp = Field(default_factory=TrueUp)
    lock_in_years: float | None = None  # legacy lock-in (NEM 2.0: 20 years) from the PTO date
    export_lock_years: float | None = None  # export-value lock (NBT: 9 years) from the PTO date
    description: str = ""
    closed_after: date | None = None  # closed to new customers: no PTO after this date (NEM 2.0: 2023-04-14)
    successor: str | None = None  # the program an account moves to when its lock-in ends
    # PySAM Utilityrate5 ``ur_metering_option`` (0-4) this program mirrors rule for rule (see
    # workbench.nem.pysam_options); None for real programs, which follow the fields above
    pysam_option: int | None = Field(None, ge=0, le=4)

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind != "net_metering" and self.credits == "kwh":
            raise ValueError("kWh credits (banking) exist only under net_metering")
        return self


ExportValues.model_rebuild()
