"""Billing a customer-generator under a net-metering or net-billing program.

The retail tariff prices what the program says is billed (net kWh per ToU period under net metering,
every imported kWh under net billing); this module adds what the program adds: non-bypassable charges,
export credits, their application and carry-over from bill to bill, and the annual true-up. Everything is
vectorized over meters and sequential over bill periods (a credit carried into a bill depends on the bills
before it).
"""

from __future__ import annotations

import numpy as np

from workbench.calendar.periods import BillPeriods
from workbench.engine.pricing import Determinants, price
from workbench.kernels.money import round_cents
from workbench.nem.programs import Program, ProgramError
from workbench.nem.pysam_options import bill_pysam_option
from workbench.nem.results import Enrollment, ProgramResult, bank_unit, with_bank_flows
from workbench.nem.true_up import true_up_mask
from workbench.nem.true_up import true_up_month as _true_up_month


def retail_energy_rates(tariff, version_index: int = 0) -> np.ndarray:
    """(E,) the retail $/kWh of each energy bucket (first block), summed over the tariff's energy charges."""
    rates = np.zeros(tariff.n_energy_buckets)
    for charge in tariff.versions[version_index].charges:
        if charge.kind == "energy":
            rates += charge.rates
        elif charge.kind == "energy_blocks":
            rates += charge.rates[:, 0]
    return rates


def bank_kwh(det: Determinants, periods: BillPeriods, true_up: np.ndarray, opening: float | np.ndarray = 0.0):
    """Net metering with kWh credits: net each bucket, carry surplus kWh to later bills, cash out at true-up.

    ``opening``: the banked kWh (scalar or (M,)) brought into the first bill.

    Returns (billed energy (M,B,E), banked kWh after each bill (M,B), kWh cashed out (M,B), surplus kWh put in
    the bank by each bill (M,B), banked kWh used by each bill (M,B)).
    """
    net = det.energy_kwh - det.received_kwh  # (M, B, E)
    billed = np.maximum(net, 0.0)
    surplus = np.maximum(-net, 0.0).sum(axis=-1)
    bank = np.zeros(net.shape[0]) + opening
    carried = np.zeros(net.shape[:2])
    cashed = np.zeros(net.shape[:2])
    used_kwh = np.zeros(net.shape[:2])
    for b in range(net.shape[1]):
        owed = billed[:, b].sum(axis=-1)
        used = np.minimum(bank, owed)
        # banked kWh offset the bill's net imports, spread over its buckets in proportion
        share = np.divide(used, owed, out=np.zeros_like(used), where=owed > 0)
        billed[:, b] *= (1.0 - share)[:, None]
        used_kwh[:, b] = used
        bank = bank - used + surplus[:, b]
        cashed[:, b] = np.where(true_up[:, b], bank, 0.0)
        bank = np.where(true_up[:, b], 0.0, bank)
        carried[:, b] = bank
    return billed, carried, cashed, surplus, used_kwh


