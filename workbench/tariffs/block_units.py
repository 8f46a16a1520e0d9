"""The unit of each energy block limit, when one charge's limits mix units.

Real tariffs bound their blocks in more than one unit: a first block of 350 kWh, then blocks up to 530 and
685 kWh per kW of billing demand (APS E-36); kWh in some months and kWh per day in others. Each limit keeps
its own unit and becomes kWh per bill (:mod:`workbench.engine.block_limits`); limits of different units are
only comparable once a bill's demand and days are known, so here they are checked increasing only against
the limits before them of the same unit.
"""

from __future__ import annotations

import numpy as np

#: units whose limits scale with billing demand (the scan must measure demand for them)
DEMAND_UNITS = ("kWh/kW", "kWh/kW/day")


def limit_units(blocks, seasons: list[str], n_limits: int, where, path: str) -> np.ndarray:
    """(n_seasons, n_limits) object array: the unit of every limit (``blocks.unit`` unless ``blocks.units``)."""
    out = np.full((len(seasons), n_limits), blocks.unit, dtype=object)
    value = blocks.units
    if value is None:
        return out
    if isinstance(value, list):
        rows = {s: value for s in seasons}
    else:
        unknown = sorted(set(value) - set(seasons))
        if unknown:
            raise where.error(path, f"unknown season(s) {unknown}; seasons are {seasons}")
        missing = [s for s in seasons if s not in value]
        if missing:
            raise where.error(path, f"no block units for season(s) {missing}")
        rows = value
    for i, season in enumerate(seasons):
        row = rows[season]
        if len(row) != n_limits:
            at = path if isinstance(value, list) else f"{path}.{season}"
            raise where.error(at, f"{len(row)} units for {n_limits} block limits; give one unit per limit")
        out[i] = row
    return out


def check_limits(rows, units: np.ndarray, seasons: list[str], where, path: str, keyed: bool) -> None:
    """Every limit positive; each larger than the limits before it that have the same unit."""
    for s, (season, row) in enumerate(zip(seasons, rows, strict=True)):
        at = f"{path}.{season}" if keyed else path
        bad = any(x <= 0 for x in row) or any(
            row[k] <= max(row[j] for j in range(k) if units[s, j] == units[s, k])
            for k in range(len(row)) if any(units[s, j] == units[s, k] for j in range(k)))
        if bad:
            mixed = sorted(set(units[s])) if len(set(units[s])) > 1 else None
            raise where.error(at, f"block limits {list(row)} must be positive and strictly increasing (upper bound "
                                  "of each block but the last)"
                                  + (f"; limits of one unit are compared with each other ({', '.join(mixed)}), "
                                     "limits of different units on each bill" if mixed else ""))
