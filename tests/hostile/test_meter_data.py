"""Hostile meter data: non-finite, absurd and negative reads, non-UTF-8 files, giant lines, other delimiters,
absurd registry and enrollment values. The ingest rejects a bad read with its reason and keeps the accounting
exact (reads in = accepted + rejected + duplicates); the one-file path (`workbench bill --intervals`) refuses
the file naming it and the row; a bad registry or enrollment file is refused naming the row and column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hostile._cli import REPO, assert_ok, assert_refused, run_in_process

REG = "meter_id,customer_class,rate_code,timezone\nM1,RES,RES-FLAT,UTC\n"
MDM = "meter_id,interval_start,channel,value,unit"
TARIFF = REPO / "tariffs" / "RES-FLAT.yaml"


def _mdm(path: Path, values, channel="delivered", sep=",", header=MDM) -> Path:
    """One meter's hourly reads from 2025-01-01T00:00Z, one per value (written as given)."""
    lines = [header.replace(",", sep)]
    for h, v in enumerate(values):
        lines.append(sep.join(["M1", f"2025-01-01T{h:02d}:00:00Z", channel, str(v), "kWh"]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ingest(tmp_path, capsys, *files, registry=REG, extra=()):
    reg = tmp_path / "meters.csv"
    reg.write_text(registry, encoding="utf-8")
    out = run_in_process(["ingest", *files, "--into", tmp_path / "c.zarr", "--registry", reg, "--period", "2025-01",
                          "--report", tmp_path / "rep", *extra], capsys)
    assert_ok(out)
    acct = json.loads((tmp_path / "rep" / "ingest_accounting.json").read_text())
    assert acct["reads_in"] == acct["accepted"] + acct["rejected"] + acct["duplicates"]
    assert acct["rejected"] == sum(acct["rejects_by_reason"].values())
    return acct, out


def _bill(path, capsys):
    return run_in_process(["bill", "--tariff", TARIFF, "--intervals", path], capsys)


# --------------------------------------------------------------------------------------------- the ingest


def test_ingest_rejects_nan_and_infinite_kwh_by_name(tmp_path, capsys):
    """MDM CSV with nan, inf and -inf kWh: three rejects 'non-finite kWh', the other two reads accepted."""
    data = _mdm(tmp_path / "reads.csv", [1.0, "nan", "inf", "-inf", 2.0])
    acct, _ = _ingest(tmp_path, capsys, data)
    assert (acct["reads_in"], acct["accepted"], acct["rejected"]) == (5, 2, 3)
    assert acct["rejects_by_reason"] == {"non-finite kWh": 3}


def test_ingest_rejects_1e30_kwh_beyond_any_meter(tmp_path, capsys):
    """MDM CSV with 1e30 kWh in an hour: rejected as beyond any meter's physical limit, never in the cube."""
    data = _mdm(tmp_path / "reads.csv", [1.0, "1e30", 2.0])
    acct, _ = _ingest(tmp_path, capsys, data)
    assert (acct["reads_in"], acct["accepted"], acct["rejected"]) == (3, 2, 1)
    assert acct["rejects_by_reason"] == {"kWh beyond any meter's physical limit": 1}
    sample = acct["rejects_sample"][0]
    assert sample["row"] == 3 and sample["file"].endswith("reads.csv")


def test_ingest_rejects_a_read_absurd_once_multiplied(tmp_path, capsys):
    """200 kWh in an hour on a meter with CT 10,000 x PT 10,000: 2e10 kWh (20,000 GW) rejected, 1e-4 read."""
    data = _mdm(tmp_path / "reads.csv", ["0.0001", 200.0])
    acct, out = _ingest(tmp_path, capsys, data, registry="meter_id,customer_class,rate_code,timezone,ct_ratio,"
                        "pt_ratio\nM1,LGS,LGS-TOU,UTC,10000,10000\n")
    assert (acct["reads_in"], acct["accepted"], acct["rejected"]) == (2, 1, 1)
    assert acct["rejects_by_reason"] == {"kWh beyond any meter's physical limit": 1}
    assert acct["rejects_sample"][0]["row"] == 3 and "CT x PT of meter M1 (1e+08)" in acct["rejects_sample"][0]["reason"]


def test_ingest_rejects_absurd_reads_in_parquet(tmp_path, capsys):
    """MDM Parquet with NaN and 1e30 kWh: one reject of each reason, the good read accepted."""
    path = tmp_path / "reads.parquet"
    pq.write_table(pa.table({
        "meter_id": ["M1", "M1", "M1"],
        "interval_start": pa.array([1735689600, 1735693200, 1735696800], pa.timestamp("s", tz="UTC")),
        "channel": ["delivered"] * 3, "value": [float("nan"), 1e30, 1.5], "unit": ["kWh"] * 3,
    }), path)
    acct, _ = _ingest(tmp_path, capsys, path)
    assert (acct["reads_in"], acct["accepted"]) == (3, 1)
    assert acct["rejects_by_reason"] == {"non-finite kWh": 1, "kWh beyond any meter's physical limit": 1}


def test_ingest_rejects_absurd_reads_in_cmep(tmp_path, capsys):
    """CMEP with NaN and 1e30 in its triplets: 'non-finite kWh' and 'beyond any meter's physical limit'."""
    path = tmp_path / "cmep.csv"
    path.write_text("MEPMD01,19970819,UTIL,CUST,RCV,RCUST,202501020000,M1,OK,E,KWH,1.0,000100,3,"
                    "202501010100,R0,1.5,,R0,nan,,R0,1e30\n")
    acct, _ = _ingest(tmp_path, capsys, path)
    assert acct["reads_in"] == 3 and acct["accepted"] == 1
    assert acct["rejects_by_reason"] == {"non-finite kWh": 1, "kWh beyond any meter's physical limit": 1}


def test_ingest_rejects_nan_in_a_green_button_csv(tmp_path, capsys):
    """Green Button CSV download with a NaN usage: one 'non-finite kWh' reject, the rest accepted."""
    path = tmp_path / "gb.csv"
    path.write_text("TYPE,DATE,START TIME,END TIME,USAGE (kWh),COST,NOTES\n"
                    "Electric usage,2025-01-01,00:00,00:59,1.0,,\n"
                    "Electric usage,2025-01-01,01:00,01:59,NaN,,\n"
                    "Electric usage,2025-01-01,02:00,02:59,1.0,,\n")
    acct, _ = _ingest(tmp_path, capsys, path, extra=("--timezone", "UTC"),
                      registry=REG.replace("M1,", "gb,"))
    assert acct["reads_in"] == 3 and acct["rejects_by_reason"].get("non-finite kWh") == 1


def test_ingest_rejects_an_absurd_green_button_xml_value(tmp_path, capsys):
    """Green Button XML, powerOfTenMultiplier 9, values 1, 10^18 and NaN: 1e6 kWh in an hour (1 GW) is read,
    1e24 kWh is beyond any meter's physical limit, NaN is non-finite kWh."""
    up = "RetailCustomer/1/UsagePoint/7"
    readings = "".join(
        f"<IntervalReading><timePeriod><duration>3600</duration><start>{1735689600 + 3600 * h}</start></timePeriod>"
        f"<value>{v}</value></IntervalReading>" for h, v in enumerate([1, 10**18, 1, "NaN"]))
    path = tmp_path / "feed.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<entry><link rel="self" href="{up}/MeterReading/1"/><link rel="related" href="ReadingType/1"/>'
        f'<link rel="related" href="{up}/MeterReading/1/IntervalBlock"/>'
        '<content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>'
        '<entry><link rel="self" href="ReadingType/1"/><content><ReadingType xmlns="http://naesb.org/espi">'
        "<flowDirection>1</flowDirection><intervalLength>3600</intervalLength><powerOfTenMultiplier>9"
        "</powerOfTenMultiplier><uom>72</uom></ReadingType></content></entry>"
        f'<entry><link rel="self" href="{up}/MeterReading/1/IntervalBlock/1"/>'
        f'<link rel="up" href="{up}/MeterReading/1/IntervalBlock"/>'
        '<content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>14400</duration>'
        f"<start>1735689600</start></interval>{readings}</IntervalBlock></content></entry></feed>\n")
    from workbench.ami.readers import read_file

    result = read_file(path)
    assert result.counts == {"read": 4, "accepted": 2, "rejected": 2}
    assert result.table.column("kwh").to_pylist() == [1e6, 1e6]
    assert sorted(result.rejects.column("reason").to_pylist()) == ["kWh beyond any meter's physical limit",
                                                                   "non-finite kWh"]


def test_ingest_keeps_negative_delivered_for_vee_and_says_so(tmp_path, capsys):
    """MDM CSV with -2 kWh delivered: kept for VEE's NEGATIVE rule, with a warning naming the file and row."""
    data = _mdm(tmp_path / "reads.csv", [1.0, -2.0, 1.0])
    acct, out = _ingest(tmp_path, capsys, data)
    assert (acct["reads_in"], acct["accepted"], acct["rejected"]) == (3, 3, 0)
    assert "warning:" in out.stderr and "reads.csv" in out.stderr and "negative delivered" in out.stderr
    assert "first on row 3" in out.stderr


def test_ingest_then_vee_withholds_a_read_above_the_registry_max_kw(tmp_path, capsys):
    """A 40 kWh hour on a meter whose registry max_kw is 20: VEE flags IMPLAUSIBLE in its counts."""
    data = _mdm(tmp_path / "reads.csv", [1.0] * 10 + [40.0] + [1.0] * 13)
    acct, out = _ingest(tmp_path, capsys, data, registry="meter_id,customer_class,rate_code,timezone,max_kw\n"
                        "M1,RES,RES-FLAT,UTC,20\n", extra=("--vee",))
    assert acct["accepted"] == 24
    line = next(x for x in out.stdout.splitlines() if x.strip().startswith("IMPLAUSIBLE"))
    assert line.split()[1:] == ["1", "1", "1"]  # intervals, meter-days, meters
    assert "1 implausible read(s) withheld" in (tmp_path / "rep" / "held.csv").read_text()


def test_semicolon_csv_is_read(tmp_path, capsys):
    """An MDM CSV separated by semicolons: the delimiter is sniffed, every read accepted."""
    data = _mdm(tmp_path / "reads.csv", [1.0, 2.0, 3.0], sep=";")
    acct, _ = _ingest(tmp_path, capsys, data)
    assert (acct["reads_in"], acct["accepted"]) == (3, 3)


def test_tsv_is_read(tmp_path, capsys):
    """An MDM export as .tsv (tab-separated): every read accepted."""
    data = _mdm(tmp_path / "reads.tsv", [1.0, 2.0], sep="\t")
    acct, _ = _ingest(tmp_path, capsys, data)
    assert (acct["reads_in"], acct["accepted"]) == (2, 2)


def test_a_giant_line_is_refused_naming_file_and_row(tmp_path, capsys):
    """An MDM CSV whose third line is 3 MB: refused naming the file and row 3, nothing ingested."""
    data = _mdm(tmp_path / "reads.csv", [1.0, 2.0])
    with open(data, "a") as f:
        f.write("M1,2025-01-01T05:00:00Z,delivered," + "9" * (3 << 20) + ",kWh\n")
    reg = tmp_path / "meters.csv"
    reg.write_text(REG)
    out = run_in_process(["ingest", data, "--into", tmp_path / "c.zarr", "--registry", reg, "--period", "2025-01"],
                         capsys)
    assert_refused(out, "reads.csv", "row", "longer than")
    assert not (tmp_path / "c.zarr").exists()


def test_a_giant_cmep_line_is_refused(tmp_path, capsys):
    """A CMEP file with a 3 MB line: refused naming the file and row 1."""
    path = tmp_path / "cmep.csv"
    path.write_text("MEPMD01,19970819,UTIL,CUST,RCV,RCUST,202501020000,M1,OK,E,KWH,1.0,000100,1,202501010100,R0,"
                    + "1" * (3 << 20) + "\n")
    reg = tmp_path / "meters.csv"
    reg.write_text(REG)
    out = run_in_process(["ingest", path, "--into", tmp_path / "c.zarr", "--registry", reg, "--period", "2025-01"],
                         capsys)
    assert_refused(out, "cmep.csv", "row 1", "longer than")


def test_non_utf8_csv_header_is_refused(tmp_path, capsys):
    """An MDM CSV saved as cp1252 (é in a header): refused naming the file and UTF-8."""
    path = tmp_path / "reads.csv"
    path.write_bytes((MDM + ",remarqu\xe9\nM1,2025-01-01T00:00:00Z,delivered,1,kWh,\n").encode("cp1252"))
    out = _bill(path, capsys)
    assert_refused(out, "reads.csv", "UTF-8")


# --------------------------------------------------------------------------------------------- one file


@pytest.mark.parametrize("value, fragment", [("nan", "non-finite kWh"), ("1e30", "beyond any meter"),
                                             ("-3", "negative delivered kWh")])
def test_bill_refuses_a_bad_read_naming_file_and_row(tmp_path, capsys, value, fragment):
    """`workbench bill --intervals` on an MDM CSV with nan / 1e30 / -3 kWh on row 3: exit 2 naming the row."""
    data = _mdm(tmp_path / "one.csv", [1.0, value, 1.0, 1.0])
    out = _bill(data, capsys)
    assert_refused(out, "one.csv", "row 3")  # the summary line; the reason is on the list above it
    listed = [line for line in out.stderr.splitlines() if line.startswith("  - ")]
    assert any("row 3" in line and fragment in line for line in listed), out.stderr


# --------------------------------------------------------------------------------------------- registry


@pytest.mark.parametrize("column, value, fragment", [
    ("ct_ratio", "-40", "positive"), ("ct_ratio", "nan", "positive"), ("pt_ratio", "1e9", "beyond"),
    ("max_kw", "abc", "not a number"), ("max_kw", "-5", "above 0"), ("cycle", "inf", "bill cycle"),
])
def test_registry_refuses_absurd_values_naming_row_and_column(tmp_path, capsys, column, value, fragment):
    """A registry with a negative, NaN or absurd ct_ratio / pt_ratio / max_kw / cycle: refused at line 2."""
    data = _mdm(tmp_path / "reads.csv", [1.0])
    reg = tmp_path / "meters.csv"
    reg.write_text(f"meter_id,customer_class,rate_code,{column}\nM1,RES,RES-FLAT,{value}\n")
    out = run_in_process(["ingest", data, "--into", tmp_path / "c.zarr", "--registry", reg], capsys)
    assert_refused(out, "meters.csv", "line 2", column, fragment)


def test_non_utf8_registry_is_refused(tmp_path, capsys):
    """A registry saved as latin-1 (an accented account name): refused naming the file and UTF-8."""
    data = _mdm(tmp_path / "reads.csv", [1.0])
    reg = tmp_path / "meters.csv"
    reg.write_bytes("meter_id,account,customer_class,rate_code\nM1,Caf\xe9,RES,RES-FLAT\n".encode("latin-1"))
    out = run_in_process(["ingest", data, "--into", tmp_path / "c.zarr", "--registry", reg], capsys)
    assert_refused(out, "meters.csv", "UTF-8")


def test_non_utf8_enrollments_are_refused(tmp_path, capsys):
    """An enrollment file saved as cp1252: refused naming the file and UTF-8 (not a traceback)."""
    from workbench.nem.enrollments import EnrollmentError, load_enrollments

    path = tmp_path / "enrollments.csv"
    path.write_bytes("account,program,pto_date,policy_version\nA1,NEM2,2024-01-01,d\xe9cision\n".encode("cp1252"))
    with pytest.raises(EnrollmentError, match="enrollments.csv: not UTF-8"):
        load_enrollments(path, {})


@pytest.mark.parametrize("row, fragment", [("A1,NEM2,2024-01-01,,,\u00b2,", "true_up_month"),
                                           ("A1,NEM2,0024-01-01,,,,", "pto_date '0024-01-01' is outside"),
                                           ("A1,NEM2,2024-01-01,,,,,extra", "fields")])
def test_enrollment_rows_with_odd_values_are_refused(tmp_path, row, fragment):
    """Enrollments with a superscript-two true-up month, a PTO in year 24 or an extra field: refused at row 2."""
    from workbench.nem.enrollments import EnrollmentError, load_enrollments

    path = tmp_path / "enrollments.csv"
    path.write_text("account,program,pto_date,start,end,true_up_month,policy_version\n" + row + "\n")
    with pytest.raises(EnrollmentError, match=f"row 2.*{fragment}"):
        load_enrollments(path, {})


def test_non_utf8_vee_config_is_refused(tmp_path):
    """A VEE site file saved as cp1252 (a comment with an accent): refused naming the file and UTF-8."""
    from workbench.vee import VeeError, load_config

    path = tmp_path / "site.yaml"
    path.write_bytes("# r\xe9glage du site\nvalidation: {spike: {ratio: 6}}\n".encode("cp1252"))
    with pytest.raises(VeeError, match="site.yaml: not UTF-8"):
        load_config(path)


@pytest.mark.parametrize("credit, kwh, fragment", [
    ("-5.00", "", "opening_credit '-5.00' is not an amount >= 0"),
    ("12.345", "", "opening_credit '12.345' has fractions of a cent"),
    ("$12.34", "", "opening_credit '\\$12.34' is not an amount in dollars"),
    ("NaN", "", "opening_credit 'NaN' is not an amount >= 0"),
    ("1e9", "", "opening_credit '1e9' is 10,000,000 dollars or more"),
    ("", "-1", "opening_kwh '-1' is not a number of kWh >= 0"),
    ("", "inf", "opening_kwh 'inf' is not a number of kWh >= 0"),
    ("", "300 kWh", "opening_kwh '300 kWh' is not a number of kWh"),
    ("", "300", "opening_kwh 300 given, but program NEM2 banks \\$ credit \\(opening_credit\\)"),
])
def test_enrollment_opening_banks_that_are_bad_or_in_the_wrong_unit_are_refused(tmp_path, credit, kwh, fragment):
    """Opening banks that are negative, in fractions of a cent, with a $ sign, NaN, a billion, or kWh for a
    program that banks dollars: refused naming the file, row 2, the account and the field."""
    from workbench.nem import load_programs
    from workbench.nem.enrollments import EnrollmentError, load_enrollments

    path = tmp_path / "enrollments.csv"
    path.write_text(f"account,program,pto_date,opening_credit,opening_kwh\nA1,NEM2,2019-05-10,{credit},{kwh}\n")
    with pytest.raises(EnrollmentError, match=f"enrollments.csv, row 2, account A1: {fragment}"):
        load_enrollments(path, load_programs(Path("tariffs/programs")))


def test_enrollment_opening_credit_for_a_kwh_bank_is_refused(tmp_path):
    """$ credit brought in for an account on a program that banks kWh: refused naming both."""
    from workbench.nem import load_programs
    from workbench.nem.enrollments import EnrollmentError, load_enrollments

    path = tmp_path / "enrollments.csv"
    path.write_text("account,program,pto_date,opening_credit\nA7,NM-MONTHLY,2019-05-10,12.34\n")
    with pytest.raises(EnrollmentError, match=r"row 2, account A7: opening_credit 12.34 given, but program "
                                              r"NM-MONTHLY banks banked kWh \(opening_kwh\)"):
        load_enrollments(path, load_programs(Path("tariffs/programs")))
