"""Monthly register reads of meters without interval data -> consumption per read period (docs/register-reads.md).

A register read is what a meter reader (or a drive-by AMR) writes down: the kWh register's dial reading on a
date and, on a demand meter, the kW demand register (the period's maximum demand, reset at the read). One CSV
row per read: ``meter_id, read_date, kwh_register`` required; ``kw_demand``, ``multiplier`` (CT x PT, default
1), ``dials`` (digits of the kWh register, for rollover) and ``estimated`` (yes/no) optional.

Each meter's consecutive reads make a read period from the earlier read date to the later (end exclusive):

- consumption [kWh] = (register now - register before) x multiplier; when the register went down and its
  ``dials`` are known and the wrapped difference (now + 10^dials - before) is at most half the register's
  range, it rolled over and that wrapped difference is the consumption; any other decrease is rejected with
  its reason (a misread or a meter exchange needs a person), never billed as negative;
- demand [kW] = the later read's ``kw_demand`` x multiplier (a register kW reading is a billing demand);
- a period whose multiplier changed between its reads is rejected (a CT change or meter exchange);
- the period is estimated when either of its reads is.

A row that cannot be read (a missing column, a register that is not a number, a date that is not YYYY-MM-DD,
the same meter read twice on one date...) refuses the file with one line naming the file, row and field.
The first read of a meter opens its register; it bills nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.errors import IntervalDataError

REQUIRED = ("meter_id", "read_date", "kwh_register")
OPTIONAL = ("kw_demand", "multiplier", "dials", "estimated")
_YES = {"yes": True, "y": True, "true": True, "1": True, "e": True,
        "no": False, "n": False, "false": False, "0": False, "a": False, "": False}
PERIOD_COLUMNS = ["meter_id", "period_start", "period_end", "days", "start_register", "end_register",
                  "multiplier", "kwh", "kw_demand", "rollover", "estimated", "source"]


class RegisterReadError(IntervalDataError):
    """A register-read file cannot be read as documented in docs/register-reads.md."""


@dataclass
class RegisterPeriods:
    """The read periods of a register-read file: ``periods`` (one row per meter and period, PERIOD_COLUMNS),
    ``rejected`` (source, meter_id, period_start, period_end, reason) and the reads counted."""

    path: Path
    periods: pd.DataFrame
    rejected: pd.DataFrame
    reads: int
    opening_reads: int


def _number(path, line, field, text, *, whole=False, positive=False):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value <= 0) or (whole and value != int(value)):
        want = "a whole number" if whole else "a number"
        want += " > 0" if positive else " >= 0"
        raise RegisterReadError(f"{path}: row {line}, {field}: {text!r} is not {want}")
    return int(value) if whole else value


def _rows(path: Path) -> list[dict]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegisterReadError(f"{path}: byte {exc.start}: not UTF-8 text; save the register reads as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    missing = [h for h in REQUIRED if h not in header]
    if unknown or missing or not header:
        what = f"unknown column(s) {', '.join(unknown)}" if unknown else f"missing column(s) {', '.join(missing)}"
        raise RegisterReadError(f"{path}: row 1 (header): {what}; expected {', '.join(REQUIRED)} and optionally "
                                f"{', '.join(OPTIONAL)} (see docs/register-reads.md)")
    out, seen = [], {}
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise RegisterReadError(f"{path}: row {line}: {len(fields)} fields, the header has {len(header)}")
            row = {name: value.strip() for name, value in zip(header, fields, strict=True)}
            if not row["meter_id"]:
                raise RegisterReadError(f"{path}: row {line}, meter_id: empty")
            try:
                day = dt.date.fromisoformat(row["read_date"])
            except ValueError:
                raise RegisterReadError(f"{path}: row {line}, read_date: {row['read_date']!r} is not a date like "
                                        "2025-11-03") from None
            rec = {"meter_id": row["meter_id"], "read_date": day, "line": line,
                   "register": _number(path, line, "kwh_register", row["kwh_register"]),
                   "kw": (_number(path, line, "kw_demand", row["kw_demand"]) if row.get("kw_demand") else None),
                   "multiplier": (_number(path, line, "multiplier", row["multiplier"], positive=True)
                                  if row.get("multiplier") else None),
                   "dials": _number(path, line, "dials", row["dials"], whole=True, positive=True) if row.get("dials") else None}
            flag = row.get("estimated", "").lower()
            if flag not in _YES:
                raise RegisterReadError(f"{path}: row {line}, estimated: {row['estimated']!r} is not yes or no")
            rec["estimated"] = _YES[flag]
            if rec["dials"] is not None and (rec["dials"] > 12 or rec["register"] >= 10 ** rec["dials"]):
                raise RegisterReadError(f"{path}: row {line}, kwh_register: {row['kwh_register']} does not fit a "
                                        f"register of {rec['dials']} dials (at most 12; the register shows below "
                                        f"{10 ** min(rec['dials'], 12)})")
            key = (rec["meter_id"], day)
            if key in seen:
                raise RegisterReadError(f"{path}: row {line}: meter {rec['meter_id']} is read twice on {day} (also "
                                        f"row {seen[key]}); keep one read per meter and date")
            seen[key] = line
            out.append(rec)
    except csv.Error as exc:
        raise RegisterReadError(f"{path}: row {reader.line_num}: {exc}") from None
    return out


def read_register_reads(path, multipliers: dict | None = None) -> RegisterPeriods:
    """Read a register-read CSV into read periods (see the module docstring for the rules).

    multipliers : meter_id -> CT x PT from the meter registry, for rows without a ``multiplier``; a row whose
        multiplier disagrees with the registry's refuses the file (which one is right is not a guess to make).
    """
    path = Path(path)
    rows = _rows(path)
    for rec in rows:
        known = (multipliers or {}).get(rec["meter_id"])
        if rec["multiplier"] is None:
            rec["multiplier"] = float(known) if known is not None else 1.0
        elif known is not None and not math.isclose(rec["multiplier"], known):
            raise RegisterReadError(f"{path}: row {rec['line']}, multiplier: {rec['multiplier']:g}, but the meter "
                                    f"registry gives meter {rec['meter_id']} a multiplier (CT x PT) of {known:g}; "
                                    "correct one of them")
    periods, rejected = [], []
    opening = 0
    by_meter: dict[str, list[dict]] = {}
    for rec in rows:
        by_meter.setdefault(rec["meter_id"], []).append(rec)
    for meter, reads in by_meter.items():
        reads.sort(key=lambda r: r["read_date"])
        opening += 1
        for before, now in zip(reads, reads[1:], strict=False):
            source = f"{path.name}:{now['line']}"
            base = {"meter_id": meter, "period_start": before["read_date"], "period_end": now["read_date"]}
            reason, kwh, rolled = _consumption(before, now)
            if reason:
                rejected.append({"source": source, **base, "reason": reason})
                continue
            mult = now["multiplier"]
            periods.append({**base, "days": (now["read_date"] - before["read_date"]).days,
                            "start_register": before["register"], "end_register": now["register"], "multiplier": mult,
                            "kwh": round(kwh * mult, 6), "kw_demand": math.nan if now["kw"] is None else now["kw"] * mult,
                            "rollover": rolled, "estimated": before["estimated"] or now["estimated"], "source": source})
    frame = pd.DataFrame(periods, columns=PERIOD_COLUMNS)
    return RegisterPeriods(path, frame, pd.DataFrame(rejected, columns=["source", "meter_id", "period_start",
                                                                        "period_end", "reason"]),
                           reads=len(rows), opening_reads=opening)


def _consumption(before: dict, now: dict) -> tuple[str, float, bool]:
    """(reason to reject or '', register difference [register units, before the multiplier], rolled over)."""
    if now["multiplier"] != before["multiplier"]:
        return (f"multiplier changed from {before['multiplier']:g} (row {before['line']}) to {now['multiplier']:g}: "
                "a CT or meter change inside the period; bill it by hand", 0.0, False)
    dials = now["dials"] if now["dials"] is not None else before["dials"]
    if before["dials"] is not None and now["dials"] is not None and before["dials"] != now["dials"]:
        return (f"dials changed from {before['dials']} (row {before['line']}) to {now['dials']}: a meter exchange; "
                "bill it by hand", 0.0, False)
    diff = round(now["register"] - before["register"], 6)  # registers in tenths: no 0.30000000000000004
    if diff >= 0:
        return "", diff, False
    if dials is None:
        return (f"the register went down from {before['register']:g} (row {before['line']}) to {now['register']:g} "
                "and no dials are given to tell a rollover from a misread", 0.0, False)
    wrapped = round(diff + 10 ** dials, 6)
    if wrapped > 10 ** dials / 2:
        return (f"the register went down from {before['register']:g} (row {before['line']}) to {now['register']:g}; "
                f"a rollover of the {dials}-dial register would mean {wrapped:g} kWh (more than half its range): a "
                "misread or meter exchange", 0.0, False)
    return "", wrapped, True
