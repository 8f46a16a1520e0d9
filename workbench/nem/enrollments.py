"""Accounts' net-metering histories: which program governs an account's bill on a given day, and why.

An enrollment file (CSV) holds one row per (account, program, effective period)::

    account,program,pto_date,start,end,true_up_month,policy_version
    A000123,NEM2,2019-05-10,2019-05-10,,,D.16-01-044
    A000456,NEM2,2018-03-02,2018-03-02,2024-06-30,,
    A000456,NBT,2024-07-15,2024-07-15,,,2023 tariff

- ``pto_date``: permission-to-operate (interconnection) date of the system the row covers; it picks the
  export-value vintage, the anniversary true-up month and the start of lock-in periods.
- ``start`` (default: ``pto_date``), ``end`` (exclusive; empty = open): when the row governs bills.
- ``true_up_month`` (optional, 1-12) overrides the program's.
- ``opening_credit`` [$] / ``opening_kwh`` (optional, >= 0): the bank the account brings into the first bill the
  workbench computes (the cube's first bill); only in the unit the program banks.

One customer base holds several program generations at once. The rules enforced here (each row's fields by
:mod:`workbench.nem.enrollment_rows`, with a pydantic model), each with an error that names the file, the row
and the account:

- the program exists in the book; dates parse; ``end`` is after ``start``; ``start`` is not before PTO;
- one account's rows never overlap (an account is on one program on any day);
- a program closed to new customers (``closed_after`` in the program file) takes no PTO after that date;
- a legacy lock-in (``lock_in_years``, e.g. 20 for NEM 2.0) ends at PTO + N years: from then on the
  account is on the program's ``successor`` (if the file names one), without a new row;
- an export-value lock (``export_lock_years``, e.g. 9 for NBT) keeps the PTO-year vintage for N years; from
  then on the vintage in force on the billing date applies (:func:`export_vintage_year`).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from workbench.ami.registry_rows import paused_gc
from workbench.nem.enrollment_rows import COLUMNS, REQUIRED, Enrolled, EnrollmentError, read_enrollments
from workbench.nem.results import bank_unit

__all__ = ["COLUMNS", "REQUIRED", "Enrolled", "EnrollmentBook", "EnrollmentError", "ProgramOn", "export_vintage_year",
           "load_enrollments", "lock_in_end", "opening_problem"]


@dataclass(frozen=True)
class ProgramOn:
    """The program governing an account's bill on a day, and why."""

    account: str
    program: str
    pto_date: dt.date
    true_up_month: int | None
    reason: str
    opening_credit: float | None = None  # [$] the row's opening bank (None: not given)
    opening_kwh: float | None = None  # [kWh]
    start: dt.date | None = None  # the row's start


def _add_years(day: dt.date, years: float) -> dt.date:
    whole = int(years)
    try:
        out = day.replace(year=day.year + whole)
    except ValueError:  # 29 February
        out = day.replace(year=day.year + whole, day=28)
    return out + dt.timedelta(days=round((years - whole) * 365.25))


def lock_in_end(program, pto_date: dt.date) -> dt.date | None:
    """The first day after the program's legacy lock-in, or None when the program has none."""
    years = getattr(program, "lock_in_years", None)
    return _add_years(pto_date, years) if years else None


def export_vintage_year(program, pto_date: dt.date, day: dt.date) -> int:
    """The export-value vintage year for a bill on ``day``: the PTO year while the export lock runs."""
    years = getattr(program, "export_lock_years", None)
    if years and day >= _add_years(pto_date, years):
        return day.year
    return pto_date.year


