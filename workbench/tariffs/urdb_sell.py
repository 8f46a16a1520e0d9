"""URDB ``sell`` rates as a table per energy bucket and tier (what PySAM's metering options pay for exports).

Tariff data, read from the URDB item; the net-metering options in ``workbench.nem`` price with it.
"""

from __future__ import annotations

import numpy as np


def urdb_sell_tiers(item: dict, tariff) -> np.ndarray:
    """(E, K) the URDB ``sell`` rate [$/kWh] of each energy bucket and tier (absent = 0, as in URDB and PySAM).

    Buckets map to URDB periods by their ToU name (``p1`` = period 0, as ``workbench.tariffs.urdb`` names
    them); a period with fewer tiers keeps its last tier's sell rate, as it keeps its last buy rate.
    """
    if "items" in item:
        item = item["items"][0]
    structure = {str(k).lower(): v for k, v in item.items()}.get("energyratestructure") or []
    n_tiers = max([len(tiers) for tiers in structure] or [1])
    out = np.zeros((tariff.n_energy_buckets, n_tiers))
    for e in range(tariff.n_energy_buckets):
        p = _urdb_period(tariff.tou_names[e % len(tariff.tou_names)])
        tiers = structure[p] if p is not None and p < len(structure) else []
        for k in range(n_tiers):
            if tiers:
                out[e, k] = float(tiers[min(k, len(tiers) - 1)].get("sell", 0) or 0)
    return out


def _urdb_period(name: str) -> int | None:
    return int(name[1:]) - 1 if name.startswith("p") and name[1:].isdigit() else None
