"""Green Button CSV downloads (utility "Download my data" CSV), in the common layouts.

- **PG&E / PECO / ComEd**: a ``Key,Value`` preamble, then ``TYPE,DATE,START TIME,END TIME,USAGE (kWh),COST,NOTES``
  (solar: ``IMPORT (kWh)``, ``EXPORT (kWh)``; some add a ``UNITS`` column). ``END TIME`` is the inclusive last
  minute (00:00-00:14 is a 15-minute interval). Rows (or a file) in ``kVARh``/``VArh``/``MVArh`` are lagging
  reactive energy: USAGE/IMPORT go to the ``reactive`` channel; EXPORT (leading) is rejected with its reason.
- **SDG&E**: ``Meter Number,Date,Start Time,Duration,Consumption,Generation,Net`` with a 12-hour clock
  (``1:15 PM``) and the duration in minutes.
- **SCE**: sections headed ``Energy Delivered time period,...`` / ``Energy Received time period,...`` with rows
  ``2024-05-22 00:00:00 to 2024-05-22 00:15:00,0.04,<quality>``.

Times are local wall-clock times without offsets, so a ``timezone`` is required (argument, or a
``Time Zone``/``Timezone`` preamble line). The fall-back hour is handled as the file labels it: a local time
that occurs twice is given the daylight-time offset at its first occurrence and standard time at its second
(SDG&E's 25 rows); a local time written once although it occurred twice (PG&E's 24 labels, where the value is
the sum of both hours) is split evenly into the two UTC intervals, both flagged estimated
(``source_quality`` ``dst-split``) and counted as two reads. A local time that does not exist (spring
forward) is rejected.

This module finds the layout and reads the rows; one cell is parsed in ``greenbutton_csv_cells.py``, local
times are put in UTC and accepted records batched in ``greenbutton_csv_records.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zoneinfo
from pathlib import Path

from workbench.ami.readers._result import (
    DEFAULT_BATCH_ROWS,
    ReadStream,
    Tally,
    collect,
    leading_reactive,
)
from workbench.ami.readers._text import bounded_lines
from workbench.ami.readers.greenbutton_csv_cells import (
    _norm,
    _parse_date,
    _parse_datetime,
    _parse_number,
    _parse_time,
    _quality,
)
from workbench.ami.readers.greenbutton_csv_records import _Localizer, _Records
from workbench.errors import IntervalDataError

_UNIT_FACTORS = {"kwh": 1.0, "wh": 1e-3, "mwh": 1e3}
_REACTIVE_FACTORS = {"kvarh": 1.0, "varh": 1e-3, "mvarh": 1e3}  # lagging (USAGE/IMPORT) kVARh
_METER_KEYS = (
    "meter number",
    "meter",
    "meter id",
    "service id",
    "service agreement id",
    "account number",
    "account",
)
_TZ_KEYS = ("time zone", "timezone", "tz")
_SCE_SECTION = re.compile(r"^\s*energy\s+(delivered|received)\s+time\s+period", re.I)
_SCE_PERIOD = re.compile(r"^\s*(.+?)\s+to\s+(.+?)\s*$", re.I)


def read_greenbutton_csv_batches(
    path,
    tally: Tally,
    *,
    timezone: str | None = None,
    meter: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
):
    path = Path(path)
    if not path.exists():
        raise IntervalDataError(f"{path}: file not found")
    try:
        f = open(path, newline="", encoding="utf-8-sig", errors="strict")  # noqa: SIM115
    except OSError as e:
        raise IntervalDataError(f"{path}: cannot read the file: {e}") from None
    try:
        yield from _read(path, f, tally, timezone, meter, batch_rows)
    except UnicodeDecodeError as e:
        raise IntervalDataError(
            f"{path}: the file is not UTF-8 text ({e.reason} at byte {e.start}); "
            "save it as CSV (UTF-8) and try again"
        ) from None
    except csv.Error as e:
        raise IntervalDataError(f"{path}: the CSV cannot be read: {e}") from None
    finally:
        f.close()


def _read(path: Path, f, tally: Tally, timezone, meter_arg, batch_rows):
    reader = csv.reader(bounded_lines(f, path))
    preamble: dict[str, str] = {}
    layout = None
    header: list[str] = []
    sce_channel = None
    localizer: _Localizer | None = None
    out = _Records(path, batch_rows)
    meter_default = meter_arg
    last_seconds: dict[tuple, int] = {}

    def ensure_context():
        nonlocal localizer, meter_default
        if localizer is None:
            tz_name = timezone or next((preamble[k] for k in _TZ_KEYS if k in preamble), None)
            if not tz_name:
                raise IntervalDataError(
                    f"{path}: the times in this Green Button CSV are local clock times without a UTC offset and "
                    "no time zone was given: say the utility's zone (--timezone America/Los_Angeles of workbench ingest or bill;"
                    " in Python: timezone='America/Los_Angeles')"
                )
            try:
                localizer = _Localizer(zoneinfo.ZoneInfo(tz_name.strip()))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise IntervalDataError(
                    f"{path}: time zone {tz_name!r} is not an IANA zone name (e.g. America/Los_Angeles)"
                ) from None
            tally.metadata["timezone"] = tz_name.strip()
        if meter_default is None:
            found = next((preamble[k] for k in _METER_KEYS if preamble.get(k)), None)
            meter_default = found or path.stem
            tally.metadata["meter_from"] = "preamble" if found else "file name"

    def emit(meter, channel, local, seconds, kwh, qflag, sq, row, raw):
        state = localizer.classify(local)
        if state == "missing":
            tally.reject(
                row,
                meter,
                f"local time {local:%Y-%m-%d %H:%M} does not exist in {localizer.tz.key} "
                "(clocks spring forward)",
                raw,
            )
            return
        if state == "ambiguous":
            localizer.held[(meter, channel, local)].append((seconds, kwh, qflag, sq, row))
            return
        yield from out.add(meter, channel, localizer.utc(local, 0), seconds, kwh, qflag, sq, row)

    for cells in reader:
        row = reader.line_num
        stripped = [c.strip() for c in cells]
        if not any(stripped):
            sce_channel = None if layout == "sce" else sce_channel
            continue
        upper = [_norm(c) for c in cells]
        # -- header / section detection ----------------------------------------------------------
        m = _SCE_SECTION.match(cells[0])
        if m:
            layout, sce_channel = "sce", m.group(1).lower()
            continue
        if "type" in upper and "date" in upper and "start time" in upper:
            layout, header = "pge", upper
            continue
        if "meter number" in upper and "date" in upper and "start time" in upper:
            layout, header = "sdge", upper
            continue
        if layout is None or (layout == "sce" and sce_channel is None):
            if len(stripped) >= 2 and stripped[0] and stripped[1] and ":" not in stripped[0]:
                preamble[_norm(stripped[0]).rstrip(":")] = stripped[1]
            elif ":" in stripped[0]:
                k, _, v = stripped[0].partition(":")
                preamble[_norm(k)] = v.strip()
            continue
        # -- data rows ---------------------------------------------------------------------------
        ensure_context()
        raw = ",".join(cells)
        try:
            if layout == "sce":
                tally.read += 1
                pm = _SCE_PERIOD.match(cells[0])
                if not pm:
                    raise ValueError(f"time period {cells[0]!r} is not 'start to end'")
                start, end = _parse_datetime(pm.group(1)), _parse_datetime(pm.group(2))
                seconds = int((end - start).total_seconds())
                key = (meter_default, sce_channel)
                if seconds <= 0:  # across the fall-back hour the wall clock goes back
                    seconds = last_seconds.get(key, 0)
                    if seconds <= 0:
                        raise ValueError("the interval end is not after its start")
                last_seconds[key] = seconds
                kwh = _parse_number(cells[1] if len(cells) > 1 else "", finite=False)
                qflag, sq, missing = _quality(cells[2] if len(cells) > 2 else "")
                if missing:
                    raise ValueError(f"the utility marks this interval as missing ({sq!r})")
                yield from emit(meter_default, sce_channel, start, seconds, kwh, qflag, sq, row, raw)
            elif layout == "pge":
                rec = dict(zip(header, cells, strict=False))
                value_cols = [(c, "delivered") for c in header if c.startswith(("usage", "import"))]
                value_cols += [(c, "received") for c in header if c.startswith("export")]
                if not value_cols:
                    raise IntervalDataError(
                        f"{path}: line {row}: no USAGE, IMPORT or EXPORT column in the header"
                    )
                day = _parse_date(rec.get("date", ""))
                start = dt.datetime.combine(day, _parse_time(rec.get("start time", "")))
                seconds = 0
                if rec.get("end time", "").strip():
                    end = dt.datetime.combine(day, _parse_time(rec["end time"]))
                    minutes = int((end - start).total_seconds() // 60) % 1440
                    minutes = minutes + 1 if minutes % 5 == 4 else minutes  # END TIME = last minute
                    seconds = minutes * 60
                factor = 1.0
                units = rec.get("units", "").strip()
                for col, _ in value_cols:
                    m = re.search(r"\((\w+)\)", col)
                    units = units or (m.group(1) if m else "kwh")
                reactive = _norm(units) in _REACTIVE_FACTORS  # kVARh rows: the reactive channel
                if _norm(units) not in _UNIT_FACTORS and not reactive:
                    tally.read += len(value_cols)
                    for _col, _channel in value_cols:
                        tally.reject(
                            row, meter_default, f"unit {units!r} is not energy (kWh, Wh or MWh) or kVARh", raw
                        )
                    continue
                factor = (_REACTIVE_FACTORS if reactive else _UNIT_FACTORS)[_norm(units)]
                qflag, sq, missing = _quality(rec.get("notes", ""))
                for col, channel in value_cols:
                    tally.read += 1
                    if reactive and channel == "received":
                        tally.reject(row, meter_default, leading_reactive(), raw)
                        continue
                    channel = "reactive" if reactive else channel
                    try:
                        if seconds <= 0:
                            raise ValueError("the END TIME is not after the START TIME")
                        if missing:
                            raise ValueError(f"the utility marks this interval as missing ({sq!r})")
                        kwh = _parse_number(rec.get(col, ""), finite=False) * factor
                    except ValueError as e:
                        tally.reject(row, meter_default, f"{col.upper()}: {e}", raw)
                        continue
                    yield from emit(meter_default, channel, start, seconds, kwh, qflag, sq, row, raw)
            else:  # sdge
                rec = dict(zip(header, cells, strict=False))
                meter = rec.get("meter number", "").strip() or meter_default
                value_cols = [
                    (c, ch)
                    for c, ch in (("consumption", "delivered"), ("generation", "received"))
                    if c in header
                ]
                day = _parse_date(rec.get("date", ""))
                start = dt.datetime.combine(day, _parse_time(rec.get("start time", "")))
                dur = rec.get("duration", "").strip()
                seconds = int(_parse_number(dur) * 60) if dur else 0
                for col, channel in value_cols:
                    tally.read += 1
                    try:
                        if seconds <= 0:
                            raise ValueError(f"Duration {dur!r} is not a positive number of minutes")
                        kwh = _parse_number(rec.get(col, ""), finite=False)
                    except ValueError as e:
                        tally.reject(row, meter, f"{col.title()}: {e}", raw)
                        continue
                    yield from emit(meter, channel, start, seconds, kwh, 0, "", row, raw)
        except ValueError as e:
            if layout != "sce":
                # a date/time error before the per-column loop: one reject per value column
                n_vals = _n_value_columns(header, layout)
                tally.read += n_vals
                for _ in range(n_vals):
                    tally.reject(row, meter_default, str(e), raw)
            else:
                tally.reject(row, meter_default, str(e), raw)

    if layout is None:
        raise IntervalDataError(
            f"{path}: no Green Button CSV header found (expected 'TYPE,DATE,START TIME,...', "
            "'Meter Number,Date,Start Time,...' or an 'Energy Delivered time period' section)"
        )
    if localizer is not None:
        for (meter, channel, local), recs in localizer.held.items():
            if len(recs) == 1:  # one label for two clock hours: split evenly, flag estimated
                seconds, kwh, _q, sq, row = recs[0]
                tally.read += 1  # the record stands for two interval reads
                for fold in (0, 1):
                    yield from out.add(
                        meter, channel, localizer.utc(local, fold), seconds, kwh / 2, 1, "dst-split", row
                    )
            else:
                for k, (seconds, kwh, q, sq, row) in enumerate(recs):
                    yield from out.add(
                        meter, channel, localizer.utc(local, min(k, 1)), seconds, kwh, q, sq, row
                    )
        tally.metadata["preamble"] = preamble
    tally.metadata["layout"] = layout
    yield from out.flush()
    yield from out.buf.finish()


def _n_value_columns(header: list[str], layout: str) -> int:
    if layout == "pge":
        return max(1, sum(1 for c in header if c.startswith(("usage", "import", "export"))))
    return max(1, sum(1 for c in ("consumption", "generation") if c in header))


def stream_greenbutton_csv(
    path, *, timezone: str | None = None, meter: str | None = None, batch_rows: int = DEFAULT_BATCH_ROWS
) -> ReadStream:
    """Stream a Green Button CSV download.

    Parameters
    ----------
    path : the CSV file.
    timezone : IANA zone of the file's clock times (required unless the preamble names it).
    meter : meter id for files that do not carry one per row (default: a ``Meter Number`` /
        ``Service`` / ``Account Number`` preamble line, else the file name).
    batch_rows : rows per batch.
    """
    return ReadStream(
        Path(path),
        "greenbutton_csv",
        lambda tally: read_greenbutton_csv_batches(
            path, tally, timezone=timezone, meter=meter, batch_rows=batch_rows
        ),
    )


def read_greenbutton_csv(path, **kwargs):
    """Read a whole Green Button CSV into a :class:`ReadResult`."""
    return collect(stream_greenbutton_csv(path, **kwargs))


__all__ = ["read_greenbutton_csv", "stream_greenbutton_csv"]
