"""CMEP (California Metering Exchange Protocol) ``MEPMD01`` interval records.

One CSV line holds one meter channel: 14 header fields (RecordType, RecordVersion, SenderID,
SenderCustomerID, ReceiverID, ReceiverCustomerID, TimeStamp, MeterID, Purpose, Commodity, Units,
CalculationConstant, Interval ``DDHHMM``, Count) then ``Count`` triplets ``(YYYYMMDDHHMM, quality, value)``.
A triplet with an empty time follows the previous one by one interval.

- Units ``KWH``, ``WH``, ``MWH`` are energy (delivered unless ``channels`` says otherwise); ``KVARH``, ``VARH``,
  ``MVARH`` are lagging reactive energy (the ``reactive`` channel, kVARh); register units
  (``KWHREG``...) and anything else are rejected with the reason.
- Times carry no UTC offset: ``timezone`` is required (``'UTC'`` when they are UTC). The triplet time marks
  the interval end by default (``timestamp='end'``; say ``'start'`` if the sender uses starts).
- Quality codes beginning with ``E`` (estimated) or ``S`` (substituted) are flagged estimated; the code is
  kept in ``source_quality``.
- ``CalculationConstant`` (the meter multiplier) is NOT applied: it is recorded in
  ``metadata['calculation_constants']`` for the meter registry, which applies multipliers exactly once.
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from pathlib import Path

import pyarrow as pa

from workbench.ami.readers._result import (
    DEFAULT_BATCH_ROWS,
    BatchBuffer,
    ReadStream,
    Tally,
    collect,
    make_batch,
)
from workbench.ami.readers._text import bounded_lines
from workbench.errors import IntervalDataError

RECORD_TYPE = "MEPMD01"
N_HEADER = 14
UNIT_FACTORS = {"KWH": 1.0, "WH": 1e-3, "MWH": 1e3, "KVARH": 1.0, "VARH": 1e-3, "MVARH": 1e3}


def _interval_seconds(text: str) -> int:
    t = text.strip()
    if len(t) != 6 or not t.isdigit():
        raise ValueError(f"Interval {text!r} is not DDHHMM")
    return (int(t[:2]) * 1440 + int(t[2:4]) * 60 + int(t[4:])) * 60


def read_cmep_batches(
    path,
    tally: Tally,
    *,
    timezone: str | None = None,
    timestamp: str = "end",
    channels: dict | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
):
    path = Path(path)
    if not path.exists():
        raise IntervalDataError(f"{path}: file not found")
    if timezone is None:
        raise IntervalDataError(
            f"{path}: CMEP times have no UTC offset: say the zone the sender uses (--timezone of workbench ingest or bill: "
            "America/Los_Angeles, or UTC; in Python: timezone='America/Los_Angeles')"
        )
    if timestamp not in ("start", "end"):
        raise IntervalDataError(f"{path}: timestamp={timestamp!r}: say 'start' or 'end'")
    try:
        tz = dt.UTC if timezone.upper() == "UTC" else zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise IntervalDataError(f"{path}: time zone {timezone!r} is not an IANA zone name") from None
    # KVARH (lagging reactive energy) lands in the 'reactive' channel (docs/reactive-power.md)
    channel_of = {"KWH": "delivered", "WH": "delivered", "MWH": "delivered", "KVARH": "reactive",
                  "VARH": "reactive", "MVARH": "reactive"}
    channel_of.update({k.upper(): v for k, v in (channels or {}).items()})
    constants = tally.metadata.setdefault("calculation_constants", {})
    buf = BatchBuffer(batch_rows)
    cols: dict[str, list] = {k: [] for k in ("meter", "channel", "start", "seconds", "kwh", "q", "sq", "row")}

    def flush():
        if cols["row"]:
            batch = make_batch(
                meter=pa.array(cols["meter"], pa.string()).dictionary_encode(),
                channel=pa.array(cols["channel"], pa.string()).dictionary_encode(),
                start_us=cols["start"],
                seconds=cols["seconds"],
                kwh=cols["kwh"],
                quality=cols["q"],
                source_quality=pa.array(cols["sq"], pa.string()).dictionary_encode(),
                source=str(path),
                row=cols["row"],
            )
            for v in cols.values():
                v.clear()
            yield from buf.add(batch)

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(bounded_lines(f, path))
            for cells in reader:
                line = reader.line_num
                if not cells or not any(c.strip() for c in cells):
                    continue
                raw = ",".join(cells)
                if cells[0].strip() != RECORD_TYPE or len(cells) < N_HEADER:
                    tally.read += 1
                    tally.reject(
                        line,
                        None,
                        f"not a {RECORD_TYPE} record (found {cells[0][:20]!r}, "
                        f"{len(cells)} fields; a record has at least {N_HEADER})",
                        raw,
                    )
                    continue
                meter = cells[7].strip()
                purpose, commodity, units = (
                    cells[8].strip().upper(),
                    cells[9].strip().upper(),
                    cells[10].strip().upper(),
                )
                constants[meter] = cells[11].strip()
                trip = cells[N_HEADER:]
                n_trip = len(trip) // 3
                try:
                    count = int(cells[13]) if cells[13].strip() else n_trip
                except ValueError:
                    count = n_trip
                n = max(n_trip, 1)
                tally.read += n
                whole = None
                if count != n_trip or len(trip) % 3:
                    whole = (
                        f"Count says {cells[13].strip()!r} readings but the record holds {len(trip)} "
                        "fields after the header (not whole triplets): the line may be truncated"
                    )
                elif commodity not in ("E", ""):
                    whole = f"Commodity {commodity!r} is not electricity (E)"
                elif n_trip == 0:
                    whole = "the record holds no readings"
                elif units not in channel_of:
                    whole = f"Units {units!r} is not interval energy (KWH, WH, MWH; register units are not)"
                elif purpose not in ("OK", ""):
                    whole = f"Purpose {purpose!r} is not interval data (OK)"
                seconds = 0
                if whole is None:
                    try:
                        seconds = _interval_seconds(cells[12])
                        if seconds <= 0:
                            raise ValueError(f"Interval {cells[12]!r} is zero")
                    except ValueError as e:
                        whole = str(e)
                if whole is not None:
                    for _ in range(n):
                        tally.reject(line, meter or None, whole, raw)
                    continue
                factor, channel = UNIT_FACTORS.get(units, 1.0), channel_of[units]
                prev: dt.datetime | None = None
                for k in range(n_trip):
                    t_text, code, v_text = (c.strip() for c in trip[3 * k : 3 * k + 3])
                    try:
                        if t_text:
                            local = dt.datetime.strptime(t_text, "%Y%m%d%H%M")
                            when = local.replace(tzinfo=tz)
                            back = when.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
                            if back != local:
                                raise ValueError(f"local time {t_text} does not exist in {timezone}")
                            stamp = when.astimezone(dt.UTC)
                            if prev is not None and stamp <= prev and tz is not dt.UTC:
                                stamp = local.replace(tzinfo=tz, fold=1).astimezone(dt.UTC)  # fall-back hour
                        elif prev is not None:
                            stamp = prev + dt.timedelta(seconds=seconds)
                        else:
                            raise ValueError("the first triplet has no time")
                        value = float(v_text)  # NaN / inf: rejected by name by the boundary screen
                    except ValueError as e:
                        msg = str(e)
                        if "could not convert" in msg or "time data" in msg:
                            msg = (
                                f"value {v_text!r} is not a number"
                                if "convert" in msg
                                else f"time {t_text!r} is not YYYYMMDDHHMM"
                            )
                        tally.reject(line, meter, f"triplet {k + 1}: {msg}", f"{t_text},{code},{v_text}")
                        continue
                    prev = stamp
                    start = stamp - dt.timedelta(seconds=seconds) if timestamp == "end" else stamp
                    cols["meter"].append(meter)
                    cols["channel"].append(channel)
                    cols["start"].append(int(start.timestamp()) * 1_000_000)
                    cols["seconds"].append(seconds)
                    cols["kwh"].append(value * factor)
                    cols["q"].append(1 if code[:1].upper() in ("E", "S") else 0)
                    cols["sq"].append(code)
                    cols["row"].append(line)
                if len(cols["row"]) >= 8192:
                    yield from flush()
    except UnicodeDecodeError as e:
        raise IntervalDataError(
            f"{path}: the file is not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None
    except csv.Error as e:
        raise IntervalDataError(f"{path}: the CMEP file cannot be read as CSV: {e}") from None
    yield from flush()
    yield from buf.finish()


def stream_cmep(
    path,
    *,
    timezone: str | None = None,
    timestamp: str = "end",
    channels: dict | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ReadStream:
    """Stream a CMEP MEPMD01 file. ``channels`` maps extra Units codes to 'delivered'/'received'."""
    return ReadStream(
        Path(path),
        "cmep",
        lambda tally: read_cmep_batches(
            path, tally, timezone=timezone, timestamp=timestamp, channels=channels, batch_rows=batch_rows
        ),
    )


def read_cmep(path, **kwargs):
    """Read a whole CMEP file into a :class:`ReadResult`."""
    return collect(stream_cmep(path, **kwargs))


__all__ = ["read_cmep", "stream_cmep"]
