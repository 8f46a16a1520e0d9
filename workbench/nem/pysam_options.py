"""The five PySAM ``Utilityrate5`` metering options, rule for rule (``docs/pysam-nem-conventions.md``).

Programs named ``net-metering-kwh`` (option 0), ``net-metering-dollars`` (1), ``net-billing`` (2),
``net-billing-carryover`` (3) and ``buy-all-sell-all`` (4) bill a URDB tariff the way PySAM does, so that
our monthly bills agree with PySAM's to the cent:

* options 0 and 1 net kWh **per ToU period** over the month; the net imports are split into the month's
  tiers in proportion (as the plain tariff does). Option 0 banks each period's surplus kWh and moves the bank
  to the period at the same weekday hour next month (PySAM's rollover list), and cashes out the month-level
  running excess at the true-up; option 1 values the month's surplus at the tariff's ``sell`` rates (tiers
  from 0, shared out in proportion) as dollar credits;
* options 2, 3 and 4 never net: imports fill the month's tiers **in time order** (chronological tiers) and
  exports earn ``sell`` on a tier counter of their own, or an export value per interval (``--export-rates``);
* dollar credits offset the energy charge of the month they are earned in, never fixed or demand charges
  (option 4 is a sale on a second meter: paid whatever the bill); the minimum charge is compared after them;
  dollar balances are paid at face value at the true-up.

Two deliberate differences (conventions page §E and §H): option 2 credits beyond the energy charge, which
PySAM lets offset fixed charges, carry to the next bill and are paid at the true-up like option 3's balance;
an hourly export-value series on sub-hourly data is applied to the hour each interval starts in (PySAM reads
three of every four 15-minute steps one hour ahead).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.calendar import WEEKDAY
from workbench.calendar.periods import BillPeriods
from workbench.engine.block_limits import energy_block_limits
from workbench.engine.pricing import Determinants, LineItems, _annual_shortfall, billing_demand, price
from workbench.kernels.money import round_cents
from workbench.kernels.tiers import chronological_tiers
from workbench.nem.programs import ProgramError
from workbench.nem.results import ProgramResult, PysamInputs
from workbench.tariffs.urdb_sell import urdb_sell_tiers

NET_METERING, DOLLAR_NET_METERING, NET_BILLING, NET_BILLING_CARRYOVER, BUY_ALL_SELL_ALL = range(5)


@dataclass
class _Tiers:
    """One energy charge as tiers: rates per bucket and tier, cumulative tier bounds per bill period."""

    description: str
    rates: np.ndarray  # (E, K) [$/kWh]
    limits: np.ndarray  # (M, B, S, K - 1) [kWh]


# ---------------------------------------------------------------------------------------------- URDB sell


def sell_tiers_for(tariff) -> np.ndarray | None:
    """The tariff's tiered sell rates: from its URDB extras, else its URDB JSON file, else tier 1 for all."""
    urdb = tariff.extra.get("urdb") or {}
    if urdb.get("sell_tiers") is not None:
        return np.asarray(urdb["sell_tiers"], dtype=float)
    source = Path(str(tariff.source_path or ""))
    if source.suffix.lower() == ".json" and source.is_file():
        try:
            return urdb_sell_tiers(json.loads(source.read_text(encoding="utf-8")), tariff)
        except (ValueError, AttributeError, TypeError):
            pass  # the loader already accepted the file; fall back to its tier-1 sell rates
    sell = tariff.extra.get("sell_rates")
    return None if sell is None else np.asarray(sell, dtype=float)[:, None]


# ---------------------------------------------------------------------------------------------- tiers


def _tier_tables(tariff, det: Determinants, periods: BillPeriods):
    """(the tariff version in force, its energy charges as tier tables)."""
    days = np.maximum(periods.days, 1)
    active = [v for v in tariff.versions if (periods.overlap_days(v.effective, v.expires)[periods.valid] > 0).any()]
    if len(active) != 1:
        raise ProgramError(
            f"{tariff.source_path}: the PySAM metering options bill one tariff version; {len(active)} versions of "
            f"{tariff.code} are in force over the data; bill each version's dates separately"
        )
    n_seasons = len(tariff.season_names)
    season_days = periods.season_days(tariff.month_season, n_seasons)
    season_frac = season_days / days[..., None]
    tables = []
    for charge in active[0].charges:
        if charge.kind in ("rtp", "tax"):
            raise ProgramError(
                f"{tariff.source_path}: the PySAM metering options price URDB energy tiers; a {charge.kind} "
                f"charge ({charge.description}) has no PySAM equivalent; use a program file (tariffs/programs/)"
            )
        if charge.kind == "energy":
            limits = np.zeros(periods.valid.shape + (n_seasons, 0))
            tables.append(_Tiers(charge.description, np.asarray(charge.rates, float)[:, None], limits))
        elif charge.kind == "energy_blocks":
            if len(set(charge.limit_units.flat)) > 1:
                raise ProgramError(
                    f"{tariff.source_path}: the PySAM metering options take one unit for all block limits; "
                    f"{charge.description} mixes {', '.join(sorted(set(charge.limit_units.flat)))}; use a program "
                    "file (tariffs/programs/)")
            kw = billing_demand(tariff, det, periods)
            limits = np.stack([  # (M, B, S, K - 1), each limit by its own unit
                energy_block_limits(charge.limit_units[s], charge.limits[s], periods.proration, season_frac[..., s],
                                    season_days[..., s], kw) for s in range(n_seasons)], axis=2)
            tables.append(_Tiers(charge.description, np.asarray(charge.rates, float), limits))
    return active[0], tables


