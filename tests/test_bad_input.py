"""Bad input through the ``workbench bill`` command: one message for people, exit status 2, no traceback.

Every message must name the file and the field (tariffs) or the row (interval files, 1 = the header), so
that a billing manager knows what to fix. Most cases call ``workbench.cli.main`` in-process (fast); a few run
the real command in a subprocess to see exactly what a user sees.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import traceback

import pytest
from _fixtures import GOOD_TARIFF

from workbench.cli import main


def good_rows(n=96 * 3):
    """Header + 15-minute rows from 2025-04-01 00:00 EDT; row k of the file (header = 1) is line k - 1."""
    start = dt.datetime(2025, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    rows = ["timestamp,delivered_kwh"]
    rows += [f"{(start + dt.timedelta(minutes=15 * i)).isoformat()},0.5" for i in range(n)]
    return rows


@pytest.fixture
def files(tmp_path):
    (tmp_path / "tariff.yaml").write_text(GOOD_TARIFF)
    (tmp_path / "intervals.csv").write_text("\n".join(good_rows()) + "\n")
    return tmp_path


def cli(args, capsys):
    """Run ``workbench`` in-process; an exception escaping ``main`` is what a user would see as a traceback."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    except Exception:  # noqa: BLE001 - the point: nothing may escape
        pytest.fail("uncaught exception (the command would print a Python traceback):\n" + traceback.format_exc())
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code, err, *fragments):
    assert code == 2, f"exit status {code}, stderr: {err}"
    assert "Traceback" not in err
    assert err.startswith("error: "), err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in the message: {err}"


