"""VEE kernels: the codes the kernels and ``workbench.vee`` share.

The rule bits of the per-interval ``vee_flags`` bitmask, the estimation method codes of ``vee_method``, the
columns of ``day_counts`` and the indices into the float and int parameter vectors the kernels take (built by
``workbench.vee.engine``). Plain integers, no numba: read by the kernels as compile-time constants.
"""

# rule bits of the per-interval ``vee_flags`` bitmask (docs/vee.md)
MISSING = 0
NEGATIVE = 1
SPIKE = 2
HIGH_USE = 3
LOW_USE = 4
FLATLINE = 5
ZERO_USE = 6
REVERSE_FLOW = 7
INACTIVE = 8
REGISTER_MISMATCH = 9
NOT_ESTIMATED = 10
IMPLAUSIBLE = 11
N_RULE_BITS = 12

# estimation method codes (``vee_method``)
METHOD_NONE = 0
METHOD_LINEAR = 1
METHOD_LIKE_DAY = 2
METHOD_FLAT_FILL = 3
METHOD_SOURCE = 4  # estimated before VEE (quality 1 in the input)
METHOD_WITHHELD = 5  # IMPLAUSIBLE: the read is removed (NaN, quality 2), never estimated; the original is in the edits
N_METHODS = 6

#: columns of ``day_counts``: one per rule bit, then intervals estimated with methods 1, 2, 3
N_DAY_COLS = N_RULE_BITS + 3

# indices into the float and int parameter vectors (built by workbench.vee.engine)
P_SPIKE_RATIO, P_SPIKE_MIN, P_HIGH, P_LOW, P_MIN_ADU, P_REVERSE_MIN, P_DAY_SHARE, P_ZERO_SHARE = range(8)
N_FLOAT_PARAMS = 8
(I_FLAT_LEN, I_FLAT_ZERO, I_HISTORY, I_MIN_HISTORY, I_LINEAR_MAX, I_ONE_SIDED, I_LIKE_DAYS, I_LIKE_MIN,
 I_LOOKBACK, I_LIKE_ENABLED, I_PER_DAY) = range(11)
N_INT_PARAMS = 11
