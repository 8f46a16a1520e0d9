"""URDB ``demandratchetpercentage`` (monthly ratchet percentages): billing demands worked out by hand.

A year of hourly load whose monthly peaks are known (one spike hour a month on a 1 kWh/h base) under a flat
demand charge of $10/kW, so each month's demand charge is 10 × its billing demand. The percentage of month m
applies to the bill of month m (URDB's other 12-value fields are read by the bill month too); the lookback
window is ``lookbackrange`` or, when the item has none, the preceding 11 months with a warning.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.errors import TariffError
from workbench.tariffs import load_tariff
from workbench.tariffs.urdb_export import to_urdb

PEAKS = [120, 110, 100, 90, 80, 70, 10, 20, 30, 40, 50, 60]  # kW, January to December
REAL = Path(__file__).parent / "data" / "urdb" / "real"


def item(**extra):
    return {"label": "ratchet", "name": "Monthly ratchet", "sector": "Commercial",
            "energyratestructure": [[{"rate": 0.0}]],
            "energyweekdayschedule": [[0] * 24] * 12, "energyweekendschedule": [[0] * 24] * 12,
            "flatdemandstructure": [[{"rate": 10.0}]], "flatdemandmonths": [0] * 12, **extra}


def year(peaks=PEAKS, tz="America/Phoenix"):
    idx = pd.date_range("2018-01-01", "2019-01-01", freq="h", tz=tz, inclusive="left")
    kwh = np.ones(len(idx))
    for m, peak in enumerate(peaks):
        kwh[np.flatnonzero(idx.month == m + 1)[14 * 24 + 14]] = peak  # the 15th at 14:00
    return idx, kwh


def demand_charges(tariff, peaks=PEAKS):
    bills = bill_series(tariff, *year(peaks))
    assert [b.peak_kw for b in bills] == pytest.approx(peaks)
    return [sum(li.amount for li in b.line_items if li.category == "demand") for b in bills]


def test_uniform_percentage_default_window_warns_and_binds(caplog):
    with caplog.at_level(logging.WARNING):
        t = load_tariff(item(demandratchetpercentage=[0.35] * 12))
    assert "demandratchetpercentage" in caplog.text and "11 months" in caplog.text
    # Jul: 35 % × 120 (Jan) = 42 > 10; Aug-Oct: 42 > 20, 30, 40; Nov 50 and Dec 60 exceed 42.
    assert demand_charges(t) == [1200, 1100, 1000, 900, 800, 700, 420, 420, 420, 420, 500, 600]


def test_percentage_is_read_by_the_bill_month_with_the_item_s_window(caplog):
    pct = [0.0] * 6 + [0.5] * 6  # ratchet only in July-December bills
    with caplog.at_level(logging.WARNING):
        t = load_tariff(item(demandratchetpercentage=pct, lookbackrange=3))
    assert "demandratchetpercentage" not in caplog.text  # the window is stated: no assumption to announce
    # Jul: 50 % × max(Apr 90, May 80, Jun 70) = 45; Aug: 50 % × max(May..Jul) = 40 > 20;
    # Sep: 50 % × max(Jun..Aug) = 35 > 30; Oct: 50 % × max(Jul..Sep) = 15 < 40; Nov 50; Dec 60.
    # (Read by the month looked back at, as SAM indexes its matrix, July would be 10: Apr-Jun have 0 %.)
    assert demand_charges(t) == [1200, 1100, 1000, 900, 800, 700, 450, 400, 350, 400, 500, 600]


def test_a_zero_month_has_no_ratchet():
    peaks = [100, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]
    t = load_tariff(item(demandratchetpercentage=[0.8, 0.8, 0.0] + [0.8] * 9, lookbackrange=11))
    assert demand_charges(t, peaks) == [1000, 800, 100] + [800] * 9


def test_lookbackmonths_still_chooses_which_peaks_count():
    only_jan = [True] + [False] * 11
    t = load_tariff(item(demandratchetpercentage=[0.5] * 12, lookbackrange=11, lookbackmonths=only_jan))
    # 50 % × January's 120 = 60 in every later month, above Jul-Nov's peaks (Dec 60: equal)
    assert demand_charges(t) == [1200, 1100, 1000, 900, 800, 700, 600, 600, 600, 600, 600, 600]


@pytest.mark.parametrize("extra, field", [
    ({"demandratchetpercentage": [0.8] * 11}, "demandratchetpercentage"),
    ({"demandratchetpercentage": [80] * 12}, "demandratchetpercentage[0]"),
    ({"demandratchetpercentage": ["x"] * 12}, "demandratchetpercentage[0]"),
    ({"demandratchetpercentage": [0.8] * 12, "lookbackpercent": 0.6, "lookbackrange": 11}, "demandratchetpercentage"),
])
def test_malformed_or_conflicting_percentages_are_refused(extra, field):
    with pytest.raises(TariffError, match=re.escape(f"URDB field '{field}'")):
        load_tariff(item(**extra))


def test_all_zero_percentages_are_no_ratchet():
    t = load_tariff(item(demandratchetpercentage=[0] * 12))
    assert t.ratchet is None


def test_export_round_trip_keeps_the_monthly_percentages():
    pct = [0.0] * 6 + [0.5] * 6
    exported, _ = to_urdb(load_tariff(item(demandratchetpercentage=pct, lookbackrange=3)))
    assert exported["demandratchetpercentage"] == pytest.approx(pct)
    assert exported["lookbackrange"] == 3 and "lookbackpercent" not in exported


def test_wallingford_ct_real_item_bills_with_its_35_percent_ratchet():
    data = json.loads((REAL / "wallingford_ct_primary_northford_2013.json").read_text())
    data.pop("startdate"), data.pop("enddate")
    t = load_tariff(data)
    assert t.ratchet.percent_by_month == pytest.approx([35.0] * 12) and t.ratchet.months == 11
