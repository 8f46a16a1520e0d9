"""What settlement works on and returns: a customer's enrollment, and a program's line items with extras.

Apart from ``billing`` (the program rules) and ``pysam_options`` (PySAM's metering options), which both use
them, so that neither has to import the other for its types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.engine.pricing import LineItems
from workbench.nem.programs import Program


@dataclass
class PysamInputs:
    """What the PySAM options need beyond the determinants: interval channels and tiered sell rates."""

    delivered: np.ndarray | None = None  # (M, T) [kWh] per interval (chronological tiers)
    received: np.ndarray | None = None  # (M, T) [kWh]
    energy_bucket: np.ndarray | None = None  # (T,) energy bucket of each interval
    sell_tiers: np.ndarray | None = None  # (E, K) [$/kWh] URDB ``sell`` per energy bucket and tier


@dataclass
class Enrollment:
    """A customer's place in a program: where its 12-month true-up cycle starts and which values apply."""

    program: Program
    pto_date: np.datetime64 | None = None  # permission to operate (enrollment) date
    true_up_month: int | None = None  # overrides the program's (1-12)
    # interval channels and tiered sell rates, for the PySAM metering options (workbench.nem.pysam_options)
    pysam_inputs: PysamInputs | None = None
    # the bank brought into the first bill computed (an enrollment file's opening_credit / opening_kwh): a scalar
    # or (M,) per meter; it enters the bank walk at bill 0 and is settled as the program says at a true-up
    opening_credit: float | np.ndarray = 0.0  # [$] dollar credit (net billing, net metering with $ credits)
    opening_kwh: float | np.ndarray = 0.0  # [kWh] banked kWh (net metering with kWh credits)


def bank_unit(program: Program) -> str | None:
    """What a program banks from bill to bill: ``"kwh"``, ``"dollars"``, or None (buy-all/sell-all banks nothing)."""
    if program.kind == "buy_all_sell_all":
        return None
    return "kwh" if program.kind == "net_metering" and program.credits == "kwh" else "dollars"


@dataclass
class ProgramResult:
    items: LineItems
    extras: dict = field(default_factory=dict)  # (M, B) arrays shown on bills: credit_earned, credit_applied, ...


def brought_forward(carried: np.ndarray, opening: float | np.ndarray = 0.0) -> np.ndarray:
    """(M, B) the balance each bill brings in: the previous bill's carried balance, ``opening`` (scalar or (M,))
    for the first bill.

    A settlement's bank starts at the opening balance (0 when none was given), so its first bill brings that in;
    a bill then shows brought forward + earned - applied - settled at the true-up = carried forward.
    """
    carried = np.asarray(carried, dtype=float)
    out = np.zeros_like(carried)
    if out.shape[1]:
        out[:, 0] = opening
    out[:, 1:] = carried[:, :-1]
    return out


def with_bank_flows(extras: dict, opening_credit: float | np.ndarray = 0.0,
                    opening_kwh: float | np.ndarray = 0.0) -> dict:
    """``extras`` with the balances brought in (``credit_brought``, ``kwh_brought``) beside those carried out."""
    if "credit_carried" in extras:
        extras["credit_brought"] = brought_forward(extras["credit_carried"], opening_credit)
    if "kwh_carried" in extras:
        extras["kwh_brought"] = brought_forward(extras["kwh_carried"], opening_kwh)
    return extras
