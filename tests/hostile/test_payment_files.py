"""Hostile payment files: ``workbench payments post FILE`` over a file a bank, a spreadsheet or an attacker made.

A file that cannot be read or whose control totals do not tie is refused in one line naming the line, and
nothing is posted; a bad row of a readable file is rejected with its reason (listed, counted, never dropped)
and the rest posts. Each case posts into a fresh SQLite ledger.
"""

from __future__ import annotations

import re

import pytest
from _bai2_samples import bai2_sample

from ._cli import assert_ok, assert_refused, run_in_process

HEADER = "item_id,account,amount,paid_on,kind\n"


@pytest.fixture
def post(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert_ok(run_in_process(["ledger", "init", "--db", db], capsys))

    def run(name, content):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return run_in_process(["payments", "post", path, "--db", db], capsys)

    return run


@pytest.mark.parametrize("old,new,where", [
    ("49,143764,14/", "49,143765,14/", "line 16 (49 account trailer of account 88888888 600004): control 143765"),
    ("16,699,971,", "16,699,9710,", "line 16 (49 account trailer of account 88888888 600004): control 143764"),
    ("98,143764,1,16/", "98,143764,1,15/", "line 17 (98 group trailer, record count)"),
    ("99,143764,1,18", "99,143764,1,19", "line 18 (99 file trailer, record count)"),
])
def test_real_bank_file_with_a_broken_control_total(post, old, new, where):
    """A real bank's BAI2 file whose trailer or detail was altered: refused naming the line; nothing posted."""
    text = bai2_sample("nwb_example.bai2").read_text()
    assert old in text
    out = post("altered.bai2", text.replace(old, new))
    assert_refused(out, "altered.bai2", where, "nothing was posted")


@pytest.mark.parametrize("content,fragments", [
    ("", ("not a payment file",)),
    ("%PDF-1.7\n%\xe2\xe3\n", ("not a payment file", "BAI2", "item_id")),
    ("01,1,2,251104,0600,1,,,2/\n02,2,1,1,251103,,USD,2/\n", ("not a readable BAI2 file",)),
    ("01,1,2,251104,0600,1,,,2/\nXX,evil/\n", ("line 2", "is not a BAI2 record")),
    ("01,1,2,251104,0600,1,,,2/\n02,2,1,3,251103,,USD,2/\n03,9,USD/\n16,116,5,0,R,A,/\n49,5,3/\n98,5,1,5/\n99,5,1,7/\n",
     ("line 2", "group status 3 (correction)")),
    ("01,1,2,251104,0600,1,,,2/\n02,2,1,1,251103,,USD,2/\n03,9,USD/\n16,116,5,0,R,A,/\n49,5,3/\n98,5,1,5/\n99,5,1,7/\n"
     "01,1,2,251104,0600,1,,,2/\n", ("line 8", "records after the 99 file trailer")),
    (HEADER.replace("amount", "amount_usd") + "C1,A,1.00,2025-01-02,payment\n", ("line 1 (header)", "amount_usd")),
    (HEADER.encode() + b"C1,\xe9t\xe9,1.00,2025-01-02,payment\n", ("byte", "not UTF-8")),
])
def test_unreadable_payment_file(post, content, fragments):
    """An empty file, a PDF, a truncated or spliced BAI2 file, a correction group, a CSV with a misspelt column or
    in Latin-1: refused in one line naming the file and what is wrong."""
    assert_refused(post("pay.bai2" if not isinstance(content, bytes) and content.startswith("01") else "pay.csv",
                        content), *fragments)


def test_bad_rows_are_rejected_with_reasons_and_the_rest_posts(post):
    """A CSV whose rows carry '12.3.4', '1e9', a third decimal, a negative amount, a future date, a repeated item id,
    no account, an unknown kind, a short row: each rejected with its reason; the good row posts."""
    rows = ["G1,ACCT-1,10.00,2025-01-02,payment", "B1,ACCT-1,12.3.4,2025-01-02,payment",
            "B2,ACCT-1,1e9,2025-01-02,payment", "B3,ACCT-1,1.005,2025-01-02,payment",
            "B4,ACCT-1,-5.00,2025-01-02,payment", "B5,ACCT-1,5.00,2999-01-01,payment",
            "G1,ACCT-2,5.00,2025-01-02,payment", "B7,,5.00,2025-01-02,payment", "B8,ACCT-1,5.00,2025-01-02,gift",
            "B9,ACCT-1,5.00"]
    out = post("rows.csv", HEADER + "\n".join(rows) + "\n")
    assert_ok(out)
    for line, reason in [(3, "'12.3.4' is not dollars"), (4, "'1e9' is not dollars"), (5, "more than two decimals"),
                         (6, "negative amount"), (7, "future date"), (8, "duplicate item id 'G1'"),
                         (9, "no account number"), (10, "kind 'gift'"), (11, "3 fields, the header has 5")]:
        assert f"rejected rows.csv:{line}: " in out.stderr and reason in out.stderr, (line, reason, out.stderr)
    assert re.search(r"^\s*rejected\s+9\s", out.stdout, re.M), out.stdout
