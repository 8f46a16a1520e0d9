"""``payments post`` of items dated before the ledger could have had them (before the account opened, or an
unknown account's item before the ledger's first activity): posted, with a loud warning naming how many, how
much and the earliest date. Expected counts and amounts are worked by hand in the comments."""

from __future__ import annotations

from tests.test_receivables_cli import _post_payments, wb  # noqa: F401  (fixture)


def test_items_dated_before_the_ledger_are_posted_with_a_warning(wb, tmp_path):  # noqa: F811
    # B1, B2, B3 opened 2025-01-01 (the ledger's first activity); B4 is loaded opened 2025-06-01.
    (tmp_path / "more.csv").write_text("account_number,customer_name,service_address,meter_id,rate_code,"
                                       "customer_class,opening_date\nB4,Dan Dee,4 Oak Ave,M4,RES,RES,2025-06-01\n")
    wb("ledger", "load-accounts", tmp_path / "more.csv")
    # early: U1 (unknown Z9, 2022-02-01, before 2025-01-01) 40.00; P1 (B1, 2024-12-31, before B1 opened) 10.00;
    # P4 (B4, 2025-03-01, before B4 opened 2025-06-01) 7.50. Not early: P2 (B1 on its opening day) 5.00, P3 (B2,
    # 2025-02-10) 3.00. Early: 3 items, 40.00 + 10.00 + 7.50 = 57.50, the earliest 2022-02-01.
    out = _post_payments(wb, tmp_path, "U1,Z9,40.00,2022-02-01,payment\nP1,B1,10.00,2024-12-31,payment\n"
                                       "P4,B4,7.50,2025-03-01,payment\nP2,B1,5.00,2025-01-01,payment\n"
                                       "P3,B2,3.00,2025-02-10,payment\n")
    said = ("WARNING: 3 item(s), 57.50, dated before their account opened or before the ledger's first activity "
            "(2025-01-01); earliest 2022-02-01: posted")
    assert said in out.stdout and said in out.stderr
    assert "applied to accounts        4" in out.stdout and "unapplied (queue)          1" in out.stdout


def test_no_warning_when_every_item_is_dated_in_the_ledger(wb, tmp_path):  # noqa: F811
    out = _post_payments(wb, tmp_path, "P1,B1,10.00,2025-01-01,payment\nU1,Z9,4.00,2025-01-01,payment\n")
    assert "WARNING" not in out.stdout + out.stderr


def test_items_rejected_as_duplicates_are_not_counted_as_early(wb, tmp_path):  # noqa: F811
    # the first file: U1 (unknown Z9, 2022-02-01) 40.00 is early -> warned once
    first = _post_payments(wb, tmp_path, "U1,Z9,40.00,2022-02-01,payment\n", name="first.csv")
    assert "WARNING: 1 item(s), 40.00" in first.stdout
    # the second file repeats U1 (rejected: already posted), repeats P1 inside the file (the second P1 rejected) and
    # adds P1 (B1, 2024-12-31) 10.00, early. Posted early items: only the first P1 -> 1 item, 10.00, earliest
    # 2024-12-31 (counting the rejected ones too would say 3 items, 60.00, earliest 2022-02-01)
    second = _post_payments(wb, tmp_path, "U1,Z9,40.00,2022-02-01,payment\nP1,B1,10.00,2024-12-31,payment\n"
                                          "P1,B1,10.00,2024-12-31,payment\n", name="second.csv")
    assert "rejected                   2" in second.stdout
    said = ("WARNING: 1 item(s), 10.00, dated before their account opened or before the ledger's first activity "
            "(2025-01-01); earliest 2024-12-31: posted")
    assert said in second.stdout and said in second.stderr


def test_no_warning_when_every_early_item_is_a_duplicate(wb, tmp_path):  # noqa: F811
    _post_payments(wb, tmp_path, "U1,Z9,40.00,2022-02-01,payment\n", name="first.csv")
    again = _post_payments(wb, tmp_path, "U1,Z9,40.00,2022-02-01,payment\nP2,B1,5.00,2025-01-01,payment\n",
                           name="again.csv")
    assert "rejected                   1" in again.stdout
    assert "WARNING" not in again.stdout + again.stderr
