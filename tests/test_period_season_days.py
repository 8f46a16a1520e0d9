"""``BillPeriods.season_days``: each bill period's days in each season, counted by hand.

Plausible one-line bugs this catches: the two look-ups of the cumulative day count swapped (negative days), the
end taken as inclusive (one day too many at a season change), or the rows of the cumulative table picked along
the wrong axis (a (M, B) x S table read as S x (M, B)).
"""

from __future__ import annotations

import numpy as np

from workbench.calendar.periods import BillPeriods, read_date_periods


def _periods(rows):
    start = np.array([[np.datetime64(s) for s, _ in row] for row in rows], dtype="datetime64[D]")
    end = np.array([[np.datetime64(e) for _, e in row] for row in rows], dtype="datetime64[D]")
    return BillPeriods(start=start, end=end, nominal_days=np.full(start.shape, 30), bounds=np.zeros((len(rows), 3), int))


def test_days_in_each_season_by_hand():
    summer = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0])  # June..September: season 1
    periods = _periods([
        [("2025-05-20", "2025-06-19"), ("2025-06-19", "2025-07-21")],  # 12 May days + 18 June; 32 June/July days
        [("2025-09-15", "2025-10-15"), ("2025-10-15", "2025-10-15")],  # 16 Sept + 14 Oct; a padded period
    ])
    got = periods.season_days(summer, 2)
    assert got.shape == (2, 2, 2)
    assert got.tolist() == [[[12.0, 18.0], [0.0, 32.0]], [[14.0, 16.0], [0.0, 0.0]]]


def test_three_seasons_across_a_year_end():
    seasons = np.array([2, 2, 0, 0, 0, 1, 1, 1, 1, 0, 0, 2])  # December..February: season 2
    start, end, _ = read_date_periods(["2024-11-20", "2025-01-10", "2025-03-05"], "2024-11-01", "2025-04-01")
    periods = _periods([list(zip(start.astype(str), end.astype(str), strict=True))])
    # 2024-11-20..12-01: 11 days in season 0, then 40 in December/January (season 2);
    # 2025-01-10..03-05: 22 January + 28 February days in season 2, 4 March days in season 0
    assert periods.season_days(seasons, 3).tolist() == [[[11.0, 0.0, 40.0], [4.0, 0.0, 50.0]]]
