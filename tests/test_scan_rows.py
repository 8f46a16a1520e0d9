"""The scan of some rows of a chunk in place (``scan_determinants(..., rows=)``) is the scan of a copy of those rows.

A bill run scans each rate-code group of a meter chunk by row index instead of copying the group's rows out. The
same per-meter function runs on the same row, so the results must be identical to the bit, on every path
(parallel and serial, run segments and the interval loop, block and rolling windows, NaN reads, quality flags,
exports, real-time and export prices). A plausible one-line bug this catches: the wrapper writing meter ``m``'s
outputs to row ``rows[m]`` (or reading input row ``m``), which scrambles the bills of every interleaved group.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_kernel_properties as kp  # the random, well-formed kernel inputs of the property tests
from hypothesis import given
from hypothesis import strategies as st

from workbench.kernels.scan import scan_determinants


@st.composite
def _chunk_and_rows(draw):
    """The inputs of ``scan_inputs`` as rows of a larger chunk, with other meters' rows around them."""
    inputs = draw(kp.scan_inputs())
    n = inputs["delivered"].shape[0]
    extra = draw(st.integers(0, 5))
    order = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(n + extra)
    rows = np.sort(order[:n]) if draw(st.booleans()) else order[:n]  # in chunk order, or any order
    rng = np.random.default_rng(n + extra)
    chunk = {}
    for name in ("delivered", "received", "quality"):
        values = inputs[name]
        if values is None:
            continue
        big = (rng.random((n + extra, values.shape[1])) * 50).astype(values.dtype)  # other meters: other data
        big[rows] = values
        chunk[name] = big
    return inputs, chunk, rows


@given(_chunk_and_rows(), st.booleans(), st.sampled_from([None, False]))
def test_rows_in_place_are_the_rows_copied(case, parallel, runs):
    inputs, chunk, rows = case
    want = kp.run_kernel(inputs, parallel=parallel, runs=runs)
    got = kp.run_kernel({**inputs, **chunk}, parallel=parallel, runs=runs, rows=rows)
    for name in kp.OUTPUTS:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_rows_by_hand():
    # two meters in a chunk of three, scanned in the order (2, 0): one period, one energy bucket
    delivered = np.array([[1.0, 2.0], [100.0, 100.0], [np.nan, 5.0]])
    out = scan_determinants(delivered, np.zeros_like(delivered), np.array([[0, 2], [0, 2]]), np.zeros(2, np.int16),
                            np.zeros(2, np.int16), 1, 1, kw_factor=4.0, rows=np.array([2, 0]))
    assert out["energy_kwh"][:, 0, 0].tolist() == [5.0, 3.0]  # NaN counts as missing, not as kWh
    assert out["peak_kw"][:, 0].tolist() == [20.0, 8.0]
    assert out["counts"][:, 0].tolist() == [[1, 1, 0], [2, 0, 0]]


def test_rows_outside_the_chunk_are_refused():
    delivered = np.zeros((2, 4))
    with pytest.raises(IndexError, match="outside the 2 rows"):
        scan_determinants(delivered, delivered, np.array([[0, 4]]), np.zeros(4, np.int16), np.zeros(4, np.int16), 1, 0,
                          rows=np.array([2]))
