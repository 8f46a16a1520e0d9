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


@dataclass
class ProgramResult:
    items: LineItems
    extras: dict = field(default_factory=dict)  # (M, B) arrays shown on bills: credit_earned, credit_applied, ...


def brought_forward(carried: np.ndarray) -> np.ndarray:
    """(M, B) the balance each bill brings in: the previous bill's carried balance (none before the first).

    Every settlement starts with an empty bank, so the first bill of a settlement brings in 0; a bill then
    shows brought forward + earned - applied - settled at the true-up = carried forward.
    """
    carried = np.asarray(carried, dtype=float)
    out = np.zeros_like(carried)
    out[:, 1:] = carried[:, :-1]
    return out


def with_bank_flows(extras: dict) -> dict:
    """``extras`` with the balances brought in (``credit_brought``, ``kwh_brought``) beside those carried out."""
    if "credit_carried" in extras:
        extras["credit_brought"] = brought_forward(extras["credit_carried"])
    if "kwh_carried" in extras:
        extras["kwh_brought"] = brought_forward(extras["kwh_carried"])
    return extras
