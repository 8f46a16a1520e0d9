"""Four-lane sums and maxima of a run of intervals, written as LLVM vector code (the scan's short runs).

ToU periods change on the hour, so with 15-minute reads every run of intervals that share their buckets is a
whole number of steps of four. ``quad_sum_max(x, a, n)`` sums and maxes ``x[a : a + 4n]`` in four float64
lanes: one 4-wide load, widen, add and compare-select per step, then the lanes are combined, sums as
``(l0 + l1) + (l2 + l3)``, maxima in any order (a maximum does not depend on it). Numba's pipeline leaves
LLVM's SLP vectorizer off, and its loop vectorizer only takes loops far longer than these runs (12-20
intervals), so four scalar accumulators stay scalar; this intrinsic emits the vector loop directly.

Semantics per lane are those of the scalar loop ``s += v; m = v if v > m else m`` started from 0: a NaN never
wins the max and makes the sum NaN; the caller redoes a run whose sum is not finite with the exact loop.
"""

from llvmlite import ir
from numba import types
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
    if not (isinstance(x, types.Array) and x.ndim == 1 and x.dtype in (types.float32, types.float64)):
        return None
    sig = types.UniTuple(types.float64, 2)(x, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        elt = context.get_value_type(signature.args[0].dtype)
        f64 = ir.DoubleType()
        vd = ir.VectorType(f64, _LANES)
        zero = ir.Constant(vd, [0.0] * _LANES)
        acc_s = cgutils.alloca_once_value(builder, zero)
        acc_m = cgutils.alloca_once_value(builder, zero)
        i64 = ir.IntType(64)
        with cgutils.for_range(builder, args[2]) as loop:
            offset = builder.add(args[1], builder.shl(loop.index, ir.Constant(i64, 2)))
            v = _vector_load(builder, ary.data, offset, elt)
            if elt != f64:
                v = builder.fpext(v, vd)
            builder.store(builder.fadd(builder.load(acc_s), v), acc_s)
            builder.store(_max(builder, v, builder.load(acc_m)), acc_m)
        s = builder.load(acc_s)
        m = builder.load(acc_m)
        lane = [ir.Constant(ir.IntType(32), i) for i in range(_LANES)]
        s_ = [builder.extract_element(s, k) for k in lane]
        m_ = [builder.extract_element(m, k) for k in lane]
        total = builder.fadd(builder.fadd(s_[0], s_[1]), builder.fadd(s_[2], s_[3]))
        top = _max(builder, _max(builder, m_[0], m_[1]), _max(builder, m_[2], m_[3]))
        return context.make_tuple(builder, signature.return_type, [total, top])

    return sig, codegen
