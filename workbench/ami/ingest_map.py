"""From reader batches to cube cells: meter registry lookup, checks, reject records, read-ahead.

:class:`ReadMapper` turns one :data:`~workbench.ami.readers.READ_SCHEMA` batch into cube coordinates with
the numba kernel :func:`~workbench.kernels.ingest.map_scatter` (one pass, no Python per read) and builds
the reject records of the reads it cannot place, with the reason.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.ami.ingest_store import CubeLayout
from workbench.ami.readers._result import BEYOND_LIMIT as BEYOND_LIMIT_REASON
from workbench.ami.readers._result import PHYSICAL_LIMIT_KW
from workbench.ami.registry import MeterRegistry
from workbench.kernels import ingest as K

_I64_MIN = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max

CATEGORIES = {
    K.UNKNOWN_METER: "unknown meter",
    K.NOT_IN_CUBE: "service point not in the cube",
    K.NOT_A_NUMBER: "value not a number",
    K.NO_SUCH_CHANNEL: "channel not on the meter",
    K.WRONG_LENGTH: "interval length differs from the cube's step",
    K.OFF_GRID: "timestamp not on the cube's interval grid",
    K.OUT_OF_RANGE: "timestamp outside the cube's period",
    K.BEFORE_INSTALL: "data on inactive meter",
    K.AFTER_REMOVAL: "data on inactive meter",
    K.REACTIVE_NOT_KEPT: "reactive (kVARh) read: the cube keeps no reactive channel yet",
}
#: a read whose value x CT x PT is beyond any meter (the readers' screen sees the value before the multiplier)
BEYOND_LIMIT = 100
CATEGORIES[BEYOND_LIMIT] = BEYOND_LIMIT_REASON
CONFLICT_CATEGORY = "conflicting duplicate"
_NO_CELLS = (np.zeros((2, 0, 0), np.float32), np.zeros((2, 0, 0), np.uint32))  # map without writing
_PER_METER = (K.NOT_IN_CUBE, K.NO_SUCH_CHANNEL, K.BEFORE_INSTALL, K.AFTER_REMOVAL, BEYOND_LIMIT)


@dataclass
class Mapped:
    """One batch mapped: per read the cube row (-1 = rejected or already written), time index, value, flags
    and reason."""

    n: int
    n_ok: int
    row: np.ndarray
    t: np.ndarray
    value: np.ndarray
    flags: np.ndarray
    reason: np.ndarray
    meter: np.ndarray
    n_left: int = 0  # map_scatter: accepted reads not written (another meter chunk), duplicates, conflicts
    dups: int = 0
    conflicts: int = 0


class ReadMapper:
    """Maps reads of registry meters onto a cube layout.

    ``row_of``: service point -> cube row. ``multiplier_applied``: None (each meter's registry flag) or a
    bool for every meter (the source says so).
    """

    def __init__(self, registry: MeterRegistry, layout: CubeLayout, row_of: dict[str, int], *, timezone: str,
                 multiplier_applied: bool | None = None, cube_name: str = "the cube"):
        self.registry = registry
        self.layout = layout
        self.cube_name = cube_name
        meters = registry.meters
        self.ids = pa.array([m.meter_id for m in meters], pa.string())
        self.meter_row = np.array([row_of.get(m.service_point, -1) for m in meters], dtype=np.int32)
        self.lo = np.full(len(meters), _I64_MIN, dtype=np.int64)
        self.hi = np.full(len(meters), _I64_MAX, dtype=np.int64)
        for i, m in enumerate(meters):
            lo, hi = m.window_utc(timezone)
            if lo is not None:
                self.lo[i] = lo.astype(np.int64)
            if hi is not None:
                self.hi[i] = hi.astype(np.int64)
        self.factor = np.array(
            [1.0 if (m.multiplier_applied if multiplier_applied is None else multiplier_applied) else m.multiplier
             for m in meters], dtype=np.float64)
        self.channels = np.array(
            [("delivered" in m.channels) | (("received" in m.channels) << 1) for m in meters], dtype=np.uint8)
        self.factor_max = float(self.factor.max()) if len(self.factor) else 1.0
        self._dict_cache: tuple[pa.Array, np.ndarray] | None = None
        self._buffers: dict[str, np.ndarray] = {}
        self._reason_text: dict[int, str] = {}

    # -- lookups ---------------------------------------------------------------------------------------------
    def code_to_meter(self, dictionary: pa.Array) -> np.ndarray:
        """Registry index (-1 unknown) of each entry of a batch's meter dictionary."""
        cached = self._dict_cache
        if cached is not None and (cached[0] is dictionary or cached[0].equals(dictionary)):
            return cached[1]
        idx = pc.index_in(dictionary.cast(pa.string()), value_set=self.ids)
        out = idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        self._dict_cache = (dictionary, out)
        return out

    @staticmethod
    def _codes(column: pa.Array) -> np.ndarray:
        idx = column.indices
        if idx.null_count:
            idx = idx.fill_null(-1)
        return idx.to_numpy(zero_copy_only=False)

    def _buffer(self, name: str, n: int, dtype) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or len(buf) < n:
            buf = np.empty(max(n, 1 << 16), dtype=dtype)
            self._buffers[name] = buf
        return buf[:n]

    # -- one batch -------------------------------------------------------------------------------------------
    def _inputs(self, batch: pa.RecordBatch) -> tuple:
        meter = batch.column("meter")
        channel = batch.column("channel")
        code_to_channel = np.array(
            [{"delivered": 0, "received": 1, "reactive": -2}.get(v, -1) for v in channel.dictionary.to_pylist()] + [-1],
            dtype=np.int8)
        kwh = batch.column("kwh").to_numpy(zero_copy_only=False)
        if batch.column("kwh").null_count:
            kwh = np.where(batch.column("kwh").is_null().to_numpy(zero_copy_only=False), np.nan, kwh)
        lay = self.layout
        return (
            self._codes(meter), self.code_to_meter(meter.dictionary), self._codes(channel), code_to_channel,
            batch.column("start").view(pa.int64()).to_numpy(zero_copy_only=False),
            batch.column("seconds").to_numpy(zero_copy_only=False), kwh,
            batch.column("quality").to_numpy(zero_copy_only=False),
            self.meter_row, self.lo, self.hi, self.factor, self.channels, lay.t0_us, lay.step_us, lay.n_time,
        )

    def _outputs(self, n: int) -> Mapped:
        return Mapped(
            n, 0, self._buffer("row", n, np.int32), self._buffer("t", n, np.int32),
            self._buffer("value", n, np.float32), self._buffer("flags", n, np.uint8),
            self._buffer("reason", n, np.uint8), self._buffer("meter", n, np.int32),
        )

    def map(self, batch: pa.RecordBatch) -> Mapped:
        """Map a batch (write nothing); the arrays returned are reused by the next call."""
        return self.map_scatter(batch, (0, 0), _NO_CELLS[0], _NO_CELLS[1], 0, 0)

    def first_row(self, batch: pa.RecordBatch) -> int:
        """The cube row of the batch's first read's meter (-1 if unknown): where its reads probably go."""
        if not batch.num_rows:
            return -1
        meter = batch.column("meter")
        code = meter.indices[0].as_py()
        m = -1 if code is None else int(self.code_to_meter(meter.dictionary)[code])
        return int(self.meter_row[m]) if m >= 0 else -1

    def map_scatter(self, batch: pa.RecordBatch, rows: tuple[int, int], val, prov, source_id: int,
                    first_new: int) -> Mapped:
        """Map a batch and write the reads of cube rows ``rows`` = [row0, row1) into ``val``/``prov`` at once.

        The other accepted reads keep their row in ``row`` (the rest -1) for :func:`scatter_reads`;
        ``n_left`` counts them. The arrays returned are reused by the next call.
        """
        out = self._outputs(batch.num_rows)
        inputs = self._inputs(batch)
        over = self._beyond_limit(inputs)
        if over is not None:  # the kernel rejects NaN as "not a number"; the reason is set right below
            kwh = inputs[6].copy()
            kwh[over] = np.nan
            inputs = (*inputs[:6], kwh, *inputs[7:])
        out.n_ok, out.n_left, out.dups, out.conflicts = K.map_scatter(
            *inputs, rows[0], rows[1], val, prov, source_id, first_new,
            out.row, out.t, out.value, out.flags, out.reason, out.meter)
        if over is not None:
            out.reason[: out.n][over & (out.reason[: out.n] == K.NOT_A_NUMBER)] = BEYOND_LIMIT
        return out

    def _beyond_limit(self, inputs) -> np.ndarray | None:
        """Reads whose kWh x the meter's CT x PT is beyond :data:`PHYSICAL_LIMIT_KW` over the interval (None:
        none; one reduction when no multiplier could take a read there)."""
        meter_code, code_to_meter, seconds, kwh = inputs[0], inputs[1], inputs[5], inputs[6]
        if not len(kwh):
            return None
        per_second = PHYSICAL_LIMIT_KW / 3600.0
        top = max(float(kwh.max()), -float(kwh.min()))  # NaN (none after the readers' screen): checked below
        if top * self.factor_max <= per_second * max(int(seconds.min()), 1):
            return None
        m = np.where(meter_code >= 0, code_to_meter[np.maximum(meter_code, 0)], -1)
        factor = np.where(m >= 0, self.factor[np.maximum(m, 0)], 1.0)
        over = np.abs(kwh) * factor > per_second * np.maximum(seconds, 1)
        return over if over.any() else None

    # -- rejects ---------------------------------------------------------------------------------------------
    def reason_text(self, code: int, meter: int) -> str:
        key = code * (len(self.registry) + 1) + (meter + 1 if code in _PER_METER else 0)
        text = self._reason_text.get(key)
        if text is None:
            text = self._make_reason(code, meter)
            self._reason_text[key] = text
        return text

    def _make_reason(self, code: int, meter: int) -> str:
        lay = self.layout
        step = f"{lay.step_minutes}-minute"
        m = self.registry.meters[meter] if meter >= 0 else None
        if code == K.UNKNOWN_METER:
            return f"unknown meter: not in the meter registry {self.registry.source}"
        if code == K.NOT_IN_CUBE:
            return (f"meter {m.meter_id}: its service point {m.service_point!r} is not a row of {self.cube_name} "
                    "(the cube was built without it; rebuild the cube with this registry)")
        if code == K.NOT_A_NUMBER:
            return "value is not a number"
        if code == BEYOND_LIMIT:
            return (f"{BEYOND_LIMIT_REASON}: kWh x CT x PT of meter {m.meter_id} ({_num(m.multiplier)}) above "
                    f"{PHYSICAL_LIMIT_KW:,.0f} kW over the interval")
        if code == K.NO_SUCH_CHANNEL:
            return (f"meter {m.meter_id} does not record this channel (registry channels: "
                    f"{'+'.join(m.channels)})")
        if code == K.REACTIVE_NOT_KEPT:
            return ("reactive (kVARh) read: the cube keeps no reactive channel yet; bill "
                    "reactive charges from the meter's file with workbench bill --intervals (docs/reactive-power.md)")
        if code == K.WRONG_LENGTH:
            return f"interval length is not the cube's {lay.step_minutes} minutes"
        if code == K.OFF_GRID:
            return f"interval start is not on the cube's {step} grid"
        if code == K.OUT_OF_RANGE:
            end = lay.time[-1] + np.timedelta64(lay.step_minutes, "m")
            return (f"interval start outside the cube's period ({np.datetime_as_string(lay.time[0], 'm')} to "
                    f"{np.datetime_as_string(end, 'm')} UTC)")
        if code == K.BEFORE_INSTALL:
            return f"data on inactive meter {m.meter_id}: installed {_when(m.install)}"
        if code == K.AFTER_REMOVAL:
            return f"data on inactive meter {m.meter_id}: removed {_when(m.removal)}"
        raise AssertionError(code)

    def rejects(self, batch: pa.RecordBatch, mapped: Mapped) -> pa.Table:
        """The reads of ``batch`` that ``mapped`` rejects, in the ingest's reject schema."""
        idx = np.flatnonzero(mapped.reason[: mapped.n])
        take = pa.array(idx)
        codes = mapped.reason[idx].astype(np.int64)
        meters = mapped.meter[idx].astype(np.int64)
        per_meter = np.isin(codes, _PER_METER)
        keys = codes * (len(self.registry) + 1) + np.where(per_meter, meters + 1, 0)
        uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        reasons = [self.reason_text(int(codes[i]), int(meters[i])) for i in first]
        cats = [CATEGORIES[int(codes[i])] for i in first]
        inv = pa.array(inv.astype(np.int32))
        return pa.table({
            "file": pa.repeat(pa.scalar(_source(batch)), len(idx)),
            "row": batch.column("row").take(take),
            "meter": batch.column("meter").take(take).cast(pa.string()),
            "timestamp": batch.column("start").take(take),
            "channel": batch.column("channel").take(take).cast(pa.string()),
            "kwh": batch.column("kwh").take(take),
            "reason": pa.DictionaryArray.from_arrays(inv, pa.array(reasons)).cast(pa.string()),
            "category": pa.DictionaryArray.from_arrays(inv, pa.array(cats)).cast(pa.string()),
        })


def _num(x: float) -> str:
    return f"{x:g}"


def _source(batch: pa.RecordBatch) -> str:
    col = batch.column("source")
    return col.dictionary[col.indices[0].as_py()].as_py() if len(col) else ""


def _when(value) -> str:
    if value is None:
        return "(open)"
    return value.date().isoformat() if value.hour == value.minute == value.second == 0 else value.isoformat()


def conflict_rejects(hits: pa.Table) -> pa.Table:
    """Reject records for reads of conflicting cells: every read of the cell, each naming the others."""
    keys = hits.column("key").to_numpy()
    order = np.argsort(keys, kind="stable")
    hits = hits.take(pa.array(order))
    keys = keys[order]
    files = hits.column("file").to_pylist()
    rows = hits.column("row").to_pylist()
    kwh = hits.column("kwh").to_pylist()
    reasons = []
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    for a, b in zip(starts, ends, strict=True):
        listed = [f"{_short(files[i])} row {rows[i]}: {kwh[i]:g} kWh" for i in range(a, min(b, a + 5))]
        more = f" and {b - a - 5} more" if b - a > 5 else ""
        text = (f"conflicting duplicate: {b - a} reads of this meter, time and channel differ ("
                f"{'; '.join(listed)}{more}); all rejected, the cube keeps its previous value")
        reasons.extend([text] * (b - a))
    return pa.table({
        "file": hits.column("file"),
        "row": hits.column("row"),
        "meter": hits.column("meter"),
        "timestamp": hits.column("timestamp"),
        "channel": hits.column("channel"),
        "kwh": hits.column("kwh"),
        "reason": pa.array(reasons, pa.string()),
        "category": pa.repeat(pa.scalar(CONFLICT_CATEGORY), len(reasons)),
    })


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------------------------------------
# read-ahead: the reader decodes the next batch in a thread while this one is mapped (both release the GIL)


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


_DONE = object()


def read_ahead(stream, depth: int = 2):
    """Iterate ``stream`` in a background thread, at most ``depth`` batches ahead."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for batch in stream:
                if not put(batch):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))

    worker = threading.Thread(target=run, name="ingest-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()
