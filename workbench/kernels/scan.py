"""The scan: one pass over every interval of every meter into billing determinants.

For each meter ``m`` and bill period ``b`` (intervals ``bounds[m, b]`` to ``bounds[m, b + 1]``):

- ``energy_kwh[m, b, e]``    delivered kWh in energy bucket ``e`` (season × ToU period)
- ``received_kwh[m, b, e]``  received kWh in energy bucket ``e``
- ``peak_kw[m, b]``          highest demand [kW] over the demand interval (block or rolling)
- ``tou_peak_kw[m, b, d]``   highest demand in demand bucket ``d`` (0 where the bucket never occurs)
- ``cp_kw[m, b]``            mean demand over the demand windows that start at the flagged system-peak intervals
- ``rtp_cost[m, b]``         sum of delivered kWh × real-time price [$]
- ``export_credit[m, b]``    sum of received kWh × export value [$] (net billing)
- ``counts[m, b, :]``        intervals in the period: [present, missing (NaN), estimated]

Demand windows do not cross bill-period boundaries (the demand register resets at each read). A missing
interval (NaN) counts as 0 kWh in a demand window and is counted as missing.
"""

import numpy as np
from numba import njit, prange

from workbench.kernels.run_sums import _no_reads, _run_sum_max
from workbench.kernels.scan_block import _block_runs, _first_run, _same_bounds, _segments_rest

N_COUNTS = 3  # present, missing, estimated


@njit(cache=True, nogil=True)
def _scan_meter(
    delivered, received, quality, bounds, energy_bucket, demand_bucket, block_pos, window, rolling, kw_factor,
    rtp_price, export_price, cp_flag, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw, rtp_cost, export_credit, counts,
):
    n_periods = bounds.shape[0] - 1
    has_rtp = rtp_price.shape[0] > 0
    has_export = export_price.shape[0] > 0
    has_quality = quality.shape[0] > 0
    ring = np.zeros(max(window, 1), dtype=np.float64)
    for b in range(n_periods):
        start = bounds[b]
        stop = bounds[b + 1]
        peak = 0.0
        cp_sum = 0.0
        cp_n = 0
        rtp = 0.0
        export = 0.0
        present = 0
        missing = 0
        estimated = 0
        window_sum = 0.0
        filled = 0
        for i in range(window):
            ring[i] = 0.0
        for t in range(start, stop):
            d = delivered[t]
            r = received[t]
            e = energy_bucket[t]
            if d != d:  # NaN: no read
                missing += 1
                d = 0.0
            else:
                present += 1
                energy_kwh[b, e] += d
                if has_rtp:
                    rtp += d * rtp_price[t]
            if r == r:
                received_kwh[b, e] += r
                if has_export:
                    export += r * export_price[t]
            if has_quality and quality[t] == 1:
                estimated += 1
            # demand over the window ending at t
            if window == 1:
                kw = d * kw_factor
                complete = True
            elif rolling:
                slot = filled % window
                window_sum += d - ring[slot]
                ring[slot] = d
                filled += 1
                kw = window_sum * kw_factor
                complete = filled >= window
            else:
                if block_pos[t] == 0:
                    window_sum = 0.0
                window_sum += d
                kw = window_sum * kw_factor
                complete = block_pos[t] == window - 1
            if complete:
                if kw > peak:
                    peak = kw
                db = demand_bucket[t]
                if db >= 0 and kw > tou_peak_kw[b, db]:
                    tou_peak_kw[b, db] = kw
            # coincident peak: demand over the `window` intervals that start at the flagged interval
            if cp_flag[t] and t + window <= stop:
                cp_acc = 0.0
                for i in range(t, t + window):
                    v = delivered[i]
                    if v == v:
                        cp_acc += v
                cp_sum += cp_acc * kw_factor
                cp_n += 1
        peak_kw[b] = peak
        cp_kw[b] = cp_sum / cp_n if cp_n > 0 else 0.0
        rtp_cost[b] = rtp
        export_credit[b] = export
        counts[b, 0] = present
        counts[b, 1] = missing
        counts[b, 2] = estimated


