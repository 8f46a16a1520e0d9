"""The other shapes of real URDB items, and coincident-peak charges with the system-peak file: by hand.

Fixed-charge-only and demand-only items bill; a demand unit on an item without a demand charge changes
nothing; hp demand is restated per kW (1 hp = 0.7457 kW) on the line item; a coincident-peak charge bills
the customer's demand at the peaks of the system-peak file, and without the file is refused naming it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.cli import main
from workbench.errors import TariffError
from workbench.tariffs import load_tariff, tariff_from_spec
from workbench.tariffs.system_peaks import read_system_peaks

PHOENIX = "America/Phoenix"
FLAT = {"energyweekdayschedule": [[0] * 24] * 12, "energyweekendschedule": [[0] * 24] * 12}


def july(peak_hour=None, peak_kwh=5.0):
    """Hourly July 2025 at 1 kWh an hour; one hour (a local wall time) at ``peak_kwh``."""
    idx = pd.date_range("2025-07-01", "2025-08-01", freq="h", tz=PHOENIX, inclusive="left")
    kwh = np.ones(len(idx))
    if peak_hour is not None:
        kwh[int(np.flatnonzero(idx == pd.Timestamp(peak_hour, tz=PHOENIX))[0])] = peak_kwh
    return idx, kwh


def lines(bill, category):
    return [(li.description, li.amount) for li in bill.line_items if li.category == category]


def test_fixed_charge_only_item_bills():
    t = load_tariff({"label": "light", "name": "Unmetered light", "fixedchargefirstmeter": 12.5,
                     "fixedchargeunits": "$/month"})
    (bill,) = bill_series(t, *july())
    assert bill.total == 12.50


def test_demand_only_item_bills():
    t = load_tariff({"label": "d", "name": "Demand only", "flatdemandstructure": [[{"rate": 9.0}]],
                     "flatdemandmonths": [0] * 12})
    (bill,) = bill_series(t, *july("2025-07-10 15:00", 20.0))
    assert bill.total == 180.00  # 20 kW × 9.00


def test_demand_unit_without_a_demand_charge_changes_nothing():
    t = load_tariff({"label": "e", "name": "Energy", "energyratestructure": [[{"rate": 0.1}]], **FLAT,
                     "demandunits": "kVA"})
    (bill,) = bill_series(t, *july())
    assert bill.total == 74.40  # 744 kWh × 0.10


def test_hp_demand_is_billed_per_kw_and_says_so():
    t = load_tariff({"label": "hp", "name": "Irrigation", "energyratestructure": [[{"rate": 0.1}]], **FLAT,
                     "flatdemandstructure": [[{"rate": 7.457}]], "flatdemandmonths": [0] * 12,
                     "flatdemandunit": "hp"})
    (bill,) = bill_series(t, *july("2025-07-10 15:00", 10.0))
    # 10 kW = 10 / 0.7457 hp; × 7.457 $/hp = 100.00 (the line: 10 kW × 10.00 $/kW)
    ((description, amount),) = lines(bill, "demand")
    assert amount == 100.00
    assert "1 hp = 0.7457 kW" in description
    # energy: 743 + 10 = 753 kWh × 0.10 = 75.30
    assert bill.total == 175.30


COINCIDENT = {"label": "cp", "name": "Co-op CP", "sector": "Commercial",
              "energyratestructure": [[{"rate": 0.1}]], **FLAT,
              "coincidentratestructure": [[{"rate": 8.0}]], "coincidentsched": [[0] * 24] * 12,
              "coincidentrateunit": "kW"}


def test_coincident_peak_from_the_system_peak_file(tmp_path):
    peaks = tmp_path / "peaks.csv"
    peaks.write_text("start,zone,label\n2025-07-17 17:00,COOP,1CP\n")
    t = load_tariff(COINCIDENT, system_peaks=read_system_peaks(peaks))
    # the customer's own peak (20 kWh at 15:00 on the 10th) is not at the system peak; at 17:00 on the 17th
    # they draw 5 kW
    idx, kwh = july("2025-07-17 17:00", 5.0)
    kwh[int(np.flatnonzero(idx == pd.Timestamp("2025-07-10 15:00", tz=PHOENIX))[0])] = 20.0
    (bill,) = bill_series(t, idx, kwh)
    assert lines(bill, "demand") == [("Coincident-peak demand", 40.00)]  # 5 kW × 8.00
    # energy: 742 × 1 + 5 + 20 = 767 kWh × 0.10 = 76.70
    assert bill.total == 116.70


def test_coincident_without_the_file_is_refused_naming_it():
    with pytest.raises(TariffError, match="--system-peaks FILE"):
        load_tariff(COINCIDENT)


def test_the_same_charge_from_yaml_with_the_file(tmp_path):
    spec = {"code": "CP", "name": "cp", "timezone": PHOENIX, "demand": {"interval_minutes": 60},
            "versions": [{"effective": "2024-01-01", "charges": [
                {"type": "demand", "measure": "coincident", "rates": 8.0}]}]}
    path = tmp_path / "cp.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML; a .yaml name makes it a workbench tariff
    peaks = tmp_path / "peaks.csv"
    peaks.write_text("start\n2025-07-17T17:00-07:00\n")
    t = load_tariff(path, system_peaks=read_system_peaks(peaks))
    (bill,) = bill_series(t, *july("2025-07-17 17:00", 5.0))
    assert bill.total == 40.00
    with pytest.raises(TariffError, match="a 'coincident' demand charge needs"):
        tariff_from_spec(spec)


def test_bill_command_takes_the_system_peak_file(tmp_path, capsys):
    (tmp_path / "cp.json").write_text(json.dumps(COINCIDENT))
    (tmp_path / "peaks.csv").write_text("start,zone\n2025-07-17 17:00,A\n2025-07-18 16:00,B\n")
    idx, kwh = july("2025-07-17 17:00", 5.0)
    rows = [f"{t.isoformat()},{v}" for t, v in zip(idx, kwh, strict=True)]
    (tmp_path / "iv.csv").write_text("timestamp,delivered_kwh\n" + "\n".join(rows) + "\n")
    base = ["bill", "--tariff", tmp_path / "cp.json", "--intervals", tmp_path / "iv.csv", "--format", "json"]
    assert main([str(a) for a in base]) == 2
    assert "--system-peaks FILE" in capsys.readouterr().err
    assert main([str(a) for a in base + ["--system-peaks", tmp_path / "peaks.csv"]]) == 2
    assert "--peak-zone" in capsys.readouterr().err  # two zones: which one?
    assert main([str(a) for a in base + ["--system-peaks", tmp_path / "peaks.csv", "--peak-zone", "A"]]) == 0
    out = json.loads(capsys.readouterr().out)
    text = json.dumps(out)
    assert "Coincident-peak demand" in text and "40.0" in text  # 5 kW × 8.00


@pytest.mark.parametrize("text,fragment", [
    ("when\n2025-07-17 17:00\n", "no 'start' column"),
    ("start\nyesterday\n", "row 2: start 'yesterday'"),
    ("start\n2025-07-17 17:00\n2025-07-17 17:00\n", "listed twice"),
    ("start\n", "no system peaks"),
])
def test_bad_system_peak_files(tmp_path, text, fragment):
    path = tmp_path / "peaks.csv"
    path.write_text(text)
    with pytest.raises(TariffError, match=fragment):
        read_system_peaks(path)


def test_plausibility_warnings_name_the_field(caplog):
    item = {"label": "w", "name": "Small commercial", "sector": "Commercial", **FLAT,
            "energyratestructure": [[{"rate": 0.95}]]}
    t = load_tariff(item)  # billed as written: a warning (through logging; the CLI prints it), not a refusal
    err = caplog.text
    assert "warning:" in err and "energyratestructure[0][0].rate" in err and "did you mean 0.095" in err
    assert t is not None
    caplog.clear()
    load_tariff({**item, "sector": "Residential"})  # 0.95 is possible for a residential rate: no warning
    assert caplog.text == ""
    load_tariff({**item, "energyratestructure": [[{"rate": 0.09}]], "fueladjustmentsmonthly": [-0.2] + [0.0] * 11})
    err = caplog.text
    assert "fueladjustmentsmonthly[0]" in err and "credit" in err
