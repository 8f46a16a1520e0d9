"""Hostile tariffs: ``workbench bill --tariff T --intervals I`` over a tariff a typo, a bad export or an attacker made.

A price that is not finite, beyond any tariff's or negative without saying so is refused in one line naming
the file and the field; an implausible one bills with a ``warning:`` line naming the likely intent. Intervals:
three days of 15-minute reads at 0.5 kWh from 2025-04-01 00:00 EDT (144 kWh; the good tariff bills $22.30).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from _fixtures import GOOD_TARIFF

from ._cli import assert_ok, assert_refused, run_in_process

GOOD = GOOD_TARIFF + "      - {type: tax, description: Tax, percent: 0.0, applies_to: [energy]}\n"  # a tax line to break
CUSTOMER = "{type: customer, amount: 10.0, per: month}"
WINTER = "winter: [0.10, 0.15, 0.20]"
TAX = "percent: 0.0"

URDB = {"label": "hostile", "name": "URDB hostile test", "energyratestructure": [[{"rate": 0.1}]],
        "energyweekdayschedule": [[0] * 24] * 12, "energyweekendschedule": [[0] * 24] * 12}


def rows(value="0.5", at=None):
    start = dt.datetime(2025, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    out = ["timestamp,delivered_kwh"]
    for i in range(96 * 3):
        out.append(f"{(start + dt.timedelta(minutes=15 * i)).isoformat()},{value if i == at else '0.5'}")
    return "\n".join(out) + "\n"


@pytest.fixture
def bill(tmp_path, capsys):
    (tmp_path / "i.csv").write_text(rows())

    def run(tariff_text=None, name="bad.yaml", intervals="i.csv", raw=None, extra=()):
        path = tmp_path / name
        if raw is not None:
            path.write_bytes(raw)
        elif tariff_text is not None:
            path.write_text(tariff_text)
        return run_in_process(["bill", "--tariff", path, "--intervals", tmp_path / intervals, *extra], capsys)

    run.dir = tmp_path
    return run


def bad(old, new):
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def urdb(**fields):
    return json.dumps({**URDB, **fields})


def warnings_of(outcome):
    return [line for line in outcome.stderr.splitlines() if line.startswith("warning:")]


# ------------------------------------------------------------------------- prices that are not prices


def test_nan_block_rate(bill):
    """YAML energy block rate .nan: refused naming versions[0].charges[1].blocks.rates.winter[2]."""
    assert_refused(bill(bad(WINTER, "winter: [0.10, 0.15, .nan]")), "bad.yaml",
                   "versions[0].charges[1].blocks.rates.winter[2]", "finite")


def test_infinite_customer_charge(bill):
    """YAML customer charge amount .inf: refused naming versions[0].charges[0].amount."""
    assert_refused(bill(bad(CUSTOMER, "{type: customer, amount: .inf, per: month}")), "bad.yaml",
                   "versions[0].charges[0].amount", "finite")


@pytest.mark.parametrize("text", ["1.0e+300", "1e300", "-2e6"])
def test_absurd_price(bill, text):
    """YAML energy rate 1e300 (written 1.0e+300 or 1e300) or -2e6: refused as beyond any tariff's price."""
    assert_refused(bill(bad(WINTER, f"winter: [{text}, 0.15, 0.20]")), "bad.yaml",
                   "versions[0].charges[1].blocks.rates.winter[0]", "beyond any tariff")


def test_negative_price_needs_allow_negative(bill):
    """YAML energy rate -0.10 without allow_negative: refused, naming the field and the way to say 'credit'."""
    assert_refused(bill(bad(WINTER, "winter: [-0.10, 0.15, 0.20]")), "bad.yaml",
                   "versions[0].charges[1].blocks.rates.winter[0]", "negative", "allow_negative: true")


def test_credit_with_allow_negative_bills(bill):
    """A -0.01 $/kWh energy credit with allow_negative: true bills: 30 kWh on-peak -0.30, 114 off-peak -1.14."""
    text = bad(CUSTOMER, CUSTOMER + "\n      - {type: energy, description: Credit, rates: -0.01, allow_negative: true}")
    outcome = bill(text, extra=["--format", "json"])
    assert_ok(outcome)
    only = json.loads(outcome.stdout)["bills"][0]
    credits = sorted(li["amount"] for li in only["line_items"] if li["description"].startswith("Credit"))
    assert credits == [-1.14, -0.30]  # 3 weekdays × 5 h × 4 × 0.5 kWh = 30 kWh on-peak; 144 - 30 = 114 off-peak
    assert only["total"] == 20.86  # the good tariff's 22.30 - 1.44


# --------------------------------------------------------------------- possible, but likely a typo


