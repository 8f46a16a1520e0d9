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

from dataclasses import dataclass, field, replace

import numpy as np

from workbench.calendar.periods import BillPeriods
from workbench.engine.pricing_blocks import _blocks, _energy_blocks, _join, _sum_last
from workbench.engine.pricing_buffers import Slots, priced_line
from workbench.engine.pricing_memo import (  # noqa: F401 (re-exported)
    _annual_shortfall,
    _in_force,
    _is_demand,
    _version_weights,
    rider_rates,
)
from workbench.engine.reactive import demand_multiplier, price_reactive, reactive_refusals
from workbench.errors import BillingError
from workbench.kernels.money import round_cents as _round_cents
from workbench.kernels.pricing_lines import seasonal_demand_blocks, tax_amounts
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
    # the line's quantity and amount carry the share of a partial period (a demand charge prorated like the
    # customer charge): a bill of such a period says so on the line
    prorated: list[bool] = field(default_factory=list)

    def add(self, description, category, unit, quantity, rate, amount, version="", prorated=False):
        self.version.append(version)
        self.prorated.append(prorated)
        self.description.append(description)
        self.category.append(category)
        self.unit.append(unit)
        amount = np.asarray(amount, dtype=float)
        self.quantity.append(np.broadcast_to(np.asarray(quantity, dtype=float), amount.shape))
        self.rate.append(np.broadcast_to(np.asarray(rate, dtype=float), amount.shape))
        self.amount.append(amount)

    def extend(self, other: LineItems) -> None:
        for name in ("description", "category", "unit", "quantity", "rate", "amount", "version", "prorated"):
            getattr(self, name).extend(getattr(other, name))

    def total(self) -> np.ndarray:
        return self.subtotal(CATEGORIES)

    def subtotal(self, categories, out: np.ndarray | None = None) -> np.ndarray:
        """The sum of the lines of these categories, in line order; into ``out`` (M, B) as ``subtotal + 0.0``
        (a -0.0 sum becomes 0.0, as adding a zero array did), else a new array (0.0 without such lines)."""
        total = None  # added in place, in line order (the same sums as 0.0 + a + b + ...)
        for amount, category in zip(self.amount, self.category, strict=True):
            if category in categories:
                if total is None:
                    total = np.array(amount, dtype=float) if out is None else out
                    if out is not None:
                        np.copyto(out, amount)
                else:
                    total += amount
        if out is None:
            return 0.0 if total is None else total
        if total is None:
            out.fill(0.0)
        out += 0.0
        return out


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


