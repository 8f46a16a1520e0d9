"""Sums and maxima of runs of intervals that share their buckets (the scan's fast path for 1-interval demand).

Every run takes one pass in float64 vector lanes (``quad_sum_max``), the last ``len % 4`` intervals one by
one. ToU periods change on the hour, so with 15-minute reads every run is a whole number of steps of four.
``quad_sum_max(x, a, n)`` sums and maxes ``x[a : a + 4n]`` with two accumulators of four float64 lanes (one
4-wide load, widen, add and compare-select per step; consecutive steps do not wait on each other's add), then
combines the lanes: sums as ``(l0 + l1) + (l2 + l3)``, maxima in any order. It is an intrinsic that emits the
LLVM vector loop itself: numba's pipeline leaves LLVM's SLP vectorizer off, and its loop vectorizer only
takes loops far longer than these runs (12-20 intervals), so four scalar accumulators stay scalar.

The sums differ from a left-to-right loop by float reassociation only; a maximum is exact (per lane the loop
is ``s += v; m = v if v > m else m`` from 0: a NaN never wins, negative reads never make a peak). A run whose
sum is not finite (a NaN: a missing read; or an inf) is redone by the exact scalar loop, which counts the NaNs
and skips them. One pass per run beat the earlier two-pass long-run path (a vectorized sum, then an integer
max over the bit patterns) by about 2.5x per meter: see changes/scanfast-bench.md. The intrinsic lives in
this file so that numba's cache of these functions (keyed by this file) is rebuilt when it changes.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_LANES = 4


def _vector_load(builder, data, offset, elt):
    """Four adjacent elements from ``data[offset]``, aligned only as one element is (a run starts anywhere)."""
    vec = ir.VectorType(elt, _LANES)
    align = 8 if isinstance(elt, ir.DoubleType) else 4
    if getattr(data.type, "is_opaque", False):
        ptr = builder.gep(data, [offset], inbounds=True, source_etype=elt)
        return builder.load(ptr, typ=vec, align=align)
    ptr = builder.gep(data, [offset], inbounds=True)
    return builder.load(builder.bitcast(ptr, vec.as_pointer()), align=align)


def _max(builder, a, b):
    return builder.select(builder.fcmp_ordered(">", a, b), a, b)


@intrinsic
def quad_sum_max(typingctx, x, a, n):
    """(sum, max floored at 0) of ``x[a : a + 4 * n]`` (float32 or float64 1-d array) in four float64 lanes."""
    # contiguous only: the four lanes are four adjacent elements
    if not (isinstance(x, types.Array) and x.ndim == 1 and x.layout == "C"
            and x.dtype in (types.float32, types.float64)):
        return None
    sig = types.UniTuple(types.float64, 2)(x, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        elt = context.get_value_type(signature.args[0].dtype)
        f64 = ir.DoubleType()
        vd = ir.VectorType(f64, _LANES)
        zero = ir.Constant(vd, [0.0] * _LANES)
        # two accumulators of four lanes: consecutive steps of four do not wait on each other's add
        acc = [cgutils.alloca_once_value(builder, zero) for _ in range(4)]  # sum A, max A, sum B, max B
        i64 = ir.IntType(64)

        def step(offset, sum_slot, max_slot):
            v = _vector_load(builder, ary.data, offset, elt)
            if elt != f64:
                v = builder.fpext(v, vd)
            builder.store(builder.fadd(builder.load(sum_slot), v), sum_slot)
            builder.store(_max(builder, v, builder.load(max_slot)), max_slot)

        pairs = builder.lshr(args[2], ir.Constant(i64, 1))
        with cgutils.for_range(builder, pairs) as loop:
            offset = builder.add(args[1], builder.shl(loop.index, ir.Constant(i64, 3)))
            step(offset, acc[0], acc[1])
            step(builder.add(offset, ir.Constant(i64, 4)), acc[2], acc[3])
        with cgutils.if_unlikely(builder, builder.trunc(args[2], ir.IntType(1))):  # an odd step of four
            step(builder.add(args[1], builder.shl(pairs, ir.Constant(i64, 3))), acc[0], acc[1])
        s = builder.fadd(builder.load(acc[0]), builder.load(acc[2]))
        m = _max(builder, builder.load(acc[1]), builder.load(acc[3]))
        lane = [ir.Constant(ir.IntType(32), i) for i in range(_LANES)]
        s_ = [builder.extract_element(s, k) for k in lane]
        m_ = [builder.extract_element(m, k) for k in lane]
        total = builder.fadd(builder.fadd(s_[0], s_[1]), builder.fadd(s_[2], s_[3]))
        top = _max(builder, _max(builder, m_[0], m_[1]), _max(builder, m_[2], m_[3]))
        return context.make_tuple(builder, signature.return_type, [total, top])

    return sig, codegen



@njit(cache=True, nogil=True, inline="always")
def _sum_max(x, a, b):
    """Sum, max and NaN count of x[a:b], left to right: the exact path for a run holding a NaN or an inf."""
    total = 0.0
    top = 0.0
    n_nan = 0
    for t in range(a, b):
        v = np.float64(x[t])
        if v != v:
            n_nan += 1
        else:
            total += v
            top = v if v > top else top
    return total, top, n_nan


@njit(cache=True, nogil=True)
def _run_sum_max(x, a, b):
    """Sum, max (floored at 0: negative reads never make a peak) and NaN count of x[a:b]."""
    quads = max((b - a) // 4, 0)  # an empty range (b <= a) sums to 0
    total, top = quad_sum_max(x, a, quads)
    for t in range(a + 4 * quads, b):  # a run that is not a whole number of hours
        v = np.float64(x[t])
        total += v
        top = v if v > top else top
    if total - total != 0.0:  # not finite: a NaN or an inf somewhere
        return _sum_max(x, a, b)
    return total, top, 0


@njit(cache=True, nogil=True)
def _run_sum(x, a, b):
    """Sum and NaN count of x[a:b]."""
    total, _, n_nan = _run_sum_max(x, a, b)
    return total, n_nan


@njit(cache=True, nogil=True)
def _no_reads(bits):
    """True when every value is +0 or -0 (a meter that never exported): one vectorized OR of the bit patterns,
    which is then the sign bit alone or nothing. A NaN, an inf or any reading makes it False."""
    acc = bits.dtype.type(0)
    for t in range(bits.shape[0]):
        acc |= bits[t]
    sign = -2147483648 if bits.itemsize == 4 else -9223372036854775808
    return acc == 0 or acc == sign


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _priced_sum(x, price, a, b):
    """Sum of x[t] x price[t] over the reads of x[a:b] that are present (a NaN is skipped): each product as the
    interval loop forms it, the sum reassociated (``reassoc`` only: no FMA, no NaN assumptions) so that it
    vectorizes instead of waiting on one add per interval (real-time prices, net billing's export values)."""
    v = x[a:b]
    p = price[a:b]
    s = 0.0
    for t in range(v.shape[0]):
        d = np.float64(v[t])
        s += d * p[t] if d == d else 0.0
    return s
