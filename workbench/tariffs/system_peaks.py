"""The system-peak file: the intervals of the utility's or the ISO's system peaks (1CP, 4CP, 12CP).

A CSV with a header; columns (docs/coincident-peaks.md):

- ``start`` (required): the start of the peak interval, ISO 8601 local time (``2025-07-17 17:00``); an offset
  (``2025-07-17T17:00-05:00``) is allowed and the wall time as written is used (the tariff's local time);
- ``zone`` (optional): the load zone or ISO the peak belongs to; a file of several zones needs ``zone=``;
- ``label`` (optional): 1CP, 4CP, 12CP... kept for the reader, not used in billing.

Every row is used or the file is refused with the row and the field: a peak silently dropped is a coincident
charge silently billed on another interval.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from workbench.errors import TariffError
from workbench.tariffs.checks import read_tariff_text


def read_system_peaks(path, zone: str | None = None) -> list[dt.datetime]:
    """Peak interval starts (naive local wall times), sorted, from a system-peak CSV file."""
    path = Path(path)
    text = read_tariff_text(path, what="system-peak")
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise TariffError(f"{path}: no system peaks; expected a CSV with a header 'start[,zone][,label]' and one row "
                          "per peak interval (docs/coincident-peaks.md)")
    fields = {name.strip().lower(): name for name in rows[0] if name is not None}
    if "start" not in fields:
        raise TariffError(f"{path}: no 'start' column (got {sorted(fields)}); expected start[,zone][,label]")
    zones = sorted({(row.get(fields["zone"]) or "").strip() for row in rows}) if "zone" in fields else [""]
    if zone is None and len(zones) > 1:
        raise TariffError(f"{path}: peaks of {len(zones)} zones ({', '.join(zones)}); say which zone's peaks to "
                          "bill (--peak-zone)")
    if zone is not None and zone not in zones:
        raise TariffError(f"{path}: no peaks of zone {zone!r}; the file has {', '.join(zones) or 'no zone column'}")
    out = []
    for i, row in enumerate(rows, start=2):
        if zone is not None and (row.get(fields["zone"]) or "").strip() != zone:
            continue
        text = (row.get(fields["start"]) or "").strip()
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise TariffError(f"{path}: row {i}: start {text!r} is not a timestamp; expected ISO 8601 like "
                              "2025-07-17 17:00") from None
        out.append(moment.replace(tzinfo=None))
    if len(set(out)) != len(out):
        twice = sorted({p for p in out if out.count(p) > 1})[0]
        raise TariffError(f"{path}: the peak {twice} is listed twice; each peak interval once")
    return sorted(out)