def test_energy_rate_in_cents_warns(bill):
    """YAML energy rate 9.5 $/kWh: billed, with a warning naming the field and 'did you mean ... 0.095'."""
    outcome = bill(bad(WINTER, "winter: [9.5, 0.15, 0.20]"))
    assert_ok(outcome)
    (line,) = warnings_of(outcome)
    assert "bad.yaml" in line and "versions[0].charges[1].blocks.rates.winter[0]" in line
    assert "did you mean" in line and "0.095" in line


def test_demand_rate_warns(bill):
    """YAML demand rate 950 $/kW: billed, with a warning 'did you mean 95'."""
    text = bad(CUSTOMER, CUSTOMER + "\n      - {type: demand, rates: 950.0}")
    outcome = bill(text)
    assert_ok(outcome)
    (line,) = warnings_of(outcome)
    assert "versions[0].charges[1].rates" in line and "$/kW" in line and "did you mean 95 " in line


def test_monthly_customer_charge_under_a_dollar_warns(bill):
    """Customer charge 0.98 per month: billed, with a warning 'did you mean per: day?'."""
    outcome = bill(bad(CUSTOMER, "{type: customer, amount: 0.98, per: month}"))
    assert_ok(outcome)
    (line,) = warnings_of(outcome)
    assert "versions[0].charges[0].amount" in line and "per: day" in line


def test_tax_percent_as_fraction_warns(bill):
    """Tax percent 0.07: billed as 0.07 %, with a warning 'for 7% write 7'."""
    outcome = bill(bad(TAX, "percent: 0.07"))
    assert_ok(outcome)
    (line,) = warnings_of(outcome)
    assert "versions[0].charges[2].percent" in line and "0.07%" in line and "write 7" in line


# ------------------------------------------------------------------------------ structure problems


def test_customer_charge_without_per(bill):
    """Customer charge without per: refused naming the field and the choices bill, day or month."""
    assert_refused(bill(bad(CUSTOMER, "{type: customer, amount: 0.98}")), "bad.yaml",
                   "versions.0.charges.0.per", "bill, day or month")


def test_tax_percent_over_100(bill):
    """Tax percent 700: refused naming the field."""
    assert_refused(bill(bad(TAX, "percent: 700")), "bad.yaml", "versions.0.charges.2.percent", "100")


def test_duplicate_key(bill):
    """Customer charge with amount given twice: refused naming the key and both lines."""
    assert_refused(bill(bad(CUSTOMER, "{type: customer, amount: 10.0, per: month, amount: 1.0}")), "bad.yaml",
                   "duplicate key 'amount'", "line 18")


