"""Revenue requirement: solve a price that recovers a class's required revenue, to the cent.

A *move* is one number ``x`` applied to chosen charges of chosen rate codes: ``how="scale"`` multiplies every
price of the charges by ``x`` (a uniform scale of energy blocks, of demand charges); ``how="set"`` sets them
all to ``x`` (one energy price; a customer charge). Revenue is linear in ``x`` but for rounding: each line
item of each bill is rounded to the cent, so revenue R(x) is a non-decreasing step function with steps of a
few cents. :func:`solve` therefore

1. prices at two values of ``x`` and takes the straight line through them (exact but for rounding);
2. refines along chords of that slope until the requirement is bracketed within a millionth of ``x``;
3. narrows the bracket by false position (halving when it stalls) to the smallest ``x``, to 9 significant
   digits (a price of $0.2650/kWh scaled by it is exact to $3e-10/kWh), whose revenue reaches the requirement (``decimals``: bisects over prices with that many decimals,
   the precision the tariff is published in).

The result says the revenue at the solved price (from the engine's pricing, which ``workbench cycle`` repeats
bill for bill) and the *residual* (revenue − requirement, in $): 0.00 when the requirement is reachable to
the cent; otherwise the smallest overshoot (a step of R(x) jumps past the requirement, e.g. a customer charge
moves every bill by a cent at once, or a price rounded to ``decimals`` moves revenue by more than a cent).

:func:`round_solution` rounds each solved price to the precision a tariff is filed in (per unit, ``PRICE_DECIMALS``:
$/kWh to 5 decimals, $/kW and a monthly customer charge to 2...) and prices the *rounded* book: its revenue
and its difference from the requirement (in $ and %) are the rounding's cost, and what ``workbench cycle``
bills with the written book.

:func:`revenue_neutral` moves revenue between charges (raise the customer charge, solve the energy price
that keeps the class's revenue); :func:`check_recovers` says whether a book recovers a requirement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from workbench.design.proposal import Proposal
from workbench.design.scenarios import Study
from workbench.design.versions import solve_version_note
from workbench.errors import WorkbenchError


@dataclass
class Solution:
    """A solved move: ``x``, the proposal at ``x``, its revenue and the residual against the requirement [$]."""

    x: float
    proposal: Proposal
    revenue: float
    requirement: float
    residual: float
    evaluations: int
    how: str
    targets: list = field(default_factory=list)
    start_revenue: float = float("nan")  # [$] at the starting prices (base), for a sanity check of the requirement

    def implausible(self, factor: float = 2.0) -> str:
        """A warning's text when the requirement is more than ``factor`` x (or less than 1/``factor`` of) the
        revenue at the starting prices: a requirement in the wrong unit or of the wrong classes; else ''."""
        ratio = self.requirement / self.start_revenue if self.start_revenue > 0 else float("nan")
        if not math.isfinite(ratio) or 1 / factor <= ratio <= factor:
            return ""
        return (f"the requirement ${self.requirement:,.2f} is {ratio:,.3g} x the revenue at the starting prices "
                f"(${self.start_revenue:,.2f}); x = {self.x:,.6g} ({self.how}): check the amount (dollars of the "
                "test year, of these classes' customers)")

    def summary(self) -> str:
        verb = "recovers it to the cent" if self.residual == 0 else f"residual {self.residual:+,.2f}"
        return (f"{self.how} x = {self.x!r} on {self.targets}: revenue ${self.revenue:,.2f} against the requirement "
                f"${self.requirement:,.2f} ({verb}; {self.evaluations} pricings)")


#: decimals a filed price is stated to, by its unit (a customer or minimum charge: by its ``per``)
PRICE_DECIMALS = {"kWh": 5, "kW": 2, "month": 2, "bill": 2, "day": 4}
UNIT_OF_TYPE = {"energy": "kWh", "rider": "kWh", "rtp": "kWh", "demand": "kW"}


def price_unit(charge: dict) -> str:
    """The unit a charge's price is per: kWh, kW, or (customer, minimum) its ``per`` (month, bill, day)."""
    return UNIT_OF_TYPE.get(charge.get("type"), str(charge.get("per", "month")))


