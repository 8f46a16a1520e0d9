"""The scan's runs for four meters at once (single-interval demand, meters that share their bill periods).

Most meters of a read cycle share their bill-period bounds, and every meter shares the runs of intervals that
keep their ToU buckets. ``_block_runs`` walks the runs once for four such meters in lockstep: each run is one
vector loop (``quad4_runs``) that loads four intervals from each of the four rows, so the per-run costs
(the loop exit the branch predictor misses, the lane reductions, the loop set-up) are paid once per four
meters, and the four meters' add chains overlap. The lane reductions of the four meters are done together by
a transpose (two rounds of shuffles), in the same order as ``run_sums.quad_sum_max``: per meter the two
accumulators are added, then ``(l0 + l1) + (l2 + l3)``. So each meter's sums are identical to the bit to its
one-meter scan, whichever path it takes; maxima are exact either way.

Per run only the sums are reduced across lanes (``quad4_runs``); the maxima stay in lanes, one (4 meters, 4
lanes) block per demand bucket of the period, and are reduced once per period. A maximum is exact in any
order and ``x -> x * kw_factor`` keeps the order, so the peaks are those of the one-meter path. The same walk
ORs the bits of the four meters' received rows (one pass over both channels of a meter, instead of a second
pass for ``run_sums._no_reads``): a meter whose received reads in its periods are all signed zeros takes no
received sums. ``quad4_sum_max`` is the same loop returning each run's sums and maxima (the tests set it
beside the one-row ``run_sums.quad_sum_max``).

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

from workbench.kernels.run_sums import _max, _priced_sum, _run_sum, _sum_max

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


def _pointer(builder, data, offset, elt):
    """A pointer to four adjacent elements from ``data[offset]`` (typed or opaque pointers)."""
    vec = ir.VectorType(elt, _LANES)
    if getattr(data.type, "is_opaque", False):
        return builder.gep(data, [offset], inbounds=True, source_etype=elt)
    return builder.bitcast(builder.gep(data, [offset], inbounds=True), vec.as_pointer())


def _lanes(builder, data, offset, elt):
    """Four adjacent elements from ``data[offset]``, aligned only as one element is."""
    align = 8 if isinstance(elt, ir.DoubleType) or getattr(elt, "width", 32) == 64 else 4
    return builder.load(_pointer(builder, data, offset, elt), typ=ir.VectorType(elt, _LANES), align=align)


def _quad4_codegen(fold):
    """The vector loop over four rows (see ``quad4_sum_max``); with ``fold``, ``quad4_runs``: the maxima start
    from and go back to ``tops[slot]`` and the received rows' bits are ORed into ``bits``."""

    def codegen(context, builder, signature, args):
        f64 = ir.DoubleType()
        i64 = ir.IntType(64)
        vd = ir.VectorType(f64, _LANES)
        zero = ir.Constant(vd, [0.0] * _LANES)
        elt = context.get_value_type(signature.args[0].dtype)
        data = [context.make_array(signature.args[j])(context, builder, args[j]).data for j in range(_ROWS)]
        a, n = args[2 * _ROWS if fold else _ROWS], args[2 * _ROWS + 1 if fold else _ROWS + 1]
        # per row, as quad_sum_max: sum A, max A, sum B, max B (two accumulators: consecutive steps overlap)
        acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(4)] for _ in range(_ROWS)]
        if fold:
            gelt = context.get_value_type(signature.args[_ROWS].dtype)
            gdata = [context.make_array(signature.args[_ROWS + j])(context, builder, args[_ROWS + j]).data
                     for j in range(_ROWS)]
            tops = context.make_array(signature.args[-3])(context, builder, args[-3]).data
            bits = context.make_array(signature.args[-1])(context, builder, args[-1]).data
            base = builder.mul(args[-2], ir.Constant(i64, _ROWS * _LANES))
            top_at = [builder.add(base, ir.Constant(i64, _LANES * j)) for j in range(_ROWS)]
            ors = []
            for j in range(_ROWS):
                builder.store(_lanes(builder, tops, top_at[j], f64), acc[j][1])
                ors.append(cgutils.alloca_once_value(builder, _lanes(builder, bits, ir.Constant(i64, _LANES * j), gelt)))

        def step(offset, half):
            for j in range(_ROWS):
                v = _lanes(builder, data[j], offset, elt)
                if elt != f64:
                    v = builder.fpext(v, vd)
                s, m = acc[j][2 * half], acc[j][2 * half + 1]
                builder.store(builder.fadd(builder.load(s), v), s)
                builder.store(_max(builder, v, builder.load(m)), m)
                if fold:
                    builder.store(builder.or_(builder.load(ors[j]), _lanes(builder, gdata[j], offset, gelt)), ors[j])

        pairs = builder.lshr(n, ir.Constant(i64, 1))
        with cgutils.for_range(builder, pairs) as loop:
            offset = builder.add(a, builder.shl(loop.index, ir.Constant(i64, 3)))
            step(offset, 0)
            step(builder.add(offset, ir.Constant(i64, 4)), 1)
        with cgutils.if_unlikely(builder, builder.trunc(n, ir.IntType(1))):  # an odd step of four
            step(builder.add(a, builder.shl(pairs, ir.Constant(i64, 3))), 0)
        sums = [builder.fadd(builder.load(acc[j][0]), builder.load(acc[j][2])) for j in range(_ROWS)]
        maxes = [_max(builder, builder.load(acc[j][1]), builder.load(acc[j][3])) for j in range(_ROWS)]
        total = _transpose_reduce(builder, sums, builder.fadd)
        lane = [ir.Constant(ir.IntType(32), i) for i in range(_LANES)]
        values = [builder.extract_element(total, k) for k in lane]
        if fold:
            for j in range(_ROWS):
                builder.store(maxes[j], _pointer(builder, tops, top_at[j], f64))
                builder.store(builder.load(ors[j]), _pointer(builder, bits, ir.Constant(i64, _LANES * j), gelt))
        else:
            top = _transpose_reduce(builder, maxes, lambda p, q: _max(builder, p, q))
            values += [builder.extract_element(top, k) for k in lane]
        return context.make_tuple(builder, signature.return_type, values)

    return codegen


