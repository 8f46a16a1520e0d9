"""The common long-format result every reader produces (see ``docs/readers.md``).

A reader is a generator of :class:`pyarrow.RecordBatch` in :data:`READ_SCHEMA`, at most ``batch_rows`` rows
each, that reports the records it could not read to a :class:`Tally` (``tally.reject(...)``) and counts every
source record it saw (``tally.read += n``). :class:`ReadStream` wraps the generator: iterate it for bounded
memory; when it is exhausted its ``rejects``, ``counts`` and ``metadata`` are complete and
``read == accepted + rejected`` has been checked. :func:`collect` drains a stream into a :class:`ReadResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from workbench.errors import IntervalDataError, WorkbenchError

CHANNELS = ("delivered", "received")

_DICT = pa.dictionary(pa.int32(), pa.string())

#: one row per interval read, in every reader's output
READ_SCHEMA = pa.schema(
    [
        ("meter", _DICT),  # meter / usage point id as the source names it (dictionary-encoded string)
        ("channel", _DICT),  # 'delivered' (to the customer) | 'received' (from the customer)
        ("start", pa.timestamp("us", tz="UTC")),  # interval start [UTC]
        ("seconds", pa.int32()),  # interval length [s]
        ("kwh", pa.float64()),  # energy in the interval [kWh], source multipliers (10^n, Wh/MWh) applied
        ("quality", pa.uint8()),  # 0 actual, 1 estimated (workbench.ami.cube_schema.QUALITY_*)
        ("source_quality", _DICT),  # the source's own quality code(s), "" when none
        ("source", _DICT),  # file the read came from
        ("row", pa.int64()),  # line number (CSV) or element ordinal (XML) in the source
    ]
)

#: one row per source record that could not be read
REJECT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("row", pa.int64()),
        ("meter", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)

DEFAULT_BATCH_ROWS = 1 << 20
RAW_MAX_CHARS = 200

#: no single meter measures more than this [kW] (10 GW: several of the largest generating units together);
#: a read above it, over its interval, is a corrupt value, never energy (per-meter limits: VEE IMPLAUSIBLE)
PHYSICAL_LIMIT_KW = 1e7
#: reject reasons of the boundary screen every reader's output goes through (docs/readers.md)
NON_FINITE = "non-finite kWh"
BEYOND_LIMIT = "kWh beyond any meter's physical limit"
NEGATIVE_DELIVERED = "negative delivered kWh"
#: lagging kVARh is 0 or more (a meter records leading kVARh in its own register, which is not kept)
NEGATIVE_REACTIVE = "negative kVARh (reactive channel)"


def leading_reactive(unit: str = "kVARh") -> str:
    """The reject reason of a leading (received) reactive read, saying what it means and what to do."""
    return (f"leading (received) {unit} is not kept: the workbench bills lagging kVARh only (power factor, kVA, "
            "$/kVAR); this read is counted as rejected and the file's other reads land; nothing to fix unless "
            "a tariff bills leading kVAR (docs/reactive-power.md, 'Leading kVARh')")
_SCREEN_REASONS = np.array(["", NON_FINITE, BEYOND_LIMIT, NEGATIVE_DELIVERED, NEGATIVE_REACTIVE], dtype=object)
_KWH_PER_SECOND = PHYSICAL_LIMIT_KW / 3600.0


def dict_const(value: str, n: int) -> pa.DictionaryArray:
    """A dictionary array holding ``value`` ``n`` times (cheap: one int32 index per row)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string())
    )


def dict_from_codes(codes: np.ndarray, labels: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(labels, pa.string())
    )


def make_batch(
    *,
    meter,
    channel,
    start_us,
    seconds,
    kwh,
    quality,
    source_quality,
    source: str,
    row,
) -> pa.RecordBatch:
    """Assemble a batch in READ_SCHEMA; array arguments may be numpy or pyarrow."""
    n = len(kwh)
    start = start_us if isinstance(start_us, pa.Array) else pa.array(np.asarray(start_us, dtype=np.int64))
    if start.type != READ_SCHEMA.field("start").type:
        start = start.cast(pa.int64()).view(READ_SCHEMA.field("start").type)
    arrays = [
        meter if isinstance(meter, pa.Array) else pa.array(meter, pa.string()).dictionary_encode(),
        channel if isinstance(channel, pa.Array) else dict_const(channel, n),
        start,
        pa.array(np.asarray(seconds, dtype=np.int32)) if not isinstance(seconds, pa.Array) else seconds,
        pa.array(np.asarray(kwh, dtype=np.float64)) if not isinstance(kwh, pa.Array) else kwh,
        pa.array(np.asarray(quality, dtype=np.uint8)) if not isinstance(quality, pa.Array) else quality,
        source_quality if isinstance(source_quality, pa.Array) else dict_const(source_quality, n),
        dict_const(source, n),
        pa.array(np.asarray(row, dtype=np.int64)) if not isinstance(row, pa.Array) else row,
    ]
    for i in (0, 1, 6):
        if arrays[i].type != _DICT:
            arrays[i] = (
                (arrays[i].cast(pa.string()) if pa.types.is_dictionary(arrays[i].type) else arrays[i])
                .cast(pa.string())
                .dictionary_encode()
            )
    return pa.RecordBatch.from_arrays(arrays, schema=READ_SCHEMA)


