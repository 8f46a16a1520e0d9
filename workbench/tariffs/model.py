"""The tariff model: what a tariff YAML file may say, validated on load.

A tariff has a *structure* (time zone, holidays, seasons, time-of-use periods, demand measurement) that
decides how interval data is scanned into billing determinants, and *versions*: effective-dated price
lists that turn determinants into line items. Changing a price is a new version (re-price, no re-scan);
changing ToU hours is a new tariff.

See ``docs/tariff-format.md`` for the format with examples.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Number = float
# A rate may be one number, one per ToU period, one per season, or one per season and period.
RateSpec = Number | dict[str, Number | dict[str, Number]]
# Block (tier) rates: a list (one per block), or such lists keyed by period and/or season.
BlockRateSpec = list[Number] | dict[str, list[Number] | dict[str, list[Number]]]
LimitSpec = list[Number] | dict[str, list[Number]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """Hours of some days in some seasons: one rule of a ToU schedule."""

    seasons: list[str] = Field(default_factory=lambda: ["all"])
    days: list[Literal["weekday", "weekend", "holiday", "all"]] = Field(default_factory=lambda: ["all"])
    hours: str | list[str] = "00:00-24:00"

    @field_validator("hours")
    @classmethod
    def _hours_format(cls, value):
        for text in [value] if isinstance(value, str) else value:
            parse_hours(text)
        return value


def parse_hours(text: str) -> tuple[int, int]:
    """'16:00-21:00' -> (960, 1260) minutes; an end before the start wraps past midnight."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        minutes = []
        for part in (start, end):
            hh, mm = part.split(":")
            hh, mm = int(hh), int(mm)
            if not (0 <= hh <= 24 and 0 <= mm < 60) or (hh == 24 and mm):
                raise ValueError
            minutes.append(hh * 60 + mm)
    except ValueError:
        raise ValueError(f"hours {text!r} must look like '16:00-21:00' (local time, 00:00 to 24:00)") from None
    if minutes[0] == minutes[1]:
        raise ValueError(f"hours {text!r} is empty")
    return minutes[0], minutes[1]


class TimeOfUse(_Strict):
    """ToU periods by name, each a list of windows."""

    periods: dict[str, list[Window]]