def _rows_of(x0, x1, x2, x3, dtypes):
    return (isinstance(x0, types.Array) and x0.ndim == 1 and x0.layout == "C" and x0.dtype in dtypes
            and x1 == x0 and x2 == x0 and x3 == x0)


@intrinsic
def quad4_sum_max(typingctx, x0, x1, x2, x3, a, n):
    """``run_sums.quad_sum_max`` of ``x0..x3[a : a + 4 * n]`` at once: (sum0..sum3, max0..max3)."""
    if not _rows_of(x0, x1, x2, x3, (types.float32, types.float64)):
        return None
    return types.UniTuple(types.float64, 2 * _ROWS)(x0, x1, x2, x3, types.int64, types.int64), _quad4_codegen(False)


@intrinsic
def quad4_runs(typingctx, x0, x1, x2, x3, g0, g1, g2, g3, a, n, tops, slot, bits):
    """``quad4_sum_max`` of ``x0..x3[a : a + 4 * n]`` that returns the four sums only and folds the maxima
    into ``tops[slot]`` (lane-wise, a (4 rows, 4 lanes) float64 block of a C array) and the bits of
    ``g0..g3[a : a + 4 * n]`` (the received rows as integers) into ``bits`` (4 rows x 4 lanes, OR)."""
    if not (_rows_of(x0, x1, x2, x3, (types.float32, types.float64)) and _rows_of(g0, g1, g2, g3, (types.int32, types.int64))
            and g0.dtype.bitwidth == x0.dtype.bitwidth and isinstance(tops, types.Array) and tops.layout == "C"
            and tops.dtype == types.float64 and isinstance(bits, types.Array) and bits.layout == "C"
            and bits.dtype == g0.dtype):
        return None
    sig = types.UniTuple(types.float64, _ROWS)(x0, x1, x2, x3, g0, g1, g2, g3, types.int64, types.int64, tops,
                                                types.int64, bits)
    return sig, _quad4_codegen(True)


@njit(cache=True, nogil=True)
def _tail(x, g, a, z, total, tops, slot, j, bits):
    """A run's sum after its whole steps of four: its last ``z - a`` (1-3) reads added in order (as
    ``run_sums._run_sum_max``), their maxima and bits folded into lane 0 of ``tops[slot, j]`` and ``bits[j]``."""
    for t in range(a, z):
        v = np.float64(x[t])
        total += v
        top = tops[slot, j, 0]
        tops[slot, j, 0] = v if v > top else top
        bits[j, 0] |= g[t]
    return total


