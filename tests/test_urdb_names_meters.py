"""URDB field spellings real items use (camelCase, the database export's names) and the per-additional-meter
charge (``fixedchargeeaaddl``) billed on the account's meter count. Amounts by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.billing import bill_series
from workbench.cli import main
from workbench.errors import TariffError
from workbench.tariffs import load_tariff

FLAT = {"energyweekdayschedule": [[0] * 24] * 12, "energyweekendschedule": [[0] * 24] * 12}
JAN = pd.date_range("2018-01-01", "2018-02-01", freq="h", tz="Etc/GMT+7", inclusive="left")  # 744 hours
ADDL = {"label": "addl", "name": "addl", "sector": "Commercial", "energyratestructure": [[{"rate": 0.1}]], **FLAT,
        "fixedchargefirstmeter": 20.0, "fixedchargeeaaddl": 8.0, "fixedchargeunits": "$/month"}


def lines(bill):
    return [(li.description, li.amount) for li in bill.line_items]


def test_camel_case_fields_of_an_sdge_item_bill():
    """flatDemandUnits, demandRateUnits, demandReactPwrCharge, dgRules (SDG&E items saved from OpenEI)."""
    item = {"label": "x", "name": "x", "sector": "Commercial", "energyRateStrux": [{"energyRateTiers": [{"rate": 0.1}]}],
            "energyWeekdaySched": FLAT["energyweekdayschedule"], "energyWeekendSched": FLAT["energyweekendschedule"],
            "flatDemandStrux": [{"flatDemandTiers": [{"rate": 10.0}]}], "flatDemandMonths": [0] * 12,
            "flatDemandUnits": "kW", "demandRateUnits": "kW", "dgRules": "Net Metering", "supercedes": "abc",
            "mindemand": 20.0, "maxdemand": 500.0}
    (bill,) = bill_series(load_tariff(item), JAN, np.full(744, 2.0))
    # 1,488 kWh × 0.10 = 148.80; 2 kW × 10.00 = 20.00
    assert bill.total == 168.80


def test_two_spellings_of_one_field_that_disagree_are_refused():
    item = {**ADDL, "demandreactivepowercharge": 0.25, "demandReactPwrCharge": 0.30}
    with pytest.raises(TariffError, match="given twice, as 'demandreactivepowercharge' and 'demandReactPwrCharge'"):
        load_tariff(item)


@pytest.mark.parametrize("meters,extra_line,total", [
    (1, ("Fixed charge per additional meter: no additional meter (1 meter on the account; give the count with "
         "--meters-on-account N)", 0.0), 94.40),        # 20 + 744 × 0.10
    (3, ("Fixed charge per additional meter: 2 additional meters × $8/month", 16.0), 110.40),  # 20 + 2 × 8 + 74.40
])
def test_charge_per_additional_meter(meters, extra_line, total):
    (bill,) = bill_series(load_tariff(ADDL, meters_on_account=meters), JAN, np.ones(744))
    assert extra_line in lines(bill)
    assert bill.total == total


def test_per_day_additional_meter_charge_bills_365_12_days():
    item = {**ADDL, "fixedchargefirstmeter": 1.0, "fixedchargeeaaddl": 0.5, "fixedchargeunits": "$/day"}
    (bill,) = bill_series(load_tariff(item, meters_on_account=2), JAN, np.ones(744))
    # first meter 1.00 × 365/12 = 30.42; one more 0.50 × 365/12 = 15.21; energy 74.40
    assert bill.total == pytest.approx(30.42 + 15.21 + 74.40, abs=0.011)


def test_bill_command_takes_the_meter_count(tmp_path: Path, capsys):
    (tmp_path / "t.json").write_text(json.dumps(ADDL))
    (tmp_path / "m.csv").write_text("timestamp,delivered_kwh\n" + "".join(f"{t.isoformat()},1\n" for t in JAN))
    assert main(["bill", "--tariff", str(tmp_path / "t.json"), "--intervals", str(tmp_path / "m.csv"),
                 "--meters-on-account", "3", "--format", "csv"]) == 0
    assert "2 additional meters" in capsys.readouterr().out
    assert main(["bill", "--tariff", str(tmp_path / "t.json"), "--intervals", str(tmp_path / "m.csv"),
                 "--meters-on-account", "0"]) == 2
    assert "expected a whole number of at least 1" in capsys.readouterr().err
