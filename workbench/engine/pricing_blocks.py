"""Energy and demand blocks for pricing: splitting kWh (or kW) into blocks, and an energy block charge's lines.

The block split depends on the determinants, the tariff's seasons and the block limits, never on a price, so
:func:`_energy_blocks` keeps it in the pricing memo (``workbench.engine.pricing_memo``) and a block price edit
only multiplies and rounds.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.block_limits import check_crossing, energy_block_limits
from workbench.kernels.pricing_lines import block_split


def _sum_last(values: np.ndarray) -> np.ndarray:
    """Sum over a short last axis (buckets) by adding slices: numpy's strided reduction is slower here."""
    total = values[..., 0].copy()
    for i in range(1, values.shape[-1]):
        total += values[..., i]
    return total


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


def _join(description, label):
    return f"{description}, {label}" if label else description


def _energy_blocks(tariff, charge, det, ctx, add, memo=None):
    """Lines of an energy block charge; ``memo`` (ChargeMemo, version key): keep the block split, which no price
    changes, so a block price edit only multiplies and rounds."""
    key = None if memo is None else (memo[1], b"blocks", memo[0].charge_key(charge, prices=False))
    split = None if key is None else memo[0].get(key)
    if split is None:
        split = _energy_block_split(tariff, charge, det, ctx)
        if key is not None:
            memo[0].put(key, split)
    n_blocks = charge.rates.shape[1]
    for e, qty in enumerate(split):
        label = tariff.energy_bucket_label(e)
        for k in range(n_blocks):
            block = f"block {k + 1}" if n_blocks > 1 else ""
            add(_join(charge.description, ", ".join(x for x in (label, block) if x)), "energy", "kWh",
                qty[k], charge.rates[e, k])


def _energy_block_split(tariff, charge, det, ctx) -> list:
    """Each energy bucket's kWh split into the charge's blocks: a list over buckets of K (M, B) arrays, views of
    one (E, K, M, B) block of ``ctx.slots`` written in one pass (``workbench.kernels.pricing_lines.block_split``)."""
    spec = charge.spec.blocks
    n_tou = len(tariff.tou_names)
    kwh = det.energy_kwh
    scope_total = spec.scope == "total"
    n_blocks = charge.rates.shape[1]
    out = []
    for s in range(len(tariff.season_names)):
        units = charge.limit_units[s]
        limits = energy_block_limits(units, charge.limits[s], ctx.proration, ctx.season_frac[..., s],
                                     ctx.season_days[..., s], ctx.bill_kw)  # (M, B, K-1) [kWh]
        first, last = s * n_tou, (s + 1) * n_tou
        if limits.shape[-1] >= 2:  # limits of different units may cross: refuse such bills, else make them monotone
            # a season without days in the period has no kWh in it: its limits do not matter
            valid = ctx.valid & (ctx.season_days[..., s] > 0)
            split_kwh = [_sum_last(kwh[..., first:last])] if scope_total else [kwh[..., e] for e in range(first, last)]
            for amount in split_kwh:
                checked = check_crossing(limits, amount, valid, units, charge.limits[s], ctx.bill_kw, ctx.describe)
            limits = checked
        split = ctx.slots.take((last - first) * n_blocks).reshape((last - first, n_blocks) + kwh.shape[:2])
        block_split(kwh, first, last, np.ascontiguousarray(limits, dtype=float), scope_total, split)
        out.extend(list(bucket) for bucket in split)
    return out