def round_cents(amount, out=None):
    """:func:`workbench.kernels.money.round_cents` without numpy's warning on amounts beyond int64 cents:
    :func:`check_line_items` refuses such amounts with a message that names the meter and the period.
    ``out``: round into this array (``amount`` itself, when the caller made it and keeps no other use of it)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return _round_cents(amount) if out is None else _round_cents(amount, out=out)


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
    slots: Slots | None = None  # where this run's (M, B) arrays come from (one per pricing run)
    # (M, B) the share of a partial period its demand charges pay (``proration``), None when every period is
    # full or the tariff's demand is not prorated (``demand.partial_periods: full``)
    demand_share: np.ndarray | None = None

    @classmethod
    def build(cls, tariff, det, periods):
        days = periods.days.astype(float)
        season_days = periods.season_days(tariff.month_season, len(tariff.season_names))
        season_frac = np.divide(season_days, days[..., None], out=np.zeros_like(season_days),
                                where=days[..., None] > 0)
        proration = periods.proration
        partial = tariff.demand_partial == "prorate" and bool((proration[periods.valid] < 1.0).any())
        return cls(days, proration, season_days, season_frac, billing_demand(tariff, det, periods),
                   det.delivered_kwh, periods.end_month, periods, tariff.source_path, Slots(days.shape),
                   np.where(periods.valid, proration, 0.0) if partial else None)

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
    tag: str = "", ctx: _Context | None = None, annual_base=None, base_only: bool = False, memo=None,
) -> LineItems:
    """Line items of one tariff version, each weighted by ``weight`` (M, B; None = 1) and rounded to the cent.

    ``annual_base``: (M, B) the charges of every version in force, that an annual minimum compares the year's
    total with (default: this version's own); ``base_only``: stop before minimums and taxes; ``memo``: a
    :class:`workbench.engine.pricing_memo.ChargeMemo` of these determinants (a charge priced before is reused).
    """
    ctx = ctx or _Context.build(tariff, det, periods)
    items = LineItems()
    pf_factor, pf_charge = demand_multiplier(version, det, ctx.days.shape)
    if pf_charge is not None:  # billing demand × target / actual PF, for this version's demand charges
        ctx = replace(ctx, bill_kw=ctx.bill_kw * pf_factor)
    days, proration, shape = ctx.days, ctx.proration, ctx.days.shape

    memo_key = None if memo is None or pf_charge is not None else memo.version_key(tariff, version, tag, weight)
    # a partial period's demand charges pay its share, as its customer charge does: their lines are weighted by
    # the version's share of the period's days × the period's share of a full one (the two compose)
    demand_weight = None
    if ctx.demand_share is not None:
        demand_weight = ctx.demand_share if weight is None else weight * ctx.demand_share
    for charge in version.charges:
        if charge.kind in ("minimum", "tax"):
            continue
        key = None if memo_key is None else (memo_key, memo.charge_key(charge))
        part = memo.get(key) if key is not None else None
        if part is None:
            part = LineItems()
            charge_memo = None if memo_key is None else (memo, memo_key)
            add = _adder(part, ctx.slots, weight, tag, charge_memo)
            if demand_weight is not None and _is_demand(charge):
                add = _adder(part, ctx.slots, demand_weight, tag,
                             None if charge_memo is None else (memo, memo_key + b"partial"), prorated=True)
            _charge_lines(tariff, charge, det, ctx, add, pf_factor, charge_memo)
            if key is not None:
                memo.put(key, part)
        items.extend(part)
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
            base = items.subtotal(tuple(spec.applies_to), out=ctx.slots.take())
            amount = ctx.slots.take()
            tax_amounts(base, float(spec.percent), amount)  # round_cents(base * percent / 100)
            items.add(spec.description, "tax", "$", base, spec.percent / 100.0, amount, tag)
    return items


def _adder(items: LineItems, slots: Slots, weight, tag, memo=None, prorated=False):
    """``add(description, category, unit, quantity, rate, amount=None, owned=False)``: a line weighted and rounded
    to the cent (:func:`workbench.engine.pricing_buffers.priced_line`; ``owned``: round ``amount`` in place).
    ``prorated``: ``weight`` carries a partial period's share (the lines are marked so).

    ``memo`` (ChargeMemo, version key): a line of a kept quantity array at a scalar price it was priced at before
    is reused (one block price edited: only that block's line is priced again)."""

    def add(description, category, unit, quantity, rate, amount=None, owned=False):
        key = None
        if memo is not None and amount is None and isinstance(quantity, np.ndarray) and np.ndim(rate) == 0:
            key = (memo[1], b"line", description, category, unit, id(quantity), float(rate))
            found = memo[0].get(key)
            if found is not None and found[0] is quantity:
                items.add(description, category, unit, *found[1:], tag, prorated)
                return
        source = quantity
        quantity = np.broadcast_to(np.asarray(quantity, float), slots.shape)
        rate = np.broadcast_to(np.asarray(rate, float), slots.shape)
        quantity, amount = priced_line(slots, quantity, rate, weight, amount, owned)
        items.add(description, category, unit, quantity, rate, amount, tag, prorated)
        if key is not None:  # the quantity array is kept with the line, so its id stays unique
            memo[0].put(key, (source, items.quantity[-1], items.rate[-1], items.amount[-1]))
    return add


def _charge_lines(tariff, charge, det, ctx, add, pf_factor, memo=None) -> None:
    """The line items of one charge that is not a minimum or a tax (those weigh the others' amounts)."""
    spec = charge.spec
    days, proration, total_kwh = ctx.days, ctx.proration, ctx.total_kwh
    if charge.kind == "customer":
        qty = {"bill": 1.0, "day": days, "month": proration}[spec.per]
        add(spec.description, "fixed", spec.per, qty, spec.amount)
    elif charge.kind == "energy":
        for e in range(tariff.n_energy_buckets):
            label = tariff.energy_bucket_label(e)
            add(_join(spec.description, label), "energy", "kWh", det.energy_kwh[..., e], charge.rates[e])
    elif charge.kind == "energy_blocks":
        _energy_blocks(tariff, charge, det, ctx, add, memo)
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
            rate = rider_rates(rate)[ctx.end_month - 1]
        add(spec.description, "rider", "kWh", total_kwh, rate)


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
    n_blocks = charge.rates.shape[1]  # each block's kW, average rate and amount over the seasons, in one pass
    qty, rate, amount = (ctx.slots.take(n_blocks) for _ in range(3))
    seasonal_demand_blocks(np.broadcast_to(np.asarray(kw, float), qty.shape[1:]),
                           np.ascontiguousarray(np.asarray(charge.limits, float)[:n_seasons]),
                           ctx.season_frac, np.ascontiguousarray(charge.rates, dtype=float), qty, rate, amount)
    for k in range(n_blocks):
        add(_join(spec.description, f"block {k + 1}"), "demand", unit, qty[k], rate[k], amount[k], owned=True)


def price(tariff: CompiledTariff, det: Determinants, periods: BillPeriods, memo=None) -> LineItems:
    """All line items of all versions in force during the periods, prorated by days.

    ``memo``: a :class:`workbench.engine.pricing_memo.ChargeMemo` kept with these determinants and periods: a
    charge priced before (same tariff structure, version and prices) reuses its line items, so a price change
    re-prices only the changed charge (and the minimums and taxes that weigh it). The result is the same.
    """
    if memo is None:
        weights, active, uncovered = _version_weights(tariff, periods)
    else:  # the weights depend on the versions' dates only (a memo belongs to one set of bill periods)
        key = (b"weights", tuple((v.effective, v.expires) for v in tariff.versions))
        found = memo.get(key)
        if found is None:
            found = _version_weights(tariff, periods)
            memo.put(key, found)
        weights, active, uncovered = found
    days = np.maximum(periods.days, 1)
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
    if memo is None:
        ctx = _Context.build(tariff, det, periods)
    else:  # the context depends on the tariff's structure only (seasons, billing demand rules)
        ctx = replace(memo.context(tariff, lambda: _Context.build(tariff, det, periods)), source=tariff.source_path,
                      slots=Slots(days.shape))

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
        out.extend(price_version(tariff, version, det, periods, weight_of(i), tag, ctx, annual_base=annual_base,
                                 memo=memo))
    return out
