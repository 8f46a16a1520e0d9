"""The scan's run sums (``workbench/kernels/run_sums.py``) against a slow, obviously-correct reference.

The reference is plain Python over the values: the exactly rounded sum (``math.fsum``), the largest value
floored at 0 (negative reads never make a peak), and the count of NaNs. Runs start anywhere in the array and
have any length, so every path is drawn: whole steps of four (an even and an odd number of them: the two
vector accumulators and the lone last step), a remainder of 1-3 intervals, a NaN or an inf in a run (the exact
scalar redo). Plausible one-line bugs this must catch (each tried): the odd step of four dropped (a run of 12
intervals loses its last hour), the remainder loop starting at ``a`` instead of ``a + 4 * quads``, the vector
max started from the first value instead of 0 (a negative-only run reports a negative peak), the NaN redo
skipped (a missing read makes a NaN energy total), an aligned 16-byte load (crashes on a run starting at 5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba.core.errors import TypingError

from workbench.kernels.run_sums import _no_reads, _priced_sum, _run_sum, _run_sum_max


def reference(values):
    finite = [v for v in values if v == v]
    return math.fsum(finite), max([0.0, *finite]), len(values) - len(finite)


reads = st.one_of(st.floats(0, 50, width=32), st.floats(-5, 0, width=32), st.just(0.0), st.just(float("nan")),
                  st.floats(9.99994610111476e-41, 9.99994610111476e-38, width=32))  # subnormal and tiny floats


@settings(max_examples=300, deadline=None)
@given(st.lists(reads, min_size=0, max_size=200), st.integers(0, 7), st.integers(0, 7),
       st.sampled_from([np.float32, np.float64]))
def test_run_sum_max_matches_the_reference(values, before, after, dtype):
    x = np.asarray([1e3] * before + values + [1e3] * after, dtype=dtype)  # the run starts anywhere
    a, b = before, before + len(values)
    total, top, n_nan = _run_sum_max(x, a, b)
    want_total, want_top, want_nan = reference([float(v) for v in x[a:b]])
    assert n_nan == want_nan
    assert top == want_top  # exact: a maximum is one of the values
    # the order of additions may differ from fsum's exact rounding by at most n ulps of the largest partial sum
    assert abs(total - want_total) <= len(values) * 2.0 ** -52 * math.fsum(abs(float(v)) for v in x[a:b] if v == v)
    assert _run_sum(x, a, b) == (total, n_nan)


def test_runs_of_whole_hours_and_remainders_by_hand():
    # 0.25 kWh in every interval, one 3.5 kWh read; lengths 12 (three steps of four: the odd step), 16 (two
    # pairs), 13 (a remainder of one), 3 (remainder only)
    for length, peak_at in ((12, 11), (16, 0), (13, 12), (3, 1)):
        x = np.full(40, 0.25, np.float32)
        x[5 + peak_at] = 3.5
        assert _run_sum_max(x, 5, 5 + length) == ((length - 1) * 0.25 + 3.5, 3.5, 0)
    x = np.full(200, 0.25, np.float32)
    x[137] = 3.5
    assert _run_sum_max(x, 0, 200) == (53.25, 3.5, 0)
    x[3] = -1.0  # a negative read lowers the sum and never the peak
    assert _run_sum_max(x, 0, 200) == (52.0, 3.5, 0)
    neg = np.full(100, -0.5, np.float32)
    assert _run_sum_max(neg, 0, 100) == (-50.0, 0.0, 0)


def test_a_missing_read_or_an_inf_in_a_run():
    x = np.full(24, 1.0)
    x[9] = np.nan  # 23 reads of 1 kWh and one missing
    assert _run_sum_max(x, 0, 24) == (23.0, 1.0, 1)
    x[9] = np.inf  # an inf is summed, never counted missing (as the interval loop does)
    assert _run_sum_max(x, 0, 24) == (np.inf, np.inf, 0)


def test_no_reads_is_every_value_a_signed_zero():
    for values, want in (([0.0, -0.0, 0.0], True), ([], True), ([0.0, 1e-45], False), ([np.nan], False),
                         ([-0.0, -1.0], False), ([np.inf, 0.0], False)):
        for dtype, bits in ((np.float32, np.int32), (np.float64, np.int64)):
            assert _no_reads(np.array(values, dtype).view(bits)) is want, (values, dtype)


@settings(max_examples=200, deadline=None)
@given(st.lists(reads, min_size=0, max_size=120), st.integers(0, 5), st.sampled_from([np.float32, np.float64]))
def test_priced_sum_skips_missing_reads(values, before, dtype):
    """Σ kWh × price over the present reads (real-time prices, export values); a NaN read adds nothing.
    Bug caught: a NaN read priced at 0 instead of skipped makes the sum NaN; a slice off by one."""
    x = np.asarray([7.0] * before + values, dtype=dtype)
    price = np.linspace(-0.05, 0.4, len(x))
    a, b = before, len(x)
    got = _priced_sum(x, price, a, b)
    terms = [float(v) * float(p) for v, p in zip(x[a:b], price[a:b], strict=True) if v == v]
    assert abs(got - math.fsum(terms)) <= (len(terms) + 1) * 2.0 ** -52 * math.fsum(abs(t) for t in terms)


def test_an_empty_range_and_a_strided_array():
    x = np.arange(10, dtype=np.float32)
    assert _run_sum_max(x, 5, 2) == (0.0, 0.0, 0)  # b < a: nothing, never a huge loop count
    with pytest.raises(TypingError):  # four lanes are four adjacent elements: a strided view is refused
        _run_sum_max(np.arange(20.0)[::2], 0, 8)
