"""Where a billing run keeps its finished meter chunks until the run is assembled (resumable runs).

A run's partial folder sits beside its output folder, ``.<out>.partial-<key>``, where ``key`` is a hash of
the run's inputs: the cube (its path, its root Zarr metadata and that file's modification time, which
changes whenever the cube is rewritten, since cubes are written atomically into a new directory), the
contents of every file of the tariff book (programs included), the cycles, the period and the chunking.
The same command on the same inputs finds the same folder and reuses the chunks already billed; any
change of input gives another folder (a fresh run).

Every billed chunk is three files in ``parts/``: ``<chunk>.bills.parquet``, ``<chunk>.line_items.parquet``
and ``<chunk>.json``, the done-marker with its counts. Each is written under a temporary name and moved
into place with :func:`os.replace`; the marker is written last, so a chunk is either done (marker present,
both tables complete) or not done at all, whatever kills the writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.billing.cube_source import cube_fingerprint
from workbench.errors import BillingError

#: bump when the per-chunk output changes meaning, so old partial folders are not reused
PARTS_FORMAT = 1


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
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        if fresh and self.parts.exists():
            shutil.rmtree(self.parts)
        self.parts.mkdir(exist_ok=True)
        _write_atomic(self.root / "inputs.json", json.dumps(inputs, indent=2).encode())

    def _lock(self) -> None:
        """One run per partial folder at a time (the lock goes with the process, so a killed run frees it)."""
        import fcntl

        handle = open(self.root / "lock", "a+")  # noqa: SIM115 (held for the whole run)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise BillingError(
                f"another run of the same bill cycle (same cube, tariffs, cycles, period and output folder "
                f"{self.out}) is in progress (process {holder}): wait for it to finish, or stop it and run again "
                "to resume from its chunks"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def release(self) -> None:
        handle = getattr(self, "_lock_handle", None)
        if handle is not None:
            handle.close()  # closing the file releases the lock
            self._lock_handle = None

    def marker(self, chunk_no: int) -> Path:
        return self.parts / f"{chunk_no:06d}.json"

    def table(self, chunk_no: int, name: str) -> Path:
        return self.parts / f"{chunk_no:06d}.{name}.parquet"

    def done_chunks(self) -> set[int]:
        """Chunks whose done-marker exists (their tables are complete: the marker is written last)."""
        if not self.parts.exists():
            return set()
        return {int(p.name.split(".")[0]) for p in self.parts.glob("*.json") if p.name.split(".")[0].isdigit()}

    def read_marker(self, chunk_no: int) -> dict:
        return json.loads(self.marker(chunk_no).read_text())

    def remove(self) -> None:
        self.release()
        shutil.rmtree(self.root, ignore_errors=True)


def write_chunk(parts: Path, chunk_no: int, tables: dict[str, pa.Table], marker: dict) -> None:
    """Write one chunk's tables, then its done-marker, each atomically (temporary name + os.replace)."""
    parts = Path(parts)
    for name, table in tables.items():
        final = parts / f"{chunk_no:06d}.{name}.parquet"
        tmp = parts / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
    _write_atomic(parts / f"{chunk_no:06d}.json", json.dumps(marker, indent=1).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