def proportional_tiers(kwh: np.ndarray, limits: np.ndarray, n_tou: int) -> np.ndarray:
    """(M, B, E, K): each season's total kWh split at the tier bounds, shared out to its buckets in proportion.

    ``kwh`` (M, B, E) [kWh], ``limits`` (M, B, S, K - 1) [kWh] cumulative upper bounds.
    """
    n_seasons, n_tiers = limits.shape[2], limits.shape[3] + 1
    out = np.zeros(kwh.shape + (n_tiers,))
    for s in range(n_seasons):
        part = kwh[..., s * n_tou : (s + 1) * n_tou]
        total = part.sum(axis=-1)
        lower = np.zeros_like(total)
        for k in range(n_tiers):
            upper = limits[..., s, k] if k < n_tiers - 1 else np.inf
            block = np.clip(total, lower, upper) - lower
            share = np.divide(part, total[..., None], out=np.zeros_like(part), where=total[..., None] > 0)
            out[..., s * n_tou : (s + 1) * n_tou, k] = block[..., None] * share
            lower = np.maximum(lower, upper) if k < n_tiers - 1 else lower
    return out


def _chronological(tariff, inputs: PysamInputs | None, channel: str, det_kwh, periods, limits) -> np.ndarray:
    """(M, B, E, K) kWh in time order, or in proportion where that cannot differ (one bucket a season, or no tiers)."""
    n_tou = len(tariff.tou_names)
    if limits.shape[-1] == 0 or n_tou == 1 or not _several_buckets_a_season(det_kwh, n_tou):
        return proportional_tiers(det_kwh, limits, n_tou)
    values = None if inputs is None else getattr(inputs, channel)
    if values is None or inputs.energy_bucket is None:
        raise ProgramError(
            f"{tariff.source_path}: the PySAM net-billing options fill tiers in time order and need the interval "
            "data (bill with `workbench bill` or workbench.billing.bill_series)"
        )
    season = np.arange(tariff.n_energy_buckets) // n_tou
    return chronological_tiers(values, periods.bounds, inputs.energy_bucket, season, limits, tariff.n_energy_buckets)


def _several_buckets_a_season(kwh, n_tou) -> bool:
    used = kwh.reshape(kwh.shape[:-1] + (-1, n_tou)) > 0
    return bool((used.sum(axis=-1) > 1).any())


def _add_energy(items: LineItems, tariff, table: _Tiers, kwh: np.ndarray) -> np.ndarray:
    """Energy line items of (M, B, E, K) kWh at the table's rates; returns their (M, B) total [$]."""
    total = np.zeros(kwh.shape[:2])
    n_tiers = kwh.shape[-1]
    for e in range(kwh.shape[2]):
        for k in range(n_tiers):
            qty = kwh[:, :, e, k]
            if not qty.any():
                continue
            amount = round_cents(qty * table.rates[e, k])
            label = ", ".join(x for x in (tariff.energy_bucket_label(e), f"block {k + 1}" if n_tiers > 1 else "") if x)
            items.add(f"{table.description}, {label}" if label else table.description, "energy", "kWh", qty,
                      table.rates[e, k], amount)
            total = total + amount
    return total


def _sell_value(kwh: np.ndarray, sell: np.ndarray | None) -> np.ndarray:
    """(M, B) [$] of (M, B, E, K) kWh at (E, K') sell rates (a bucket's last tier rate beyond K')."""
    if sell is None:
        return np.zeros(kwh.shape[:2])
    tiers = np.minimum(np.arange(kwh.shape[-1]), sell.shape[1] - 1)
    return (kwh * sell[:, tiers]).sum(axis=(-2, -1))


