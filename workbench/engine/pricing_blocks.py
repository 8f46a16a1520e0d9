"""Energy and demand blocks for pricing: splitting kWh (or kW) into blocks, and an energy block charge's lines.

The block split depends on the determinants, the tariff's seasons and the block limits, never on a price, so
:func:`_energy_blocks` keeps it in the pricing memo (``workbench.engine.pricing_memo``) and a block price edit
only multiplies and rounds.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.block_limits import check_crossing, energy_block_limits


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
    """Each energy bucket's kWh split into the charge's blocks: a list over buckets of K (M, B) arrays."""
    spec = charge.spec.blocks
    n_tou = len(tariff.tou_names)
    kwh = det.energy_kwh
    out = []
    for s in range(len(tariff.season_names)):
        units = charge.limit_units[s]
        raw = energy_block_limits(units, charge.limits[s], ctx.proration, ctx.season_frac[..., s],
                                  ctx.season_days[..., s], ctx.bill_kw)  # (M, B, K-1) [kWh]

        def checked(amount, raw=raw, units=units, s=s):
            # a season without days in the period has no kWh in it: its limits do not matter
            valid = ctx.valid & (ctx.season_days[..., s] > 0)
            return check_crossing(raw, amount, valid, units, charge.limits[s], ctx.bill_kw, ctx.describe)

        if spec.scope == "total":
            season_total = _sum_last(kwh[..., s * n_tou : (s + 1) * n_tou])
            blocks = _blocks(season_total, checked(season_total))
        for e in range(s * n_tou, (s + 1) * n_tou):
            if spec.scope == "total":
                share = np.divide(kwh[..., e], season_total, out=np.zeros_like(season_total), where=season_total > 0)
                out.append([block * share for block in blocks])
            else:
                out.append(_blocks(kwh[..., e], checked(kwh[..., e])))
    return out
