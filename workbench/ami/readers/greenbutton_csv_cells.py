"""Green Button CSV downloads: reading one cell (date, clock time, date and time, number, quality note).

The date and clock-time layouts the utilities write (``2024-05-22``, ``5/22/2024``; ``13:15``, ``1:15 PM``),
numbers with thousands separators or a dollar sign, and free-text quality/notes cells, each parsed on its
own; a cell that is not what it should be raises ``ValueError`` with the reason the reject will carry.
"""

from __future__ import annotations

import datetime as dt
import re

_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%d-%b-%Y")
_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%I:%M%p")


def _parse_date(text: str) -> dt.date:
    text = text.strip()
    for f in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, f).date()
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is not a date (expected YYYY-MM-DD or M/D/YYYY)")


def _parse_time(text: str) -> dt.time:
    text = text.strip().upper()
    for f in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, f).time()
        except ValueError:
            continue
    raise ValueError(f"time {text!r} is not a clock time (expected HH:MM or H:MM AM/PM)")


def _parse_datetime(text: str) -> dt.datetime:
    text = text.strip()
    for sep in (" ", "T"):
        if sep in text:
            d, t = text.split(sep, 1)
            try:
                return dt.datetime.combine(_parse_date(d), _parse_time(t))
            except ValueError:
                continue
    raise ValueError(f"{text!r} is not a date and time")


def _parse_number(text: str, finite: bool = True) -> float:
    """A number; ``finite=False`` lets NaN and inf through (kWh: the boundary screen rejects them by name)."""
    t = text.strip().replace(",", "").replace("$", "")
    if not t:
        raise ValueError("value is empty")
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"value {text.strip()!r} is not a number") from None
    if finite and (v != v or v in (float("inf"), float("-inf"))):
        raise ValueError(f"value {text.strip()!r} is not a finite number")
    return v


def _norm(cell: str) -> str:
    return re.sub(r"\s+", " ", cell.strip().lower())


def _quality(text: str | None) -> tuple[int, str, bool]:
    """(flag, source code, is_missing) from a free-text quality/notes cell."""
    t = (text or "").strip()
    low = t.lower()
    if "missing" in low or low in ("m", "no data"):
        return 0, t, True
    if "estim" in low or low in ("e", "est"):
        return 1, t, False
    return 0, t, False

