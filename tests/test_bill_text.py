"""`workbench bill`'s text output (workbench.engine.render.bills_as_text): the closing count line reads right."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.billing import bill_series
from workbench.engine.render import bills_as_text
from workbench.tariffs import load_tariff


def _bills(start: str, end: str):
    timestamps = pd.date_range(start, end, freq="15min", tz="America/New_York", inclusive="left")
    tariff = load_tariff("tariffs/RES-FLAT.yaml")
    return tariff, bill_series(tariff, timestamps, np.full(len(timestamps), 0.3))


def test_one_bill_is_counted_in_the_singular():
    # July 2025: 31 days x 96 intervals x 0.3 kWh = 892.8 kWh. RES-FLAT: 13.50 + 892.8 x 0.1215 = 108.48
    # + 892.8 x 0.0071 = 6.34 -> 128.32; 6% tax 7.70 -> 136.02. It printed "1 bills, total $136.02".
    tariff, bills = _bills("2025-07-01", "2025-08-01")
    text = bills_as_text(tariff, bills)
    assert text.splitlines()[-1] == "1 bill, total $136.02"


def test_several_bills_are_counted_in_the_plural():
    tariff, bills = _bills("2025-07-01", "2025-09-01")
    assert len(bills) == 2 and bills_as_text(tariff, bills).splitlines()[-1].startswith("2 bills, total $")
