"""Pricing: billing determinants × a tariff's rates -> line items. Plain numpy over (meter, bill period).

Rounding rule: each line item's amount is rounded half-up to the cent once (``round_cents``); a bill's
total is the sum of its rounded line items, so every bill adds up on paper. Taxes are computed on the
rounded amounts they apply to, and rounded the same way.

Effective dates: when a tariff version changes inside a bill period, the period is billed under each
version on its full determinants and each version's line items are weighted by the share of the period's
days it was in force (proration by days, as Oracle CC&B and most utility tariffs do). Block sizes keep the
full period's size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from workbench.calendar.periods import BillPeriods
from workbench.engine.block_limits import check_crossing, energy_block_limits
from workbench.engine.reactive import demand_multiplier, price_reactive, reactive_refusals
from workbench.errors import BillingError
from workbench.kernels.money import round_cents as _round_cents
from workbench.tariffs.compile import CompiledTariff, CompiledVersion

CATEGORIES = ("fixed", "energy", "demand", "minimum", "rider", "tax", "credit")


@dataclass
class LineItems:
    """Line items of M meters × B periods, columnar: metadata per item, arrays (J, M, B)."""

    description: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    unit: list[str] = field(default_factory=list)
    quantity: list[np.ndarray] = field(default_factory=list)
    rate: list[np.ndarray] = field(default_factory=list)
    amount: list[np.ndarray] = field(default_factory=list)
    version: list[str] = field(default_factory=list)  # effective date of the tariff version, "" if only one

    def add(self, description, category, unit, quantity, rate, amount, version=""):
        self.version.append(version)
        self.description.append(description)
        self.category.append(category)
        self.unit.append(unit)
        amount = np.asarray(amount, dtype=float)
        self.quantity.append(np.broadcast_to(np.asarray(quantity, dtype=float), amount.shape))
        self.rate.append(np.broadcast_to(np.asarray(rate, dtype=float), amount.shape))
        self.amount.append(amount)

    def total(self) -> np.ndarray:
        return self.subtotal(CATEGORIES)

    def subtotal(self, categories) -> np.ndarray:
        total = 0.0
        for amount, category in zip(self.amount, self.category, strict=True):
            if category in categories:
                total = total + amount
        return total


@dataclass
class Determinants:
    """Billing determinants of M meters × B periods (see workbench.kernels.scan)."""

    energy_kwh: np.ndarray  # (M, B, E)
    received_kwh: np.ndarray  # (M, B, E)
    peak_kw: np.ndarray  # (M, B)
    tou_peak_kw: np.ndarray  # (M, B, D)
    cp_kw: np.ndarray  # (M, B)
    rtp_cost: np.ndarray  # (M, B)
    counts: np.ndarray  # (M, B, 3) present, missing, estimated
    export_credit: np.ndarray | None = None  # (M, B) received kWh × export value [$]
    reactive: object = None  # workbench.engine.reactive.ReactiveDeterminants, for a tariff that needs kVARh

    @classmethod
    def from_scan(cls, out: dict) -> Determinants:
        return cls(**{k: out[k] for k in cls.__dataclass_fields__ if k in out})

    @property
    def delivered_kwh(self) -> np.ndarray:
        return _sum_last(self.energy_kwh)


def round_cents(amount):
    """:func:`workbench.kernels.money.round_cents` without numpy's warning on amounts beyond int64 cents:
    :func:`check_line_items` refuses such amounts with a message that names the meter and the period."""
    with np.errstate(invalid="ignore", over="ignore"):
        return _round_cents(amount)


def _sum_last(values: np.ndarray) -> np.ndarray:
    """Sum over a short last axis (buckets) by adding slices: numpy's strided reduction is slower here."""
    total = values[..., 0].copy()
    for i in range(1, values.shape[-1]):
        total += values[..., i]
    return total


def billing_demand(tariff: CompiledTariff, det: Determinants, periods: BillPeriods) -> np.ndarray:
    """(M, B) billing demand [kW, or kVA for a kVA tariff]: the period's peak, at least the minimum and the ratchet."""
    peak = _peak(tariff, det)
    demand = np.maximum(peak, tariff.minimum_kw)
    ratchet = tariff.ratchet
    if ratchet is None:
        return demand
    counted = np.where(np.isin(periods.end_month, ratchet.count_months), peak, 0.0)
    history = np.zeros((peak.shape[0], len(ratchet.history_kw)))
    history[:] = ratchet.history_kw
    series = np.ascontiguousarray(np.concatenate([history, counted], axis=1).T)  # (history + B, M)
    offset = history.shape[0] if history.ndim == 1 else history.shape[1]
    out = np.ascontiguousarray(demand.T)
    fraction = np.broadcast_to(ratchet.fraction(periods.end_month), peak.shape).T  # (B, M), by the bill's month
    for b in range(peak.shape[1]):
        lo = max(0, offset + b - ratchet.months)
        if offset + b > lo:
            np.maximum(out[b], fraction[b] * series[lo : offset + b].max(axis=0), out=out[b])
    return out.T


