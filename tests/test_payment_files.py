"""Payment files (workbench.ledger.payment_files): the real banks' BAI2 files, hand-built BAI2 and CSV files.

Every expected amount below is added up by hand from the file text shown in the test, never taken from the
reader. Nothing is lost: each test checks records in = accepted + rejected + ignored.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._bai2_samples import all_bai2_samples, bai2_sample
from workbench.ledger.payment_files import PaymentFileError, read_payment_file
from workbench.ledger.payment_sample import write_bai2, write_payment_csv

TODAY = dt.date(2025, 12, 1)


def _read(tmp_path, text, name="file.bai2", **kwargs):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return read_payment_file(path, today=kwargs.pop("today", TODAY), **kwargs)


def _ties(pf):
    a = pf.accounting
    for what in ("count", "amount_cents"):
        assert a["in"][what] == a["accepted"][what] + a["rejected"][what] + a["ignored"][what]
    assert a["accepted"]["amount_cents"] == int(pf.payments["amount_cents"].sum())


# --- the real files -------------------------------------------------------------------------------------------

def test_every_real_file_parses_and_accounts():
    for path in all_bai2_samples(2):
        pf = read_payment_file(path)
        assert pf.format == "bai2" and pf.control.checked
        _ties(pf)
        assert len(pf.checksum) == 64


def test_nwb_uk_file_debits_and_a_credit_without_reference_are_ignored():
    pf = read_payment_file(bai2_sample("nwb_example.bai2"))
    # file trailer 99,143764,1,18 ; 03 summary amounts 36521+33845+33845+33845+0+0+0+2765+89 = 140910
    assert (pf.control.count, pf.control.amount_cents) == (18, 143764)
    # details 971 + 100 + 123 + 1571 (type 699 debits) + 89 (type 399 credit) = 2854
    assert pf.control.detail_amount_cents == 2854 and pf.control.detail_count == 5
    assert pf.payments.empty and pf.rejected.empty
    assert list(pf.ignored["amount_cents"]) == [971, 100, 123, 1571, 89]
    assert list(pf.ignored["source"]) == [f"nwb_example.bai2:{n}" for n in (5, 7, 9, 11, 13)]
    assert pf.ignored["reason"].str.startswith("type 699 Miscellaneous Debit").sum() == 4
    # the 88 continuation of the last detail (two lines) is in its raw text
    assert "88,NT SECCY AC TFR" in pf.ignored["raw"].iloc[-1]


def test_svb_ach_credits_without_customer_reference_are_kept_with_a_blank_account_not_lost():
    # money the bank received: the ledger queues it as unapplied cash ("account (blank) is not in the ledger")
    pf = read_payment_file(bai2_sample("svb_us_example.bai2"))
    # 16,142,490196,,172629,/ : bank reference 172629, customer reference empty
    assert pf.rejected.empty
    assert list(pf.payments["amount_cents"]) == [490196, 905800]
    assert list(pf.payments["item_id"]) == ["172629", "150675"]
    assert (pf.payments["account"] == "").all()
    assert pf.accounting["in"] == {"count": 2, "amount_cents": 490196 + 905800}
    assert pf.control.amount_cents == 282030196  # the trailer without its closing slash


@pytest.mark.parametrize("old,new,line,what", [
    ("49,143764,14/", "49,143765,14/", 16, "49 account trailer of account 88888888 600004"),
    ("16,699,100,,,/", "16,699,101,,,/", 16, "49 account trailer of account"),
    ("98,143764,1,16/", "98,143764,1,17/", 17, "98 group trailer, record count"),
    ("99,143764,1,18", "99,143764,2,18", 18, "99 file trailer, number of groups"),
])
def test_a_real_file_whose_totals_do_not_tie_is_refused_naming_the_line(tmp_path, old, new, line, what):
    text = bai2_sample("nwb_example.bai2").read_text()
    assert old in text
    with pytest.raises(PaymentFileError, match=rf"line {line} \({what}"):
        _read(tmp_path, text.replace(old, new))


def test_a_real_file_cut_short_is_refused_in_one_line(tmp_path):
    lines = bai2_sample("svb_us_example.bai2").read_text().splitlines()
    with pytest.raises(PaymentFileError, match="not a readable BAI2 file") as err:
        _read(tmp_path, "\n".join(lines[:-1]) + "\n")
    assert "\n" not in str(err.value)


# --- hand-built BAI2 -------------------------------------------------------------------------------------------

LOCKBOX = """\
01,121000358,UTIL,251104,0600,7,,,2/
02,UTIL,121000358,1,251103,,USD,2/
03,4000123456,USD,100,30000,2,,400,7500,1,/
16,116,12540,0,B001,ACCT-1,CHECK 1001
16,116,17460,0,B002,
88,ACCT-2,CHECK 1002
16,555,5000,0,B003,ACCT-3,NSF
16,698,2500,0,B004,,SERVICE CHARGE
49,75000,7/
98,75000,1,9/
99,75000,1,11/
"""


def test_lockbox_payments_returns_and_fees_by_hand(tmp_path):
    pf = _read(tmp_path, LOCKBOX)
    # summary 30000 + 7500 = 37500; details 12540 + 17460 + 5000 + 2500 = 37500; 49 = 75000
    got = pf.payments[["item_id", "account", "amount_cents", "kind", "source"]].values.tolist()
    assert got == [["B001", "ACCT-1", 12540, "payment", "file.bai2:4"],
                   ["B002", "ACCT-2", 17460, "payment", "file.bai2:5"],  # account in the 88 continuation
                   ["B003", "ACCT-3", 5000, "return", "file.bai2:7"]]
    assert (pf.payments["paid_on"] == dt.date(2025, 11, 3)).all()
    assert str(pf.payments["amount_cents"].dtype) == "int64"
    assert list(pf.ignored["amount_cents"]) == [2500] and "698 Miscellaneous Fees" in pf.ignored["reason"][0]
    assert pf.accounting["in"] == {"count": 4, "amount_cents": 37500}
    _ties(pf)


def test_crlf_blank_lines_and_padding_keep_the_line_numbers(tmp_path):
    text = LOCKBOX.replace("\n03,", "\n\n03,").replace("\n", "   \r\n")
    pf = _read(tmp_path, text)
    assert list(pf.payments["source"]) == ["file.bai2:5", "file.bai2:6", "file.bai2:8"]


@pytest.mark.parametrize("old,new,reason", [
    ("16,116,12540,0,B001,ACCT-1", "16,116,12540,0,B002,ACCT-1", "duplicate item id 'B002'"),
])
def test_bad_items_are_rejected_with_their_reason(tmp_path, old, new, reason):
    pf = _read(tmp_path, LOCKBOX.replace(old, new))
    assert pf.rejected["reason"].str.contains(reason, regex=False).sum() == 1
    _ties(pf)


def test_future_dated_group_is_rejected_and_test_only_group_ignored(tmp_path):
    pf = _read(tmp_path, LOCKBOX, today=dt.date(2025, 11, 2))
    assert len(pf.rejected) == 3 and pf.rejected["reason"].str.contains("future").all()
    pf = _read(tmp_path, LOCKBOX.replace("02,UTIL,121000358,1,", "02,UTIL,121000358,4,"))
    assert pf.payments.empty and pf.ignored["reason"].str.contains("test only").sum() == 3
    with pytest.raises(PaymentFileError, match="line 2: group status 3"):
        _read(tmp_path, LOCKBOX.replace("02,UTIL,121000358,1,", "02,UTIL,121000358,3,"))


def test_deposit_totals_beside_their_items_are_not_counted_twice(tmp_path):
    text = LOCKBOX.replace("16,555,5000,0,B003,ACCT-3,NSF\n", "16,115,30000,0,D1,,DEPOSIT\n").replace(
        "49,75000,7/", "49,100000,7/").replace("98,75000", "98,100000").replace("99,75000", "99,100000").replace(
        "400,7500,1", "400,2500,1").replace("49,100000", "49,95000").replace("98,100000", "98,95000").replace(
        "99,100000", "99,95000")
    # summary 30000 + 2500; details 12540 + 17460 + 30000 (deposit) + 2500 = 62500; 49 = 95000
    pf = _read(tmp_path, text)
    assert int(pf.payments["amount_cents"].sum()) == 30000
    assert pf.ignored["reason"].str.contains("deposit total").sum() == 1
    _ties(pf)
    bad = text.replace("16,115,30000", "16,115,29999").replace("95000", "94999")
    with pytest.raises(PaymentFileError, match="lockbox deposits"):
        _read(tmp_path, bad)


@pytest.mark.parametrize("text,match", [
    ("", "not a payment file"),
    ("01,1,2,251104,0600,1,,,2/\n17,bad/\n", "line 2: '17,bad/' is not a BAI2 record"),
    ("01,1,2,251104,0600,1,,,3/\n99,0,0,2/\n", "version 2"),
    (LOCKBOX.replace("16,698,", "16,997,"), "line 8: Type code '997'"),
    (LOCKBOX + "01,x/\n", "line 12: records after the 99 file trailer"),
    ("%PDF-1.4 binary", "not a payment file"),
])
def test_unreadable_files_are_refused_in_one_line(tmp_path, text, match):
    with pytest.raises(PaymentFileError, match=match) as err:
        _read(tmp_path, text)
    assert "\n" not in str(err.value)


# --- the sample writer -----------------------------------------------------------------------------------------

_item = st.tuples(st.from_regex(r"[A-Z0-9-]{1,12}", fullmatch=True), st.integers(1, 10**9),
                  st.dates(dt.date(2020, 1, 1), dt.date(2025, 11, 30)))


@settings(max_examples=40, deadline=None)
@given(st.lists(_item, min_size=1, max_size=12), st.lists(_item, max_size=3))
def test_written_bai2_reads_back_exactly(tmp_path_factory, payments, returns):
    """Catches a writer whose control totals leave out the summary amounts (the reader refuses the file), or a
    reader that reads the 16 fields one place off (accounts and amounts swap)."""
    path = tmp_path_factory.mktemp("w") / "lockbox.bai2"
    pays = [(acct, cents, f"P{i}", day) for i, (acct, cents, day) in enumerate(payments)]
    rets = [(acct, cents, f"R{i}", day) for i, (acct, cents, day) in enumerate(returns)]
    write_bai2(path, pays, returns=rets)
    pf = read_payment_file(path, today=TODAY)
    got = sorted(zip(pf.payments["account"], pf.payments["amount_cents"], pf.payments["item_id"],
                     pf.payments["paid_on"], pf.payments["kind"], strict=True))
    want = sorted([(*p, "payment") for p in pays] + [(*r, "return") for r in rets])
    assert got == want and pf.rejected.empty and pf.ignored.empty


def test_written_csv_reads_back_exactly(tmp_path):
    day = dt.date(2025, 11, 3)
    path = write_payment_csv(tmp_path / "p.csv", [("A-1", 12540, "I1", day), ("A-2", 5, "I2", day)],
                             returns=[("A-3", 100000, "I3", day)])
    pf = read_payment_file(path, today=TODAY)
    assert pf.payments[["account", "amount_cents", "kind"]].values.tolist() == [
        ["A-1", 12540, "payment"], ["A-2", 5, "payment"], ["A-3", 100000, "return"]]


# --- CSV -------------------------------------------------------------------------------------------------------

CSV = """\
item_id,account,amount,paid_on,kind,check
C1,ACCT-1,125.40,2025-11-03,payment,1001
C2,ACCT-2,12.3.4,2025-11-03,payment,
C3,ACCT-3,1e9,2025-11-03,payment,
C4,ACCT-4,-20.00,2025-11-03,payment,
C5,ACCT-5,10.005,2025-11-03,payment,
C6,ACCT-6,10.00,2026-01-05,payment,
C1,ACCT-7,3.00,2025-11-03,payment,
C8,,3.00,2025-11-03,payment,
C9,ACCT-9,7,2025-11-03,refund,
C10,ACCT-10,0.5,2025-11-03,return,
C11,ACCT-11,4.00,03/11/2025,payment,
C12,ACCT-12,4.00,2025-11-03
"""


def test_csv_rows_each_accepted_or_rejected_with_reason(tmp_path):
    pf = _read(tmp_path, CSV, "pay.csv")
    assert pf.format == "csv"
    assert pf.payments[["item_id", "amount_cents", "kind", "reference"]].values.tolist() == [
        ["C1", 12540, "payment", "1001"], ["C10", 50, "return", ""]]
    reasons = dict(zip(pf.rejected["source"], pf.rejected["reason"], strict=True))
    expect = {3: "'12.3.4' is not dollars", 4: "'1e9' is not dollars", 5: "negative amount", 6: "more than two decimals",
              7: "future date", 8: "duplicate item id 'C1' (first at pay.csv:2)", 9: "no account number",
              10: "kind 'refund'", 12: "not a date", 13: "4 fields, the header has 6"}
    assert set(reasons) == {f"pay.csv:{n}" for n in expect}
    for n, text in expect.items():
        assert text in reasons[f"pay.csv:{n}"], (n, reasons[f"pay.csv:{n}"])
    # readable amounts in: 125.40 - 20.00 + 10.00 + 3.00 + 3.00 + 7.00 + 0.50 + 4.00 = 132.90 (10.005 unreadable)
    assert pf.accounting["in"] == {"count": 12, "amount_cents": 13290}
    _ties(pf)


def test_csv_expected_totals_and_layout_errors(tmp_path):
    good = "item_id,account,amount,paid_on,kind\nC1,A,1.00,2025-11-03,payment\nC2,B,2.50,2025-11-03,payment\n"
    ret = _read(tmp_path, "item_id,account,amount,paid_on,kind,original_item_id\nR1,A,1.00,2025-11-03,return,C1\n", "r.csv")
    assert ret.payments[["kind", "original_item_id"]].values.tolist() == [["return", "C1"]]
    assert _read(tmp_path, good, "p.csv", expect_count=2, expect_amount_cents=350).control.checked
    with pytest.raises(PaymentFileError, match="says 351"):
        _read(tmp_path, good, "p.csv", expect_amount_cents=351)
    with pytest.raises(PaymentFileError, match=r"line 1 \(header\): unknown column\(s\) ammount"):
        _read(tmp_path, good.replace("amount", "ammount"), "p.csv")
    with pytest.raises(PaymentFileError, match="missing column"):
        _read(tmp_path, good.replace(",kind", ""), "p.csv")
    with pytest.raises(PaymentFileError, match="not UTF-8"):
        _read(tmp_path, good.encode() + b"C3,\xff,1.00,2025-11-03,payment\n", "p.csv")
