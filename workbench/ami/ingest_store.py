"""The cube side of the ingest: meter chunks held while reads land in them, then settled and staged.

An ingest never writes into the live cube. It builds a staging copy beside it (``atomic_directory``): chunks
the ingest changes are written there; every other file is hard-linked from the live cube (same bytes, no
copy); the staging copy then replaces the cube in one rename. A failure anywhere before the rename leaves
the cube as it was.

While reads stream in, each meter chunk they touch is held as working arrays: values and provenance per
channel (``val``, ``prov``: channel × meter × time; channels delivered, received and reactive kVARh) and the
cube's quality (of the energy channels). The reactive channel's chunk is written only when it holds a read:
a meter chunk without kVARh costs nothing on disk, and ``has_reactive`` says which meters have them
(:mod:`workbench.ami.cube_reactive`). The chunks held in memory are
bounded by ``budget_bytes``; beyond it the least recently used chunk is parked in a scratch file and
brought back when needed, so memory does not grow with the input.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from workbench.ami.cube_schema import HAS_REACTIVE, QUALITY_MISSING, REACTIVE_VAR
from workbench.ami.cube_store import quiet_zarr
from workbench.errors import WorkbenchError
from workbench.kernels.ingest import CONFLICTED, N_CHANNELS, UPDATED, finalize_chunk

#: the provenance arrays live inside the cube (a Zarr group the cube's consolidated metadata does not list), so
#: they change together with the values they describe
INGEST_DIR = "_ingest"
SOURCE_VARS = ("delivered_source", "received_source")
#: the reactive channel's provenance: optional (a cube from before the channel has none; it is added empty)
REACTIVE_SOURCE = "reactive_source"
CUBE_VARS = ("delivered_kwh", "received_kwh", "quality")
BYTES_PER_CELL = N_CHANNELS * 4 + N_CHANNELS * 4 + 1


@dataclass
class CubeLayout:
    """The axes of the cube being ingested into."""

    meters: np.ndarray  # cube row ids (service points), str
    time: np.ndarray  # datetime64[ns] UTC interval starts
    step_minutes: int
    rows_per_chunk: int

    @property
    def n_rows(self) -> int:
        return len(self.meters)

    @property
    def n_time(self) -> int:
        return len(self.time)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_rows // self.rows_per_chunk)

    @property
    def t0_us(self) -> int:
        return int(self.time[0].astype("datetime64[us]").astype(np.int64))

    @property
    def step_us(self) -> int:
        return self.step_minutes * 60_000_000

    def rows(self, k: int) -> tuple[int, int]:
        a = k * self.rows_per_chunk
        return a, min(a + self.rows_per_chunk, self.n_rows)


class _Work:
    __slots__ = ("val", "prov", "quality")

    def __init__(self, val, prov, quality):
        self.val, self.prov, self.quality = val, prov, quality

    @property
    def nbytes(self) -> int:
        return self.val.nbytes + self.prov.nbytes + self.quality.nbytes


class ChunkStore:
    """Working arrays of the touched meter chunks, their original values, and their staged output.

    ``original``: the live cube (None for a new cube, whose original state comes from ``received_zero``:
    (row, t0, t1) windows where received energy is 0 rather than unread, for delivered-only meters).
    """

    def __init__(self, layout: CubeLayout, staging: Path, scratch: Path, *, original: Path | None,
                 received_zero=(), budget_bytes: int = 2 << 30):
        self.layout = layout
        self.staging = staging
        self.scratch = scratch
        self.original = original
        self.received_zero: dict[int, list] = {}  # meter chunk -> [(row, t0, t1)]
        for row, t0, t1 in received_zero:
            self.received_zero.setdefault(row // layout.rows_per_chunk, []).append((row, t0, t1))
        self.budget = int(budget_bytes)
        self.held: OrderedDict[int, _Work] = OrderedDict()
        self.parked: set[int] = set()
        self.touched: set[int] = set()
        self.unparked = 0
        self.notes: list[str] = []
        self._orig = self._open_original() if original is not None else None
        self._out: dict[str, zarr.Array] = {}
        self._lock = threading.Lock()
        #: the provenance id of the first file of this ingest: every id already in the cube must be below it
        self.first_new = 1

    # -- the original chunks -------------------------------------------------------------------------------
    def _open_original(self) -> dict:
        with quiet_zarr():
            arrays = {v: zarr.open_array(self.original / v, mode="r") for v in CUBE_VARS}
            if (self.original / REACTIVE_VAR / "zarr.json").exists():
                arrays[REACTIVE_VAR] = zarr.open_array(self.original / REACTIVE_VAR, mode="r")
                arrays[HAS_REACTIVE] = np.asarray(zarr.open_array(self.original / HAS_REACTIVE, mode="r")[:], bool)
            shape = (self.layout.n_rows, self.layout.n_time)
            chunks = (self.layout.rows_per_chunk, self.layout.n_time)
            for v in (*SOURCE_VARS, REACTIVE_SOURCE):
                p = self.original / INGEST_DIR / v
                if not (p / "zarr.json").exists():
                    continue
                a = zarr.open_array(p, mode="r")
                if a.shape == shape and tuple(a.chunks) == chunks and a.dtype == np.uint32:
                    arrays[v] = a
                elif v == REACTIVE_SOURCE:
                    continue  # rebuilt empty below (create_provenance)
                else:
                    self.notes.append(
                        f"{p}: provenance store does not match the cube (shape {a.shape}, chunks {a.chunks}); "
                        "previous sources of values are unknown and it is rebuilt"
                    )
        return arrays

    def original_arrays(self) -> dict:
        """The live cube's arrays this ingest reads (empty for a new cube)."""
        return self._orig or {}

    def provenance_valid(self) -> bool:
        return self._orig is not None and all(v in self._orig for v in SOURCE_VARS)

    def max_source_id(self) -> int:
        """The highest provenance source id stored in the cube (read chunk by chunk; for cubes without a
        version record)."""
        top = 0
        with quiet_zarr():
            for v in (*SOURCE_VARS, REACTIVE_SOURCE):
                if v not in self._orig:
                    continue
                for k in range(self.layout.n_chunks):
                    a, b = self.layout.rows(k)
                    top = max(top, int(np.asarray(self._orig[v][a:b, :]).max(initial=0)) >> 2)
        return top

    def load_original(self, k: int) -> _Work:
        a, b = self.layout.rows(k)
        n, t = b - a, self.layout.n_time
        if self._orig is None:
            val = np.full((N_CHANNELS, n, t), np.nan, dtype=np.float32)
            for row, t0, t1 in self.received_zero.get(k, ()):
                val[1, row - a, t0:t1] = 0.0
            return _Work(val, np.zeros((N_CHANNELS, n, t), np.uint32), np.full((n, t), QUALITY_MISSING, np.uint8))
        val = np.full((N_CHANNELS, n, t), np.nan, dtype=np.float32)
        prov = np.zeros((N_CHANNELS, n, t), dtype=np.uint32)
        with quiet_zarr():
            val[0] = self._orig["delivered_kwh"][a:b, :]
            val[1] = self._orig["received_kwh"][a:b, :]
            if REACTIVE_VAR in self._orig and self._orig[HAS_REACTIVE][a:b].any():  # else: no chunk, all NaN
                val[2] = self._orig[REACTIVE_VAR][a:b, :]
            quality = np.asarray(self._orig["quality"][a:b, :], dtype=np.uint8)
            for c, v in enumerate((*SOURCE_VARS, REACTIVE_SOURCE)):
                if v in self._orig:
                    prov[c] = self._orig[v][a:b, :]
        top = int(prov.max(initial=0)) >> 2
        if top >= self.first_new:  # the kernels would take these cells for reads of this ingest
            raise WorkbenchError(
                f"{self.original}: the cube's provenance names source {top}, but this ingest numbers its files from "
                f"{self.first_new}: the cube's version record and ingest log disagree with its data; nothing was "
                "changed (restore the cube's .ingest folder beside it, or report this cube)")
        return _Work(val, prov, quality)

    # -- working chunks ---------------------------------------------------------------------------------------
    def acquire(self, k: int) -> _Work:
        """The working arrays of meter chunk ``k`` (loaded, or brought back from scratch)."""
        work = self.held.get(k)
        if work is not None:
            self.held.move_to_end(k)
            return work
        work = self._unpark(k) if k in self.parked else self.load_original(k)
        self.touched.add(k)
        self.held[k] = work
        self._evict(keep=k)
        return work

    def _scratch_path(self, k: int, name: str) -> Path:
        return self.scratch / f"chunk{k}-{name}.npy"

    def _unpark(self, k: int) -> _Work:
        self.unparked += 1
        work = _Work(*(np.load(self._scratch_path(k, name)) for name in _Work.__slots__))
        for name in _Work.__slots__:
            self._scratch_path(k, name).unlink(missing_ok=True)
        self.parked.discard(k)
        return work

    def _evict(self, keep: int) -> None:
        while len(self.held) > 1 and sum(w.nbytes for w in self.held.values()) > self.budget:
            k, work = next(iter(self.held.items()))
            if k == keep:
                self.held.move_to_end(k)
                continue
            del self.held[k]
            self.scratch.mkdir(parents=True, exist_ok=True)
            for name in _Work.__slots__:
                np.save(self._scratch_path(k, name), getattr(work, name))
            self.parked.add(k)

    def _take(self, k: int) -> _Work:
        """Remove chunk ``k``'s working arrays from the store (settling); thread-safe."""
        with self._lock:
            work = self.held.pop(k, None)
            if work is None and k in self.parked:
                work = self._unpark(k)
        return work

    # -- settle and stage ------------------------------------------------------------------------------------
    def open_outputs(self) -> None:
        """Open the staged cube's interval arrays and provenance arrays for writing."""
        # every chunk written must become a file, even one equal to the fill value: a chunk zarr skipped would
        # otherwise be hard-linked from the live cube afterwards, with the old values
        paths = [(v, self.staging / v) for v in CUBE_VARS] + [
            (v, self.staging / INGEST_DIR / v) for v in (*SOURCE_VARS, REACTIVE_SOURCE)]
        with quiet_zarr():
            for v, path in paths:
                self._out[v] = zarr.open_array(path, mode="r+").with_config({"write_empty_chunks": True})
            # written only for a meter chunk with a kVARh read (below): a chunk without is never written, and never
            # linked from the live cube either (the ingest does not remove reads, so the live cube has none there)
            self._out[REACTIVE_VAR] = zarr.open_array(self.staging / REACTIVE_VAR, mode="r+")
        #: meters with a kVARh read, found while settling (those of the live cube are added in write_has_reactive)
        self.reactive_rows = np.zeros(self.layout.n_rows, bool)

    def settle(self, k: int, first_new: int, n_new: int, *, write_all: bool):
        """Settle meter chunk ``k`` (see :func:`finalize_chunk`); stage it if it changed (or ``write_all``).

        Safe to call for different chunks from several threads. Returns (counts[n_new, 3]
        new/updated/unchanged per new file, conflict keys, update records or None, changed). Conflict keys are
        (channel * n_rows + row) * n_time + t; update records are (channel, row, t, previous value, new value,
        previous provenance, new provenance, previous quality).
        """
        a, b = self.layout.rows(k)
        counts = np.zeros((max(n_new, 1), 3), np.int64)
        work = self._take(k) if k in self.touched else None
        conflicts, updates, changed = np.zeros(0, np.int64), None, False
        if work is not None:
            fresh = self._orig is None
            orig = work if fresh else self.load_original(k)  # a fresh chunk's original is not read
            cls = np.empty(work.val.shape, np.uint8)
            quality = np.empty_like(work.quality)
            _check_settle_inputs(k, work, orig, first_new, n_new, (b - a, self.layout.n_time), fresh)
            changed, n_updated, n_conflicted = finalize_chunk(
                work.val, work.prov, work.quality, orig.val, orig.prov, fresh, first_new, cls, quality, counts)
            n_rows, n_time = self.layout.n_rows, self.layout.n_time
            if n_conflicted:
                c, r, t = np.nonzero(cls == CONFLICTED)
                conflicts = (c.astype(np.int64) * n_rows + (r + a)) * n_time + t
            if n_updated:
                c, r, t = np.nonzero(cls == UPDATED)
                updates = (c, r + a, t, orig.val[c, r, t], work.val[c, r, t], orig.prov[c, r, t],
                           work.prov[c, r, t], orig.quality[r, t])
            work = _Work(work.val, work.prov, quality)
        elif write_all:
            work = self.load_original(k)
        if changed or write_all:
            has = ~np.isnan(work.val[2]).all(axis=1)
            self.reactive_rows[a:b] |= has
            with quiet_zarr():
                self._out["delivered_kwh"][a:b, :] = work.val[0]
                self._out["received_kwh"][a:b, :] = work.val[1]
                self._out["quality"][a:b, :] = work.quality
                if has.any():
                    self._out[REACTIVE_VAR][a:b, :] = work.val[2]
                if changed:
                    self._out["delivered_source"][a:b, :] = work.prov[0]
                    self._out["received_source"][a:b, :] = work.prov[1]
                    if has.any():
                        self._out[REACTIVE_SOURCE][a:b, :] = work.prov[2]
        return counts[:n_new], conflicts, updates, changed

    def write_has_reactive(self) -> None:
        """Write ``has_reactive`` into the staged cube: the live cube's flags or'ed with the meters that got kVARh
        reads in this ingest (a new file; call after every chunk is settled)."""
        old = self._orig.get(HAS_REACTIVE) if self._orig is not None else None
        flags = self.reactive_rows | (old if old is not None else False)
        if old is not None and np.array_equal(flags, old):
            return  # unchanged: the live cube's chunk is linked in
        with quiet_zarr():
            zarr.open_array(self.staging / HAS_REACTIVE, mode="r+").with_config({"write_empty_chunks": True})[:] = flags

    def parking_note(self) -> str | None:
        """A hint when chunks went back and forth to scratch files many times (input not grouped by meter)."""
        if self.unparked > 2 * max(len(self.touched), 1):
            return (f"meter chunks were parked and reloaded {self.unparked:,} times (memory budget "
                    f"{self.budget / 2**20:,.0f} MiB): the input is not grouped by meter; sorting it by meter, or a "
                    "larger memory budget, makes the ingest faster")
        return None

    def close(self) -> None:
        self.held.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _check_settle_inputs(k, work: _Work, orig: _Work, first_new: int, n_new: int, shape, fresh: bool) -> None:
    """What :func:`finalize_chunk` indexes without bounds checks, checked here: a compiled kernel given a
    wrong size or a source id outside this ingest's files would read or write past its arrays."""
    want = (N_CHANNELS, *shape)
    if work.val.shape != want or work.prov.shape != want or work.quality.shape != shape or (
            not fresh and (orig.val.shape != want or orig.prov.shape != want or orig.quality.shape != shape)):
        raise WorkbenchError(f"meter chunk {k}: working arrays {work.val.shape} do not match the cube's chunk "
                             f"{want}; nothing was changed (report this cube)")
    top = int(work.prov.max(initial=0)) >> 2
    if n_new < 1 or top >= first_new + n_new:
        raise WorkbenchError(f"meter chunk {k}: provenance source {top} is outside this ingest's files "
                             f"{first_new}..{first_new + n_new - 1}; nothing was changed (report this cube)")


