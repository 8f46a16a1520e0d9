"""Green Button XML: an IntervalBlock parsed (:class:`_ParsedBlock`), converted (:class:`_Piece`), batched.

:class:`_ParsedBlock` holds one IntervalBlock's readings as numpy arrays before its ReadingType is known
(``_MISSING`` marks a reading without a start); :class:`_Piece` holds them converted to kWh and UTC
microseconds; :class:`_Pieces` gathers many small pieces into RecordBatches in READ_SCHEMA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from workbench.ami.readers._result import BatchBuffer, dict_const, dict_from_codes, make_batch


@dataclass
class _ParsedBlock:
    """One IntervalBlock, parsed but not yet converted (its ReadingType may still be unknown)."""

    rows: np.ndarray  # int64 IntervalReading ordinals
    starts: np.ndarray  # int64 epoch seconds; _MISSING where the reading had no timePeriod/start
    durations: np.ndarray  # int64 seconds; -1 where missing
    values: np.ndarray  # float64; NaN where missing or not a number
    quality: np.ndarray  # uint8 0/1
    source_quality: list | None  # per-reading code strings, or None when the block has no ReadingQuality
    block_start: int | None  # interval/start of the block, to derive starts
    bad: dict  # position -> (reason, raw): readings rejected while parsing

    def __len__(self):
        return len(self.rows)


_MISSING = np.iinfo(np.int64).min


@dataclass
class _Piece:
    """Converted reads of one IntervalBlock (numpy), gathered into batches by :class:`_Pieces`."""

    meter: str
    channel: str
    start_us: np.ndarray
    seconds: np.ndarray
    kwh: np.ndarray
    quality: np.ndarray
    source_quality: list | None
    rows: np.ndarray

    @property
    def num_rows(self) -> int:
        return len(self.rows)


class _Pieces:
    """Gathers many small block pieces into one RecordBatch (per-batch Arrow overhead, not per block)."""

    GATHER_ROWS = 65_536

    def __init__(self, source: str, batch_rows: int):
        self.source = source
        self.out = BatchBuffer(batch_rows)
        self.gather = min(batch_rows, self.GATHER_ROWS)
        self.pieces: list[_Piece] = []
        self.rows = 0

    def add(self, piece):
        if piece is None or piece.num_rows == 0:
            return
        self.pieces.append(piece)
        self.rows += piece.num_rows
        if self.rows >= self.gather:
            yield from self._flush()

    def _flush(self):
        ps, self.pieces, self.rows = self.pieces, [], 0
        if not ps:
            return
        lengths = np.array([p.num_rows for p in ps])
        meters = sorted({p.meter for p in ps})
        meter_code = {m: i for i, m in enumerate(meters)}
        channels = ["delivered", "received", "reactive"]
        if all(p.source_quality is None for p in ps):
            sq = dict_const("", int(lengths.sum()))
        else:
            codes = []
            for p in ps:
                codes.extend(p.source_quality if p.source_quality is not None else [""] * p.num_rows)
            sq = pa.array(codes, pa.string()).dictionary_encode()
        batch = make_batch(
            meter=dict_from_codes(np.repeat([meter_code[p.meter] for p in ps], lengths), meters),
            channel=dict_from_codes(np.repeat([channels.index(p.channel) for p in ps], lengths), channels),
            start_us=np.concatenate([p.start_us for p in ps]),
            seconds=np.concatenate([p.seconds for p in ps]),
            kwh=np.concatenate([p.kwh for p in ps]),
            quality=np.concatenate([p.quality for p in ps]),
            source_quality=sq,
            source=self.source,
            row=np.concatenate([p.rows for p in ps]),
        )
        yield from self.out.add(batch)

    def finish(self):
        yield from self._flush()
        yield from self.out.finish()
