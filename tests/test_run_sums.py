"""The scan's run sums: the vectorized long-run path against a slow, obviously-correct reference.

The reference is plain Python over the values: the exactly rounded sum (``math.fsum``), the largest value
floored at 0 (negative reads never make a peak), and the count of NaNs. A plausible one-line bug this must
catch: an exponent off by one in ``_from_bits`` (every peak halved or doubled), or the integer max started
from the first value instead of 0 (a negative-only run would report a negative peak).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.kernels.run_sums import _LONG_RUN, _run_sum, _run_sum_max


def reference(values):
    finite = [v for v in values if v == v]
    return math.fsum(finite), max([0.0, *finite]), len(values) - len(finite)


reads = st.one_of(st.floats(0, 50, width=32), st.floats(-5, 0, width=32), st.just(0.0), st.just(float("nan")),
                  st.floats(9.99994610111476e-41, 9.99994610111476e-38, width=32))  # subnormal and tiny floats: the bit-pattern max must hold


@settings(max_examples=300, deadline=None)
@given(st.lists(reads, min_size=1, max_size=3 * _LONG_RUN), st.sampled_from([np.float32, np.float64]))
def test_run_sum_max_matches_the_reference(values, dtype):
    x = np.asarray(values, dtype=dtype)
    bits = x.view(np.int64 if dtype == np.float64 else np.int32)
    total, top, n_nan = _run_sum_max(x, bits, 0, len(x))
    want_total, want_top, want_nan = reference([float(v) for v in x])
    assert n_nan == want_nan
    assert top == want_top  # exact: a maximum is one of the values
    # the order of additions may differ from fsum's exact rounding by at most n ulps of the largest partial sum
    assert abs(total - want_total) <= len(x) * 2.0 ** -52 * math.fsum(abs(float(v)) for v in x if v == v)
    r_total, r_nan = _run_sum(x, 0, len(x))
    assert r_nan == want_nan and abs(r_total - want_total) <= abs(total - want_total) + len(x) * 2.0 ** -52 * (
        math.fsum(abs(float(v)) for v in x if v == v))


def test_a_long_run_takes_the_vectorized_path_and_gives_the_peak_exactly():
    # by hand: 200 intervals of 0.25 kWh with one of 3.5 kWh; sum 199 x 0.25 + 3.5 = 53.25, peak 3.5
    x = np.full(200, 0.25, np.float32)
    x[137] = 3.5
    assert _run_sum_max(x, x.view(np.int32), 0, 200) == (53.25, 3.5, 0)
    x[3] = -1.0  # a negative read lowers the sum and never the peak
    assert _run_sum_max(x, x.view(np.int32), 0, 200) == (52.0, 3.5, 0)
    neg = np.full(100, -0.5, np.float32)
    assert _run_sum_max(neg, neg.view(np.int32), 0, 100) == (-50.0, 0.0, 0)
