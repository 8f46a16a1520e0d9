"""kVARh reads from every AMI format into the reactive channel, and through `workbench bill` into a bill.

The load in every file: 48 hourly reads from 2024-01-10 00:00 UTC, 10 kWh and 10 kVARh each, except hour 5
with 20 kWh; the tariff bills $10/kW with a power-factor demand multiplier (period basis, threshold 0.90).
Period: 490 kWh, 480 kVARh: PF = 490 / sqrt(490² + 480²) = 490 / 685.9300 = 0.714358;
billing demand 20 × 0.90 / 0.714358 = 25.19745 kW; × $10 = $251.97 (worked by hand).
"""

import json

import numpy as np
import pytest

from workbench.ami.readers import read_file
from workbench.cli import main

KWH = [20.0 if h == 5 else 10.0 for h in range(48)]
TOTAL = 251.97

TARIFF = """code: PF
name: PF test
timezone: UTC
# 48 hours billed as a whole month (partial_periods: full): these tests check the reads, not proration
demand: {interval_minutes: 60, partial_periods: full}
versions:
  - effective: 2020-01-01
    charges:
      - {type: demand, rates: 10.0}
      - {type: power_factor, method: demand_multiplier, threshold: 0.9}
"""


def _bill(tmp_path, intervals, capsys, *extra):
    tariff = tmp_path / "pf.yaml"
    tariff.write_text(TARIFF)
    code = main(["bill", "--tariff", str(tariff), "--intervals", str(intervals), "--format", "json",
                 "--timezone", "UTC", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _mdm(tmp_path, with_kvar=True):
    rows = ["meter_id,interval_start,channel,value,unit,interval_seconds"]
    for h in range(48):
        t = f"2024-01-{10 + h // 24:02d}T{h % 24:02d}:00:00Z"
        rows.append(f"M1,{t},delivered,{KWH[h] * 1000:g},Wh,3600")
        if with_kvar:
            rows.append(f"M1,{t},delivered,10,kVARh,3600")
    p = tmp_path / "mdm.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def test_mdm_csv_kvarh_reads_are_the_reactive_channel(tmp_path):
    res = read_file(_mdm(tmp_path))
    table = res.table.to_pandas()
    reactive = table[table["channel"].astype(str) == "reactive"]
    assert len(reactive) == 48 and (reactive["kwh"] == 10.0).all()
    assert res.rejects.num_rows == 0


def test_mdm_csv_with_kvarh_bills_the_power_factor(tmp_path, capsys):
    code, out, err = _bill(tmp_path, _mdm(tmp_path), capsys)
    assert code == 0, err
    (bill,) = json.loads(out)["bills"]
    assert bill["total"] == TOTAL


def test_mdm_csv_without_kvarh_is_refused_naming_the_reactive_channel(tmp_path, capsys):
    code, out, err = _bill(tmp_path, _mdm(tmp_path, with_kvar=False), capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "reactive channel (kVARh reads); the meter has none" in err


def test_mdm_leading_kvarh_is_rejected_with_the_reason(tmp_path):
    p = tmp_path / "lead.csv"
    p.write_text("meter_id,interval_start,channel,value,unit,interval_seconds\n"
                 "M1,2024-01-10T00:00:00Z,received,3,kVARh,3600\nM1,2024-01-10T00:00:00Z,delivered,3,kWh,3600\n")
    res = read_file(p)
    assert res.table.num_rows == 1
    assert "leading (received) kVARh is not kept" in res.rejects.column("reason")[0].as_py()


def test_one_meter_csv_kvarh_column(tmp_path, capsys):
    p = tmp_path / "intervals.csv"
    lines = ["timestamp,delivered_kwh,kvarh"] + [
        f"2024-01-{10 + h // 24:02d}T{h % 24:02d}:00:00Z,{KWH[h]:g},10" for h in range(48)]
    p.write_text("\n".join(lines) + "\n")
    code, out, err = _bill(tmp_path, p, capsys)
    assert code == 0, err
    assert json.loads(out)["bills"][0]["total"] == TOTAL
    p.write_text(p.read_text().replace(",10\n", ",-1\n", 1))
    code, _, err = _bill(tmp_path, p, capsys)
    assert code == 2 and "row 2: kvarh is -1; expected a number of kVARh" in err


def test_cmep_kvarh_record_is_the_reactive_channel(tmp_path):
    def record(units, values):
        trip = ",".join(f"2024011{0 + (h + 1) // 24}{(h + 1) % 24:02d}00,R0,{v:g}" for h, v in enumerate(values))
        return f"MEPMD01,19970819,UTIL,CUST,RCV,RCUST,202401120000,MTR9,OK,E,{units},1.0,000100,{len(values)},{trip}\n"

    p = tmp_path / "cmep.csv"
    p.write_text(record("KWH", KWH) + record("KVARH", [10.0] * 48))
    res = read_file(p, timezone="UTC")
    table = res.table.to_pandas()
    assert res.rejects.num_rows == 0
    reactive = table[table["channel"].astype(str) == "reactive"]
    assert len(reactive) == 48 and np.allclose(reactive["kwh"], 10.0)


def _greenbutton(uom_varh=73, flow=1):
    def mr(n, uom, f):
        return f"""
<entry><link rel="self" href="UP/1/MeterReading/{n}"/><link rel="up" href="UP/1/MeterReading"/>
<link rel="related" href="UP/1/MeterReading/{n}/IntervalBlock"/><link rel="related" href="RT/{n}"/>
<content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="RT/{n}"/><content><ReadingType xmlns="http://naesb.org/espi">
<flowDirection>{f}</flowDirection><uom>{uom}</uom><powerOfTenMultiplier>0</powerOfTenMultiplier></ReadingType>
</content></entry>"""

    def block(n, values):
        reads = "".join(f"<IntervalReading><timePeriod><duration>3600</duration><start>{1704844800 + 3600 * h}"
                        f"</start></timePeriod><value>{v:g}</value></IntervalReading>" for h, v in enumerate(values))
        return (f'<entry><link rel="self" href="B/{n}"/><link rel="up" href="UP/1/MeterReading/{n}/IntervalBlock"/>'
                f'<content><IntervalBlock xmlns="http://naesb.org/espi">{reads}</IntervalBlock></content></entry>')

    return ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">' + mr(1, 72, 1) + mr(2, uom_varh, flow)
            + block(1, [k * 1000 for k in KWH]) + block(2, [10_000] * 48) + "</feed>")


def test_green_button_varh_bills_the_power_factor(tmp_path, capsys):
    p = tmp_path / "gb.xml"
    p.write_text(_greenbutton())
    res = read_file(p)
    assert sorted(res.table.column("channel").to_pandas().astype(str).unique()) == ["delivered", "reactive"]
    code, out, err = _bill(tmp_path, p, capsys)
    assert code == 0, err
    assert json.loads(out)["bills"][0]["total"] == TOTAL


@pytest.mark.parametrize(("uom", "flow", "reason"), [(73, 19, "leading (received) VArh"), (63, 1, "uom 72")])
def test_green_button_leading_or_power_reads_rejected(tmp_path, uom, flow, reason):
    p = tmp_path / "gb.xml"
    p.write_text(_greenbutton(uom, flow))
    res = read_file(p)
    assert res.rejects.num_rows == 48
    assert reason in res.rejects.column("reason")[0].as_py()