@dataclass
class Rounded:
    """A solution with its prices rounded: the book to write, its revenue and the rounding's cost [$]."""

    proposal: Proposal
    revenue: float
    requirement: float
    decimals: list  # (rate code, charge, unit, decimals, "default" | "given")

    @property
    def difference(self) -> float:
        return round(self.revenue - self.requirement, 2)

    @property
    def percent(self) -> float:
        return 100.0 * self.difference / self.requirement

    def summary(self) -> str:
        return (f"rounded book: revenue ${self.revenue:,.2f} against the requirement ${self.requirement:,.2f}: "
                f"difference {self.difference:+,.2f} ({self.percent:+.4f}%), the cost of the rounding")


def round_solution(study: Study, solution: Solution, decimals: dict | None = None) -> Rounded:
    """Each price of the solution's moved charges rounded (half up) to ``decimals[unit]`` (default
    ``PRICE_DECIMALS``), and the rounded book priced on the study's customers."""
    given = dict(decimals or {})
    unknown = sorted(set(given) - set(PRICE_DECIMALS))
    if unknown:
        raise WorkbenchError(f"price decimals for unit(s) {unknown}: expected units {sorted(PRICE_DECIMALS)}")
    proposal, used = solution.proposal, []
    for code, component in solution.targets:
        unit = price_unit(proposal.charge(code, component))
        if unit not in PRICE_DECIMALS:
            raise WorkbenchError(f"{code} {component}: a price per {unit!r}; expected one of {sorted(PRICE_DECIMALS)}")
        n = given.get(unit, PRICE_DECIMALS[unit])
        used.append((code, component, unit, n, "given" if unit in given else "default"))
        proposal = proposal.round_prices(code, component, n)
    codes = sorted({code for code, _ in solution.targets})
    return Rounded(proposal, _revenue_cents(study, proposal, codes) / 100.0, solution.requirement, used)


def _apply(base: Proposal, targets, how: str, x: float) -> Proposal:
    out = base
    for code, component in targets:
        out = out.scale(code, component, x) if how == "scale" else out.set_price(code, component, x)
    return out


def _revenue_cents(study: Study, proposal: Proposal, codes) -> int:
    book = proposal.compile(codes)
    return study.price(book, proposal.name, codes).total_cents()


def solve(study: Study, requirement: float, targets, *, how: str = "scale", base: Proposal | None = None,
          decimals: int | None = None, start: float | None = None, max_evaluations: int = 80) -> Solution:
    """The ``x`` whose move of ``targets`` ((rate code, charge description) pairs) recovers ``requirement`` [$].

    Revenue is that of the study's customers (its classes) on the targets' rate codes, on the study's basis.
    ``base``: the proposal to start from (default: the present book). ``decimals``: round ``x`` to this many
    decimals (the residual then says what the rounding costs).
    """
    if how not in ("scale", "set"):
        raise WorkbenchError(f"how {how!r}: expected 'scale' (multiply the prices) or 'set' (one price)")
    targets = [tuple(t) for t in targets]
    codes = sorted({code for code, _ in targets})
    base = base or Proposal.from_book(study.tariffs_dir)
    if not math.isfinite(requirement) or requirement <= 0:
        raise WorkbenchError(f"revenue requirement {requirement!r}: expected a finite amount of dollars above 0")
    target = int(round(requirement * 100))
    count = 0

    def revenue(x):
        nonlocal count
        count += 1
        if count > max_evaluations:
            raise WorkbenchError(f"the solve did not settle within {max_evaluations} pricings (is the revenue "
                                 "moved by these charges at all?)")
        return _revenue_cents(study, _apply(base, targets, how, x), codes)

    x0 = start if start is not None else (1.0 if how == "scale" else _first_price(base, targets[0]))
    x1 = x0 * 1.1 if x0 else 0.01
    seen = [(x0, revenue(x0)), (x1, revenue(x1))]
    if seen[1][1] == seen[0][1]:
        late = solve_version_note(study.identity["test_year"], base, codes)
        raise WorkbenchError(f"moving {targets} does not change the revenue of these customers; "
                             + (late or "choose charges they pay"))
    # chords with the slope of the first, wide pair: revenue is a straight line but for cents, and the slope of
    # two close points is mostly rounding noise (it sent the plain secant far off)
    slope = (seen[1][1] - seen[0][1]) / (seen[1][0] - seen[0][0])
    for _ in range(8):
        x_new = seen[-1][0] + (target - seen[-1][1]) / slope
        if x_new < 0:  # below what the customers pay with these charges at 0: no price reaches it
            x_new = 0.0
            floor = revenue(x_new)
            _check_floor(floor, target, targets)
            seen.append((x_new, floor))
        else:
            seen.append((x_new, revenue(x_new)))
        if seen[-1][1] == target or _bracket_width(seen, target) <= 1e-6 * abs(x_new):
            break
    below = [p for p in seen if p[1] < target]
    above = [p for p in seen if p[1] >= target]
    if below and above:  # the chords' own points bracket the requirement (revenue rises with x)
        lo, hi = max(below), min(above)
    else:
        (xa, _), (xb, _) = seen[-2], seen[-1]
        lo, hi = _bracket(revenue, *seen[-1], target, abs(xb - xa) or abs(xb) * 1e-6 or 1e-6, targets)
    if decimals is not None:
        x, rev = _bisect_grid(revenue, lo, hi, target, decimals)
    else:
        x, rev = _false_position(revenue, lo, hi, target)
    proposal = _apply(base, targets, how, x)
    return Solution(x, proposal, rev / 100.0, target / 100.0, (rev - target) / 100.0, count, how, targets,
                    seen[0][1] / 100.0)


