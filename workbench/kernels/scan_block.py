"""The scan's runs for four meters at once (single-interval demand, meters that share their bill periods).

Most meters of a read cycle share their bill-period bounds, and every meter shares the runs of intervals that
keep their ToU buckets. ``_block_runs`` walks the runs once for four such meters in lockstep: each run is one
vector loop (``quad4_sum_max``) that loads four intervals from each of the four rows, so the per-run costs
(the loop exit the branch predictor misses, the lane reductions, the loop set-up) are paid once per four
meters, and the four meters' add chains overlap. The lane reductions of the four meters are done together by
a transpose (two rounds of shuffles), in the same order as ``run_sums.quad_sum_max``: per meter the two
accumulators are added, then ``(l0 + l1) + (l2 + l3)``. So each meter's sums are identical to the bit to its
one-meter scan, whichever path it takes; maxima are exact either way.

A run that is not finite for a meter (a NaN: a missing read; or an inf) is redone for that meter by the exact
loop (``run_sums._sum_max``), as in the one-meter path. Meters whose bounds differ from their block's take the
one-meter path (``scan._meter_runs``); so does a block's tail of fewer than four meters.
``_segments_rest`` is the part of a meter's period that is not the delivered runs (received kWh per bucket,
real-time and export sums, coincident peaks, estimated counts), shared by both paths.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from workbench.kernels.run_sums import _max, _no_reads, _priced_sum, _run_sum, _sum_max, _vector_load

_LANES = 4
_ROWS = 4


def _transpose_reduce(builder, vecs, op):
    """[op-reduce of vecs[0], ..., of vecs[3]] as one vector, each as ``(l0 op l1) op (l2 op l3)``."""
    i32 = ir.IntType(32)

    def shuffle(a, b, idx):
        return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(i32, len(idx)), idx))

    # [a0 op a1, b0 op b1, a2 op a3, b2 op b3] and the same for c, d
    t01 = op(shuffle(vecs[0], vecs[1], [0, 4, 2, 6]), shuffle(vecs[0], vecs[1], [1, 5, 3, 7]))
    t23 = op(shuffle(vecs[2], vecs[3], [0, 4, 2, 6]), shuffle(vecs[2], vecs[3], [1, 5, 3, 7]))
    # [(a0 op a1) op (a2 op a3), (b..), (c..), (d..)]
    return op(shuffle(t01, t23, [0, 1, 4, 5]), shuffle(t01, t23, [2, 3, 6, 7]))


@intrinsic
def quad4_sum_max(typingctx, x0, x1, x2, x3, a, n):
    """``run_sums.quad_sum_max`` of ``x0..x3[a : a + 4 * n]`` at once: (sum0..sum3, max0..max3)."""
    if not (isinstance(x0, types.Array) and x0.ndim == 1 and x0.layout == "C"
            and x0.dtype in (types.float32, types.float64) and x1 == x0 and x2 == x0 and x3 == x0):
        return None
    sig = types.UniTuple(types.float64, 2 * _ROWS)(x0, x1, x2, x3, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        elt = context.get_value_type(signature.args[0].dtype)
        data = [context.make_array(signature.args[j])(context, builder, args[j]).data for j in range(_ROWS)]
        f64 = ir.DoubleType()
        vd = ir.VectorType(f64, _LANES)
        zero = ir.Constant(vd, [0.0] * _LANES)
        i64 = ir.IntType(64)
        # per row, as quad_sum_max: sum A, max A, sum B, max B
        acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(4)] for _ in range(_ROWS)]

        def step(offset, half):
            for j in range(_ROWS):
                v = _vector_load(builder, data[j], offset, elt)
                if elt != f64:
                    v = builder.fpext(v, vd)
                s, m = acc[j][2 * half], acc[j][2 * half + 1]
                builder.store(builder.fadd(builder.load(s), v), s)
                builder.store(_max(builder, v, builder.load(m)), m)

        pairs = builder.lshr(args[5], ir.Constant(i64, 1))
        with cgutils.for_range(builder, pairs) as loop:
            offset = builder.add(args[4], builder.shl(loop.index, ir.Constant(i64, 3)))
            step(offset, 0)
            step(builder.add(offset, ir.Constant(i64, 4)), 1)
        with cgutils.if_unlikely(builder, builder.trunc(args[5], ir.IntType(1))):  # an odd step of four
            step(builder.add(args[4], builder.shl(pairs, ir.Constant(i64, 3))), 0)
        sums = [builder.fadd(builder.load(acc[j][0]), builder.load(acc[j][2])) for j in range(_ROWS)]
        maxes = [_max(builder, builder.load(acc[j][1]), builder.load(acc[j][3])) for j in range(_ROWS)]
        total = _transpose_reduce(builder, sums, builder.fadd)
        top = _transpose_reduce(builder, maxes, lambda p, q: _max(builder, p, q))
        lane = [ir.Constant(ir.IntType(32), i) for i in range(_LANES)]
        values = [builder.extract_element(total, k) for k in lane] + [builder.extract_element(top, k) for k in lane]
        return context.make_tuple(builder, signature.return_type, values)

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _finish(x, a, z, q, total, top):
    """A run's sum and max after its whole steps of four: the last ``len % 4`` reads, then the exact loop if
    the run is not finite (the same order as ``run_sums._run_sum_max``)."""
    for t in range(a + 4 * q, z):
        v = np.float64(x[t])
        total += v
        top = v if v > top else top
    if total - total != 0.0:
        return _sum_max(x, a, z)
    return total, top, 0


@njit(cache=True, nogil=True)
def _first_run(seg_start, start):
    """Index of the run that holds interval ``start``."""
    lo = 0
    hi = seg_start.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if seg_start[mid] <= start:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _block_runs(delivered, rows, m0, bounds, seg_start, seg_energy, seg_demand, kw_factor, energy_kwh, peak_kw,
                tou_peak_kw, counts):
    """Delivered kWh per bucket, peaks and missing counts of meters ``m0 .. m0 + 3`` (outputs ``m0 + j``,
    input rows ``rows[m0 + j]``), which share ``bounds``; counts[:, :, 0:2] are written here."""
    x0 = delivered[rows[m0]]
    x1 = delivered[rows[m0 + 1]]
    x2 = delivered[rows[m0 + 2]]
    x3 = delivered[rows[m0 + 3]]
    n_seg = seg_start.shape[0] - 1
    for b in range(bounds.shape[0] - 1):
        start = bounds[b]
        stop = bounds[b + 1]
        if stop <= start:
            continue
        peaks = np.zeros(_ROWS)
        missing = np.zeros(_ROWS, np.int64)
        k = _first_run(seg_start, start)
        while k < n_seg and seg_start[k] < stop:
            a = max(seg_start[k], start)
            z = min(seg_start[k + 1], stop)
            e = seg_energy[k]
            db = seg_demand[k]
            q = max((z - a) // 4, 0)
            s0, s1, s2, s3, t0, t1, t2, t3 = quad4_sum_max(x0, x1, x2, x3, a, q)
            for j in range(_ROWS):
                if j == 0:
                    total, top, n_nan = _finish(x0, a, z, q, s0, t0)
                elif j == 1:
                    total, top, n_nan = _finish(x1, a, z, q, s1, t1)
                elif j == 2:
                    total, top, n_nan = _finish(x2, a, z, q, s2, t2)
                else:
                    total, top, n_nan = _finish(x3, a, z, q, s3, t3)
                m = m0 + j
                energy_kwh[m, b, e] += total
                missing[j] += n_nan
                kw = top * kw_factor
                if kw > peaks[j]:
                    peaks[j] = kw
                if db >= 0 and kw > tou_peak_kw[m, b, db]:
                    tou_peak_kw[m, b, db] = kw
            k += 1
        for j in range(_ROWS):
            peak_kw[m0 + j, b] = peaks[j]
            counts[m0 + j, b, 0] = (stop - start) - missing[j]
            counts[m0 + j, b, 1] = missing[j]


@njit(cache=True, nogil=True)
def _segments_rest(
    delivered, received, received_bits, quality, bounds, seg_start, seg_energy, kw_factor, rtp_price, export_price,
    cp_index, received_kwh, cp_kw, rtp_cost, export_credit, counts,
):
    """One meter's period outputs other than the delivered runs (counts[:, 2] only: the estimated reads)."""
    has_rtp = rtp_price.shape[0] > 0
    has_export = export_price.shape[0] > 0
    has_quality = quality.shape[0] > 0
    n_seg = seg_start.shape[0] - 1
    # most meters never export: a received row of zeros (one vectorized pass) needs no sums per run
    has_received = not _no_reads(received_bits)
    for b in range(bounds.shape[0] - 1):
        start = bounds[b]
        stop = bounds[b + 1]
        if stop <= start:
            continue
        if has_received:
            k = _first_run(seg_start, start)
            while k < n_seg and seg_start[k] < stop:
                r_total, _ = _run_sum(received, max(seg_start[k], start), min(seg_start[k + 1], stop))
                received_kwh[b, seg_energy[k]] += r_total
                k += 1
        if has_rtp:
            rtp_cost[b] = _priced_sum(delivered, rtp_price, start, stop)
        if has_export:
            export_credit[b] = _priced_sum(received, export_price, start, stop)
        cp_sum = 0.0
        cp_n = 0
        for i in range(cp_index.shape[0]):
            t = cp_index[i]
            if start <= t < stop:
                v = delivered[t]
                cp_sum += (v if v == v else 0.0) * kw_factor
                cp_n += 1
        cp_kw[b] = cp_sum / cp_n if cp_n > 0 else 0.0
        estimated = 0
        if has_quality:
            for t in range(start, stop):
                if quality[t] == 1:
                    estimated += 1
        counts[b, 2] = estimated


@njit(cache=True, nogil=True)
def _same_bounds(bounds, m0):
    """True when meters ``m0 .. m0 + 3`` exist and share their bill-period bounds."""
    if m0 + _ROWS > bounds.shape[0]:
        return False
    for j in range(1, _ROWS):
        for b in range(bounds.shape[1]):
            if bounds[m0 + j, b] != bounds[m0, b]:
                return False
    return True