def bill_with_program(tariff, det: Determinants, periods: BillPeriods, enrollment: Enrollment,
                      sell_rates: np.ndarray | None = None, export_valued: bool = False) -> ProgramResult:
    """Line items of a customer-generator: the tariff on the program's billed kWh, plus credits and true-up.

    Exports are valued (net billing, buy-all/sell-all), in this order: per interval from ``det.export_credit``
    when ``export_valued`` (export values or an export-rate series); the program's flat ``export_rate``; the
    tariff's ``sell_rates`` (E,) per energy bucket (URDB ``sell``).
    """

    program = enrollment.program
    month = _true_up_month(enrollment)
    true_up = true_up_mask(periods, month)
    opening_credit, opening_kwh = _opening(enrollment, det.energy_kwh.shape[0])
    if program.pysam_option is not None:
        if opening_credit.any() or opening_kwh.any():
            raise ProgramError(f"program {program.code}: an opening credit bank is not supported with PySAM's "
                               "metering options; use a program of the book")
        result = bill_pysam_option(tariff, det, periods, enrollment, true_up, export_valued, sell_rates)
        return _true_up_fee(result, program, true_up)
    valid = periods.valid
    shape = valid.shape
    extras = {}

    billed_det = det
    cashed_kwh = None
    if program.kind == "net_metering":
        if program.credits == "kwh":
            billed, carried_kwh, cashed_kwh, banked_kwh, used_kwh = bank_kwh(det, periods, true_up, opening_kwh)
            extras.update(kwh_carried=carried_kwh, kwh_banked=banked_kwh, kwh_used=used_kwh, kwh_settled=cashed_kwh)
        else:
            billed = np.maximum(det.energy_kwh - det.received_kwh, 0.0)
        billed_det = Determinants(**{**det.__dict__, "energy_kwh": billed})
    items = price(tariff, billed_det, periods)
    nbc_index = None
    delivered = det.delivered_kwh
    received = det.received_kwh.sum(axis=-1)
    nbc = program.non_bypassable_rate
    if nbc:
        # on top of retail: every imported kWh; inside retail: only the imported kWh that exports netted away
        # (the billed kWh already paid it in the retail rate)
        charged = np.maximum(delivered - billed_det.energy_kwh.sum(axis=-1), 0.0) if program.non_bypassable_in_retail else delivered
        amount = round_cents(charged * nbc)
        items.add("Non-bypassable charges", "rider", "kWh", charged, nbc, amount)
        nbc_index = len(items.amount) - 1

    # what an exported (or net surplus) kWh earns this bill [$]
    if program.kind == "net_metering":
        surplus = np.maximum(det.received_kwh - det.energy_kwh, 0.0)  # (M, B, E)
        if program.credits == "kwh":
            earned = np.zeros(shape)
        else:
            value = retail_energy_rates(tariff)
            if nbc and program.non_bypassable_in_retail:
                value = np.maximum(value - nbc, 0.0)  # a surplus kWh earns retail minus the NBC
            earned = (surplus * value).sum(axis=-1)
    elif export_valued:
        earned = det.export_credit.copy()
    elif program.export_rate is not None:
        earned = received * program.export_rate
    elif sell_rates is not None:
        earned = (det.received_kwh * sell_rates).sum(axis=-1)
    else:
        raise ProgramError(
            f"program {program.code}: nothing values the exported kWh; give export rates (--export-rates), "
            "an export_rate or export_values in the program, or a tariff with sell rates"
        )
    earned = round_cents(np.where(valid, earned, 0.0))
    extras["credit_earned"] = earned

    if program.kind == "buy_all_sell_all":
        items.add("Generation sold", "credit", "kWh", received, _rate(earned, received), -earned)
        extras["credit_applied"] = earned
        extras["credit_carried"] = np.zeros(shape)
        extras["credit_settled"] = np.zeros(shape)
        return _true_up_fee(ProgramResult(items, extras), program, true_up)

    offsettable = 0.0
    for j, (amount, category) in enumerate(zip(items.amount, items.category, strict=True)):
        if category in program.offsets and j != nbc_index:
            offsettable = offsettable + amount
    offsettable = np.maximum(np.broadcast_to(offsettable, shape), 0.0)

    applied = np.zeros(shape)
    carried = np.zeros(shape)
    paid = np.zeros(shape)
    forfeited = np.zeros(shape)
    settled = np.zeros(shape)  # the credit balance taken out of the bank at the true-up (paid or forfeited) [$]
    balance = opening_credit.copy()  # the bank brought into the first bill (0 when none was given)
    for b in range(shape[1]):
        if program.apply_current_month:
            available = balance + earned[:, b]
            applied[:, b] = np.minimum(available, offsettable[:, b])
            balance = available - applied[:, b]
        else:
            applied[:, b] = np.minimum(balance, offsettable[:, b])
            balance = balance - applied[:, b] + earned[:, b]
        at_true_up = true_up[:, b]
        if program.true_up.leftover in ("pay", "forfeit"):
            settled[:, b] = np.where(at_true_up, balance, 0.0)
        if program.true_up.leftover == "pay":
            paid[:, b] = np.where(at_true_up, round_cents(balance * program.true_up.leftover_rate), 0.0)
            balance = np.where(at_true_up, 0.0, balance)
        elif program.true_up.leftover == "forfeit":
            forfeited[:, b] = np.where(at_true_up, balance, 0.0)
            balance = np.where(at_true_up, 0.0, balance)
        carried[:, b] = balance
    items.add("Credits applied", "credit", "$", applied, -1.0, -applied)
    if (paid != 0).any():
        items.add("Credit balance paid at true-up", "credit", "$", paid, -1.0, -paid)
    if (forfeited != 0).any():
        items.add("Credits forfeited at true-up", "credit", "$", forfeited, 0.0, np.zeros(shape))
    extras.update(credit_applied=applied, credit_carried=carried, credit_settled=settled)

    # net surplus compensation: the 12 months' net surplus kWh at the surplus rate (NEM), banked kWh cash-out
    if program.kind == "net_metering" and program.credits == "dollars" and program.true_up.surplus_rate:
        window = _twelve_month_window(true_up)
        net_surplus = np.zeros(shape)
        for b in np.flatnonzero(true_up.any(axis=0)):
            in_window = window[:, : b + 1] == window[:, b : b + 1]
            net = np.where(in_window, received_b(det)[:, : b + 1] - delivered[:, : b + 1], 0.0).sum(axis=1)
            net_surplus[:, b] = np.where(true_up[:, b], np.maximum(net, 0.0), 0.0)
        nsc = round_cents(net_surplus * program.true_up.surplus_rate)
        items.add("Net surplus compensation", "credit", "kWh", net_surplus, -program.true_up.surplus_rate, -nsc)
    if cashed_kwh is not None:
        rate = program.true_up.kwh_rate if program.true_up.kwh_rate is not None else program.true_up.surplus_rate
        cash = round_cents(cashed_kwh * rate)
        items.add("Banked kWh cashed out at true-up", "credit", "kWh", cashed_kwh, -rate, -cash)
    extras["true_up"] = true_up
    return _true_up_fee(ProgramResult(items, extras), program, true_up, opening_credit, opening_kwh)