# ---------------------------------------------------------------------------------------------- billing


def bill_pysam_option(tariff, det: Determinants, periods: BillPeriods, enrollment, true_up: np.ndarray,
                      export_valued: bool = False, sell_rates: np.ndarray | None = None):
    """Line items and bill extras of a PySAM metering option (``enrollment.program.pysam_option``)."""
    option = enrollment.program.pysam_option
    inputs: PysamInputs | None = getattr(enrollment, "pysam_inputs", None)
    sell = inputs.sell_tiers if inputs is not None and inputs.sell_tiers is not None else (
        None if sell_rates is None else np.asarray(sell_rates, float)[:, None])
    valid = periods.valid
    shape = valid.shape
    n_tou = len(tariff.tou_names)
    version, tables = _tier_tables(tariff, det, periods)
    main_limits = tables[0].limits if tables else np.zeros(shape + (len(tariff.season_names), 0))

    base = price(tariff, det, periods)
    items = LineItems()
    _copy(base, items, ("fixed",))
    extras = {}
    earned = np.zeros(shape)
    cashed_kwh = None
    if option in (NET_METERING, DOLLAR_NET_METERING):
        net = det.energy_kwh - det.received_kwh
        if option == NET_METERING:
            billed, extras["kwh_carried"], cashed_kwh, flows = _bank_per_period(tariff, det, periods, net, true_up)
            extras.update(flows)
        else:
            billed = np.maximum(net, 0.0)
            surplus = proportional_tiers(np.maximum(-net, 0.0), main_limits, n_tou)
            earned = _sell_value(surplus, sell)
        ec_gross = sum(_add_energy(items, tariff, t, proportional_tiers(billed, t.limits, n_tou)) for t in tables)
    else:
        ec_gross = sum(_add_energy(items, tariff, t, _chronological(tariff, inputs, "delivered", det.energy_kwh,
                                                                    periods, t.limits)) for t in tables)
        if export_valued:
            earned = det.export_credit
        else:
            exports = _chronological(tariff, inputs, "received", det.received_kwh, periods, main_limits)
            earned = _sell_value(exports, sell)
    ec_gross = np.zeros(shape) + ec_gross
    earned = round_cents(np.where(valid, earned, 0.0))
    _copy(base, items, ("demand", "rider"))

    applied = np.zeros(shape)
    carried = np.zeros(shape)
    paid = np.zeros(shape)
    if option == BUY_ALL_SELL_ALL:  # a sale on the generation meter, not a bill credit: paid whatever the bill
        received = det.received_kwh.sum(axis=-1)
        rate = np.divide(earned, received, out=np.zeros_like(earned), where=received > 0)
        items.add("Generation sold", "credit", "kWh", received, rate, -earned)
        applied = earned
        energy_after_credits = ec_gross
    elif option == NET_METERING:
        energy_after_credits = ec_gross
    else:
        balance = np.zeros(shape[0])
        for b in range(shape[1]):
            available = balance + earned[:, b]
            applied[:, b] = np.minimum(available, np.maximum(ec_gross[:, b], 0.0))
            balance = available - applied[:, b]
            paid[:, b] = np.where(true_up[:, b], balance, 0.0)
            balance = np.where(true_up[:, b], 0.0, balance)
            carried[:, b] = balance
        label = "Net metering credits applied" if option == DOLLAR_NET_METERING else "Export credits applied"
        items.add(label, "credit", "$", applied, -1.0, -applied)
        extras["credit_settled"] = paid  # the whole balance left at the true-up is paid out
        energy_after_credits = ec_gross - applied
    _minimum(version, items, periods, energy_after_credits)
    if (paid != 0).any():
        items.add("Credit balance paid at true-up", "credit", "$", paid, -1.0, -paid)
    if cashed_kwh is not None:
        rate = enrollment.program.true_up.kwh_rate or 0.0
        items.add("Net surplus kWh at true-up", "credit", "kWh", cashed_kwh, -rate,
                  -round_cents(cashed_kwh * rate))
    extras.update(credit_earned=earned, credit_applied=applied, credit_carried=carried, true_up=true_up)
    return ProgramResult(items, extras)


def _copy(source: LineItems, into: LineItems, categories) -> None:
    for j, category in enumerate(source.category):
        if category in categories:
            into.add(source.description[j], category, source.unit[j], source.quantity[j], source.rate[j],
                     source.amount[j], source.version[j])


#: PySAM carries a period's surplus kWh to the period in force at the same weekday hour next month
ROLLOVER_HOURS = (0, 5, 11, 17)