class Ratchet(_Strict):
    """Billing demand is at least ``percent`` % of the highest demand of the previous ``months`` bill periods.

    ``count_months``: only bill periods ending in these calendar months count (e.g. [6, 7, 8, 9] for a
    summer-only ratchet); default all. ``history_kw``: peak demand of the bill periods before the data,
    oldest first, so the first periods of the data see their ratchet too. ``percent_by_month``: 12 percents
    by the month the bill period ends in (0: no ratchet that month), instead of ``percent`` in every month
    (URDB ``demandratchetpercentage``).
    """

    percent: float = Field(gt=0, le=100)
    months: int = Field(ge=1, le=36)
    count_months: list[int] = Field(default_factory=lambda: list(range(1, 13)))
    history_kw: list[float] = Field(default_factory=list)
    percent_by_month: list[Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _twelve_months(self):
        if self.percent_by_month and len(self.percent_by_month) != 12:
            raise ValueError(f"percent_by_month needs 12 values (January to December), got {len(self.percent_by_month)}")
        return self

    def fraction(self, end_month: np.ndarray) -> np.ndarray:
        """The ratchet fraction of each bill period, by the month it ends in (an array shaped like ``end_month``)."""
        if not self.percent_by_month:
            return np.full(np.shape(end_month), self.percent / 100.0)
        return np.asarray(self.percent_by_month, dtype=float)[np.asarray(end_month) - 1] / 100.0


class Demand(_Strict):
    """How demand is measured: interval, block or rolling, ToU demand periods, ratchet, minimum."""

    # None: the data's own interval (PySAM/URDB convention: demand is the single-interval maximum)
    interval_minutes: int | None = Field(15, ge=1, le=60)
    method: Literal["block", "rolling"] = "block"
    time_of_use: TimeOfUse | None = None  # need not cover every hour: outside them no ToU demand is charged
    ratchet: Ratchet | None = None
    minimum_kw: float = Field(0.0, ge=0)
    # kVA: demand charges bill apparent power, sqrt(kW² + kVAR²) of the same demand window (needs kVARh reads)
    unit: Literal["kW", "kVA"] = "kW"
    # system-peak intervals (local ISO timestamps of interval starts) for coincident-peak demand
    coincident_peaks: list[dt.datetime] = Field(default_factory=list)
    # a bill period the data cover only in part (the first or last bill of a read cycle): prorate: its demand
    # charges are prorated by the share it covers, as its monthly customer charge is (DESIGN.md); full: a
    # tariff that says demand charges are not prorated pays a whole month's
    partial_periods: Literal["prorate", "full"] = "prorate"


# A charge whose prices may be negative (a credit, a negative adjustment) says so with ``allow_negative: true``;
# without it a negative price is an error (a stray minus sign would pay the customer).


class CustomerCharge(_Strict):
    type: Literal["customer"]
    description: str = "Customer charge"
    amount: float
    per: Literal["bill", "day", "month"]  # required: $0.98 per day is not $0.98 per month
    allow_negative: bool = False


BlockUnit = Literal["kWh", "kWh/day", "kWh/kW", "kWh/kW/day"]


class Blocks(_Strict):
    unit: BlockUnit = "kWh"
    # one unit per limit when the limits mix units (a first block of 350 kWh, then 530 kWh per kW of billing
    # demand): overrides ``unit``; a list, or lists keyed by season like ``limits``
    units: list[BlockUnit] | dict[str, list[BlockUnit]] | None = None
    # total: blocks count all ToU periods of a season together, each period's kWh allocated to blocks in
    #        proportion to its share (URDB / PySAM semantics); period: each ToU period has its own blocks.
    scope: Literal["total", "period"] = "total"
    limits: LimitSpec
    rates: BlockRateSpec


class EnergyCharge(_Strict):
    type: Literal["energy"]
    description: str = "Energy"
    rates: RateSpec | None = None
    blocks: Blocks | None = None
    allow_negative: bool = False

    @model_validator(mode="after")
    def _one_of(self):
        if (self.rates is None) == (self.blocks is None):
            raise ValueError("an energy charge needs exactly one of 'rates' ($/kWh) or 'blocks'")
        return self


class DemandBlocks(_Strict):
    limits: LimitSpec  # kW upper bounds of each block but the last
    rates: BlockRateSpec


class DemandCharge(_Strict):
    type: Literal["demand"]
    description: str = "Demand"
    # max: highest demand in the bill period (billing demand, with ratchet and minimum);
    # tou: highest demand inside each demand ToU period; coincident: demand at the system peak
    measure: Literal["max", "tou", "coincident"] = "max"
    rates: RateSpec | None = None
    blocks: DemandBlocks | None = None
    allow_negative: bool = False

    @model_validator(mode="after")
    def _one_of(self):
        if (self.rates is None) == (self.blocks is None):
            raise ValueError("a demand charge needs exactly one of 'rates' ($/kW) or 'blocks'")
        return self


class RealTimeCharge(_Strict):
    type: Literal["rtp"]
    description: str = "Energy at real-time prices"
    prices: str  # CSV file (timestamp, price [$/kWh]), hourly or sub-hourly, relative to the tariff file
    adder: float = 0.0  # [$/kWh] added to every interval's price
    allow_negative: bool = False  # a negative adder


class Rider(_Strict):
    type: Literal["rider"]
    description: str
    rate: float | dict[int, float]  # [$/kWh] on delivered kWh; or by month (1-12) of the period end
    allow_negative: bool = False


class Minimum(_Strict):
    """A minimum bill. ``per: year`` is an annual minimum: the shortfall of the year's bills is added to the
    bill period that ends in December."""

    type: Literal["minimum"]
    description: str = "Minimum bill adjustment"
    amount: float = Field(ge=0)
    per: Literal["bill", "day", "month", "year"]  # required, as for customer charges


class Tax(_Strict):
    type: Literal["tax"]
    description: str
    percent: float = Field(ge=0, le=100)
    applies_to: list[Literal["fixed", "energy", "demand", "minimum", "rider"]]


class ReactiveDemandCharge(_Strict):
    """$/kVAR of reactive demand: the highest reactive demand of the bill period (``max``), or the reactive
    demand in the demand window of the kW peak (``at_peak``). Needs the meter's kVARh reads."""

    type: Literal["reactive_demand"]
    description: str = "Reactive demand"
    rate: float  # [$/kVAR]
    measure: Literal["max", "at_peak"] = "max"
    allow_negative: bool = False


class PowerFactorCharge(_Strict):
    """A power-factor adjustment. Needs the meter's kVARh reads.

    ``demand_multiplier``: when the actual power factor is below ``threshold``, billing demand [kW] is
    multiplied by ``target / actual`` (``target`` defaults to ``threshold``) before the demand charges price it.
    ``excess_kvar``: ``rate`` [$/kVAR] on the kVAR above what ``threshold`` allows at the peak kW:
    max(0, kVAR − kW × tan(acos(threshold))).
    ``basis``: ``period``: the actual PF from the period's kWh and kVARh (kVAR = peak kW × kVARh / kWh);
    ``peak``: the PF of the demand window of the kW peak (its kW and kVAR).
    """

    type: Literal["power_factor"]
    description: str = "Power factor adjustment"
    method: Literal["demand_multiplier", "excess_kvar"]
    threshold: float = Field(0.9, gt=0, le=1)
    target: float | None = Field(None, gt=0, le=1)
    basis: Literal["period", "peak"] = "period"
    rate: float = Field(0.0, ge=0)  # [$/kVAR], excess_kvar only

    @model_validator(mode="after")
    def _fields(self):
        if self.method == "excess_kvar" and self.rate <= 0:
            raise ValueError("an 'excess_kvar' power-factor charge needs a positive 'rate' [$/kVAR]")
        if self.method == "demand_multiplier" and self.rate:
            raise ValueError("'rate' belongs to method 'excess_kvar'; 'demand_multiplier' scales billing demand")
        return self


Charge = Annotated[
    CustomerCharge | EnergyCharge | DemandCharge | RealTimeCharge | Rider | Minimum | Tax | ReactiveDemandCharge
    | PowerFactorCharge,
    Field(discriminator="type"),
]


class Version(_Strict):
    effective: dt.date
    expires: dt.date | None = None  # exclusive; default: the next version's effective date
    charges: list[Charge]

    @model_validator(mode="after")
    def _dates(self):
        if self.expires is not None and self.expires <= self.effective:
            raise ValueError(f"expires {self.expires} is not after effective {self.effective}")
        return self


class TariffSpec(_Strict):
    code: str
    name: str
    utility: str = ""
    sector: Literal["residential", "commercial", "industrial", "lighting", "other"] = "residential"
    timezone: str | None = None  # IANA name; None: each timestamp's own offset (URDB tariffs)
    holidays: Literal["none", "NERC", "US"] = "none"
    seasons: dict[str, list[int]] = Field(default_factory=lambda: {"all": list(range(1, 13))})
    time_of_use: TimeOfUse | None = None  # None: one period, "all"
    demand: Demand = Field(default_factory=Demand)
    versions: list[Version] = Field(min_length=1)
    source: str = ""  # where the tariff came from (filing, URDB id)
