"""The pricing kernels (workbench/kernels/pricing_lines.py) against the numpy expressions they replaced, and
the bills they make: half cents, limits, NaN and inf, zero meters, memory that is never handed out twice.

The references below are the pricing code before the kernels (numpy over (M, B)), kept here as the slow,
obviously-correct path; every comparison is to the bit (``_same``: equal bit patterns, NaN where NaN).
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.calendar.periods import calendar_month_periods, periods_from_rows
from workbench.engine.bills import bills_for_meter
from workbench.engine.determinants import scan, schedule_arrays
from workbench.engine.pricing import Determinants, price
from workbench.engine.pricing_blocks import _blocks as _old_blocks  # the numpy split the kernels replaced
from workbench.engine.pricing_buffers import Slots, priced_line
from workbench.errors import BillingError
from workbench.kernels.money import round_cents
from workbench.kernels.pricing_lines import block_split, seasonal_demand_blocks, tax_amounts
from workbench.tariffs import tariff_from_spec


@pytest.fixture(autouse=True)
def _keep_numpy_errors():
    saved = np.geterr()
    yield
    np.seterr(**saved)


def _same(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool((a.view(np.uint64) == b.view(np.uint64)).all())



def _hostile(rng, shape, scale=100.0):
    """Values with the awkward cases mixed in: NaN, ±inf, -0.0, 0, exact half cents, negatives."""
    values = rng.normal(scale, scale, shape)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 0.125, -0.125, 1.005, 2.675, 1e-12])
    mask = rng.random(shape) < 0.2
    values[mask] = rng.choice(special, mask.sum())
    return values


@pytest.mark.parametrize("scope_total", [True, False])
@pytest.mark.parametrize("n_limits", [0, 1, 3])
def test_block_split_is_the_numpy_split_to_the_bit(scope_total, n_limits):
    rng = np.random.default_rng(n_limits)
    kwh = _hostile(rng, (40, 5, 6), 500.0)
    limits = np.sort(np.abs(rng.normal(400.0, 300.0, (40, 5, n_limits))), axis=-1)
    limits[0, 0, :] = 500.0  # limits equal to each other and to the kWh
    kwh[0, 0, 2:4] = [250.0, 250.0]
    out = np.empty((2, n_limits + 1, 40, 5))
    block_split(kwh, 2, 4, limits, scope_total, out)
    np.seterr(invalid="ignore")  # NaN and inf on purpose (restored by the fixture below)
    if scope_total:
        total = kwh[..., 2] + kwh[..., 3]
        blocks = _old_blocks(total, limits)
        for i, e in enumerate((2, 3)):
            share = np.divide(kwh[..., e], total, out=np.zeros_like(total), where=total > 0)
            for k in range(n_limits + 1):
                assert _same(out[i, k], blocks[k] * share)
    else:
        for i, e in enumerate((2, 3)):
            for k, block in enumerate(_old_blocks(kwh[..., e], limits)):
                assert _same(out[i, k], block)


def test_tiered_blocks_at_the_limit():
    # 1,000 kWh against a 1,000 kWh first block: all of it in block 1, none in block 2 (by hand)
    kwh = np.array([[[600.0, 400.0], [600.0, 400.5]]])  # (1 meter, 2 periods, 2 buckets)
    out = np.empty((2, 2, 1, 2))
    block_split(kwh, 0, 2, np.full((1, 2, 1), 1000.0), True, out)
    assert out[:, :, 0, 0].tolist() == [[600.0, 0.0], [400.0, 0.0]]
    # 1,000.5 kWh: 0.5 in block 2, shared 600 : 400.5
    assert out[:, 1, 0, 1].sum() == pytest.approx(0.5, abs=1e-12)
    assert out[:, :, 0, 1].sum() == 1000.5


def test_seasonal_demand_blocks_are_the_numpy_ones_to_the_bit():
    rng = np.random.default_rng(3)
    kw = _hostile(rng, (30, 4), 400.0)
    kw[0, :] = [500.0, 499.99, 500.01, 0.0]  # at, under and over the 500 kW limit
    frac = rng.random((30, 4, 2))
    frac[..., 1] = 1.0 - frac[..., 0]
    limits = np.array([[500.0], [450.0]])
    rates = np.array([[14.20, 12.80], [11.40, 10.10]])
    np.seterr(invalid="ignore")
    qty, rate, amount = (np.empty((2, 30, 4)) for _ in range(3))
    seasonal_demand_blocks(kw, limits, frac, rates, qty, rate, amount)
    per_season = [_old_blocks(kw, np.broadcast_to(limits[s], kw.shape + (1,))) for s in range(2)]
    for k in range(2):
        q, a = np.zeros_like(kw), np.zeros_like(kw)
        for s in range(2):
            part = frac[..., s] * per_season[s][k]
            q += part
            a += part * rates[s, k]
        assert _same(qty[k], q) and _same(amount[k], a)
        assert _same(rate[k], np.divide(a, q, out=np.zeros_like(q), where=q > 0))


@pytest.mark.parametrize("layout", ["contiguous", "bucket of (M, B, E)", "number"])
@pytest.mark.parametrize("rate_kind", ["number", "array"])
@pytest.mark.parametrize("weighted", [False, True])
def test_line_amounts_are_numpy_rounding_to_the_bit(layout, rate_kind, weighted):
    rng = np.random.default_rng(7)
    shape = (50, 12)
    quantity = {"contiguous": _hostile(rng, shape), "bucket of (M, B, E)": _hostile(rng, shape + (3,))[..., 1],
                "number": np.broadcast_to(np.asarray(2.5), shape)}[layout]
    rate = np.broadcast_to(np.asarray(0.05), shape) if rate_kind == "number" else _hostile(rng, shape, 0.2)
    weight = rng.random(shape) if weighted else None
    q_ref = quantity * weight if weighted else quantity
    with np.errstate(invalid="ignore", over="ignore"):
        expected = round_cents(q_ref * rate)
        got_q, got = priced_line(Slots(shape), np.broadcast_to(quantity, shape), np.broadcast_to(rate, shape), weight)
    assert _same(got, expected) and _same(got_q, q_ref)


def test_given_amounts_rounded_in_place_only_when_owned():
    amount = np.array([[0.125, -0.125, 0.124999, np.nan]])
    quantity = np.ones_like(amount)
    # half a cent rounds up, away from zero; NaN becomes round_cents' out-of-range value, which
    # check_line_items refuses, as before the kernels
    with np.errstate(invalid="ignore"):
        expected = round_cents(amount)
    assert expected[0, :3].tolist() == [0.13, -0.13, 0.12] and abs(expected[0, 3]) > 9e16
    _, rounded = priced_line(Slots(amount.shape), quantity, quantity, None, amount, owned=False)
    assert amount[0, 0] == 0.125  # the caller's array is untouched
    assert _same(rounded, expected)
    _, in_place = priced_line(Slots(amount.shape), quantity, quantity, None, amount, owned=True)
    assert in_place is amount and _same(amount, expected)


def test_tax_is_rounded_from_the_base_times_percent_over_100():
    # 2.0833333333 × 6 / 100 = 0.124999999998: within round_cents' 1e-9 nudge of half a cent, so 0.13 (kept as is)
    base = np.array([[2.0833333333, 100.0, 0.0, np.inf]])
    out = np.empty_like(base)
    tax_amounts(base, 6.0, out)
    with np.errstate(invalid="ignore"):
        assert _same(out, round_cents(base * 6.0 / 100.0))
    assert out[0, :3].tolist() == [0.13, 6.0, 0.0]


def test_slots_never_hand_out_the_same_memory_twice():
    slots = Slots((100, 12), block_bytes=3 * 100 * 12 * 8)
    arrays = [slots.take() for _ in range(7)] + [slots.take(2), slots.take(5), slots.take()]
    for i, a in enumerate(arrays):
        a[...] = i
    for i, a in enumerate(arrays):
        assert (a == i).all()
    assert arrays[8].shape == (5, 100, 12)  # larger than a block: a block of its own


# ------------------------------------------------------------------------------------------ whole bills

TARIFF = {"code": "K", "name": "kernel test", "timezone": "UTC", "seasons": {"summer": [6, 7, 8, 9],
          "winter": [1, 2, 3, 4, 5, 10, 11, 12]},
          "versions": [{"effective": "2024-01-01", "charges": [
              {"type": "customer", "description": "Customer", "amount": 10.0, "per": "bill"},
              {"type": "energy", "description": "Energy", "blocks": {"unit": "kWh", "scope": "total", "limits": [100],
                                            "rates": {"summer": [0.10, 0.20], "winter": [0.10, 0.20]}}},
              {"type": "tax", "description": "Tax", "percent": 5.0, "applies_to": ["fixed", "energy"]}]}]}


def _bills(kwh_per_interval, first_hour_only=False):
    """Bills of meters with a constant load over April 2025 (UTC, hourly), under TARIFF (or that load in the
    month's first hour only)."""
    tariff = tariff_from_spec(TARIFF, source="<test>")
    utc = np.arange(np.datetime64("2025-04-01T00:00"), np.datetime64("2025-05-01T00:00"), np.timedelta64(60, "m"))
    delivered = np.repeat(np.asarray(kwh_per_interval, dtype=np.float32)[:, None], len(utc), axis=1)
    if first_hour_only:
        delivered[:, 1:] = 0.0
    sched = schedule_arrays(tariff, utc, 60, timezone="UTC")
    periods = periods_from_rows([calendar_month_periods(np.datetime64("2025-04-01"), np.datetime64("2025-05-01"))]
                                * len(delivered), sched.local.day)
    det = scan(tariff, sched, delivered, np.zeros_like(delivered), periods.bounds)
    return price(tariff, det, periods), periods, det


def test_a_bill_at_the_block_limit_with_half_a_cent_of_tax():
    # 720 h × 0.125 kWh = 90 kWh (under the 100 kWh block); 720 × 0.25 = 180 kWh (80 kWh over it)
    items, periods, det = _bills([0.125, 0.25])
    (a,), (b,) = bills_for_meter(items, periods, det, 0), bills_for_meter(items, periods, det, 1)
    # meter 1: 10.00 + 90 × 0.10 = 19.00; tax 5% = 0.95; total 19.95
    assert [li.amount for li in a.line_items] == [10.0, 9.0, 0.95] and a.total == 19.95
    # meter 2: 10.00 + 100 × 0.10 + 80 × 0.20 = 36.00; tax 1.80; total 37.80
    assert [li.amount for li in b.line_items] == [10.0, 10.0, 16.0, 1.8] and b.total == 37.8


def test_a_line_of_exactly_half_a_cent_rounds_up():
    # 0.25 kWh in the first hour: 0.25 × 0.10 = 0.025 -> 0.03 (half a cent, up; np.round would give 0.02);
    # tax (10.00 + 0.03) × 5% = 0.5015 -> 0.50; total 10.53
    items, periods, det = _bills([0.25], first_hour_only=True)
    (bill,) = bills_for_meter(items, periods, det, 0)
    assert [(li.quantity, li.amount) for li in bill.line_items] == [(1.0, 10.0), (0.25, 0.03), (10.03, 0.5)]
    assert bill.total == 10.53


def test_zero_meters_price_to_empty_lines():
    _, periods, det = _bills([0.25])
    none = Determinants(**{k: (None if getattr(det, k) is None else getattr(det, k)[:0])
                           for k in Determinants.__dataclass_fields__})
    no_periods = type(periods)(*(getattr(periods, f)[:0] for f in ("start", "end", "nominal_days", "bounds")))
    items = price(tariff_from_spec(TARIFF, source="<test>"), none, no_periods)
    assert items.amount == [] and items.total() == 0.0  # no version in force for no bills: no lines, as before
    # the kernels on no meters: empty arrays of the right shapes
    slots = Slots((0, 12))
    for rate in (np.broadcast_to(np.asarray(0.1), (0, 12)), np.zeros((0, 12))):
        quantity, amount = priced_line(slots, np.zeros((0, 12)), rate, None)
        assert quantity.shape == amount.shape == (0, 12)
    split = slots.take(4).reshape(2, 2, 0, 12)
    block_split(np.zeros((0, 12, 2)), 0, 2, np.zeros((0, 12, 1)), True, split)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_determinants_are_refused_as_before(value):
    items, periods, det = _bills([0.25])
    bad = Determinants(**{k: getattr(det, k) for k in Determinants.__dataclass_fields__})
    bad.energy_kwh = det.energy_kwh.copy()
    bad.energy_kwh[0, 0, 0] = value
    tariff = tariff_from_spec(TARIFF, source="<test>")
    with np.errstate(invalid="ignore"):
        items = price(tariff, bad, periods)
    with pytest.raises(BillingError, match="Energy"):
        bills_for_meter(items, periods, bad, 0, label="meter-1")