def rollover_targets(tariff) -> np.ndarray:
    """(12, 12, E) the bucket that a bucket's banked kWh move to, from month a to month b (-1: lost).

    PySAM lists, for every month, the energy periods of its weekday schedule at 0, 5, 11 and 17 h; a period's
    surplus moves to the period at the same position of the next month's list (its first position: a period
    at 0 h and 5 h moves as the 0 h one). Surplus in a period that is at none of those hours is lost.
    """
    grid = np.asarray(tariff.energy_grid)
    lists = grid[:, WEEKDAY, [h * 60 for h in ROLLOVER_HOURS]]  # (12, 4) buckets
    out = np.full((12, 12, tariff.n_energy_buckets), -1, dtype=np.int64)
    for a in range(12):
        for e in range(tariff.n_energy_buckets):
            where = np.flatnonzero(lists[a] == e)
            if where.size:
                out[a, :, e] = lists[:, where[0]]
    return out


def _bank_per_period(tariff, det: Determinants, periods: BillPeriods, net: np.ndarray, true_up: np.ndarray):
    """Option 0: kWh banked per ToU period; the month-level running excess is what the true-up cashes out.

    A bill's net import of a period is first met by that period's bank (the surplus rolled over from the
    previous bill, moved to the same time of day); the rest is billed, a net surplus is banked. No bank rolls
    into the bill after the true-up. Returns (billed kWh (M, B, E), kWh banked after each bill (M, B), excess
    kWh cashed out at the true-up (M, B), the bank's flows of each bill (M, B): ``kwh_banked`` (surplus put
    in), ``kwh_used`` (offsetting the bill's imports), ``kwh_settled`` (lost in the move to this bill's periods
    or cleared at the true-up)).
    """
    targets = rollover_targets(tariff)
    month = (periods.start.astype("datetime64[M]").astype(int) % 12).astype(int)  # (M, B) 0-11
    month_net = (det.energy_kwh - det.received_kwh).sum(axis=-1)
    n_meters, n_bills, n_buckets = net.shape
    rows = np.arange(n_meters)[:, None]
    bank = np.zeros((n_meters, n_buckets))
    excess = np.zeros(n_meters)
    billed = np.zeros_like(net)
    banked = np.zeros((n_meters, n_bills))
    cashed = np.zeros((n_meters, n_bills))
    flows = {name: np.zeros((n_meters, n_bills)) for name in ("kwh_banked", "kwh_used", "kwh_settled")}
    for b in range(n_bills):
        before = bank.sum(axis=-1)
        if b > 0:  # move last bill's surplus to this bill's periods (lost where no period matches)
            to = targets[month[:, b - 1], month[:, b]]  # (M, E)
            moved = np.zeros_like(bank)
            np.add.at(moved, (np.broadcast_to(rows, to.shape)[to >= 0], to[to >= 0]), bank[to >= 0])
            bank = np.where(periods.valid[:, b : b + 1], moved, bank)
        flows["kwh_used"][:, b] = np.minimum(bank, np.maximum(net[:, b], 0.0)).sum(axis=-1)
        flows["kwh_banked"][:, b] = np.maximum(-net[:, b], 0.0).sum(axis=-1)
        lost = before - bank.sum(axis=-1)
        value = bank - net[:, b]  # surplus (+) or net import (-) of each period, bank included
        billed[:, b] = np.maximum(-value, 0.0)
        bank = np.maximum(value, 0.0)
        excess = np.maximum(excess - month_net[:, b], 0.0)
        at = true_up[:, b]
        cashed[:, b] = np.where(at, excess, 0.0)
        excess = np.where(at, 0.0, excess)
        flows["kwh_settled"][:, b] = lost + np.where(at, bank.sum(axis=-1), 0.0)
        bank = np.where(at[:, None], 0.0, bank)
        banked[:, b] = bank.sum(axis=-1)
    return billed, banked, cashed, flows


def _minimum(version, items: LineItems, periods: BillPeriods, energy_after_credits) -> None:
    """PySAM's minimum: the top-up from fixed + demand + energy after credits (taken as 0 if below) to it."""
    billed = np.maximum(items.subtotal(("fixed", "demand", "rider")) + energy_after_credits, 0.0)
    for charge in version.charges:
        if charge.kind != "minimum":
            continue
        spec = charge.spec
        if spec.per == "year":
            short = _annual_shortfall(spec.amount, billed, periods)
        else:
            floor = spec.amount * {"bill": 1.0, "day": periods.days, "month": periods.proration}[spec.per]
            short = np.maximum(round_cents(floor) - billed, 0.0)
        short = round_cents(np.where(periods.valid, short, 0.0))
        items.add(spec.description, "minimum", "$", (short > 0).astype(float), short, short)
