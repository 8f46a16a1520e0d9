"""The exporter check decides from signs (workbench.kernels.signs) what ``np.nansum(...) > 0`` decided.

Bug it catches: calling a row with a negative read "exported" because it holds a positive one (+1, -2 sums to
-1), or an all-NaN row exported (NaN > 0 is False; nansum of it is 0).
"""

import numpy as np

from workbench.billing.chunk_data import exported, exported_in_run
from workbench.calendar.periods import BillPeriods


def _reference_exported(received):
    return np.nansum(received, axis=1) > 0


def _reference_in_run(received, periods, mask):
    out = _reference_exported(received)
    for i in np.flatnonzero(out):
        out[i] = any(np.nansum(received[i, periods.bounds[i, b]:periods.bounds[i, b + 1]]) > 0
                     for b in np.flatnonzero(mask[i]))
    return out


def test_by_hand():
    nan = np.nan
    received = np.array([[0, 0, 0, 0], [nan, nan, nan, nan], [0, 0.5, nan, 0], [1, -2, 0, 0], [2, -1, 0, 0],
                         [-0.0, 0, 0, 0], [0, 0, 0, np.inf], [np.inf, -np.inf, 0, 0], [1e-30, 0, 0, 0]], np.float32)
    assert exported(received).tolist() == [False, False, True, False, True, False, True, False, True]


def test_same_verdicts_as_nansum_random(monkeypatch):
    import workbench.billing.chunk_data as cd

    rng = np.random.default_rng(7)
    for trial in range(30):
        m, t = 40, 48
        received = rng.choice([0.0, 0.0, 0.0, np.nan, 0.25, -0.25, 1.0, -0.0], size=(m, t)).astype(np.float32)
        received[rng.random(m) < 0.3] = 0.0  # rows of zeros
        received[rng.random(m) < 0.1] = np.nan  # rows with no read
        assert (exported(received) == _reference_exported(received)).all()
        cuts = np.sort(rng.integers(0, t + 1, size=(m, 3)), axis=1)
        bounds = np.concatenate([np.zeros((m, 1), np.int64), cuts, np.full((m, 1), t, np.int64)], axis=1)
        days = np.datetime64("2025-01-01") + np.arange(5)
        periods = BillPeriods(np.tile(days[:4], (m, 1)), np.tile(days[1:], (m, 1)), np.full((m, 4), 30), bounds)
        mask = rng.random((m, 4)) < 0.5
        monkeypatch.setattr(cd, "period_mask", lambda periods, period, mask=mask: mask)
        got = exported_in_run(received, periods, None)
        assert (got == _reference_in_run(received, periods, mask)).all(), trial



def test_float32_bit_patterns_and_float64_agree_with_nansum():
    """The float32 path reads bit patterns: every special value (±0, ±inf, NaNs of both signs, denormals)."""
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4e38, -3.4e38, 1.0, -1.0], np.float32)
    neg_nan = np.frombuffer(np.array([0xFFC00000, 0xFF800001], np.uint32).tobytes(), np.float32)
    values = np.concatenate([specials, neg_nan])
    pairs = np.array([[a, b] for a in values for b in values], np.float32)
    want = _reference_exported(pairs)
    assert (exported(pairs) == want).all()
    assert (exported(pairs.astype(np.float64)) == _reference_exported(pairs.astype(np.float64))).all()
    assert (exported(np.asfortranarray(pairs)) == want).all()  # not C-contiguous: the float path
