"""When the annual true-up happens: its month, the one bill that carries it, and a month that had to be assumed.

A program's true-up is in a fixed month (1-12) or on the customer's anniversary (``month: anniversary``: the
month before the month of the permission-to-operate date). The true-up settles a *relevant period* of twelve
months; the bill that carries it is the bill that closes that period: the **last** bill ending in the true-up
month. A bill period that ends in the true-up month but is followed by another one ending in the same month
(a cycle read twice in a month, or the short bill at the end of the interval data, e.g. 12-17 to 01-01 after
11-19 to 12-17) does not close the period: its usage belongs to the period the later bill closes.

An anniversary true-up with no PTO date (and no true-up month given) cannot be placed: it is assumed in
:data:`ASSUMED_MONTH` (December, PySAM's default too), and said loudly (a warning, and the meters listed for
review), never silently: a wrong true-up month forfeits or pays credits on the wrong bill.
"""

from __future__ import annotations

import logging

import numpy as np

from workbench.calendar.periods import BillPeriods
from workbench.nem.results import Enrollment

log = logging.getLogger(__name__)

#: the true-up month assumed for an anniversary true-up with no PTO date
ASSUMED_MONTH = 12
#: the ``check`` of a review row (``CyclePlanned.review``) for a meter billed with the assumed month
ASSUMED_CHECK = "true_up_month_assumed"


def true_up_mask(periods: BillPeriods, month: int) -> np.ndarray:
    """(M, B) the bills that carry the true-up: of the bill periods ending in ``month``, the last one of each
    run of them (the bill that closes the relevant period), so never two true-ups in one month."""
    valid = periods.valid
    end_month = (periods.end - 1).astype("datetime64[M]")  # the year-month of each period's last day
    in_month = valid & (periods.end_month == month)
    later_same = np.zeros_like(in_month)
    # the next bill also ends in this same year-month: it, not this one, closes the period
    later_same[:, :-1] = in_month[:, 1:] & (end_month[:, 1:] == end_month[:, :-1])
    return in_month & ~later_same


def anniversary_month(pto_date) -> int:
    """The true-up month of an anniversary program for a PTO date: the month before the PTO month."""
    pto_month = int(np.datetime64(pto_date, "M").astype(int) % 12) + 1
    return 12 if pto_month == 1 else pto_month - 1  # 12 months after enrollment, ending the month before


def month_is_assumed(program, pto_date, true_up_month) -> bool:
    """True when the program trues up on the PTO anniversary but neither a PTO date nor a month is known."""
    return (not true_up_month and (pto_date is None or str(pto_date) == "")
            and getattr(getattr(program, "true_up", None), "month", None) == "anniversary")


def true_up_month(enrollment: Enrollment) -> int:
    """The month of an enrollment's true-up: its own, the program's fixed month, the PTO anniversary's, or
    (no PTO date) :data:`ASSUMED_MONTH`; the callers say so (:func:`assumed_review`, :func:`warn_assumed`)."""
    if enrollment.true_up_month is not None:
        return int(enrollment.true_up_month)
    month = enrollment.program.true_up.month
    if month != "anniversary":
        return int(month)
    if enrollment.pto_date is None:
        return ASSUMED_MONTH
    return anniversary_month(enrollment.pto_date)


def assumed_reason(program_code: str) -> str:
    return (f"true-up month assumed: {program_code} trues up on the PTO anniversary but no PTO date is known "
            f"(the cube has none; give the account in --enrollments with its pto_date): its credits are settled "
            f"in month {ASSUMED_MONTH} (December) of each year")


def assumed_review(programs: dict, meters, accounts, rate_codes, nem_codes, pto, true_up, billable) -> list[dict]:
    """Review rows (meter, account, rate_code, reason, check, program) of the billable meters whose anniversary true-up
    month is assumed (:data:`ASSUMED_MONTH`), with one warning in the log naming how many."""
    rows, codes = [], set()
    for i in np.flatnonzero(billable):
        code = str(nem_codes[i])
        program = programs.get(code) if code else None
        if program is not None and month_is_assumed(program, pto[i], int(true_up[i])):
            rows.append({"meter": str(meters[i]), "account": str(accounts[i]), "rate_code": str(rate_codes[i]),
                         "reason": assumed_reason(code), "check": ASSUMED_CHECK, "program": code})
            codes.add(code)
    if rows:
        log.warning(warning_line(len(rows), sorted(codes), rows[0]["meter"]))
    return rows


def warning_line(n_meters: int, program_codes, example: str) -> str:
    """The one-line warning of a run with ``n_meters`` meters billed with the assumed true-up month."""
    return (f"WARNING: {n_meters:,} meter(s) on {', '.join(program_codes)} (true-up on the PTO anniversary) have no "
            f"PTO date: true-up month assumed to be {ASSUMED_MONTH} (December), where leftover credits are "
            f"settled (e.g. meter {example}); give their accounts' pto_date in --enrollments")


def split_review(review: list[dict]) -> tuple[list[dict], list[dict]]:
    """A run's review rows: (banks starting at zero, true-up months assumed)."""
    assumed = [r for r in review if r.get("check") == ASSUMED_CHECK]
    return [r for r in review if r.get("check") != ASSUMED_CHECK], assumed


def warn_assumed(program, pto_date, true_up_month_given) -> None:
    """One meter billed (``workbench bill``, ``bill_series``) with the assumed true-up month: said on stderr."""
    if month_is_assumed(program, pto_date, true_up_month_given):
        log.warning(f"WARNING: {program.code} trues up on the PTO anniversary but no --pto-date was given: true-up "
                    f"month assumed to be {ASSUMED_MONTH} (December), where leftover credits are settled; give "
                    "--pto-date (or --true-up-month)")
