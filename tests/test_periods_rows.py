"""``periods_from_rows`` stacks each distinct period list once (meters on one read cycle share their list):
the result must be the same as stacking row by row, whether rows are shared objects, equal copies or differ.

Plausible one-line bugs this catches: the repeat index off by one (meter i gets meter i-1's cycle), or the
padding of a shorter list taken from the wrong row.
"""

from __future__ import annotations

import numpy as np

from workbench.calendar.periods import calendar_month_periods, periods_from_rows, read_date_periods


def test_shared_equal_and_distinct_rows_stack_as_row_by_row():
    first, end = np.datetime64("2025-01-01"), np.datetime64("2025-04-01")
    day = np.repeat(np.arange(first, end).astype(np.int64), 24)  # hourly data: 24 intervals a day
    monthly = calendar_month_periods(first, end)  # 3 periods
    cycle = read_date_periods(["2024-12-20", "2025-01-21", "2025-02-19", "2025-03-20", "2025-04-18"], first, end)
    short = read_date_periods(["2024-12-20", "2025-02-19", "2025-04-18"], first, end)  # 2 periods: padded
    rows = [monthly, cycle, monthly, short, tuple(np.copy(a) for a in cycle), monthly, short]
    got = periods_from_rows(rows, day)
    for i, (s, e, n) in enumerate(rows):
        k = len(s)
        assert got.start[i, :k].tolist() == list(s) and got.end[i, :k].tolist() == list(e)
        assert got.nominal_days[i, :k].tolist() == list(n)
        # by hand: a period starting on day d begins at interval 24 x (d - first); padding is empty at the end
        want = [24 * int((d - first).astype(int)) for d in [*s, e[-1]]]
        want += [want[-1]] * (got.bounds.shape[1] - len(want))
        assert got.bounds[i].tolist() == want, i
        assert (got.start[i, k:] == e[-1]).all() and (got.end[i, k:] == e[-1]).all()
    assert got.bounds.shape == (7, 5)  # the widest list: 4 periods
