"""Green Button CSV downloads: local clock times to UTC, and accepted records gathered into batches.

:class:`_Localizer` classifies a local wall-clock start (ordinary, fall-back hour written twice, spring-forward
hour that does not exist) and holds the fall-back records until the file ends; :class:`_Records` gathers
accepted records column-wise and emits them as RecordBatches in READ_SCHEMA.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from pathlib import Path

from workbench.ami.readers._result import BatchBuffer, make_batch

_UTC = dt.UTC


class _Localizer:
    """Local wall-clock starts to UTC, holding fall-back-hour records until the file ends."""

    def __init__(self, tz: zoneinfo.ZoneInfo):
        self.tz = tz
        self.held: dict[tuple, list] = defaultdict(list)  # (meter, channel, local start) -> records

    def classify(self, local: dt.datetime) -> str:
        a = local.replace(tzinfo=self.tz, fold=0)
        b = local.replace(tzinfo=self.tz, fold=1)
        if a.utcoffset() != b.utcoffset():
            # ambiguous (fall back) if both folds map back to the same wall time, else non-existent
            back = a.astimezone(_UTC).astimezone(self.tz).replace(tzinfo=None)
            return "ambiguous" if back == local else "missing"
        return "ok"

    def utc(self, local: dt.datetime, fold: int) -> dt.datetime:
        return local.replace(tzinfo=self.tz, fold=fold).astimezone(_UTC)


class _Records:
    """Accumulates accepted records column-wise and emits batches."""

    def __init__(self, path: Path, batch_rows: int):
        self.source = str(path)
        self.buf = BatchBuffer(batch_rows)
        self._reset()

    def _reset(self):
        self.cols = {k: [] for k in ("meter", "channel", "start", "seconds", "kwh", "quality", "sq", "row")}

    def add(self, meter, channel, start_utc: dt.datetime, seconds, kwh, quality, sq, row):
        c = self.cols
        c["meter"].append(meter)
        c["channel"].append(channel)
        c["start"].append(int(start_utc.timestamp()) * 1_000_000)
        c["seconds"].append(seconds)
        c["kwh"].append(kwh)
        c["quality"].append(quality)
        c["sq"].append(sq)
        c["row"].append(row)
        if len(c["row"]) >= 8192:
            yield from self.flush()

    def flush(self):
        c = self.cols
        if c["row"]:
            import pyarrow as pa

            batch = make_batch(
                meter=pa.array(c["meter"], pa.string()).dictionary_encode(),
                channel=pa.array(c["channel"], pa.string()).dictionary_encode(),
                start_us=c["start"],
                seconds=c["seconds"],
                kwh=c["kwh"],
                quality=c["quality"],
                source_quality=pa.array(c["sq"], pa.string()).dictionary_encode(),
                source=self.source,
                row=c["row"],
            )
            self._reset()
            yield from self.buf.add(batch)