def _peak(tariff, det, tou=False):
    """The measured demand peaks a tariff bills: kW, or kVA (sqrt(kW² + kVAR²) of one window) for a kVA tariff."""
    if tariff.demand_unit == "kVA" and det.reactive is not None:
        return det.reactive.tou_peak_kva if tou else det.reactive.peak_kva
    return det.tou_peak_kw if tou else det.peak_kw


def _blocks(amount, limits):
    """Split ``amount`` (M, B) into blocks with upper bounds ``limits`` (M, B, K-1): a list of K (M, B) arrays."""
    out = []
    lower = None
    for k in range(limits.shape[-1] + 1):
        part = amount - lower if lower is not None else amount.copy()
        np.maximum(part, 0.0, out=part)
        if k < limits.shape[-1]:
            width = limits[..., k] - lower if lower is not None else limits[..., k]
            np.minimum(part, width, out=part)
            lower = limits[..., k]
        out.append(part)
    return out


@dataclass
class _Context:
    """What every version's pricing needs, computed once per pricing run."""

    days: np.ndarray
    proration: np.ndarray
    season_days: np.ndarray  # (M, B, S)
    season_frac: np.ndarray  # (M, B, S)
    bill_kw: np.ndarray
    total_kwh: np.ndarray
    end_month: np.ndarray
    periods: BillPeriods
    source: str = ""

    @classmethod
    def build(cls, tariff, det, periods):
        days = periods.days.astype(float)
        season_days = periods.season_days(tariff.month_season, len(tariff.season_names))
        season_frac = np.divide(season_days, days[..., None], out=np.zeros_like(season_days),
                                where=days[..., None] > 0)
        return cls(days, periods.proration, season_days, season_frac, billing_demand(tariff, det, periods),
                   det.delivered_kwh, periods.end_month, periods, tariff.source_path)

    @property
    def valid(self) -> np.ndarray:
        return self.periods.valid

    def describe(self, m, b) -> str:
        """'tariff.json: meter 3 of this run, bill period 2025-07-01 to 2025-08-01 (end exclusive)'"""
        p = self.periods
        who = f"meter {m + 1} of {p.valid.shape[0]}, " if p.valid.shape[0] > 1 else ""
        return f"{self.source}: {who}bill period {p.start[m, b]} to {p.end[m, b]} (end exclusive)"


#: the charges a minimum is compared with (a minimum tops these up; taxes come after it)
BASE_CATEGORIES = ("fixed", "energy", "demand", "rider")


