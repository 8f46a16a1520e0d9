"""Account program histories: validation errors name the file, row and account; lock-in and vintage rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from workbench.nem import load_programs
from workbench.nem.enrollments import (
    EnrollmentError,
    export_vintage_year,
    load_enrollments,
    lock_in_end,
)

PROGRAMS = load_programs(Path(__file__).resolve().parents[1] / "tariffs" / "programs")
HEADER = "account,program,pto_date,start,end,true_up_month,policy_version\n"


def _write(tmp_path, body, header=HEADER):
    path = tmp_path / "enrollments.csv"
    path.write_text(header + body)
    return path


def test_history_resolves_program_per_day(tmp_path):
    path = _write(tmp_path, "A1,NEM2,2018-03-02,,2024-06-30,,\nA1,NBT,2024-07-15,,,4,2023 tariff\nA2,NBT,2025-02-01,,,,\n")
    book = load_enrollments(path, PROGRAMS)
    assert book.accounts() == ["A1", "A2"]
    on = book.program_on("A1", dt.date(2020, 1, 1))
    assert (on.program, on.pto_date, on.true_up_month) == ("NEM2", dt.date(2018, 3, 2), None)
    assert book.program_on("A1", dt.date(2024, 6, 30)) is None  # end is exclusive, gap before the new PTO
    on = book.program_on("A1", dt.date(2024, 7, 15))
    assert (on.program, on.true_up_month) == ("NBT", 4)
    assert book.program_on("A2", dt.date(2025, 1, 31)) is None
    assert book.program_on("nobody", dt.date(2025, 1, 31)) is None


def test_overlapping_histories_name_the_account_and_rows(tmp_path):
    path = _write(tmp_path, "A1,NEM2,2018-03-02,,2024-08-01,,\nA1,NBT,2024-07-15,,,,\n")
    with pytest.raises(EnrollmentError) as err:
        load_enrollments(path, PROGRAMS)
    msg = str(err.value)
    assert "account A1" in msg and "rows 2" in msg and "3 (NBT" in msg and "overlap" in msg


def test_open_ended_row_followed_by_another_overlaps(tmp_path):
    path = _write(tmp_path, "A1,NEM2,2018-03-02,,,,\nA1,NBT,2024-07-15,,,,\n")
    with pytest.raises(EnrollmentError, match="open-ended"):
        load_enrollments(path, PROGRAMS)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("A1,NEM9,2018-03-02,,,,\n", "program 'NEM9' is not in the program book"),
        ("A1,NEM2,2018-13-02,,,,\n", "pto_date '2018-13-02' is not a date"),
        ("A1,NEM2,,,,,\n", "column 'pto_date' is empty"),
        ("A1,NEM2,2018-03-02,2018-01-01,,,\n", "before the PTO date"),
        ("A1,NEM2,2018-03-02,,2018-03-02,,\n", "is not after start"),
        ("A1,NEM2,2018-03-02,,,13,\n", "true_up_month '13' is not a month 1-12"),
        (",NEM2,2018-03-02,,,,\n", "account is empty"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path, body, fragment):
    path = _write(tmp_path, body)
    with pytest.raises(EnrollmentError) as err:
        load_enrollments(path, PROGRAMS)
    assert fragment in str(err.value)
    assert f"{path}" in str(err.value) and "row 2" in str(err.value)


def test_missing_and_unknown_columns(tmp_path):
    with pytest.raises(EnrollmentError, match="missing column"):
        load_enrollments(_write(tmp_path, "A1,NEM2\n", header="account,program\n"), PROGRAMS)
    with pytest.raises(EnrollmentError, match="unknown column.*tariff"):
        load_enrollments(_write(tmp_path, "A1,NEM2,2018-03-02,X\n", header="account,program,pto_date,tariff\n"),
                         PROGRAMS)


def test_lock_in_and_export_lock_dates():
    nem2, nbt = PROGRAMS["NEM2"], PROGRAMS["NBT"]
    assert lock_in_end(nem2, dt.date(2019, 5, 10)) == dt.date(2039, 5, 10)  # 20 years
    assert lock_in_end(nem2, dt.date(2020, 2, 29)) == dt.date(2040, 2, 29)
    assert lock_in_end(nbt, dt.date(2024, 7, 15)) is None
    # NBT: the PTO-year vintage for 9 years, then the vintage in force on the billing date
    assert export_vintage_year(nbt, dt.date(2024, 7, 15), dt.date(2033, 7, 14)) == 2024
    assert export_vintage_year(nbt, dt.date(2024, 7, 15), dt.date(2033, 7, 15)) == 2033
    assert export_vintage_year(nem2, dt.date(2019, 5, 10), dt.date(2045, 1, 1)) == 2019


def test_closed_program_refuses_later_pto(tmp_path):
    assert PROGRAMS["NEM2"].closed_after == dt.date(2023, 4, 14)
    load_enrollments(_write(tmp_path, "A1,NEM2,2023-04-14,,,,\n"), PROGRAMS)  # the last day it was open
    with pytest.raises(EnrollmentError) as err:
        load_enrollments(_write(tmp_path, "A1,NEM2,2023-04-15,,,,\n"), PROGRAMS)
    assert "row 2, account A1" in str(err.value) and "closed to new customers after 2023-04-14" in str(err.value)
    assert "NBT" in str(err.value)


def test_lock_in_ends_on_the_successor(tmp_path):
    book = load_enrollments(_write(tmp_path, "A1,NEM2,2019-05-10,,,,\n"), PROGRAMS)
    assert book.program_on("A1", dt.date(2039, 5, 9)).program == "NEM2"
    after = book.program_on("A1", dt.date(2039, 5, 10))
    assert after.program == "NBT" and after.pto_date == dt.date(2019, 5, 10)
    assert "lock-in of 20 years ended 2039-05-10" in after.reason


def test_the_row_model_and_the_bulk_load_agree(tmp_path):
    """Each row through ``EnrollmentRow.model_validate`` gives the record the column-wise load gives."""
    from workbench.nem.enrollment_rows import EnrollmentRow

    body = "A1,NEM2,2018-03-02,,2024-06-30,,\nA1,NBT,2024-07-15,,,4,2023 tariff\nA2,NBT,2025-02-01,2025-03-01,,12,\n"
    book = load_enrollments(_write(tmp_path, body), PROGRAMS)
    names = HEADER.strip().split(",")
    for line, row in enumerate(body.splitlines(), start=2):
        one = EnrollmentRow.model_validate(dict(zip(names, row.split(","), strict=True))).to_enrolled(line)
        assert one in book.history(one.account)
    # worked out by hand: start defaults to the PTO date; true_up_month is a number
    a2 = book.history("A2")[0]
    assert (a2.start, a2.end, a2.true_up_month) == (dt.date(2025, 3, 1), None, 12)
    assert book.history("A1")[0].start == dt.date(2018, 3, 2)


def test_rows_are_counted_as_the_file_is_and_the_first_bad_row_is_named(tmp_path):
    """A blank line counts as a line of the file; the earlier of two bad rows is named, whatever the column."""
    path = _write(tmp_path, "A1,NEM2,2018-03-02,,,,\n\nA2,NEM2,2018-03-02,,,5.0,\nA3,NEM2,2018-02-30,,,,\n")
    with pytest.raises(EnrollmentError, match=r"row 4, account A2: true_up_month '5.0' is not a month 1-12"):
        load_enrollments(path, PROGRAMS)
    path = _write(tmp_path, "A1,NEM2,2018-03-02,,,,\nA2,NEM2,2018-03-02,,2018-03-01,,\nA3,NEM2,2018-02-30,,,,\n")
    with pytest.raises(EnrollmentError, match=r"row 3, account A2: end 2018-03-01 is not after start"):
        load_enrollments(path, PROGRAMS)
