"""Slow, obviously-correct reference for the scan kernel (``workbench/kernels/scan.py``'s module docstring).

Plain Python loops over intervals; nothing here is fast, so that each step can be checked against the
documentation line by line.
"""

from __future__ import annotations

import math

# ---------------------------------------------------------------------------------------------------- scan


def reference_scan(
    delivered_row, bounds_row, energy_bucket, demand_bucket, window, rolling, kw_factor, block_pos=None,
    rtp_price=None, cp_flag=None, *, n_energy=None, n_demand=None, received_row=None, quality_row=None,
    export_price=None,
):
    """One meter's determinants with plain loops (see ``workbench.kernels.scan``'s module docstring).

    For each bill period ``b`` (intervals ``bounds_row[b]`` to ``bounds_row[b + 1]``):

    - energy / received kWh summed per energy bucket (NaN = no read: not summed, counted missing);
    - demand windows never reach outside the period. ``window == 1``: each interval alone. Rolling: the
      ``window`` intervals ending at ``t``, once ``window`` intervals of the period have passed. Block: the
      intervals since the last ``block_pos == 0`` (or the period's start), measured when
      ``block_pos == window - 1``. A NaN counts as 0 kWh inside a window. kW = kWh × ``kw_factor``;
    - the peak is the highest window (at least 0); a ToU peak is the highest window whose last interval is in
      that demand bucket (-1: none); the coincident-peak demand is the mean of the windows measured at
      flagged intervals; rtp cost = Σ kWh × price over present reads; export credit = Σ received kWh ×
      export value over present received reads.

    Returns a dict of lists: energy_kwh (B × E), received_kwh (B × E), peak_kw (B), tou_peak_kw (B × D),
    cp_kw (B), rtp_cost (B), export_credit (B), counts (B × [present, missing, estimated]).
    """
    n_times = len(delivered_row)
    if n_energy is None:
        n_energy = max(int(e) for e in energy_bucket) + 1 if n_times else 1
    if n_demand is None:
        n_demand = max([int(d) for d in demand_bucket] + [0]) + 1
    n_demand = max(n_demand, 1)
    received_row = [0.0] * n_times if received_row is None else received_row
    out = {"energy_kwh": [], "received_kwh": [], "peak_kw": [], "tou_peak_kw": [], "cp_kw": [], "rtp_cost": [],
           "export_credit": [], "counts": []}
    for b in range(len(bounds_row) - 1):
        start, stop = int(bounds_row[b]), int(bounds_row[b + 1])
        energy = [0.0] * n_energy
        received = [0.0] * n_energy
        tou_peak = [0.0] * n_demand
        peak = 0.0
        cp_values = []
        rtp = 0.0
        export = 0.0
        present = missing = estimated = 0
        for t in range(start, stop):
            value = float(delivered_row[t])
            if math.isnan(value):
                missing += 1
            else:
                present += 1
                energy[int(energy_bucket[t])] += value
                if rtp_price is not None and len(rtp_price):
                    rtp += value * float(rtp_price[t])
            r = float(received_row[t])
            if not math.isnan(r):
                received[int(energy_bucket[t])] += r
                if export_price is not None and len(export_price):
                    export += r * float(export_price[t])
            if quality_row is not None and len(quality_row) and int(quality_row[t]) == 1:
                estimated += 1

            # which intervals make up the demand window measured at t (None: no window ends at t)
            if window == 1:
                members = [t]
            elif rolling:
                members = list(range(t - window + 1, t + 1)) if t - window + 1 >= start else None
            else:
                if int(block_pos[t]) != window - 1:
                    members = None
                else:
                    first = t
                    while first > start and int(block_pos[first]) != 0:
                        first -= 1
                    members = list(range(first, t + 1))
            if members is None:
                continue
            kwh = 0.0
            for i in members:
                v = float(delivered_row[i])
                kwh += 0.0 if math.isnan(v) else v
            kw = kwh * kw_factor
            peak = max(peak, kw)
            d = int(demand_bucket[t])
            if d >= 0:
                tou_peak[d] = max(tou_peak[d], kw)

        # coincident peak: demand over the `window` intervals starting at each flagged interval (inside the period)
        if cp_flag is not None and len(cp_flag):
            for t in range(start, stop):
                if bool(cp_flag[t]) and t + window <= stop:
                    kwh = sum(0.0 if math.isnan(float(delivered_row[i])) else float(delivered_row[i])
                              for i in range(t, t + window))
                    cp_values.append(kwh * kw_factor)
        out["energy_kwh"].append(energy)
        out["received_kwh"].append(received)
        out["peak_kw"].append(peak)
        out["tou_peak_kw"].append(tou_peak)
        out["cp_kw"].append(sum(cp_values) / len(cp_values) if cp_values else 0.0)
        out["rtp_cost"].append(rtp)
        out["export_credit"].append(export)
        out["counts"].append([present, missing, estimated])
    return out
