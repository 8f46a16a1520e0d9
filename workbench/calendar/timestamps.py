"""Timestamps as interval files write them: ISO 8601 with a UTC offset, parsed to UTC instants and offsets."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from workbench.errors import IntervalDataError

_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def parse_timestamps(values, source: str):
    """ISO 8601 strings with offsets -> (UTC datetime64[m], offset minutes int64)."""
    strings = pd.Series(values, dtype="string").str.strip()
    if strings.isna().any() or (strings == "").any():
        strings = strings.mask(strings == "")
        row = int(np.argmax(strings.isna().to_numpy())) + 2
        raise IntervalDataError(f"{source}: row {row}: timestamp is empty")
    offsets = strings.str.extract(_OFFSET.pattern, expand=False)
    if offsets.isna().any():
        row = int(np.argmax(offsets.isna().to_numpy())) + 2
        raise IntervalDataError(
            f"{source}: row {row}: timestamp {strings.iloc[row - 2]!r} has no UTC offset; write it as "
            "2025-01-01T00:00:00-05:00 or 2025-01-01T05:00:00Z so the instant is unambiguous"
        )
    try:
        utc = pd.to_datetime(strings, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        bad = _first_unparsable(strings)
        raise IntervalDataError(
            f"{source}: row {bad + 2}: timestamp {strings.iloc[bad]!r} is not an ISO 8601 date and time; "
            "expected e.g. 2025-01-01T00:15:00-05:00"
        ) from None
    off = offsets.to_numpy(dtype=object)
    sign = np.where([o.startswith("-") for o in off], -1, 1)
    digits = [o.replace(":", "")[1:] if o != "Z" else "0000" for o in off]
    minutes = np.array([int(d[:2]) * 60 + int(d[2:]) for d in digits], dtype=np.int64) * sign
    return utc.dt.tz_localize(None).to_numpy().astype("datetime64[m]"), minutes


def _first_unparsable(strings) -> int:
    for i, text in enumerate(strings):
        try:
            pd.Timestamp(text)
        except (ValueError, TypeError):
            return i
    return 0