def test_yaml_alias_bomb(bill):
    """Nine levels of nine YAML aliases (387 million values from 1 kB): refused before validation."""
    lines = ["a0: &a0 [0.1]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    assert_refused(bill("\n".join(lines) + "\n" + GOOD), "bad.yaml", "expands to more than")


# ------------------------------------------------------------------------------------------- files


def test_not_utf8(bill):
    """A Latin-1 tariff (description 'Café'): refused naming the file, the line and UTF-8."""
    raw = bad(CUSTOMER, "{type: customer, description: Café, amount: 10.0, per: month}").encode("latin-1")
    assert_refused(bill(raw=raw), "bad.yaml", "line 18", "utf-8")


def test_folder_as_tariff(bill):
    """--tariff naming a folder: refused, 'is a folder'."""
    (bill.dir / "book").mkdir()
    assert_refused(bill(name="book"), "book", "is a folder")


def test_oversized_tariff(bill):
    """A 6 MB tariff file: refused before parsing, 'larger than 5 MB'."""
    path = bill.dir / "huge.yaml"
    with open(path, "wb") as fh:
        fh.truncate(6_000_000)
    assert_refused(bill(name="huge.yaml"), "huge.yaml", "larger than 5 MB")


# -------------------------------------------------------------------------------------------- URDB


@pytest.mark.parametrize("structure,field,fragment", [
    ([[{"rate": "abc"}]], "energyratestructure[0][0].rate", "'abc' is not a number"),
    ([[{"rate": 0.1, "max": -50}, {"rate": 0.2}]], "energyratestructure[0][0].max", "positive"),
    ([[{"rate": 0.1, "max": 500}, {"rate": 0.2, "max": 400}, {"rate": 0.3}]], "energyratestructure[0][1].max",
     "larger than the tier before"),
    ([[{"rate": 1e400}]], "energyratestructure[0][0].rate", "finite"),
    ([[{"rate": -0.05}]], "energyratestructure[0][0].rate", "negative"),
], ids=["rate-abc", "negative-tier-limit", "decreasing-tier-limits", "rate-1e400", "negative-rate"])
def test_urdb_bad_numbers(bill, structure, field, fragment):
    """URDB rate "abc", 1e400 or -0.05, tier max -50 or decreasing: refused naming the URDB field."""
    text = urdb(energyratestructure=structure).replace("Infinity", "1e400")
    assert_refused(bill(text, name="rate.json"), "rate.json", field, fragment)


def test_urdb_nan_token(bill):
    """URDB JSON with a NaN rate token: refused naming energyratestructure[0][0].rate."""
    text = urdb().replace('"rate": 0.1', '"rate": NaN')
    assert_refused(bill(text, name="rate.json"), "rate.json", "energyratestructure[0][0].rate", "finite")


@pytest.mark.parametrize("index", [-1, 3, 0.5])
def test_urdb_schedule_index(bill, index):
    """URDB energyweekdayschedule with period -1, 3 (one period) or 0.5: refused naming the month and hour."""
    schedule = [[0] * 24 for _ in range(12)]
    schedule[6][17] = index
    assert_refused(bill(urdb(energyweekdayschedule=schedule), name="rate.json"), "rate.json",
                   "energyweekdayschedule[6][17]")


def test_urdb_negative_fixed_charge(bill):
    """URDB fixedchargefirstmeter -5: refused as a negative price naming the field."""
    assert_refused(bill(urdb(fixedchargefirstmeter=-5, fixedchargeunits="$/month"), name="rate.json"), "rate.json",
                   "fixedchargefirstmeter", "negative")


def test_urdb_rate_in_cents_warns(bill):
    """URDB energy rate 12 $/kWh: billed, with a warning naming energyratestructure[0][0].rate and 0.12."""
    outcome = bill(urdb(energyratestructure=[[{"rate": 12}]]), name="rate.json")
    assert_ok(outcome)
    (line,) = warnings_of(outcome)
    assert "rate.json" in line and "energyratestructure[0][0].rate" in line and "0.12" in line


def test_urdb_tariff_effective_after_the_data(bill):
    """URDB startdate 2026-01-01 (epoch seconds) for April 2025 data: refused naming both dates."""
    assert_refused(bill(urdb(startdate=1767225600), name="rate.json"), "rate.json", "2026-01-01", "2025-04-01")


def test_urdb_tariff_ended_before_the_data(bill):
    """URDB enddate 2024-12-31 23:59:59 for April 2025 data: refused, in force 'to 2024-12-31'."""
    outcome = bill(urdb(startdate=1704067200, enddate=1735689599), name="rate.json")
    assert_refused(outcome, "rate.json", "2025-04-01", "from 2024-01-01 to 2024-12-31")


def test_urdb_not_utf8(bill):
    """A URDB JSON file in Latin-1 ('Électricité'): refused naming the file and UTF-8."""
    raw = json.dumps({**URDB, "name": "Électricité"}, ensure_ascii=False).encode("latin-1")
    assert_refused(bill(raw=raw, name="rate.json"), "rate.json", "utf-8")


def test_urdb_duplicate_key(bill):
    """URDB JSON with "fixedchargefirstmeter" twice: refused naming the key."""
    text = urdb(fixedchargefirstmeter=5)[:-1] + ', "fixedchargefirstmeter": 50}'
    assert_refused(bill(text, name="rate.json"), "rate.json", "'fixedchargefirstmeter' appears twice")


# --------------------------------------------------------------------------------------------- money


def test_read_of_1e30_kwh_gives_no_bill(bill):
    """One read of 1e30 kWh: refused at the reader naming the interval file and its row, never a bill
    (pricing refuses such an amount too, naming the bill period: tests/test_money_adds_up.py)."""
    (bill.dir / "big.csv").write_text(rows("1e30", at=5))
    assert_refused(bill(GOOD, name="t.yaml", intervals="big.csv"), "big.csv", "row 7", "1e+30", "physical limit")


def test_rtp_price_beyond_any_market(bill):
    """A real-time price file with 5e6 $/kWh in row 3: refused naming the file and the row."""
    start = dt.datetime(2025, 4, 1, 4, tzinfo=dt.UTC)
    prices = ["timestamp,price"] + [f"{start + dt.timedelta(hours=h):%Y-%m-%dT%H:%MZ},{5e6 if h == 1 else 0.05}"
                                    for h in range(24 * 3)]
    (bill.dir / "prices.csv").write_text("\n".join(prices) + "\n")
    text = ("code: R\nname: r\ntimezone: America/New_York\nversions:\n  - effective: 2024-01-01\n"
            "    charges:\n      - {type: rtp, prices: prices.csv}\n")
    assert_refused(bill(text), "prices.csv", "row 3", "beyond")