def price_version(
    tariff: CompiledTariff, version: CompiledVersion, det: Determinants, periods: BillPeriods, weight,
    tag: str = "", ctx: _Context | None = None, annual_base=None, base_only: bool = False,
) -> LineItems:
    """Line items of one tariff version, each weighted by ``weight`` (M, B; None = 1) and rounded to the cent.

    ``annual_base``: (M, B) the charges of every version in force, that an annual minimum compares the year's
    total with (default: this version's own); ``base_only``: stop before minimums and taxes.
    """
    ctx = ctx or _Context.build(tariff, det, periods)
    items = LineItems()
    pf_factor, pf_charge = demand_multiplier(version, det, ctx.days.shape)
    if pf_charge is not None:  # billing demand × target / actual PF, for this version's demand charges
        ctx = replace(ctx, bill_kw=ctx.bill_kw * pf_factor)
    days, proration, total_kwh, end_month = ctx.days, ctx.proration, ctx.total_kwh, ctx.end_month
    shape = days.shape

    def add(description, category, unit, quantity, rate, amount=None):
        quantity = np.broadcast_to(np.asarray(quantity, float), shape)
        if weight is not None:
            quantity = quantity * weight
        rate = np.broadcast_to(np.asarray(rate, float), shape)
        if amount is None:
            amount = quantity * rate
        elif weight is not None:
            amount = np.asarray(amount, float) * weight
        items.add(description, category, unit, quantity, rate, round_cents(amount), tag)

    for charge in version.charges:
        spec = charge.spec
        if charge.kind == "customer":
            qty = {"bill": 1.0, "day": days, "month": proration}[spec.per]
            add(spec.description, "fixed", spec.per, qty, spec.amount)
        elif charge.kind == "energy":
            for e in range(tariff.n_energy_buckets):
                label = tariff.energy_bucket_label(e)
                add(_join(spec.description, label), "energy", "kWh", det.energy_kwh[..., e], charge.rates[e])
        elif charge.kind == "energy_blocks":
            _energy_blocks(tariff, charge, det, ctx, add)
        elif charge.kind in ("demand", "demand_blocks"):
            _demand(tariff, charge, det, ctx, add)
        elif charge.kind == "rtp":
            add(spec.description, "energy", "kWh", total_kwh,
                np.divide(det.rtp_cost, total_kwh, out=np.zeros_like(total_kwh), where=total_kwh > 0), det.rtp_cost)
            if spec.adder:
                add(f"{spec.description} adder", "energy", "kWh", total_kwh, spec.adder)
        elif charge.kind in ("reactive_demand", "power_factor"):
            price_reactive(tariff, charge, det, ctx, add, pf_factor)
        elif charge.kind == "rider":
            rate = spec.rate
            if isinstance(rate, dict):
                rate = np.vectorize(rate.get)(end_month).astype(float)
            add(spec.description, "rider", "kWh", total_kwh, rate)
    if base_only:
        return items
    for charge in version.charges:
        spec = charge.spec
        if charge.kind == "minimum":
            billed = items.subtotal(BASE_CATEGORIES) + np.zeros(shape)
            if spec.per == "year":
                year_billed = billed if annual_base is None else annual_base
                short = _annual_shortfall(spec.amount, year_billed, periods) * (1.0 if weight is None else weight)
            else:
                floor = spec.amount * {"bill": 1.0, "day": days, "month": proration}[spec.per] * (1.0 if weight is None else weight)
                short = np.maximum(round_cents(floor) - billed, 0.0)
            short = round_cents(short)
            items.add(spec.description, "minimum", "$", (short > 0).astype(float), short, short, tag)
    for charge in version.charges:
        spec = charge.spec
        if charge.kind == "tax":
            base = items.subtotal(tuple(spec.applies_to)) + np.zeros(shape)
            items.add(spec.description, "tax", "$", base, spec.percent / 100.0,
                      round_cents(base * spec.percent / 100.0), tag)
    return items


def _annual_shortfall(amount, billed, periods):
    """(M, B) the annual minimum's top-up, on the bill period of each year that ends in December."""
    last_day = periods.end - 1
    year = last_day.astype("datetime64[Y]").astype(int)
    december = (last_day.astype("datetime64[M]").astype(int) % 12 == 11) & periods.valid
    out = np.zeros(billed.shape)
    for y in np.unique(year[december]):
        in_year = (year == y) & periods.valid
        total = np.where(in_year, billed, 0.0).sum(axis=1, keepdims=True)
        target = december & (year == y)
        # the last December-ending period of the year carries the top-up
        last = target & (np.cumsum(target[:, ::-1], axis=1)[:, ::-1] == 1)
        out = np.where(last, np.maximum(amount - total, 0.0), out)
    return out


def _join(description, label):
    return f"{description}, {label}" if label else description


def _energy_blocks(tariff, charge, det, ctx, add):
    spec = charge.spec.blocks
    n_tou = len(tariff.tou_names)
    n_blocks = charge.rates.shape[1]
    kwh = det.energy_kwh
    for s in range(len(tariff.season_names)):
        units = charge.limit_units[s]
        raw = energy_block_limits(units, charge.limits[s], ctx.proration, ctx.season_frac[..., s],
                                  ctx.season_days[..., s], ctx.bill_kw)  # (M, B, K-1) [kWh]

        def checked(amount, raw=raw, units=units, s=s):
            # a season without days in the period has no kWh in it: its limits do not matter
            valid = ctx.valid & (ctx.season_days[..., s] > 0)
            return check_crossing(raw, amount, valid, units, charge.limits[s], ctx.bill_kw, ctx.describe)

        buckets = range(s * n_tou, (s + 1) * n_tou)
        if spec.scope == "total":
            season_total = _sum_last(kwh[..., s * n_tou : (s + 1) * n_tou])
            blocks = _blocks(season_total, checked(season_total))
        for e in buckets:
            if spec.scope == "total":
                share = np.divide(kwh[..., e], season_total, out=np.zeros_like(season_total), where=season_total > 0)
                qty = [block * share for block in blocks]
            else:
                qty = _blocks(kwh[..., e], checked(kwh[..., e]))
            label = tariff.energy_bucket_label(e)
            for k in range(n_blocks):
                block = f"block {k + 1}" if n_blocks > 1 else ""
                add(_join(charge.description, ", ".join(x for x in (label, block) if x)), "energy", "kWh",
                    qty[k], charge.rates[e, k])


