"""Check a customer's feed whole before billing it, and repair the usual faults of real feeds.

:func:`check_reads` lists EVERY problem of a file at once: gaps (with their times), readings longer than the
feed's interval, readings of odd length or off the interval grid, zero-length records, duplicate readings
(identical ones are merged and counted; conflicting ones are problems) and records the reader could not read.
:func:`build_series` turns the reads into the uniform series billing needs; with ``repair=True`` it applies
the repairs of docs/bill-command.md, each listed, with the VEE rules the ingest uses (``workbench.vee``):

- a gap: estimated like VEE's MISSING rule (linear interpolation up to ``estimation.linear_max_minutes``,
  like-day beyond; a gap at an end repeats its one neighbour);
- a reading of k intervals: split evenly into its k intervals (the split intervals are estimates);
- a zero-length record: dropped (it covers no time);
- conflicting duplicates: all of them dropped and the interval estimated as a gap (as the ingest does).

A reading off the grid, of a length that is not a whole number of intervals, readings that overlap (a
2-hour reading and an hourly one of the same hour), or a record the reader could not read is never
repaired: it stops the bill.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.engine.intervals import IntervalSeries, Reads
from workbench.errors import IntervalDataError
from workbench.vee.calendar import vee_calendar
from workbench.vee.config import load_config
from workbench.vee.engine import kernel_params, vee_arrays
from workbench.vee.inputs import CONFLICTING, classify_duplicates
from workbench.vee.rules import METHOD_NAMES, RULES

REGISTER_SECONDS = 86400  # readings all longer than a day are register reads (monthly data), not intervals


def duration_text(seconds) -> str:
    minutes = int(seconds) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p) or f"{int(seconds)} s"


def at_text(t) -> str:
    return str(np.datetime64(t, "m")) + "Z"


@dataclass
class Problem:
    kind: str  # gap, long, zero, conflict, odd, grid, overlap, unreadable
    at: int | None  # UTC seconds since 1970 (None when unknown)
    text: str
    repairable: bool = True
    short: str = ""  # for the one-line summary, e.g. "gap of 1 h at 2011-11-06T17:00Z"
    cells: int = 1  # intervals it leaves without a reading (a gap's length)
    received: bool = False  # in the received channel


KIND_NAMES = {"gap": ("gap", "gaps"), "long": ("long reading", "long readings"),
              "zero": ("zero-length record", "zero-length records"),
              "conflict": ("conflicting duplicate", "conflicting duplicates"),
              "odd": ("reading of odd length", "readings of odd length"), "grid": ("reading off the interval grid",
                                                                             "readings off the interval grid"),
              "overlap": ("overlap", "overlaps"), "unreadable": ("unreadable record", "unreadable records")}


@dataclass
class FeedCheck:
    """What :func:`check_reads` found."""

    source: str
    step_seconds: int = 3600
    register: bool = False
    problems: list[Problem] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)  # merged identical duplicates, one text each
    # per cell of the grid: index of the kept record per channel (-1 none); set by check_reads
    origin: int = 0
    n_cells: int = 0
    keep: np.ndarray | None = None  # bool per read: used for the series
    cell: np.ndarray | None = None  # first cell of each read
    parts: np.ndarray | None = None  # intervals each read covers
    delivered_covered: np.ndarray | None = None  # bool per cell: a delivered read covers it

    def summary(self) -> str:
        """'3 problems (1 gap of 1 h at ..., ...)' for the one error line."""
        n = len(self.problems)
        pieces = []
        for kind in KIND_NAMES:
            mine = [p for p in self.problems if p.kind == kind]
            if not mine:
                continue
            first = mine[0].short or mine[0].text
            pieces.append(f"1 {first}" if len(mine) == 1 else f"{len(mine)} {KIND_NAMES[kind][1]}, first {first}")
        return f"{n} problem{'s' if n != 1 else ''} ({', '.join(pieces)})"

    @property
    def repairable(self) -> bool:
        return all(p.repairable for p in self.problems)


def check_reads(reads: Reads) -> FeedCheck:
    """Every problem of the reads, at once (see the module's docstring)."""
    check = FeedCheck(reads.source)
    for row, at, raw in reads.zero_length or []:
        when = at_text(at) if at is not None else "an unknown time"
        tick = None if at is None else int(np.datetime64(at, "s").astype(np.int64))
        check.problems.append(Problem("zero", tick, f"zero-length record at {when} (row {row}: {raw})",
                                      short=f"zero-length record at {when} (row {row})"))
    for row, reason in reads.unreadable or []:
        check.problems.append(Problem("unreadable", None, f"row {row}: {reason}", False, f"unreadable record (row {row})"))
    n = len(reads.kwh)
    if n == 0:
        return check
    seconds = reads.seconds.astype(np.int64)
    if (seconds > REGISTER_SECONDS).all():
        check.register = True
        return check
    values, counts = np.unique(seconds, return_counts=True)
    step = int(values[np.argmax(counts)])
    check.step_seconds = step
    if step <= 0 or step % 60 or 86400 % step:
        raise IntervalDataError(f"{reads.source}: the usual interval of {duration_text(step)} does not divide a day; "
                                "expected 5, 15, 30 or 60 minutes")
    ticks = reads.start.astype("datetime64[s]").astype(np.int64)
    order = np.lexsort((reads.row, ticks))
    origin = int(ticks[order[0]])
    odd = (seconds % step != 0) | (seconds <= 0)
    off_grid = (ticks - origin) % step != 0
    keep = ~(odd | off_grid)
    for i in order[(odd | off_grid)[order]]:
        when = f"{at_text(np.datetime64(int(ticks[i]), 's'))} (row {reads.row[i]})"
        if odd[i]:
            check.problems.append(Problem("odd", int(ticks[i]), f"reading of {duration_text(seconds[i])} at {when}; "
                                          f"expected {duration_text(step)} or a whole number of them", False,
                                          f"reading of {duration_text(seconds[i])} at {when}"))
        else:
            check.problems.append(Problem("grid", int(ticks[i]), f"reading at {when} is not on the "
                                          f"{duration_text(step)} grid of the other readings", False,
                                          f"reading off the grid at {when}"))
    parts = np.where(keep, seconds // step, 1).astype(np.int64)
    cell = (ticks - origin) // step
    for i in order[(keep & (parts > 1))[order]]:
        when = f"{duration_text(seconds[i])} at {at_text(np.datetime64(int(ticks[i]), 's'))}"
        check.problems.append(Problem("long", int(ticks[i]), f"reading of {when} ({reads.kwh[i]:g} kWh, row "
                                      f"{reads.row[i]})", short=f"reading of {when}"))
    _duplicates(reads, check, ticks, seconds, keep)
    valid = ~(odd | off_grid)
    n_cells = int((cell + parts)[valid].max()) if valid.any() else 0
    check.origin, check.n_cells, check.keep, check.cell, check.parts = origin, n_cells, keep, cell, parts
    for received in ([False, True] if reads.has_received else [False]):
        _overlaps_and_gaps(reads, check, received, valid, step)
    check.problems.sort(key=lambda p: -1 if p.at is None else int(p.at))
    return check


def _duplicates(reads: Reads, check: FeedCheck, ticks, seconds, keep) -> None:
    """Identical duplicates: one kept, listed in ``check.identical``; conflicting ones: problems, none kept."""
    idx = np.flatnonzero(keep)
    kind = classify_duplicates(np.zeros(len(idx)), reads.start[idx].astype("datetime64[ns]"), reads.kwh[idx],
                               channel=np.char.add(reads.received[idx].astype(str), seconds[idx].astype(str)),
                               tolerance_kwh=load_config().validation.duplicates.tolerance_kwh)
    if not kind.any():
        return
    key = list(zip(reads.received[idx].tolist(), ticks[idx].tolist(), seconds[idx].tolist(), strict=True))
    groups: dict = {}
    for j in np.flatnonzero(kind != 0):
        groups.setdefault(key[j], [])
    for j, k in enumerate(key):
        if k in groups:
            groups[k].append(idx[j])
    for (received, tick, _), same in sorted(groups.items(), key=lambda kv: kv[0][1]):
        when = at_text(np.datetime64(tick, "s"))
        if len({reads.kwh[i] for i in same}) == 1 or not (kind[np.isin(idx, same)] == CONFLICTING).any():
            keep[same[1:]] = False
            check.identical.append(f"{when}: {reads.kwh[same[0]]:g} kWh{' received' if received else ''} on rows "
                                   + " and ".join(str(reads.row[i]) for i in same))
            continue
        keep[same] = False
        listed = "; ".join(f"{reads.kwh[i]:g} kWh (row {reads.row[i]})" for i in same)
        channel = " received" if received else ""
        check.problems.append(Problem("conflict", tick, f"conflicting{channel} readings at {when}: {listed}",
                                      short=f"conflicting duplicate at {when}", received=bool(received)))


def _overlaps_and_gaps(reads: Reads, check: FeedCheck, received: bool, valid, step: int) -> None:
    """Cells of a channel two kept readings cover (not repairable), and cells none covers (gaps)."""
    cell, parts, origin = check.cell, check.parts, check.origin
    count = np.zeros(check.n_cells, np.int64)
    sel = np.flatnonzero(valid & (reads.received == received))
    kept = sel[check.keep[sel]]
    np.add.at(count, cell[kept[parts[kept] == 1]], 1)
    for i in kept[parts[kept] > 1]:
        count[cell[i]:cell[i] + parts[i]] += 1
    channel = " in the received channel" if received else ""
    for a, _b in _runs(count > 1):
        rows = [int(reads.row[i]) for i in kept if cell[i] <= a < cell[i] + parts[i]]
        when = at_text(np.datetime64(origin + a * step, "s"))
        check.problems.append(Problem("overlap", origin + a * step, f"readings overlap{channel} at {when} "
                                      f"(rows {', '.join(map(str, rows))})", False, f"overlap at {when}"))
    covered = np.zeros(check.n_cells, bool)
    covered[cell[sel[parts[sel] == 1]]] = True  # conflicting cells are listed as conflicts, not as gaps
    for i in sel[parts[sel] > 1]:
        covered[cell[i]:cell[i] + parts[i]] = True
    if received:  # a time with no reading at all is one gap, listed with the delivered channel
        covered |= ~check.delivered_covered
    else:
        check.delivered_covered = covered
    for a, b in _runs(~covered):
        after = sel[cell[sel] >= b]
        where = f" (before row {reads.row[after[np.argmin(cell[after])]]})" if len(after) else ""
        text = f"gap of {duration_text((b - a) * step)}{channel} at {at_text(np.datetime64(origin + a * step, 's'))}{where}"
        check.problems.append(Problem("gap", origin + a * step, text, short=text, cells=b - a,
                                      received=received))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def build_series(reads: Reads, check: FeedCheck, timezone: str, *, repair: bool) -> tuple[IntervalSeries, list[str]]:
    """The uniform series of the checked reads; with ``repair`` the repairs applied, each described."""
    if check.problems and not (repair and check.repairable):
        raise IntervalDataError(f"{reads.source}: {check.summary()}")
    step, n = check.step_seconds, check.n_cells
    if check.keep is None or not check.keep.any():
        raise IntervalDataError(f"{reads.source}: no readings left to bill once the problems above are set aside")
    delivered = np.full(n, np.nan)
    received = np.full(n, np.nan) if reads.has_received else np.zeros(n)
    quality = np.zeros(n, np.uint8)
    offsets = np.full(n, np.iinfo(np.int64).min, np.int64)
    repairs = []
    for p in check.problems:
        if p.kind == "zero":
            repairs.append(f"dropped the {p.text}")
    for i in np.flatnonzero(check.keep):
        a, k = int(check.cell[i]), int(check.parts[i])
        target = received if reads.received[i] else delivered
        target[a:a + k] = reads.kwh[i] / k
        quality[a:a + k] |= reads.quality[i] if k == 1 else 1
        if reads.offsets_minutes is not None:
            offsets[a:a + k] = reads.offsets_minutes[i]
        if k > 1:
            repairs.append(f"split the {duration_text(k * step)} reading at "
                           f"{at_text(np.datetime64(reads.start[i], 's'))} ({reads.kwh[i]:g} kWh, row {reads.row[i]}) "
                           f"evenly into {k} intervals of {reads.kwh[i] / k:g} kWh (estimated)")
    utc = (np.datetime64(check.origin, "s") + np.arange(n) * np.timedelta64(step, "s")).astype("datetime64[m]")
    gaps = np.isnan(delivered) | np.isnan(received)
    if gaps.any():
        delivered, received, method = _estimate(utc, delivered, received, quality, timezone, step // 60, reads.source)
        quality[gaps] = 1
        for p in check.problems:
            if p.kind not in ("gap", "conflict"):
                continue
            a = (int(p.at) - check.origin) // step
            b = a + p.cells
            used = sorted({METHOD_NAMES[int(m)].replace("_", "-") for m in method[a:b] if m})
            kwh = (received if p.received else delivered)[a:b].sum()
            done = (f"dropped the {p.text} and estimated the interval" if p.kind == "conflict"
                    else f"estimated the {p.text}")
            repairs.append(f"{done} ({' and '.join(used) or 'VEE'}: {kwh:.3f} kWh)")
    if reads.offsets_minutes is not None:
        offsets = _fill(offsets)
    else:
        offsets = np.zeros(n, np.int64)
    series = IntervalSeries(utc, offsets, delivered, received, step // 60, reads.source, quality)
    return series, repairs


def _fill(values: np.ndarray) -> np.ndarray:
    """Forward-fill (then back-fill) the missing-marker of an offsets array."""
    missing = values == np.iinfo(np.int64).min
    if not missing.any():
        return values
    pos = np.where(~missing, np.arange(len(values)), 0)
    np.maximum.accumulate(pos, out=pos)
    out = values[pos]
    first = int(np.argmax(~missing))
    out[:first] = values[first]
    return out


def _estimate(utc, delivered, received, quality, timezone, step_minutes, source):
    """VEE's MISSING rule alone over one meter: (delivered, received, method per interval)."""
    config = load_config()
    cal = vee_calendar(utc, timezone or "UTC", step_minutes, config.holiday_calendar)
    fp, ip = kernel_params(config, step_minutes)
    missing_bit, not_estimated = 1 << RULES["MISSING"][0], 1 << RULES["NOT_ESTIMATED"][0]
    q = np.where(np.isnan(delivered) | np.isnan(received), 2, quality).astype(np.uint8)
    out = vee_arrays(delivered[None, :], received[None, :], q[None, :], cal.day_of, cal.day_start, cal.day_kind,
                     cal.slot, cal.slot_pos, np.zeros(1, np.int64), np.full(1, len(utc), np.int64),
                     np.array([bool(np.nansum(received) > 0)]), missing_bit | not_estimated, missing_bit, fp, ip,
                     parallel=False)
    d = out["delivered"][0].astype(float)
    r = out["received"][0].astype(float)
    left = np.isnan(d) | np.isnan(r)
    if left.any():
        at = utc[int(np.argmax(left))]
        raise IntervalDataError(f"{source}: {int(left.sum())} interval(s) could not be estimated (first {at}Z): "
                                "no valid neighbour and no like day")
    # keep the reads' own precision where they were not estimated (float32 inside VEE)
    d = np.where(np.isnan(delivered), d, delivered)
    r = np.where(np.isnan(received), r, received)
    return d, r, out["method"][0]
