"""Which version of a proposed tariff prices which of the test year's bills.

The test year's bills are priced with the tariff versions in force on their days, as ``workbench cycle`` bills
them. A proposal is usually written the way it will be filed, as a new version effective on the day the new
rates take effect; if that day is after the test year, no bill of the test year is priced on it, and the
proposal's revenue is the present revenue to the cent. If it is inside the test year, only the bills from that
day are. :func:`proposed_version_notes` says so, one warning per tariff, so that neither is read as the
proposal's annual revenue.
"""

from __future__ import annotations

import datetime as dt


def _charges(version) -> list:
    return [charge.spec for charge in version.charges]


def changed_versions(present, proposed) -> list:
    """The versions of the ``proposed`` compiled tariff that are not a version of the ``present`` one (same
    effective date, same charges and prices): the versions a proposal added or edited."""
    kept = {v.effective: _charges(v) for v in (present.versions if present is not None else [])}
    return [v for v in proposed.versions if kept.get(v.effective) != _charges(v)]


def proposed_version_notes(present_book: dict, proposed_book: dict, test_year: int, codes) -> list[str]:
    """One warning's text per rate code of ``codes`` whose proposed tariff's added or edited versions take
    effect after the test year's first day: after its last day they price none of its bills; inside it,
    only the bills (or the days of a bill, prorated) from that day."""
    first, last = dt.date(int(test_year), 1, 1), dt.date(int(test_year), 12, 31)
    notes = []
    for code in sorted(set(codes)):
        tariff = proposed_book.get(code)
        if tariff is None:
            continue
        changed = changed_versions(present_book.get(code), tariff)
        if not changed or any(v.effective <= first for v in changed):
            continue  # a changed version is in force from the test year's first day: the proposal is priced
        where = tariff.source_path or code
        after = [v.effective for v in changed if v.effective > last]
        inside = [v.effective for v in changed if first < v.effective <= last]
        in_year = [v.effective for v in tariff.versions if v.effective <= last]
        if after and not inside:
            edit = (f"put its prices in the last version in force in {test_year} (effective {in_year[-1]})"
                    if in_year else f"make it effective {first} or earlier")
            notes.append(f"{where}: its proposed version (effective {after[0]}) takes effect after the test year "
                         f"{test_year} and prices none of its bills, so the proposed revenue of {code} is its "
                         f"present revenue: the test year's bills are priced on the versions in force on their "
                         f"days; to price the proposal on the test year, {edit}")
        else:
            notes.append(f"{where}: its proposed prices (the version effective {inside[0]}) price only the test "
                         f"year's bills from {inside[0]}; the bills before keep the earlier version's prices, so the "
                         f"proposed revenue of {code} is not a whole year at the proposed prices (for that, give "
                         f"the proposed prices to every version in force in {test_year})")
    return notes


def solve_version_note(study_year: int, base, codes) -> str:
    """Why a solve moves no revenue when it is because each tariff's last version (the one the solve edits)
    takes effect after the test year: the text names them, else ''."""
    last = dt.date(int(study_year), 12, 31)
    late = []
    for code in sorted(set(codes)):
        version = base.tariffs[code]["versions"][-1]
        effective = version["effective"]
        day = effective if isinstance(effective, dt.date) else dt.date.fromisoformat(str(effective))
        if day > last:
            late.append(f"{code}'s takes effect {day}")
    if not late:
        return ""
    return (f"the solve edits each tariff's last version, and {', '.join(late)}, after the test year {study_year}: "
            "it prices none of the test year's bills. Start from a book whose last version is in force in "
            f"{study_year} (--tariffs), e.g. without the version after it")