@njit(cache=True, nogil=True)
def _meter_runs(x, bounds, seg_start, seg_energy, seg_demand, kw_factor, energy_kwh, peak_kw, tou_peak_kw, counts):
    """One meter's delivered kWh per bucket, peaks and missing counts (counts[:, 0:2]) over the runs of
    intervals that share both buckets, each run one vector pass (``run_sums._run_sum_max``)."""
    n_seg = seg_start.shape[0] - 1
    for b in range(bounds.shape[0] - 1):
        start = bounds[b]
        stop = bounds[b + 1]
        if stop <= start:
            continue
        peak = 0.0
        missing = 0
        k = _first_run(seg_start, start)
        while k < n_seg and seg_start[k] < stop:
            a = max(seg_start[k], start)
            z = min(seg_start[k + 1], stop)
            total, top, n_nan = _run_sum_max(x, a, z)
            energy_kwh[b, seg_energy[k]] += total
            missing += n_nan
            kw = top * kw_factor
            if kw > peak:
                peak = kw
            db = seg_demand[k]
            if db >= 0 and kw > tou_peak_kw[b, db]:
                tou_peak_kw[b, db] = kw
            k += 1
        peak_kw[b] = peak
        counts[b, 0] = (stop - start) - missing
        counts[b, 1] = missing


@njit(cache=True, nogil=True)
def _scan_block_segments(
    delivered, received, received_bits, quality, rows, blk, block, bounds, seg_start, seg_energy, seg_demand, kw_factor,
    rtp_price, export_price, cp_index, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw, rtp_cost, export_credit, counts,
):
    """The scan for single-interval demand of meters ``blk * 4 ..`` (up to four): in lockstep when ``block``
    and they share their bounds (``scan_block``), else one by one."""
    m0 = blk * 4
    together = block and _same_bounds(bounds, m0)
    if together:  # the received bits are ORed in the same walk (one pass over both rows of a meter)
        bits = _block_runs(delivered, received_bits, rows, m0, bounds[m0], seg_start, seg_energy, seg_demand,
                           kw_factor, energy_kwh, peak_kw, tou_peak_kw, counts)
    for m in range(m0, min(m0 + 4, rows.shape[0])):
        r = rows[m]  # the meter's row of the input arrays; its outputs are row m
        if together:
            # most meters never export: received reads that are all signed zeros need no sums per run
            has_received = not _no_reads(bits[m - m0])
        else:
            _meter_runs(delivered[r], bounds[m], seg_start, seg_energy, seg_demand, kw_factor, energy_kwh[m],
                        peak_kw[m], tou_peak_kw[m], counts[m])
            has_received = not _no_reads(received_bits[r])
        _segments_rest(delivered[r], received[r], has_received, quality[r], bounds[m], seg_start, seg_energy,
                       kw_factor, rtp_price, export_price, cp_index, received_kwh[m], cp_kw[m], rtp_cost[m],
                       export_credit[m], counts[m])


