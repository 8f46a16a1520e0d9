"""`workbench bill --intervals` on AMI files whose times carry no UTC offset (CMEP, Green Button CSV).

Such a file needs the zone its sender used: ``--timezone`` reaches the reader (before, `workbench bill` never
passed it, so a CMEP file could not be billed at all). Without it the refusal names ``--timezone``.

The load (as tests/test_reactive_readers.py): 48 hourly reads, 10 kWh and 10 kVARh each, except hour 5 with
20 kWh; $10/kW with a power-factor demand multiplier (period basis, threshold 0.90). Period: 490 kWh,
480 kVARh: PF = 490 / sqrt(490² + 480²) = 0.714358; billing demand 20 × 0.90 / 0.714358 = 25.19745 kW;
× $10 = $251.97 (worked by hand).
"""

import json

import numpy as np

from workbench.cli import main
from workbench.engine.intervals import read_meter_reads

KWH = [20.0 if h == 5 else 10.0 for h in range(48)]
TOTAL = 251.97
TARIFF = """code: PF
name: PF test
# 48 hours billed as a whole month (partial_periods: full): these tests check the reads, not proration
demand: {interval_minutes: 60, partial_periods: full}
versions:
  - effective: 2020-01-01
    charges:
      - {type: demand, rates: 10.0}
      - {type: power_factor, method: demand_multiplier, threshold: 0.9}
"""


def _cmep(tmp_path, with_kvar=True):
    def record(units, values):  # triplets stamped with each interval's local end time
        trip = ",".join(f"2024011{(h + 1) // 24}{(h + 1) % 24:02d}00,R0,{v:g}" for h, v in enumerate(values))
        return f"MEPMD01,19970819,UTIL,CUST,RCV,RCUST,202401120000,MTR9,OK,E,{units},1.0,000100,{len(values)},{trip}\n"

    p = tmp_path / "meter.cmep"
    p.write_text(record("KWH", KWH) + (record("KVARH", [10.0] * 48) if with_kvar else ""))
    return p


def _bill(tmp_path, intervals, capsys, *extra):
    tariff = tmp_path / "pf.yaml"
    tariff.write_text(TARIFF)
    code = main(["bill", "--tariff", str(tariff), "--intervals", str(intervals), "--format", "json", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_cmep_with_kvarh_bills_through_workbench_bill_with_timezone(tmp_path, capsys):
    code, out, err = _bill(tmp_path, _cmep(tmp_path), capsys, "--timezone", "America/Chicago")
    assert code == 0, err
    (bill,) = json.loads(out)["bills"]
    assert bill["total"] == TOTAL
    assert (bill["start"], bill["end"]) == ("2024-01-10", "2024-01-12")  # local dates of the data


def test_cmep_times_are_read_in_the_given_zone(tmp_path):
    reads = read_meter_reads(_cmep(tmp_path), timezone="America/Chicago")
    # the first interval ends 01:00 local = 07:00 UTC (CST is UTC-6), so it starts 06:00 UTC
    assert reads.start.min() == np.datetime64("2024-01-10T06:00:00")
    assert len(reads.reactive_kvarh) == 48


def test_cmep_without_timezone_is_refused_naming_the_option(tmp_path, capsys):
    code, out, err = _bill(tmp_path, _cmep(tmp_path), capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "meter.cmep" in err and "--timezone" in err and "workbench ingest or bill" in err
    assert "Traceback" not in err


def test_cmep_without_kvarh_is_refused_naming_the_reactive_channel(tmp_path, capsys):
    code, out, err = _bill(tmp_path, _cmep(tmp_path, with_kvar=False), capsys, "--timezone", "America/Chicago")
    assert code == 2 and "reactive channel (kVARh reads); the meter has none" in err


def _gb_csv(tmp_path, export_kvarh=False):
    """A PG&E-style Green Button CSV with a UNITS column: each hour a kWh row and a kVARh row."""
    lines = ["Name,TEST CUSTOMER", "Account Number,1234", "", "TYPE,DATE,START TIME,END TIME,USAGE,EXPORT,UNITS,NOTES"]
    for h in range(48):
        day, hour = f"2024-01-{10 + h // 24:02d}", h % 24
        lines.append(f"Electric usage,{day},{hour:02d}:00,{hour:02d}:59,{KWH[h]:g},0,kWh,")
        lines.append(f"Electric usage,{day},{hour:02d}:00,{hour:02d}:59,10,{3 if export_kvarh else 0},kVARh,")
    p = tmp_path / "gb.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_green_button_csv_kvarh_rows_land_in_the_reactive_channel_and_bill(tmp_path, capsys):
    reads = read_meter_reads(_gb_csv(tmp_path), timezone="UTC")
    assert len(reads.reactive_kvarh) == 48 and np.allclose(reads.reactive_kvarh, 10.0)
    assert reads.kwh[~reads.received].sum() == sum(KWH)  # kVARh never counted as kWh
    code, out, err = _bill(tmp_path, _gb_csv(tmp_path), capsys, "--timezone", "UTC")
    assert code == 0, err
    result = json.loads(out)
    assert result["bills"][0]["total"] == TOTAL
    # the EXPORT cell of each kVARh row is a leading read: not used, said, and it does not stop the bill
    assert any("48 leading (received) kVARh read(s) not used" in w for w in result["warnings"])


def test_green_button_csv_leading_kvarh_is_rejected_saying_what_it_means(tmp_path):
    from workbench.ami.readers import read_file

    res = read_file(_gb_csv(tmp_path, export_kvarh=True), timezone="UTC")
    reasons = set(res.rejects.column("reason").to_pylist())
    assert len(reasons) == 1 and res.rejects.num_rows == 48
    (reason,) = reasons
    assert reason.startswith("leading (received) kVARh is not kept") and "nothing to fix unless" in reason
    channels = res.table.column("channel").to_pandas().astype(str).value_counts().to_dict()
    assert channels == {"delivered": 48, "received": 48, "reactive": 48}  # every other read lands
