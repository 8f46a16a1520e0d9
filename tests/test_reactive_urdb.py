"""URDB reactive fields: demandreactivepowercharge ($/kVAR) and demandunits kVA, billed by hand-checked amounts."""

import pytest

from tests.test_reactive_billing import KVARH, KWH, TIMES
from workbench.billing import bill_series
from workbench.errors import BillingError, TariffError
from workbench.tariffs import load_tariff

URDB = {
    "label": "reactive-test", "name": "URDB reactive test",
    "energyratestructure": [[{"rate": 0.1}]],
    "energyweekdayschedule": [[0] * 24] * 12, "energyweekendschedule": [[0] * 24] * 12,
    "flatdemandstructure": [[{"rate": 5.0}]], "flatdemandmonths": [0] * 12,
    "demandreactivepowercharge": 0.5, "demandunits": "kVA",
}


def test_urdb_kva_demand_and_reactive_charge():
    # energy 490 kWh × $0.10 = $49.00; demand max kVA sqrt(10² + 30²) = 31.6228 × $5 = $158.11 a month;
    # reactive demand max 30 kVAR × $0.50 = $15.00 a month. The data are 2 days of January's 31: a URDB tariff
    # prorates demand on a partial period (URDB has no field to say otherwise): 158.114 × 2/31 = 10.2009 ->
    # $10.20; 15.00 × 2/31 = 0.9677 -> $0.97; total $60.17 (hand-worked)
    (bill,) = bill_series(load_tariff(URDB), TIMES, KWH, reactive_kvarh=KVARH)
    lines = {li.description: li for li in bill.line_items}
    demand = lines["Demand (prorated 2/31 days)"]
    assert demand.unit == "kVA" and demand.amount == 10.20
    assert lines["Reactive demand (prorated 2/31 days)"].amount == 0.97
    assert bill.total == 60.17


def test_urdb_reactive_tariff_refuses_a_meter_without_kvarh():
    with pytest.raises(BillingError, match="demand in kVA and a .+/kVAR reactive demand charge"):
        bill_series(load_tariff(URDB), TIMES, KWH)


def test_urdb_kw_and_kva_mixed_is_refused():
    with pytest.raises(TariffError, match="flatdemandunit.+mix kVA"):
        load_tariff({**URDB, "flatdemandunit": "kW"})
