"""`workbench bill`'s text output (workbench.engine.render.bills_as_text): the closing count line reads right."""

from __future__ import annotations

import datetime

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


def _bank_line(text: str, start: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(start)]


def test_an_opening_kwh_bank_is_shown_on_the_bill_it_offsets():
    # July 2025 at 0.3 kWh a quarter hour: 892.8 kWh delivered; 300 banked kWh brought in (NM-MONTHLY) offset 300
    # of them, so Energy bills 592.8 kWh. The text printed no bank line at all: the reader saw "delivered 892.800
    # kWh" over an Energy line of 592.800 kWh and nothing saying where 300 kWh went.
    timestamps = pd.date_range("2025-07-01", "2025-08-01", freq="15min", tz="America/New_York", inclusive="left")
    tariff = load_tariff("tariffs/RES-FLAT.yaml")
    bills = bill_series(tariff, timestamps, np.full(len(timestamps), 0.3), program="tariffs/programs/NM-MONTHLY.yaml",
                        opening_kwh=300.0)
    text = bills_as_text(tariff, bills)
    assert [li.quantity for li in bills[0].line_items if li.description == "Energy"] == [592.8]
    assert _bank_line(text, "Banked kWh") == [
        "Banked kWh: brought forward 300.000 + banked 0.000 - used 300.000 - settled at true-up 0.000"
        " = carried forward 0.000"]


def test_an_opening_dollar_credit_is_shown_as_brought_forward():
    # $12.34 brought in under NEM2 ($ credits) is less than July's energy and rider ($108.48 + $6.34, above), so
    # it is applied in full, nothing carried. The text printed "earned $0.00, applied $12.34, carried forward $0.00", which does not add up.
    timestamps = pd.date_range("2025-07-01", "2025-08-01", freq="15min", tz="America/New_York", inclusive="left")
    tariff = load_tariff("tariffs/RES-FLAT.yaml")
    bills = bill_series(tariff, timestamps, np.full(len(timestamps), 0.3), program="tariffs/programs/NEM2.yaml",
                        pto_date=datetime.date(2020, 5, 1), opening_credit=12.34)
    assert _bank_line(bills_as_text(tariff, bills), "Credits:") == [
        "Credits: brought forward $12.34 + earned $0.00 - applied $12.34 - settled at true-up $0.00"
        " = carried forward $0.00"]