@njit(cache=True, nogil=True)
def _exact(x, a, z, total, missing, j):
    """The run's sum if finite, else the exact loop's (the NaNs, missing reads, counted into ``missing[j]``)."""
    if total - total != 0.0:
        total, _, n_nan = _sum_max(x, a, z)
        missing[j] += n_nan
    return total


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
def _block_runs(delivered, received_bits, rows, m0, bounds, seg_start, seg_energy, seg_demand, kw_factor, energy_kwh,
                peak_kw, tou_peak_kw, counts):
    """Delivered kWh per bucket, peaks and missing counts of meters ``m0 .. m0 + 3`` (outputs ``m0 + j``,
    input rows ``rows[m0 + j]``), which share ``bounds``; counts[:, :, 0:2] are written here. Returns the OR
    of each meter's received bits over its bill periods, (4 meters, 4 lanes): see ``run_sums._no_reads``."""
    x0, x1, x2, x3 = delivered[rows[m0]], delivered[rows[m0 + 1]], delivered[rows[m0 + 2]], delivered[rows[m0 + 3]]
    g0, g1, g2 = received_bits[rows[m0]], received_bits[rows[m0 + 1]], received_bits[rows[m0 + 2]]
    g3 = received_bits[rows[m0 + 3]]
    n_seg = seg_start.shape[0] - 1
    n_demand = tou_peak_kw.shape[2]
    # per demand bucket (the last: runs in none), meter and lane: the highest read so far in the period
    tops = np.zeros((n_demand + 1, _ROWS, _LANES))
    bits = np.zeros((_ROWS, _LANES), received_bits.dtype)
    missing = np.zeros(_ROWS, np.int64)
    for b in range(bounds.shape[0] - 1):
        start = bounds[b]
        stop = bounds[b + 1]
        if stop <= start:
            continue
        tops[:] = 0.0
        missing[:] = 0
        k = _first_run(seg_start, start)
        while k < n_seg and seg_start[k] < stop:
            a = max(seg_start[k], start)
            z = min(seg_start[k + 1], stop)
            e = seg_energy[k]
            slot = seg_demand[k] if seg_demand[k] >= 0 else n_demand
            q = max((z - a) // 4, 0)
            s0, s1, s2, s3 = quad4_runs(x0, x1, x2, x3, g0, g1, g2, g3, a, q, tops, slot, bits)
            if a + 4 * q < z:  # a run that is not a whole number of steps of four (never with hourly ToU)
                s0 = _tail(x0, g0, a + 4 * q, z, s0, tops, slot, 0, bits)
                s1 = _tail(x1, g1, a + 4 * q, z, s1, tops, slot, 1, bits)
                s2 = _tail(x2, g2, a + 4 * q, z, s2, tops, slot, 2, bits)
                s3 = _tail(x3, g3, a + 4 * q, z, s3, tops, slot, 3, bits)
            every = s0 + s1 + s2 + s3
            if every - every != 0.0:  # a meter's run is not finite (a NaN or an inf): redo that one exactly
                s0 = _exact(x0, a, z, s0, missing, 0)
                s1 = _exact(x1, a, z, s1, missing, 1)
                s2 = _exact(x2, a, z, s2, missing, 2)
                s3 = _exact(x3, a, z, s3, missing, 3)
            energy_kwh[m0, b, e] += s0
            energy_kwh[m0 + 1, b, e] += s1
            energy_kwh[m0 + 2, b, e] += s2
            energy_kwh[m0 + 3, b, e] += s3
            k += 1
        # a maximum is exact in any order, and x -> x * kw_factor keeps the order: the same peaks as taking
        # each run's maximum (the one-meter path)
        for j in range(_ROWS):
            peak = 0.0
            for d in range(n_demand + 1):
                top = 0.0
                for i in range(_LANES):
                    v = tops[d, j, i]
                    top = v if v > top else top
                if d < n_demand:
                    tou_peak_kw[m0 + j, b, d] = top * kw_factor
                peak = top if top > peak else peak
            peak_kw[m0 + j, b] = peak * kw_factor
            counts[m0 + j, b, 0] = (stop - start) - missing[j]
            counts[m0 + j, b, 1] = missing[j]
    return bits


@njit(cache=True, nogil=True)
def _segments_rest(
    delivered, received, has_received, quality, bounds, seg_start, seg_energy, kw_factor, rtp_price, export_price,
    cp_index, received_kwh, cp_kw, rtp_cost, export_credit, counts,
):
    """One meter's period outputs other than the delivered runs (counts[:, 2] only: the estimated reads);
    ``has_received``: False for a meter whose received reads in its periods are all signed zeros (no sums)."""
    has_rtp = rtp_price.shape[0] > 0
    has_export = export_price.shape[0] > 0
    has_quality = quality.shape[0] > 0
    n_seg = seg_start.shape[0] - 1
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