def _demand(tariff, charge, det, ctx, add):
    spec = charge.spec
    unit = tariff.demand_unit if spec.measure != "coincident" else "kW"
    if spec.measure == "tou":
        n_d = len(tariff.demand_tou_names)
        tou_peak = _peak(tariff, det, tou=True)
        for d in range(tariff.n_demand_buckets):
            kw = tou_peak[..., d]
            label = tariff.demand_bucket_label(d)
            if charge.kind == "demand":
                add(_join(spec.description, label), "demand", unit, kw, charge.rates[d])
            else:
                blocks = _blocks(kw, np.broadcast_to(charge.limits[d // n_d], kw.shape + charge.limits[0].shape))
                for k, block in enumerate(blocks):
                    add(_join(spec.description, f"{label}, block {k + 1}"), "demand", unit, block, charge.rates[d, k])
        return
    kw = ctx.bill_kw if spec.measure == "max" else det.cp_kw
    n_seasons = len(tariff.season_names)
    if charge.kind == "demand":
        rate = charge.rates[0] * ctx.season_frac[..., 0]  # a period across seasons pays each season's share
        for s in range(1, n_seasons):
            rate = rate + charge.rates[s] * ctx.season_frac[..., s]
        add(spec.description, "demand", unit, kw, rate)
        return
    per_season = [_blocks(kw, np.broadcast_to(charge.limits[s], kw.shape + charge.limits[s].shape))
                  for s in range(n_seasons)]
    for k in range(charge.rates.shape[1]):
        qty = np.zeros_like(kw)
        amount = np.zeros_like(kw)
        for s in range(n_seasons):
            part = ctx.season_frac[..., s] * per_season[s][k]
            qty += part
            amount += part * charge.rates[s, k]
        rate = np.divide(amount, qty, out=np.zeros_like(qty), where=qty > 0)
        add(_join(spec.description, f"block {k + 1}"), "demand", unit, qty, rate, amount)


def price(tariff: CompiledTariff, det: Determinants, periods: BillPeriods) -> LineItems:
    """All line items of all versions in force during the periods, prorated by days."""
    days = np.maximum(periods.days, 1)
    weights = [periods.overlap_days(v.effective, v.expires) / days for v in tariff.versions]
    active = [i for i, w in enumerate(weights) if (w > 0).any()]
    uncovered = periods.valid & (np.sum(weights, axis=0) < 1 - 1e-9)
    if uncovered.any():
        m, b = np.argwhere(uncovered)[0]
        raise BillingError(
            f"{tariff.source_path}: no version of tariff {tariff.code} is in force for the whole bill period "
            f"{periods.start[m, b]} to {periods.end[m, b]} (end exclusive); the tariff is in force "
            f"{_in_force(tariff)}; bill data inside those dates, or add a version (a URDB tariff: its "
            "startdate/enddate)"
        )
    refused = reactive_refusals(tariff, det.reactive, periods, None)
    if refused:  # never billed as if the power factor were 1
        raise BillingError(next(iter(refused.values())))
    out = LineItems()
    ctx = _Context.build(tariff, det, periods)

    def weight_of(i):
        return weights[i] if len(active) > 1 or not (weights[i][periods.valid] == 1).all() else None

    annual_base = None
    if len(active) > 1 and any(c.kind == "minimum" and c.spec.per == "year"
                               for i in active for c in tariff.versions[i].charges):
        # an annual minimum weighs the whole year's charges, from every version in force during it
        annual_base = sum(price_version(tariff, tariff.versions[i], det, periods, weight_of(i), ctx=ctx,
                                        base_only=True).subtotal(BASE_CATEGORIES) for i in active) + np.zeros(days.shape)
    for i in active:
        version = tariff.versions[i]
        tag = str(version.effective) if len(active) > 1 else ""
        part = price_version(tariff, version, det, periods, weight_of(i), tag, ctx, annual_base=annual_base)
        for name in ("description", "category", "unit", "quantity", "rate", "amount", "version"):
            getattr(out, name).extend(getattr(part, name))
    return out


def _in_force(tariff: CompiledTariff) -> str:
    """'from 2017-01-01' or 'from 2020-01-01 to 2020-12-31' (inclusive), with any gaps between versions."""
    spans = sorted((v.effective, v.expires) for v in tariff.versions)
    parts = []
    for start, end in spans:
        if parts and parts[-1][1] == start:
            parts[-1][1] = end
        else:
            parts.append([start, end])
    return " and ".join(f"from {a}" + (f" to {b - dt.timedelta(days=1)}" if b is not None else "") for a, b in parts)