def _first_price(base: Proposal, target) -> float:
    charge = base.charge(*target)
    for key in ("amount", "rates", "rate"):
        value = charge.get(key)
        while isinstance(value, (dict, list)):
            value = next(iter(value.values())) if isinstance(value, dict) else value[0]
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0


def _check_floor(floor: int, target: int, targets) -> None:
    """Refuse a requirement below ``floor``, the revenue [cents] with the moved charges at a price of 0."""
    if floor > target:
        raise WorkbenchError(
            f"revenue requirement ${target / 100:,.2f} is below ${floor / 100:,.2f}, what these customers pay with "
            f"{targets} at a price of 0 (prices may not be negative): move other charges too, or check the "
            "requirement")


def _bracket(revenue, x, r, target, step, targets=()):
    """(lo, hi) with revenue(lo) < target <= revenue(hi), as (x, cents) pairs; never below a price of 0 (where
    the revenue reaches the requirement exactly, (0, 0) is the bracket)."""
    lo = hi = None
    if r >= target:
        hi = (x, r)
    else:
        lo = (x, r)
    step = abs(step)
    while lo is None or hi is None:
        if lo is None:
            x_try = max(hi[0] - step, 0.0)
            r_try = revenue(x_try)
            if r_try < target:
                lo = (x_try, r_try)
            elif x_try == 0.0:
                _check_floor(r_try, target, targets)
                return (x_try, r_try), (x_try, r_try)
            else:
                hi = (x_try, r_try)
        else:
            x_try = lo[0] + step
            r_try = revenue(x_try)
            if r_try >= target:
                hi = (x_try, r_try)
            else:
                lo = (x_try, r_try)
        step *= 2
    return lo, hi


def _bracket_width(seen, target) -> float:
    below = [x for x, r in seen if r < target]
    above = [x for x, r in seen if r >= target]
    return min(above) - max(below) if below and above else np.inf


def _false_position(revenue, lo, hi, target, rel_tol: float = 1e-9):
    """The smallest x (to ``rel_tol`` of x) whose revenue reaches ``target``: false position inside the bracket
    (revenue is a straight line but for cents, so it lands within a few cents), halving when it stalls."""
    stalled = 0
    while hi[1] != target and hi[0] - lo[0] > rel_tol * max(abs(hi[0]), abs(lo[0])):
        if stalled < 2 and hi[1] != lo[1]:
            mid = lo[0] + (target - lo[1]) * (hi[0] - lo[0]) / (hi[1] - lo[1])
            if not lo[0] < mid < hi[0]:
                mid = (lo[0] + hi[0]) / 2
        else:
            mid, stalled = (lo[0] + hi[0]) / 2, 0
        if mid in (lo[0], hi[0]):
            break
        width = hi[0] - lo[0]
        r = revenue(mid)
        if r >= target:
            hi = (mid, r)
        else:
            lo = (mid, r)
        stalled = stalled + 1 if hi[0] - lo[0] > width / 2 else 0
    return hi


