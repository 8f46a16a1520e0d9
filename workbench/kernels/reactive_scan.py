"""The reactive scan: kVARh reads into the determinants of kVA demand, $/kVAR and power-factor charges.

Run only for a tariff that needs them (``CompiledTariff.needs_reactive``), beside the energy scan
(:mod:`workbench.kernels.scan`), over the same bill periods and demand windows. For each meter ``m`` and bill
period ``b``:

- ``kvarh[m, b]``         reactive energy of the period [kVARh] (lagging)
- ``max_kvar[m, b]``      highest reactive demand over the demand windows [kVAR]
- ``kw_at_peak[m, b]``    the kW peak (the first window of the highest kW, as the energy scan finds it) [kW]
- ``kvar_at_peak[m, b]``  the reactive demand of that same window [kVAR]
- ``peak_kva[m, b]``      highest apparent demand sqrt(kW² + kVAR²) of one window [kVA]
- ``tou_peak_kva[m, b, d]`` the same inside each demand bucket ``d``
- ``kvar_missing[m, b]``  intervals of the period with no reactive read (NaN)

A window's kW and kVAR are the sums of its intervals × ``kw_factor``; a missing read counts as 0 in a window
(and is counted in ``kvar_missing``, which the pricing refuses: a period with missing kVARh is not billed as
if its power factor were better than measured).
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _reactive_meter(delivered, reactive, bounds, demand_bucket, block_pos, window, rolling, kw_factor,
                    kvarh, max_kvar, kw_at_peak, kvar_at_peak, peak_kva, tou_peak_kva, kvar_missing):
    ring_d = np.zeros(max(window, 1))
    ring_q = np.zeros(max(window, 1))
    for b in range(bounds.shape[0] - 1):
        total_q = 0.0
        missing = 0
        top_kw = -1.0
        top_kw_q = 0.0
        top_q = 0.0
        top_kva = 0.0
        sum_d = 0.0
        sum_q = 0.0
        filled = 0
        for i in range(window):
            ring_d[i] = 0.0
            ring_q[i] = 0.0
        for t in range(bounds[b], bounds[b + 1]):
            d = delivered[t]
            if d != d:
                d = 0.0
            q = reactive[t]
            if q != q:
                missing += 1
                q = 0.0
            else:
                total_q += q
            if window == 1:
                sum_d = d
                sum_q = q
                complete = True
            elif rolling:
                slot = filled % window
                sum_d += d - ring_d[slot]
                sum_q += q - ring_q[slot]
                ring_d[slot] = d
                ring_q[slot] = q
                filled += 1
                complete = filled >= window
            else:
                if block_pos[t] == 0:
                    sum_d = 0.0
                    sum_q = 0.0
                sum_d += d
                sum_q += q
                complete = block_pos[t] == window - 1
            if complete:
                kw = sum_d * kw_factor
                kvar = sum_q * kw_factor
                kva = np.sqrt(kw * kw + kvar * kvar)
                if kw > top_kw:
                    top_kw = kw
                    top_kw_q = kvar
                if kvar > top_q:
                    top_q = kvar
                if kva > top_kva:
                    top_kva = kva
                db = demand_bucket[t]
                if db >= 0 and kva > tou_peak_kva[b, db]:
                    tou_peak_kva[b, db] = kva
        kvarh[b] = total_q
        max_kvar[b] = top_q
        kw_at_peak[b] = max(top_kw, 0.0)
        kvar_at_peak[b] = top_kw_q
        peak_kva[b] = top_kva
        kvar_missing[b] = missing


@njit(parallel=True, cache=True)
def _reactive_parallel(delivered, reactive, bounds, demand_bucket, block_pos, window, rolling, kw_factor,
                       kvarh, max_kvar, kw_at_peak, kvar_at_peak, peak_kva, tou_peak_kva, kvar_missing):
    for m in prange(delivered.shape[0]):
        _reactive_meter(delivered[m], reactive[m], bounds[m], demand_bucket, block_pos, window, rolling, kw_factor,
                        kvarh[m], max_kvar[m], kw_at_peak[m], kvar_at_peak[m], peak_kva[m], tou_peak_kva[m],
                        kvar_missing[m])


@njit(cache=True)
def _reactive_serial(delivered, reactive, bounds, demand_bucket, block_pos, window, rolling, kw_factor,
                     kvarh, max_kvar, kw_at_peak, kvar_at_peak, peak_kva, tou_peak_kva, kvar_missing):
    for m in range(delivered.shape[0]):
        _reactive_meter(delivered[m], reactive[m], bounds[m], demand_bucket, block_pos, window, rolling, kw_factor,
                        kvarh[m], max_kvar[m], kw_at_peak[m], kvar_at_peak[m], peak_kva[m], tou_peak_kva[m],
                        kvar_missing[m])


REACTIVE_OUTPUTS = ("kvarh", "max_kvar", "kw_at_peak", "kvar_at_peak", "peak_kva", "tou_peak_kva", "kvar_missing")


def scan_reactive(delivered, reactive, bounds, demand_bucket, n_demand, *, block_pos=None, window=1, rolling=False,
                  kw_factor=4.0, parallel=True) -> dict:
    """Scan ``(meter, time)`` kWh and kVARh arrays into the reactive determinants (module docstring).

    delivered : (M, T) [kWh per interval]; reactive : (M, T) [kVARh per interval], NaN = no read;
    bounds : (M, B + 1) int64; demand_bucket : (T,) int16 (-1 none); block_pos, window, rolling, kw_factor
    as :func:`workbench.kernels.scan.scan_determinants`.
    """
    n_meters, n_times = delivered.shape
    n_periods = bounds.shape[1] - 1
    out = {name: np.zeros((n_meters, n_periods)) for name in REACTIVE_OUTPUTS}
    out["tou_peak_kva"] = np.zeros((n_meters, n_periods, max(n_demand, 1)))
    out["kvar_missing"] = np.zeros((n_meters, n_periods), np.int64)
    block_pos = np.zeros(n_times, np.int16) if block_pos is None else np.asarray(block_pos, np.int16)
    fn = _reactive_parallel if parallel else _reactive_serial
    fn(np.ascontiguousarray(delivered, np.float64), np.ascontiguousarray(reactive, np.float64),
       np.ascontiguousarray(bounds, np.int64), np.asarray(demand_bucket, np.int16), block_pos, int(window),
       bool(rolling), float(kw_factor), *(out[name] for name in REACTIVE_OUTPUTS))
    return out
