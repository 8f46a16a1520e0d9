"""Where a billing run keeps its finished meter chunks until the run is assembled (resumable runs).

A run's partial folder sits beside its output folder, ``.<out>.partial-<key>``, where ``key`` is a hash of
the run's inputs: the cube (its path, its root Zarr metadata and that file's modification time, which
changes whenever the cube is rewritten, since cubes are written atomically into a new directory), the
contents of every file of the tariff book (programs included), the cycles, the period and the chunking.
The same command on the same inputs finds the same folder and reuses the chunks already billed; any
change of input gives another folder (a fresh run).

Every billed chunk is three files in ``parts/``: ``<chunk>.bills.arrow``, ``<chunk>.line_items.arrow`` (Arrow
IPC files, LZ4-compressed: a quarter of the cost of writing Parquet, whose encoding of the string columns is paid
once, for the outputs; uncompressed parts were tried and cost less, but garbage inside one then reads back as
bills more often; LZ4 refuses some garbage, and a part read back is validated in full, which refuses most of the
rest: offsets out of range, invalid UTF-8) and ``<chunk>.json``, the done-marker with its counts. Each is written under a
temporary name and moved into place with :func:`os.replace`; the marker is written last, so a chunk is either
done (marker present, both tables complete) or not done at all, whatever kills the writer. A done chunk whose
files cannot be read (a damaged disk, a truncated copy, a marker emptied by a power cut) raises
:class:`UnreadableChunk`, and the run bills it again; so the files are not flushed to disk one by one (an
``fsync`` of every marker guarded nothing that check does not, the tables were never flushed, and cost up to
5 ms a chunk).

The folder carries the output marker of :mod:`workbench.outputs` (kind :data:`RESUME_KIND`) and is only ever
removed with it; a run holds its ``lock`` file (:func:`workbench.outputs.exclusive_lock`) while it runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa

from workbench.billing.cube_source import cube_fingerprint
from workbench.outputs import atomic_file, atomic_write_bytes, exclusive_lock, mark_output_dir
from workbench.outputs.guard import marker_kind, write_error

#: bump when the per-chunk output changes meaning, so old partial folders are not reused
PARTS_FORMAT = 2  # 2: Arrow IPC parts (1: Parquet)

#: the marker kind of a partial folder: only a folder carrying it is ever removed by a run
RESUME_KIND = "bill cycle resume chunks"


def _folder_fingerprint(folder: Path) -> dict:
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(folder)).encode())
        digest.update(file.read_bytes())
    return {"folder": str(Path(folder).resolve()), "contents": digest.hexdigest()}


def run_key(cube, tariffs_dir, *, cycles, period, chunk_meters: int, n_meters: int) -> tuple[str, dict]:
    """The hash naming a run's partial folder, and the inputs it was computed from."""
    inputs = {
        "format": PARTS_FORMAT,
        "cube": cube_fingerprint(cube),
        "tariffs": _folder_fingerprint(Path(tariffs_dir)),
        "cycles": sorted(cycles) if cycles is not None else "all",
        "period": period,
        "chunk_meters": int(chunk_meters),
        "meters": int(n_meters),
    }
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return key, inputs