def received_b(det: Determinants) -> np.ndarray:
    return det.received_kwh.sum(axis=-1)


def _twelve_month_window(true_up: np.ndarray) -> np.ndarray:
    """(M, B) index of the true-up year each bill belongs to (bills after a true-up start the next)."""
    starts = np.zeros_like(true_up, dtype=int)
    starts[:, 1:] = true_up[:, :-1]
    return np.cumsum(starts, axis=1)


def _rate(amount, quantity):
    return np.divide(amount, quantity, out=np.zeros_like(amount), where=quantity != 0)


def _opening(enrollment: Enrollment, n_meters: int) -> tuple[np.ndarray, np.ndarray]:
    """(M,) the opening $ credit and banked kWh of each meter, refused where the program cannot hold them."""
    credit = np.broadcast_to(np.asarray(enrollment.opening_credit, dtype=float), (n_meters,)).copy()
    kwh = np.broadcast_to(np.asarray(enrollment.opening_kwh, dtype=float), (n_meters,)).copy()
    program = enrollment.program
    if not (np.isfinite(credit).all() and np.isfinite(kwh).all() and (credit >= 0).all() and (kwh >= 0).all()):
        raise ProgramError(f"program {program.code}: an opening bank must be a finite amount >= 0")
    unit = bank_unit(program)
    if (kwh.any() and unit != "kwh") or (credit.any() and unit != "dollars"):
        held = "kWh" if kwh.any() else "$ credit"
        raise ProgramError(f"program {program.code}: an opening bank in {held} given, but the program banks "
                           f"{'nothing' if unit is None else 'banked kWh' if unit == 'kwh' else '$ credit'}")
    return credit, kwh


def _true_up_fee(result: ProgramResult, program: Program, true_up: np.ndarray, opening_credit=0.0,
                 opening_kwh=0.0) -> ProgramResult:
    # every settlement's bills show the balance they bring in (the first bill: the opening bank)
    with_bank_flows(result.extras, opening_credit, opening_kwh)
    if program.true_up.fee:
        result.items.add("True-up fee", "fixed", "bill", true_up.astype(float), program.true_up.fee,
                         true_up * program.true_up.fee)
    return result
