"""The URDB corpus script on the sample kept in tests/data/urdb: every item's outcome as EXPECTED.csv says.

Totals are asserted where worked out by hand (the corpus profile: 10 kW, +25 kW on weekdays 08-18,
+15 kW at 15:00 in Jun-Sep; 2018):
- fixed_charge_only: 18.00 $/month × 12 = 216.00;
- demand_only_tou: period 1 (weekdays 14-20) peaks at 50 kW in Jun-Sep and 35 kW otherwise, period 0 at
  35 kW every month: 12 × 35 × 4.00 + (4 × 50 + 8 × 35) × 12.00 = 1,680 + 5,760 = 7,440.00.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmarks.urdb_corpus import run

SAMPLE = Path(__file__).parent / "data" / "urdb"


@pytest.mark.slow
def test_every_sample_item_has_its_expected_outcome():
    result = run(SAMPLE)
    got = {str(Path(r["item"]).relative_to(SAMPLE)): r for r in result["rows"]}
    expected = list(csv.DictReader((SAMPLE / "EXPECTED.csv").open()))
    assert sorted(got) == sorted(row["item"] for row in expected)  # every item listed, nothing extra
    for row in expected:
        outcome = got[row["item"]]
        assert (outcome["outcome"], outcome["reason"]) == (row["outcome"], row["reason"]), row["item"]
        if row["total"]:
            assert outcome["total"] == float(row["total"]), row["item"]
    assert result["crashed"] == 0