@njit(parallel=True, cache=True, nogil=True)
def _scan_segments_parallel(
    delivered, received, received_bits, quality, rows, block, bounds, seg_start, seg_energy, seg_demand, kw_factor,
    rtp_price, export_price, cp_index, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw, rtp_cost, export_credit, counts,
):
    for blk in prange((rows.shape[0] + 3) // 4):
        _scan_block_segments(
            delivered, received, received_bits, quality, rows, blk, block, bounds, seg_start, seg_energy, seg_demand,
            kw_factor, rtp_price, export_price, cp_index, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw,
            rtp_cost, export_credit, counts,
        )


@njit(cache=True)
def _scan_segments_serial(
    delivered, received, received_bits, quality, rows, block, bounds, seg_start, seg_energy, seg_demand, kw_factor,
    rtp_price, export_price, cp_index, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw, rtp_cost, export_credit, counts,
):
    for blk in range((rows.shape[0] + 3) // 4):
        _scan_block_segments(
            delivered, received, received_bits, quality, rows, blk, block, bounds, seg_start, seg_energy, seg_demand,
            kw_factor, rtp_price, export_price, cp_index, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw,
            rtp_cost, export_credit, counts,
        )


@njit(parallel=True, cache=True, nogil=True)
def _scan_parallel(
    delivered, received, quality, rows, bounds, energy_bucket, demand_bucket, block_pos, window, rolling, kw_factor,
    rtp_price, export_price, cp_flag, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw, rtp_cost, export_credit, counts,
):
    for m in prange(rows.shape[0]):
        r = rows[m]  # the meter's row of the input arrays; its outputs are row m
        _scan_meter(
            delivered[r], received[r], quality[r], bounds[m], energy_bucket, demand_bucket, block_pos, window, rolling,
            kw_factor, rtp_price, export_price, cp_flag, energy_kwh[m], received_kwh[m], peak_kw[m], tou_peak_kw[m],
            cp_kw[m], rtp_cost[m], export_credit[m], counts[m],
        )


@njit(cache=True)
def _scan_serial(
    delivered, received, quality, rows, bounds, energy_bucket, demand_bucket, block_pos, window, rolling, kw_factor,
    rtp_price, export_price, cp_flag, energy_kwh, received_kwh, peak_kw, tou_peak_kw, cp_kw, rtp_cost, export_credit, counts,
):
    for m in range(rows.shape[0]):
        r = rows[m]  # the meter's row of the input arrays; its outputs are row m
        _scan_meter(
            delivered[r], received[r], quality[r], bounds[m], energy_bucket, demand_bucket, block_pos, window, rolling,
            kw_factor, rtp_price, export_price, cp_flag, energy_kwh[m], received_kwh[m], peak_kw[m], tou_peak_kw[m],
            cp_kw[m], rtp_cost[m], export_credit[m], counts[m],
        )


def _zeroed_outputs(shapes):
    """Zeroed float64 arrays of these shapes (``counts``: int64), cut from one block: one allocation of a few MB
    for 10,000 meters x 12 bills takes a few hundred page faults where eight arrays of ~1 MB each took ~4,000
    (fresh pages each time: the allocator hands freed blocks of this size back to the system), 7-10 ms on the
    benchmark VM. Each array is a C-contiguous view of the block, which lives as long as any of them."""
    sizes = {name: int(np.prod(shape)) for name, shape in shapes.items()}
    block = np.zeros(sum(sizes.values()))
    out, at = {}, 0
    for name, shape in shapes.items():
        part = block[at:at + sizes[name]]
        out[name] = (part.view(np.int64) if name == "counts" else part).reshape(shape)
        at += sizes[name]
    return out


def scan_determinants(
    delivered, received, bounds, energy_bucket, demand_bucket, n_energy, n_demand, *, quality=None,
    block_pos=None, window=1, rolling=False, kw_factor=4.0, rtp_price=None, cp_flag=None, parallel=True,
    runs=None, export_price=None, rows=None, block=True,
):
    """Scan ``(meter, time)`` arrays into determinants (see the module docstring).

    Parameters
    ----------
    delivered, received : (M, T) float32/float64 [kWh per interval]
    bounds : (M, B + 1) int64, interval index where each bill period starts (last: end of the last)
    energy_bucket : (T,) int16, energy bucket of each interval, 0..n_energy-1
    demand_bucket : (T,) int16, demand bucket of each interval, -1 for none
    quality : (M, T) uint8, optional; 1 = estimated
    block_pos : (T,) int16, position of each interval in its clock-aligned demand block (block method)
    window : int, intervals per demand window; kw_factor : 60 / demand-interval minutes [1/h]
    rtp_price : (T,) float64 [$/kWh], optional; cp_flag : (T,) bool, system-peak intervals, optional
    export_price : (T,) float64 [$/kWh], optional: each interval's export value (net billing)
    parallel : bool, threads over meters (``False`` inside a thread pool that forbids it)
    runs : bool, optional
        Single-interval demand (``window == 1``) is scanned over runs of intervals that share their buckets
        (a plain sum and max per run: the fast path). ``False`` forces the interval-by-interval loop; the
        tests compare both.
    rows : (M,) int, optional
        The rows of ``delivered``, ``received`` and ``quality`` to scan: meter ``m`` of ``bounds`` and of the
        outputs is input row ``rows[m]`` (default: every row, in order). Lets a caller scan one group of a
        chunk's meters without copying its rows out of the chunk.
    block : bool
        On the runs path, scan four meters at a time in lockstep where they share their bounds
        (``scan_block``; the same determinants to the bit). ``False`` scans one meter at a time; the tests
        compare both.

    Returns
    -------
    dict of arrays: energy_kwh (M,B,E), received_kwh (M,B,E), peak_kw (M,B), tou_peak_kw (M,B,D), cp_kw (M,B),
    rtp_cost (M,B), export_credit (M,B), counts (M,B,3)
    """
    n_times = delivered.shape[1]
    rows = np.arange(delivered.shape[0], dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    n_meters = len(rows)
    if n_meters and (rows.min() < 0 or rows.max() >= delivered.shape[0]):  # numba does not check bounds
        raise IndexError(f"rows: {rows.min()}..{rows.max()} outside the {delivered.shape[0]} rows of delivered")
    n_periods = bounds.shape[1] - 1
    out = _zeroed_outputs({
        "energy_kwh": (n_meters, n_periods, n_energy),
        "received_kwh": (n_meters, n_periods, n_energy),
        "peak_kw": (n_meters, n_periods),
        "tou_peak_kw": (n_meters, n_periods, max(n_demand, 1)),
        "cp_kw": (n_meters, n_periods),
        "rtp_cost": (n_meters, n_periods),
        "export_credit": (n_meters, n_periods),
        "counts": (n_meters, n_periods, N_COUNTS),
    })
    # no quality flags: a (M, 0) array, so each meter's row is empty and nothing counts as estimated
    quality = np.zeros((delivered.shape[0], 0), np.uint8) if quality is None else np.ascontiguousarray(quality, dtype=np.uint8)
    block_pos = np.zeros(n_times, np.int16) if block_pos is None else np.asarray(block_pos, np.int16)
    rtp_price = np.zeros(0) if rtp_price is None else np.asarray(rtp_price, np.float64)
    export_price = np.zeros(0) if export_price is None else np.asarray(export_price, np.float64)
    cp_flag = np.zeros(n_times, np.bool_) if cp_flag is None else np.asarray(cp_flag, np.bool_)
    delivered = np.ascontiguousarray(delivered)
    received = np.ascontiguousarray(received)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    energy_bucket = np.asarray(energy_bucket, np.int16)
    demand_bucket = np.asarray(demand_bucket, np.int16)
    outputs = (out["energy_kwh"], out["received_kwh"], out["peak_kw"], out["tou_peak_kw"], out["cp_kw"],
               out["rtp_cost"], out["export_credit"], out["counts"])
    if (runs is None or runs) and window == 1 and n_times:
        # runs of intervals sharing both buckets: the inner loop is then a plain sum and max
        change = np.flatnonzero((energy_bucket[1:] != energy_bucket[:-1]) | (demand_bucket[1:] != demand_bucket[:-1]))
        seg_start = np.concatenate([[0], change + 1, [n_times]]).astype(np.int64)
        fn = _scan_segments_parallel if parallel else _scan_segments_serial
        # the same bytes as integers, for a vectorized check that a meter never exported (see _no_reads)
        received_bits = received.view(np.int64 if received.dtype.itemsize == 8 else np.int32)
        fn(delivered, received, received_bits, quality, rows, bool(block), bounds, seg_start, energy_bucket[seg_start[:-1]],
           demand_bucket[seg_start[:-1]], float(kw_factor), rtp_price, export_price,
           np.flatnonzero(cp_flag).astype(np.int64), *outputs)
        return out
    fn = _scan_parallel if parallel else _scan_serial
    fn(delivered, received, quality, rows, bounds, energy_bucket, demand_bucket, block_pos, int(window), bool(rolling),
       float(kw_factor), rtp_price, export_price, cp_flag, *outputs)
    return out
