"""VEE kernels: estimation of one channel's flagged intervals (step 3 of the VEE pass).

:func:`_estimate_channel` fills every gap of intervals to estimate: linear interpolation between the valid
neighbours for short gaps (a flat fill with the one valid neighbour when only one side has one), else the
mean of the same local slot on recent like days; what cannot be estimated is flagged NOT_ESTIMATED.
See the docstring of ``workbench/kernels/vee.py``.
"""

from numba import njit

from workbench.kernels.vee_checks import _bit, _raise
from workbench.kernels.vee_codes import (
    IMPLAUSIBLE,
    METHOD_FLAT_FILL,
    METHOD_LIKE_DAY,
    METHOD_LINEAR,
    METHOD_NONE,
    N_RULE_BITS,
    NOT_ESTIMATED,
)


@njit(cache=True, nogil=True)
def _estimate_channel(values, out, bad, q_out, f_out, new_method, m_out, other_new, day_counts, a0, a1, day_of,
                      day_kind, slot, slot_pos, linear_max, one_sided_flat, like_enabled, like_days, like_min,
                      lookback, is_delivered):
    """Fill the intervals where ``bad`` is set: write ``out``, ``new_method``, ``m_out``, ``q_out`` and the
    counts. ``other_new``: the delivered channel's new methods (received: an interval counts once)."""
    t = a0
    while t < a1:
        if not bad[t]:
            t += 1
            continue
        g0 = t
        while t < a1 and bad[t]:
            t += 1
        g1 = t
        n_gap = g1 - g0
        left = g0 - 1
        right = g1
        has_left = left >= a0 and values[left] == values[left] and (f_out[left] & _bit(IMPLAUSIBLE)) == 0
        has_right = right < a1 and values[right] == values[right] and (f_out[right] & _bit(IMPLAUSIBLE)) == 0
        for k in range(g0, g1):
            method = METHOD_NONE
            value = 0.0
            if n_gap <= linear_max and has_left and has_right:
                value = values[left] + (values[right] - values[left]) * (k - left) / (n_gap + 1)
                method = METHOD_LINEAR
            elif n_gap <= linear_max and one_sided_flat and (has_left or has_right):
                value = values[left] if has_left else values[right]
                method = METHOD_FLAT_FILL
            elif like_enabled:
                day = day_of[k]
                s = slot[k]
                count = 0
                acc = 0.0
                lo = max(0, day - lookback)
                d2 = day - 1
                while d2 >= lo and count < like_days:
                    if day_kind[d2] == day_kind[day]:
                        p = slot_pos[d2, s]
                        if (p >= a0 and p < a1 and not bad[p] and q_out[p] == 0 and f_out[p] == 0
                                and values[p] == values[p]):
                            acc += values[p]
                            count += 1
                    d2 -= 1
                if count >= like_min:
                    value = acc / count
                    method = METHOD_LIKE_DAY
            day = day_of[k]
            if method == METHOD_NONE:
                if (f_out[k] & _bit(NOT_ESTIMATED)) == 0:
                    _raise(f_out, day_counts, k, day, _bit(NOT_ESTIMATED))
                continue
            out[k] = value
            new_method[k] = method
            if is_delivered or other_new[k] == METHOD_NONE:
                m_out[k] = method
                day_counts[N_RULE_BITS + method - 1, day] += 1
            if is_delivered or q_out[k] != 2:  # received alone: quality 1 only if delivered has a value
                q_out[k] = 1