class RunStore:
    """The partial folder of one run: finished chunks in ``parts/``, the run's inputs in ``inputs.json``."""

    def __init__(self, out, key: str):
        self.out = Path(out)
        self.key = key
        self.root = self.out.parent / f".{self.out.name}.partial-{key}"
        self.parts = self.root / "parts"

    def create(self, inputs: dict, *, fresh: bool = False) -> None:
        """Make (or reuse) the folder and lock it for this run; ``fresh`` drops the chunks kept in it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(self.out, exc) from None
        self._lock = ExitStack()
        self._lock.enter_context(exclusive_lock(self.root / "lock", f"the resume folder {self.root} of this bill run"))
        try:
            if marker_kind(self.root) != RESUME_KIND:
                mark_output_dir(self.root, RESUME_KIND)
            if fresh and self.parts.exists():
                shutil.rmtree(self.parts)
            self.parts.mkdir(exist_ok=True)
            _write_atomic(self.root / "inputs.json", json.dumps(inputs, indent=2).encode())
        except OSError as exc:
            self.release()
            raise write_error(self.out, exc) from None

    def release(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()  # releases the flock
            self._lock = None

    def marker(self, chunk_no: int) -> Path:
        return self.parts / f"{chunk_no:06d}.json"

    def table(self, chunk_no: int, name: str) -> Path:
        return self.parts / f"{chunk_no:06d}.{name}.arrow"

    def done_chunks(self) -> set[int]:
        """Chunks whose done-marker exists (their tables are complete: the marker is written last)."""
        if not self.parts.exists():
            return set()
        return {int(p.name.split(".")[0]) for p in self.parts.glob("*.json") if p.name.split(".")[0].isdigit()}

    def read_marker(self, chunk_no: int) -> dict:
        marker = json.loads(self.marker(chunk_no).read_text())
        if not isinstance(marker, dict) or not isinstance(marker.get("groups"), list) \
                or not isinstance(marker.get("held"), list):
            raise ValueError("not a done-marker of workbench (groups and held lists expected)")
        return marker

    def read_chunk(self, chunk_no: int, *, check_only: bool = False) -> tuple[dict, dict]:
        """A kept chunk's done-marker and tables (``check_only``: their Parquet footers, a cheap check).

        Raises :class:`UnreadableChunk` naming the file that cannot be read.
        """
        path = self.marker(chunk_no)
        try:
            marker = self.read_marker(chunk_no)
            tables = {}
            for name in ("bills", "line_items"):
                path = self.table(chunk_no, name)
                tables[name] = _read_part(path, footer_only=check_only)
        except (OSError, ValueError, TypeError, KeyError, pa.ArrowException) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UnreadableChunk(chunk_no, path, reason) from None
        return marker, tables

    def check_chunk(self, chunk_no: int) -> None:
        """Raise :class:`UnreadableChunk` if a kept chunk's marker or a Parquet footer is damaged."""
        self.read_chunk(chunk_no, check_only=True)

    def drop_chunk(self, chunk_no: int) -> None:
        """Forget a kept chunk (its marker first, so it is not done whatever happens next)."""
        try:
            for path in (self.marker(chunk_no), self.table(chunk_no, "bills"), self.table(chunk_no, "line_items")):
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise write_error(self.parts, exc, option=None) from None

    def remove(self) -> None:
        """Remove the partial folder once the run is assembled (only if it carries this run store's marker)."""
        self.release()
        if marker_kind(self.root) == RESUME_KIND:
            shutil.rmtree(self.root, ignore_errors=True)


class UnreadableChunk(Exception):
    """A kept chunk whose files cannot be read (truncated Parquet, a damaged done-marker): bill it again."""

    def __init__(self, chunk_no: int, path: Path, reason: str):
        super().__init__(f"meter chunk {chunk_no} kept in {path.parent} cannot be read ({path.name}: {reason})")
        self.chunk_no, self.path, self.reason = chunk_no, path, reason


def write_chunk(parts: Path, chunk_no: int, tables: dict[str, pa.Table], marker: dict) -> None:
    """Write one chunk's tables, then its done-marker, each atomically (temporary name + os.replace)."""
    parts = Path(parts)
    try:
        for name, table in tables.items():
            with atomic_file(parts / f"{chunk_no:06d}.{name}.arrow") as tmp, pa.OSFile(str(tmp), "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema, options=_PART_OPTIONS) as writer:
                writer.write_table(table)
        with atomic_file(parts / f"{chunk_no:06d}.json") as tmp:  # not flushed to disk: see the module's note
            tmp.write_bytes(json.dumps(marker, indent=1).encode())
    except OSError as exc:
        raise write_error(parts, exc, option=None) from None


_write_atomic = atomic_write_bytes

_PART_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def _read_part(path: Path, *, footer_only: bool = False):
    """A part's table (``footer_only``: its schema and batch count, a cheap check that the file is whole)."""
    with pa.OSFile(str(path)) as source:
        reader = pa.ipc.open_file(source)
        if footer_only:
            return reader.num_record_batches
        table = reader.read_all()
    # garbage inside a part often decodes (LZ4 refused only ~40% of 64-byte overwrites in a month chunk's part):
    # string offsets out of range, invalid UTF-8... are refused here, so the chunk is billed again
    table.validate(full=True)
    return table