# ---------------------------------------------------------------------------------------------------------
# the staging copy


def fast_codec():
    """Blosc LZ4 with bit shuffle: ~10x faster to write than Zarr's default zstd, ~1.4x larger on disk."""
    return zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")


def create_provenance(staging: Path, layout: CubeLayout, *, reactive_only: bool = False) -> None:
    """Create the (empty) provenance arrays ``_ingest/{delivered,received,reactive}_source`` in the staged cube
    (only ``reactive_source`` with ``reactive_only``: a cube whose energy provenance is kept but that has none for
    the reactive channel yet)."""
    with quiet_zarr():
        group = zarr.open_group(staging / INGEST_DIR, mode="a")
        for v in (REACTIVE_SOURCE,) if reactive_only else (*SOURCE_VARS, REACTIVE_SOURCE):
            if v in group:
                del group[v]
            group.create_array(
                v, shape=(layout.n_rows, layout.n_time), chunks=(layout.rows_per_chunk, layout.n_time),
                dtype="uint32", fill_value=0, dimension_names=("meter", "time"), compressors=(fast_codec(),),
                attributes={"description": "ingest provenance: source_id << 2 | conflicted << 1 | estimated; "
                            "source_id = the file's source_id in the ingest log, 0 = no ingest record"},
            )
        zarr.consolidate_metadata(staging / INGEST_DIR)


def link_metadata(original: Path, staging: Path, *, skip_provenance: bool) -> None:
    """Hard-link the live cube's metadata files (zarr.json) into the staging copy."""
    _link_tree(original, staging, lambda rel: rel.name == "zarr.json", skip_provenance)


def link_unchanged(original: Path, staging: Path, *, skip_provenance: bool) -> None:
    """Hard-link every file of the live cube the staging copy does not have yet (chunks not rewritten...)."""
    _link_tree(original, staging, lambda rel: True, skip_provenance)


def _link_tree(original: Path, staging: Path, wanted, skip_provenance: bool) -> None:
    for root, _dirs, files in os.walk(original):
        for name in files:
            src = Path(root) / name
            rel = src.relative_to(original)
            if skip_provenance and rel.parts[0] == INGEST_DIR and (
                len(rel.parts) == 2 and name == "zarr.json"
                or len(rel.parts) > 2 and rel.parts[1] in (*SOURCE_VARS, REACTIVE_SOURCE)
            ):
                continue
            if not wanted(rel):
                continue
            dst = staging / rel
            if dst.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:  # a file system without hard links
                shutil.copy2(src, dst)