class EnrollmentBook:
    """Every account's program history, validated against the program book."""

    def __init__(self, rows: list[Enrolled], programs: dict, source: str = "enrollments"):
        self.source = source
        self.programs = programs
        self._by_account: dict[str, list[Enrolled]] = {}
        for row in rows:
            self._by_account.setdefault(row.account, []).append(row)
        for history in self._by_account.values():
            if len(history) > 1:
                history.sort(key=lambda r: r.start)
        self._validate()

    def __len__(self) -> int:
        return len(self._by_account)

    def __contains__(self, account: str) -> bool:
        return account in self._by_account

    def accounts(self) -> list[str]:
        return sorted(self._by_account)

    def history(self, account: str) -> list[Enrolled]:
        return list(self._by_account.get(account, []))

    def _where(self, row: Enrolled) -> str:
        return f"{self.source}, row {row.row}, account {row.account}"

    def _validate(self) -> None:
        for account, history in self._by_account.items():
            for row in history:
                program = self.programs.get(row.program)
                if program is None:
                    raise EnrollmentError(
                        f"{self._where(row)}: program {row.program!r} is not in the program book "
                        f"(programs: {', '.join(sorted(self.programs))})")
                problem = opening_problem(program, row.opening_credit, row.opening_kwh)
                if problem:
                    raise EnrollmentError(f"{self._where(row)}: {problem}")
                closed = getattr(program, "closed_after", None)
                if closed is not None and row.pto_date > closed:
                    raise EnrollmentError(
                        f"{self._where(row)}: {row.program} closed to new customers after {closed}; PTO "
                        f"{row.pto_date} must enroll in {getattr(program, 'successor', None) or 'a successor program'}")
            for before, after in zip(history, history[1:], strict=False):
                if before.end is None or after.start < before.end:
                    until = "open-ended" if before.end is None else f"until {before.end}"
                    raise EnrollmentError(
                        f"{self.source}: account {account}: rows {before.row} ({before.program} from "
                        f"{before.start}, {until}) and {after.row} ({after.program} from {after.start}) overlap; "
                        "end the first row on or before the second row's start")

    def program_on(self, account: str, day: dt.date) -> ProgramOn | None:
        """The program governing ``account``'s bill on ``day`` (None: on no program that day)."""
        for row in self._by_account.get(account, ()):
            if not row.covers(day):
                continue
            program = self.programs[row.program]
            ends = lock_in_end(program, row.pto_date)
            successor = getattr(program, "successor", None)
            if ends is not None and day >= ends and successor:
                return ProgramOn(account, successor, row.pto_date, row.true_up_month,
                                 f"{row.program} lock-in of {program.lock_in_years:g} years ended {ends}; "
                                 f"on the successor {successor}", row.opening_credit, row.opening_kwh, row.start)
            return ProgramOn(account, row.program, row.pto_date, row.true_up_month,
                             f"enrolled in {row.program} from {row.start} (row {row.row})", row.opening_credit,
                             row.opening_kwh, row.start)
        return None


def opening_problem(program, credit: float | None, kwh: float | None) -> str:
    """Why ``program`` cannot hold an opening bank of ``credit`` [$] / ``kwh`` ("" when it can; 0 fits any)."""
    unit = bank_unit(program)
    holds = {"kwh": "banked kWh (opening_kwh)", "dollars": "$ credit (opening_credit)", None: "nothing"}[unit]
    if kwh and unit != "kwh":
        return f"opening_kwh {kwh:g} given, but program {program.code} banks {holds}"
    if credit and unit != "dollars":
        return f"opening_credit {credit:.2f} given, but program {program.code} banks {holds}"
    return ""


def load_enrollments(path, programs: dict) -> EnrollmentBook:
    """Read and validate an enrollment CSV against ``programs`` (code -> Program)."""
    path = Path(path)
    if not path.exists():
        raise EnrollmentError(f"{path}: enrollment file not found")
    try:
        with paused_gc():
            return EnrollmentBook(read_enrollments(path), programs, source=str(path))
    except UnicodeDecodeError as e:
        raise EnrollmentError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the enrollment file "
                              "as CSV UTF-8") from None
    except csv.Error as e:
        raise EnrollmentError(f"{path}: not a readable CSV ({e}); expected {', '.join(COLUMNS)}") from None