def test_good_files_bill(files, capsys):
    code, out, err = cli(["bill", "--tariff", files / "tariff.yaml", "--intervals", files / "intervals.csv",
                          "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["bills"][0]["total"] > 0


# --------------------------------------------------------------------------------------------- tariffs

TARIFF_CASES = {
    "unknown field": (
        ("amount: 10.0, per: month}", "amount: 10.0, per: month, ratez: 1}"),
        ["versions.0.charges.0.ratez", "unknown field"]),
    "overlapping ToU hours": (
        ('"14:00-19:00"', '"13:00-19:00"'),
        ["time_of_use.periods.off_peak[0]", "overlaps", "on_peak", "13:00"]),
    "uncovered ToU hours": (
        ('["00:00-14:00", "19:00-24:00"]', '["00:00-13:00", "19:00-24:00"]'),
        ["time_of_use.periods", "no period covers", "13:00"]),
    "non-monotonic block limits": (
        ("limits: [500, 1000]", "limits: [1000, 500]"),
        ["versions[0].charges[1].blocks.limits", "increasing"]),
    "overlapping effective dates": (
        ("  - effective: 2024-01-01\n",
         "  - effective: 2024-01-01\n    expires: 2025-03-01\n"
         "    charges: [{type: energy, rates: 0.1}]\n  - effective: 2025-01-01\n"),
        ["versions[0].expires", "2025-03-01", "2025-01-01", "overlap"]),
    "wrong rate type": (
        ("{type: customer, amount: 10.0, per: month}", "{type: customer, amount: ten dollars, per: month}"),
        ["versions.0.charges.0.amount", "number", "ten dollars"]),
    "wrong rate type in an energy charge": (
        ("{type: customer, amount: 10.0, per: month}", "{type: energy, rates: cheap}"),
        ["versions.0.charges.0.rates", "number", "cheap"]),
    "unknown season in rates": (
        ("winter: [0.10, 0.15, 0.20]}", "fall: [0.10, 0.15, 0.20]}"),
        ["versions[0].charges[1].blocks.rates", "fall", "summer", "winter"]),
    "unknown season in a ToU window": (
        ('{seasons: [all], days: [weekday], hours: "14:00-19:00"}',
         '{seasons: [spring], days: [weekday], hours: "14:00-19:00"}'),
        ["time_of_use.periods.on_peak[0].seasons", "spring"]),
    "a month in no season": (
        ("winter: [1, 2, 3, 4, 5, 10, 11, 12]", "winter: [1, 2, 3, 4, 5, 10, 11]"),
        ["seasons", "12"]),
    "bad hours": (
        ('"14:00-19:00"', '"14:00-25:00"'),
        ["time_of_use.periods.on_peak.0.hours", "14:00-25:00"]),
    "unknown charge type": (
        ("{type: customer, amount: 10.0, per: month}", "{type: surcharge, amount: 10.0}"),
        ["versions.0.charges.0", "surcharge"]),
    "bad YAML syntax": (
        ("  summer: [6, 7, 8, 9]", "  summer: [6, 7, 8, 9"),
        ["not valid YAML", "line 7"]),
}


@pytest.mark.parametrize("case", list(TARIFF_CASES))
def test_invalid_tariff(files, capsys, case):
    (old, new), fragments = TARIFF_CASES[case]
    assert old in GOOD_TARIFF
    bad = files / "bad-tariff.yaml"
    bad.write_text(GOOD_TARIFF.replace(old, new, 1))
    code, out, err = cli(["bill", "--tariff", bad, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "bad-tariff.yaml", *fragments)
    assert out == ""


def test_invalid_date_in_a_tariff(files, capsys):
    """``2024-13-01`` looks like a YAML date but is not one: PyYAML raises ValueError, not YAMLError."""
    bad = files / "bad-date.yaml"
    bad.write_text(GOOD_TARIFF.replace("effective: 2024-01-01", "effective: 2024-13-01"))
    code, _, err = cli(["bill", "--tariff", bad, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "bad-date.yaml", "2024-13-01")


def test_wrong_type_for_block_rates_speaks_billing_not_python(files, capsys):
    bad = files / "bad-blocks.yaml"
    bad.write_text(GOOD_TARIFF.replace("rates: {summer: [0.10, 0.20, 0.30], winter: [0.10, 0.15, 0.20]}",
                                       "rates: cheap"))
    code, _, err = cli(["bill", "--tariff", bad, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "bad-blocks.yaml", "versions.0.charges.1.blocks.rates", "cheap")
    # the field path is the tariff's, not pydantic's union members
    assert "dict[" not in err and "list[" not in err and "union[" not in err, err


def test_missing_tariff_file(files, capsys):
    code, _, err = cli(["bill", "--tariff", files / "nope.yaml", "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "nope.yaml", "not found")


# -------------------------------------------------------------------------------------- interval files


def _without(rows, k):
    return rows[:k] + rows[k + 1 :]


INTERVAL_CASES = {
    # file row 51 is rows[50]; dropping it leaves a 15-minute gap before the row that is now row 51
    "non-uniform step": (lambda r: _without(r, 50), ["1 problem", "gap of 15 min", "before row 51", "--repair"]),
    # an identical repeated row is merged (counted, with a warning); a differing one is a conflict naming both
    "duplicate timestamps": (lambda r: r[:51] + [r[50].replace(",0.5", ",0.75")] + r[51:],
                             ["conflicting duplicate", "--repair"]),
    "timestamps going back": (lambda r: r[:40] + [r[41], r[40]] + r[42:], ["row 42", "back in time"]),
    "timestamp without an offset": (
        lambda r: r[:30] + [r[30].replace("-04:00", "")] + r[31:], ["row 31", "no UTC offset"]),
    "timestamp that is not a date": (
        lambda r: r[:30] + ["yesterday 10am,0.5"] + r[31:], ["row 31", "yesterday 10am"]),
    "non-numeric value": (
        lambda r: r[:40] + [r[40].replace(",0.5", ",abc")] + r[41:], ["row 41", "delivered_kwh", "'abc'"]),
    "empty timestamp": (lambda r: r[:30] + [",0.5"] + r[31:], ["row 31", "timestamp is empty"]),
    "n/a value": (
        lambda r: r[:40] + [r[40].replace(",0.5", ",n/a")] + r[41:], ["row 41", "delivered_kwh", "'n/a'"]),
    "empty value": (
        lambda r: r[:40] + [r[40].replace(",0.5", ",")] + r[41:], ["row 41", "delivered_kwh", "empty"]),
    "infinite value": (
        lambda r: r[:40] + [r[40].replace(",0.5", ",inf")] + r[41:], ["row 41", "delivered_kwh"]),
    "non-numeric received_kwh": (
        lambda r: [r[0] + ",received_kwh"] + [x + ",0" for x in r[1:40]] + [r[40] + ",twelve"]
        + [x + ",0" for x in r[41:]], ["row 41", "received_kwh", "twelve"]),
    "missing column": (lambda r: ["timestamp,kwh"] + r[1:], ["missing column", "delivered_kwh"]),
    "header only": (lambda r: r[:1], ["no interval rows"]),
    "empty file": (lambda r: [], []),
    "step that does not divide a day": (
        lambda r: [r[0]] + [f"{(dt.datetime(2025, 4, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=7 * i)).isoformat()},1"
                            for i in range(50)], ["7 minutes"]),
}


@pytest.mark.parametrize("case", list(INTERVAL_CASES))
def test_invalid_interval_file(files, capsys, case):
    make, fragments = INTERVAL_CASES[case]
    rows = make(good_rows())
    bad = files / "bad-intervals.csv"
    bad.write_text("\n".join(rows) + ("\n" if rows else ""))
    code, out, err = cli(["bill", "--tariff", files / "tariff.yaml", "--intervals", bad], capsys)
    # a feed's problems are listed ("  - ...") above the one error line that sums them up
    listed = [line for line in err.splitlines() if line.startswith("  - ")]
    err = err[sum(len(line) + 1 for line in listed):]
    assert_user_error(code, err, "bad-intervals.csv", *fragments)
    assert out == ""


def test_not_iso_timestamp_message_speaks_billing_not_pandas(files, capsys):
    bad = files / "bad-intervals.csv"
    rows = good_rows()
    bad.write_text("\n".join(rows[:30] + ["2025-04-0xT07:30:00-04:00,0.5"] + rows[31:]) + "\n")
    code, _, err = cli(["bill", "--tariff", files / "tariff.yaml", "--intervals", bad], capsys)
    assert_user_error(code, err, "bad-intervals.csv", "row 31", "2025-04-0xT07:30:00-04:00")
    # advice for pandas programmers is no help to a billing manager
    assert "format=" not in err and "dayfirst" not in err, err


def test_demand_interval_finer_than_the_data(files, capsys):
    tariff = files / "demand.yaml"
    tariff.write_text("code: D\nname: d\ntimezone: America/New_York\ndemand: {interval_minutes: 15}\n"
                      "versions:\n  - effective: 2024-01-01\n    charges:\n      - {type: demand, rates: 5.0}\n")
    hourly = files / "hourly.csv"
    hourly.write_text("\n".join(good_rows()[::4]) + "\n")  # header, then every 4th row: hourly
    code, _, err = cli(["bill", "--tariff", tariff, "--intervals", hourly], capsys)
    assert_user_error(code, err, "demand.yaml", "15 minutes", "60 minutes")


@pytest.mark.parametrize("dates,fragments", [
    ("2025-04-01,2025-13-01", ["--read-dates", "2025-13-01"]),
    ("2025-05-01,2025-04-01", ["read dates", "increasing"]),
    ("2024-01-01,2024-02-01", ["read dates", "overlaps the data"]),
])
def test_bad_read_dates(files, capsys, dates, fragments):
    code, _, err = cli(["bill", "--tariff", files / "tariff.yaml", "--intervals", files / "intervals.csv",
                        "--read-dates", dates], capsys)
    assert_user_error(code, err, *fragments)


def test_data_before_the_first_version(files, capsys):
    future = files / "future.yaml"
    future.write_text(GOOD_TARIFF.replace("effective: 2024-01-01", "effective: 2026-01-01"))
    code, _, err = cli(["bill", "--tariff", future, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "future.yaml", "2026-01-01", "2025-04-01")


def test_real_time_price_file_problems(files, capsys):
    start = dt.datetime(2025, 4, 1, 4, tzinfo=dt.UTC)
    rows = ["timestamp,price"] + [f"{start + dt.timedelta(hours=h):%Y-%m-%dT%H:%MZ},0.05" for h in range(24 * 3)]
    tariff = files / "rtp.yaml"
    tariff.write_text("code: R\nname: r\ntimezone: America/New_York\nversions:\n  - effective: 2024-01-01\n"
                      "    charges:\n      - {type: rtp, prices: prices.csv}\n")
    (files / "prices.csv").write_text("\n".join(rows[:11] + [rows[11].replace("0.05", "")] + rows[12:]) + "\n")
    code, _, err = cli(["bill", "--tariff", tariff, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "prices.csv", "row 12", "price is empty")
    (files / "prices.csv").write_text("\n".join(rows[:6] + [rows[6].replace("0.05", "n/a")] + rows[7:]) + "\n")
    code, _, err = cli(["bill", "--tariff", tariff, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "prices.csv", "row 7", "price is 'n/a'")
    (files / "prices.csv").write_text("\n".join(rows[:25]) + "\n")  # one day of prices for three days of data
    code, _, err = cli(["bill", "--tariff", tariff, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "rtp.yaml", "extend the price file")
    (files / "prices.csv").unlink()
    code, _, err = cli(["bill", "--tariff", tariff, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "prices.csv", "not found", "prices")


# ------------------------------------------------------------------------------------------------- URDB

URDB_BASE = {
    "label": "test", "name": "URDB test tariff",
    "energyratestructure": [[{"rate": 0.1}]],
    "energyweekdayschedule": [[0] * 24] * 12, "energyweekendschedule": [[0] * 24] * 12,
}
FLAT_DEMAND = {"flatdemandstructure": [[{"rate": 5.0}]], "flatdemandmonths": [0] * 12}

URDB_CASES = {
    "coincident rates": ({"coincidentratestructure": [[{"rate": 5.0}]]}, "coincidentratestructure"),
    "monthly ratchet percentages, 11 months": ({"demandratchetpercentage": [0.8] * 11}, "demandratchetpercentage"),
    "tier limits differ between periods": (
        {"energyratestructure": [[{"rate": 0.1, "max": 100}, {"rate": 0.2}], [{"rate": 0.1, "max": 200}, {"rate": 0.2}]],
         "energyweekdayschedule": [[0] * 12 + [1] * 12] * 12}, "energyratestructure"),
    "unknown field": ({"energyratestructurez": []}, "energyratestructurez"),
}


@pytest.mark.parametrize("case", list(URDB_CASES))
def test_urdb_unsupported_feature(files, capsys, case):
    extra, field = URDB_CASES[case]
    path = files / "rate.json"
    path.write_text(json.dumps({**URDB_BASE, **extra}))
    code, out, err = cli(["bill", "--tariff", path, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "rate.json", field)
    assert out == ""


def test_urdb_good_and_broken_json(files, capsys):
    path = files / "rate.json"
    path.write_text(json.dumps(URDB_BASE))
    code, _, err = cli(["bill", "--tariff", path, "--intervals", files / "intervals.csv"], capsys)
    assert code == 0, err
    path.write_text(json.dumps(URDB_BASE)[:40])
    code, _, err = cli(["bill", "--tariff", path, "--intervals", files / "intervals.csv"], capsys)
    assert_user_error(code, err, "rate.json", "not valid JSON", "line 1")


# ------------------------------------------------------------------------------- the real command line


@pytest.mark.parametrize("tariff_text,interval_rows,fragments", [
    (GOOD_TARIFF.replace('"14:00-19:00"', '"13:00-19:00"'), good_rows(), ["t.yaml", "overlaps"]),
    (GOOD_TARIFF, _without(good_rows(), 50), ["i.csv", "row 51"]),
    (GOOD_TARIFF.replace("effective: 2024-01-01", "effective: 2024-13-01"), good_rows(), ["t.yaml", "2024-13-01"]),
], ids=["tariff", "intervals", "invalid-date"])
def test_subprocess_exit_status_and_no_traceback(tmp_path, tariff_text, interval_rows, fragments):
    (tmp_path / "t.yaml").write_text(tariff_text)
    (tmp_path / "i.csv").write_text("\n".join(interval_rows) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "bill", "--tariff", "t.yaml", "--intervals", "i.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr
    assert done.stdout == ""


def test_subprocess_good_run(tmp_path):
    (tmp_path / "t.yaml").write_text(GOOD_TARIFF)
    (tmp_path / "i.csv").write_text("\n".join(good_rows()) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "bill", "--tariff", "t.yaml", "--intervals", "i.csv", "--format",
         "csv"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # 3 of 30 April days: customer 10.00 × 3/30 = 1.00; 144 kWh in blocks of 500 × 3/30 = 50 and 1000 × 3/30 = 100:
    # 50 × 0.10 + 50 × 0.15 + 44 × 0.20 = 5.00 + 7.50 + 8.80; total 22.30
    assert done.stdout.splitlines()[-1].endswith(",Total,,,,,22.30")