def clip_raw(text) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= RAW_MAX_CHARS else text[: RAW_MAX_CHARS - 1] + "…"


@dataclass
class Tally:
    """What a reader saw: records read, rejects (kept as small Arrow chunks), metadata."""

    source: str
    read: int = 0
    metadata: dict = field(default_factory=dict)
    _reject_chunks: list = field(default_factory=list)
    _pending_rejects: list = field(default_factory=list)
    rejected: int = 0

    def reject(self, row: int, meter: str | None, reason: str, raw="") -> None:
        """One record that could not be read."""
        self._pending_rejects.append((int(row), meter, reason, clip_raw(raw)))
        self.rejected += 1
        if len(self._pending_rejects) >= 65536:
            self._flush()

    def reject_many(self, rows, meters, reasons, raws) -> None:
        """Many rejects at once (arrays or scalars broadcast over ``rows``)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        if n == 0:
            return
        self._flush()

        def col(values, typ):
            if isinstance(values, pa.Array | pa.ChunkedArray):
                return values.cast(typ)
            if values is None or isinstance(values, str):
                return pa.array([values] * n, typ) if n < 1024 else pa.repeat(pa.scalar(values, typ), n)
            return pa.array(list(values), typ)

        self._reject_chunks.append(
            pa.table(
                [
                    pa.repeat(pa.scalar(self.source), n),
                    pa.array(rows),
                    col(meters, pa.string()),
                    col(reasons, pa.string()),
                    col(raws, pa.string()),
                ],
                schema=REJECT_SCHEMA,
            )
        )
        self.rejected += n

    def _flush(self) -> None:
        if self._pending_rejects:
            rows, meters, reasons, raws = zip(*self._pending_rejects, strict=True)
            self._reject_chunks.append(
                pa.table(
                    [[self.source] * len(rows), list(rows), list(meters), list(reasons), list(raws)],
                    schema=REJECT_SCHEMA,
                )
            )
            self._pending_rejects = []

    def rejects_table(self) -> pa.Table:
        self._flush()
        if not self._reject_chunks:
            return REJECT_SCHEMA.empty_table()
        return pa.concat_tables(self._reject_chunks).combine_chunks()


def screen_batch(batch: pa.RecordBatch, tally: Tally, *, negative_delivered: str = "reject") -> pa.RecordBatch:
    """The reads of ``batch`` whose kWh is a finite number within :data:`PHYSICAL_LIMIT_KW` over the interval
    (and, with ``negative_delivered="reject"``, not negative on the delivered channel); the others go to
    ``tally`` as rejects with the reason. ``"keep"`` keeps negative delivered reads (for VEE's NEGATIVE rule)
    and counts them in ``tally.metadata["negative_delivered"]``. Vectorized: clean batches cost two reductions.
    """
    n = batch.num_rows
    if n == 0:
        return batch
    kwh = batch.column(4).to_numpy(zero_copy_only=False)
    secs = batch.column(3).to_numpy(zero_copy_only=False)
    top, low = kwh.max(), kwh.min()  # NaN when any read is NaN: the comparison below then fails
    if top <= _KWH_PER_SECOND * max(int(secs.min()), 1) and low >= 0:
        return batch
    magnitude = np.abs(kwh)
    code = np.zeros(n, dtype=np.int8)
    limit = np.maximum(secs, 1).astype(np.float64) * _KWH_PER_SECOND
    code[magnitude > limit] = 2
    code[~np.isfinite(kwh)] = 1
    if not low >= 0 and (kwh < 0).any():
        channel = batch.column(1)
        labels = channel.dictionary.to_pylist()
        if "delivered" in labels:
            idx = channel.indices.to_numpy(zero_copy_only=False)
            negative = (kwh < 0) & (idx == labels.index("delivered")) & (code == 0)
            if negative.any():
                if negative_delivered == "keep":
                    meta = tally.metadata
                    rows = batch.column(8).to_numpy(zero_copy_only=False)[negative]
                    meta["negative_delivered"] = meta.get("negative_delivered", 0) + int(negative.sum())
                    meta.setdefault("negative_delivered_first_row", int(rows[0]))
                else:
                    code[negative] = 3
        if "reactive" in labels:  # never kept: VEE estimates energy, not kVARh (docs/reactive-power.md)
            idx = channel.indices.to_numpy(zero_copy_only=False)
            code[(kwh < 0) & (idx == labels.index("reactive")) & (code == 0)] = 4
    bad = code != 0
    if not bad.any():
        return batch
    idx = np.flatnonzero(bad)
    take = pa.array(idx)
    meters = batch.column(0).take(take)
    tally.reject_many(
        batch.column(8).to_numpy(zero_copy_only=False)[idx],
        meters.cast(pa.string()),
        _SCREEN_REASONS[code[idx]],
        [f"{k!r} kWh in {s} s" for k, s in zip(kwh[idx].tolist(), secs[idx].tolist(), strict=True)],
    )
    return batch.filter(pa.array(~bad))


def check_interval_kwh(delivered, received, seconds: int, source: str, first_row: int = 2) -> None:
    """Refuse a one-meter series (the one-file path, e.g. ``workbench bill --intervals``) holding a read the
    boundary screen would reject: :class:`~workbench.errors.IntervalDataError` naming the file, the row
    (``first_row`` = the row of the first read) and the reason. Vectorized."""
    limit = _KWH_PER_SECOND * max(int(seconds), 1)
    for channel, values in (("delivered", delivered), ("received", received)):
        kwh = np.asarray(values, dtype=np.float64)
        bad = ~(np.abs(kwh) <= limit)
        if channel == "delivered":
            bad |= kwh < 0
        if bad.any():
            i = int(np.argmax(bad))
            v = float(kwh[i])
            reason = NON_FINITE if not np.isfinite(v) else BEYOND_LIMIT if abs(v) > limit else NEGATIVE_DELIVERED
            raise IntervalDataError(f"{source}: row {first_row + i}: {channel} {v!r} kWh: {reason}")


class ReadStream:
    """Iterator of RecordBatches (READ_SCHEMA) from one file; bounded memory.

    After the iterator is exhausted: ``rejects`` (pa.Table in REJECT_SCHEMA), ``counts``
    ({read, accepted, rejected}, with read == accepted + rejected checked) and ``metadata`` are complete.
    If reading fails part-way a :class:`~workbench.errors.WorkbenchError` is raised: batches already
    yielded must then be discarded (``read_file`` and the ingest do).
    """

    def __init__(self, source: Path, fmt: str, make_batches: Callable[[Tally], Iterator[pa.RecordBatch]]):
        self.source = str(source)
        #: "reject" (default) or "keep" negative delivered reads (the ingest keeps them for VEE to flag)
        self.negative_delivered = "reject"
        self.format = fmt
        self.tally = Tally(self.source)
        self._batches = make_batches(self.tally)
        self.accepted = 0
        self.finished = False

    def __iter__(self):
        return self

    def __next__(self) -> pa.RecordBatch:
        while True:
            try:
                batch = next(self._batches)
            except StopIteration:
                self._finish()
                raise
            batch = screen_batch(batch, self.tally, negative_delivered=self.negative_delivered)
            self.accepted += batch.num_rows
            if batch.num_rows:
                return batch

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        t = self.tally
        if t.read != self.accepted + t.rejected:
            raise WorkbenchError(
                f"{self.source}: internal accounting error in the {self.format} reader: read {t.read} "
                f"records but accepted {self.accepted} and rejected {t.rejected}. Please report this file."
            )

    def _require_finished(self):
        if not self.finished:
            raise RuntimeError("iterate the ReadStream to the end before asking for rejects or counts")

    @property
    def rejects(self) -> pa.Table:
        self._require_finished()
        return self.tally.rejects_table()

    @property
    def counts(self) -> dict[str, int]:
        self._require_finished()
        return {"read": self.tally.read, "accepted": self.accepted, "rejected": self.tally.rejected}

    @property
    def metadata(self) -> dict:
        return self.tally.metadata


@dataclass
class ReadResult:
    """Everything read from one file, in memory (Arrow columnar: ~40 bytes per read)."""

    source: str
    format: str
    table: pa.Table
    rejects: pa.Table
    counts: dict[str, int]
    metadata: dict

    def __post_init__(self):
        c = self.counts
        assert c["read"] == c["accepted"] + c["rejected"], c
        assert c["accepted"] == self.table.num_rows and c["rejected"] == self.rejects.num_rows, c


def collect(stream: ReadStream) -> ReadResult:
    """Drain a stream into a ReadResult; on error nothing is returned (no partial result)."""
    batches = list(stream)
    table = pa.Table.from_batches(batches, schema=READ_SCHEMA)
    return ReadResult(
        source=stream.source,
        format=stream.format,
        table=table,
        rejects=stream.rejects,
        counts=stream.counts,
        metadata=stream.metadata,
    )


class BatchBuffer:
    """Accumulates column pieces and cuts RecordBatches of at most ``batch_rows`` rows."""

    def __init__(self, batch_rows: int):
        self.batch_rows = max(1, int(batch_rows))
        self.pieces: list[pa.RecordBatch] = []
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        if batch.num_rows == 0:
            return
        self.pieces.append(batch)
        self.rows += batch.num_rows
        while self.rows >= self.batch_rows:
            yield from self._cut(self.batch_rows)

    def _cut(self, n: int) -> Iterator[pa.RecordBatch]:
        table = pa.Table.from_batches(self.pieces, schema=READ_SCHEMA)
        head, tail = table.slice(0, n), table.slice(n)
        yield from head.combine_chunks().to_batches()
        self.pieces = tail.to_batches()
        self.rows = tail.num_rows

    def finish(self) -> Iterator[pa.RecordBatch]:
        if self.rows:
            yield from self._cut(self.rows)
