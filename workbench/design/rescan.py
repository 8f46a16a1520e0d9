"""Present against proposed when the proposal moves the ToU hours: two determinant sets, one comparison.

Re-pricing the kept determinants cannot answer "what if the peak were 4-9 pm": the kWh of each ToU period
depend on the hours, so a proposed book whose schedule (ToU hours, seasons, holidays, demand measurement)
differs needs its own scan: ``workbench design determinants --tariffs PROPOSED-BOOK --out OTHER-FOLDER``.
:func:`price_rescanned` then prices the present book on the present determinants and the proposed book on the
proposed determinants, customer by customer, and :func:`workbench.design.scenarios.compare` sets them side by
side as for a price-only proposal.

That comparison is only honest if both sets are the same customers and the same bills. :func:`check_comparable`
refuses, naming what differs, two sets scanned from different cubes (or versions of one cube), test years or
bases, or holding different customers (meter, account, class, rate code) or different bill periods.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.design.scenarios import PricedBook, Study, compare
from workbench.errors import WorkbenchError


class NotComparable(WorkbenchError):
    """The present and proposed determinants are not the same customers' same bills."""


def _cube_text(identity: dict) -> str:
    version = identity.get("cube_version") or {}
    return f"{identity.get('cube')} (version {version.get('version')}, run {version.get('run') or '-'})"


def _first(items, n=3) -> str:
    items = sorted(items)
    return ", ".join(map(str, items[:n])) + (f" and {len(items) - n:,} more" if len(items) > n else "")


def check_comparable(present: Study, proposed: Study) -> None:
    """Refuse (one line, naming what differs) two determinant sets that are not the same customers' bills."""
    a, b = present.identity, proposed.identity
    where = f"--determinants {present.folder} and --proposed-determinants {proposed.folder}"
    if a.get("cube_version") != b.get("cube_version") or not a.get("cube_version"):
        said = (f"the cube {a.get('cube')} was written again (an ingest or VEE) between the two scans"
                if a.get("cube") == b.get("cube") else f"{_cube_text(a)} against {_cube_text(b)}")
        raise NotComparable(f"{where} were scanned from different cubes or versions of a cube: {said}; scan both "
                            "books from the same cube version")
    if a.get("test_year") != b.get("test_year"):
        raise NotComparable(f"{where} are of different test years: {a.get('test_year')} against "
                            f"{b.get('test_year')}; scan both books for the same test year")
    if present.basis != proposed.basis:
        raise NotComparable(f"{where} were scanned on different bases: {present.basis} against {proposed.basis}; "
                            "give --basis to price both on one basis (both bases are kept in each set)")
    if a.get("enrollments_sha256") != b.get("enrollments_sha256"):
        said = {k: (x.get("enrollments") or "no enrollment file") for k, x in (("present", a), ("proposed", b))}
        raise NotComparable(f"{where} were scanned with different net-metering enrollments: {said['present']} "
                            f"against {said['proposed']}; scan both with the same --enrollments")
    codes_a, codes_b = set(present.rate_codes), set(proposed.rate_codes)
    if codes_a != codes_b:
        raise NotComparable(f"{where} hold different rate codes: only in the present set: "
                            f"{_first(codes_a - codes_b) or 'none'}; only in the proposed set: "
                            f"{_first(codes_b - codes_a) or 'none'} (a rate code missing from a book is held)")
    for code in sorted(codes_a):
        _check_rate_code(where, code, present.data[code], proposed.data[code])


def _check_rate_code(where: str, code: str, one, two) -> None:
    cols = ["meter", "account", "customer_class", "cycle"]
    left, right = one.meters[cols].astype(str), two.meters[cols].astype(str)
    keys_a = set(map(tuple, left.to_numpy()))
    keys_b = set(map(tuple, right.to_numpy()))
    if keys_a != keys_b:
        only_a = {k[0] for k in keys_a - keys_b}
        only_b = {k[0] for k in keys_b - keys_a}
        raise NotComparable(f"{where} hold different customers on {code}: only in the present set (or with "
                            f"another account, class or cycle): {_first(only_a) or 'none'}; only in the proposed "
                            f"set: {_first(only_b) or 'none'}")
    order = pd.Index(right["meter"]).get_indexer(left["meter"])
    pa_, pb = one.periods, two.periods
    width = max(pa_.start.shape[1], pb.start.shape[1])

    def padded(arr, rows, fill):
        out = np.full((len(rows), width), fill, dtype=arr.dtype)
        out[:, :arr.shape[1]] = arr[rows]
        return out

    rows_a, rows_b = np.arange(len(left)), order
    valid_a, valid_b = padded(pa_.valid, rows_a, False), padded(pb.valid, rows_b, False)
    same = valid_a == valid_b
    for name in ("start", "end"):
        x = padded(getattr(pa_, name), rows_a, np.datetime64("NaT"))
        y = padded(getattr(pb, name), rows_b, np.datetime64("NaT"))
        same &= (x == y) | ~valid_a
    if not same.all():
        m, p = np.argwhere(~same)[0]
        raise NotComparable(f"{where} bill {code} meter {left['meter'].iloc[m]} over different periods (bill "
                            f"period {p + 1}: {_period(pa_, rows_a[m], p)} against {_period(pb, rows_b[m], p)}); "
                            "scan both books from the same cube")


def _period(periods, m: int, p: int) -> str:
    if p >= periods.start.shape[1] or not periods.valid[m, p]:
        return "none"
    return f"{periods.start[m, p]} to {periods.end[m, p]}"


def price_rescanned(present: Study, present_book: dict, proposed: Study, proposed_book: dict
                    ) -> tuple[PricedBook, PricedBook, dict[str, pd.DataFrame]]:
    """The present book on the present determinants, the proposed book on its own; both priced and compared.

    Each proposed tariff's schedule is checked against the proposed determinants (a mismatch: ``NeedsRescan``)."""
    check_comparable(present, proposed)
    priced_present = present.price(present_book, "present")
    priced_proposed = proposed.price(proposed_book, "proposed")
    return priced_present, priced_proposed, compare(priced_present, priced_proposed)