def _bisect_grid(revenue, lo, hi, target, decimals):
    """As :func:`_bisect`, over prices with ``decimals`` decimals (the revenue of the chosen one reaches target)."""
    scale = 10 ** decimals
    a, b = math.floor(lo[0] * scale), math.ceil(hi[0] * scale)
    ra = revenue(a / scale)
    while ra >= target:  # the rounding moved below the bracket
        a -= max(1, (b - a))
        ra = revenue(a / scale)
    rb = revenue(b / scale)
    while rb < target:
        b += max(1, (b - a))
        rb = revenue(b / scale)
    while b - a > 1:
        mid = (a + b) // 2
        r = revenue(mid / scale)
        if r >= target:
            b, rb = mid, r
        else:
            a, ra = mid, r
    # the nearer of the two neighbours: a publishes prices rounded, not always up
    if abs(ra - target) < abs(rb - target):
        return round(a / scale, decimals), ra
    return round(b / scale, decimals), rb


def revenue_neutral(study: Study, move: tuple, amount: float, balance, *, how_balance: str = "scale",
                    base: Proposal | None = None, decimals: int | None = None) -> Solution:
    """Set the charge ``move`` = (rate code, description) to ``amount`` and solve ``balance`` (a list of
    (rate code, description)) so the customers' revenue stays what it is under ``base`` (default: present)."""
    base = base or Proposal.from_book(study.tariffs_dir)
    codes = sorted({move[0], *(code for code, _ in balance)})
    before = _revenue_cents(study, base, codes)
    moved = base.set_price(move[0], move[1], amount)
    return solve(study, before / 100.0, balance, how=how_balance, base=moved, decimals=decimals)


def check_recovers(study: Study, book: dict, requirement: float, codes=None) -> tuple[bool, float]:
    """(recovers, residual [$]): whether the book's revenue from the study's customers reaches the requirement."""
    cents = study.price(book, "check", codes).total_cents()
    residual = (cents - int(round(requirement * 100))) / 100.0
    return bool(residual >= 0), residual



def mid_year_versions(study: Study, rounded: Rounded, codes) -> str:
    """A warning's text when a moved tariff has a version that takes effect inside the test year, else ''.

    The solve edits the last version only, so the test year's bills before that day keep the earlier prices and
    the requirement is met with them: billed a whole year on the solved prices (as the rate year will be), the
    book brings in a different revenue, which the text gives (each such tariff priced with its last version
    from the first day)."""
    year = int(study.identity["test_year"])
    inside, whole = {}, rounded.proposal.copy("whole year")
    for code in sorted(set(codes)):
        versions = whole.tariffs[code]["versions"]
        days = [str(v["effective"]) for v in versions[1:] if f"{year}-01-01" < str(v["effective"]) <= f"{year}-12-31"]
        if days:
            inside[code] = days[-1]
            whole.tariffs[code]["versions"] = [{**versions[-1], "effective": versions[0]["effective"]}]
    if not inside:
        return ""
    moved = [code for code in sorted(set(codes)) if code in study.rate_codes]  # the requirement's rate codes only
    cents = study.price(whole.compile(), "whole year", codes=moved).total_cents()
    listed = ", ".join(f"{code} from {day}" for code, day in inside.items())
    return (f"the solved prices are the last version's ({listed}): the test year's bills before that day keep the "
            f"earlier prices, and the requirement ${rounded.requirement:,.2f} is met with them; billed the whole "
            f"test year on the solved prices the book would bring in ${cents / 100:,.2f} "
            f"({cents / 100 - rounded.requirement:+,.2f})")
