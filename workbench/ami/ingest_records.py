"""The ingest's records in the folder beside the cube (``data/cube.zarr`` -> ``data/cube.ingest/``).

- ``log.jsonl``: one JSON line per file ingested (ingest id, source id, path, sha256, size, format, counts),
  replaced atomically after the cube is;
- ``rejects/<ingest_id>.parquet``: every rejected read (file, row, meter, timestamp, channel, kWh, reason);
- ``audit/<ingest_id>.parquet``: every replaced value (meter, time, channel, previous/new kWh, estimated
  flags and sources, ingest id, timestamp).

The rejects and audit files of an ingest that fails are removed; the log lists only ingests that reached the
cube. While an ingest runs they are ``.<ingest_id>.parquet.partial`` and get their name after the cube is
committed; the partial files a killed ingest left are settled by the next writer of the cube
(:func:`settle_partial_records`). See ``docs/ingest.md``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.outputs import atomic_write_text

LOG_NAME = "log.jsonl"
SAMPLE_SIZE = 1000

REJECT_SCHEMA = pa.schema([
    ("file", pa.string()),
    ("row", pa.int64()),
    ("meter", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("channel", pa.string()),
    ("kwh", pa.float64()),
    ("reason", pa.string()),
    ("category", pa.string()),
])

AUDIT_SCHEMA = pa.schema([
    ("meter", pa.string()),
    ("time", pa.timestamp("us", tz="UTC")),
    ("channel", pa.string()),
    ("previous_kwh", pa.float32()),  # kVARh on the reactive channel
    ("new_kwh", pa.float32()),
    ("previous_estimated", pa.bool_()),
    ("new_estimated", pa.bool_()),
    ("previous_source", pa.string()),
    ("new_source", pa.string()),
    ("ingest_id", pa.string()),
    ("ingested_at", pa.string()),
])


def records_dir(cube) -> Path:
    """The folder of a cube's ingest records: ``data/cube.zarr`` -> ``data/cube.ingest`` (beside the real cube
    when ``cube`` is a symbolic link)."""
    p = Path(os.path.realpath(cube))
    return p.with_name(p.name.removesuffix(".zarr") + ".ingest")


def read_log(cube) -> list[dict]:
    """The ingest log of the cube at ``cube`` (empty if it has none)."""
    path = records_dir(cube) / LOG_NAME
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def write_log(path: Path, entries: list[dict]) -> None:
    """Replace the log at ``path`` atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))


class _LazyParquet:
    """A Parquet file written batch by batch, created only when the first row comes."""

    schema: pa.Schema

    def __init__(self, path: Path):
        self.path = path
        self.partial = partial_path(path)
        self._writer = None
        self.total = 0

    def _write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.partial, self.schema)
        self._writer.write_table(table)
        self.total += table.num_rows

    def close(self) -> Path | None:
        """Finish the file and give it its name (call once the cube is committed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.replace(self.partial, self.path)
        return self.path if self.total else None

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.partial.unlink(missing_ok=True)


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def settle_partial_records(cube, committed_run: str) -> list[str]:
    """The rejects / audit files a killed ingest left: kept (renamed) if that ingest committed the cube (it is
    the cube's last writer), removed otherwise. Call under the cube's writer lock. Returns notes."""
    notes = []
    for sub in ("rejects", "audit"):
        folder = records_dir(cube) / sub
        if not folder.is_dir():
            continue
        for p in folder.glob(".*.parquet.partial"):
            ingest_id = p.name[1:-len(".parquet.partial")]
            if committed_run and ingest_id == committed_run:
                os.replace(p, folder / f"{ingest_id}.parquet")
                notes.append(f"{folder / (ingest_id + '.parquet')}: kept the {sub} file of ingest {ingest_id}, "
                             "stopped after it committed the cube")
            else:
                p.unlink(missing_ok=True)
                notes.append(f"{p}: removed the {sub} file of a stopped ingest that did not reach the cube")
    return notes


class RejectWriter(_LazyParquet):
    """Streams rejects to a Parquet file; keeps counts per file and category and the first 1,000 as a sample."""

    schema = REJECT_SCHEMA

    def __init__(self, path: Path):
        super().__init__(path)
        self.sample: list[dict] = []
        self.by_reason: Counter = Counter()
        self.by_file: Counter = Counter()

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = table.select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA)
        self._write(table)
        cats = table.column("category").value_counts()
        for item in cats.to_pylist():
            self.by_reason[item["values"]] += item["counts"]
        files = table.column("file").value_counts()
        for item in files.to_pylist():
            self.by_file[item["values"]] += item["counts"]
        room = SAMPLE_SIZE - len(self.sample)
        if room > 0:
            head = table.slice(0, room).select(["file", "row", "meter", "timestamp", "reason"]).to_pylist()
            for rec in head:
                ts = rec["timestamp"]
                rec["timestamp"] = ts.isoformat() if ts is not None else None
            self.sample.extend(head)


class AuditWriter(_LazyParquet):
    """Streams audit records (replaced values) to a Parquet file."""

    schema = AUDIT_SCHEMA

    def __init__(self, path: Path, ingest_id: str, ingested_at: str, sources: dict[int, str]):
        super().__init__(path)
        self.ingest_id = ingest_id
        self.ingested_at = ingested_at
        self.sources = sources

    def _source_names(self, prov: np.ndarray) -> pa.Array:
        ids = (prov >> 2).astype(np.int64)
        uniq, inv = np.unique(ids, return_inverse=True)
        names = [self.sources.get(int(u), "(before the ingest log)" if u == 0 else f"(source {u})") for u in uniq]
        return pa.DictionaryArray.from_arrays(pa.array(inv.astype(np.int32)), pa.array(names)).cast(pa.string())

    def add(self, meter: np.ndarray, time_us: np.ndarray, channel: np.ndarray, prev_val, new_val, prev_prov,
            new_prov, prev_est) -> None:
        n = len(meter)
        if n == 0:
            return
        table = pa.table({
            "meter": pa.array(meter, pa.string()),
            "time": pa.array(time_us.astype(np.int64)).view(pa.timestamp("us", tz="UTC")),
            "channel": pa.array(np.array(["delivered", "received", "reactive"])[channel]),
            "previous_kwh": pa.array(prev_val.astype(np.float32)),
            "new_kwh": pa.array(new_val.astype(np.float32)),
            "previous_estimated": pa.array(prev_est.astype(bool)),
            "new_estimated": pa.array((new_prov & 1).astype(bool)),
            "previous_source": self._source_names(prev_prov),
            "new_source": self._source_names(new_prov),
            "ingest_id": pa.repeat(pa.scalar(self.ingest_id), n),
            "ingested_at": pa.repeat(pa.scalar(self.ingested_at), n),
        }, schema=AUDIT_SCHEMA)
        self._write(table)


def reader_rejects_table(rejects: pa.Table) -> pa.Table:
    """A reader's rejects (workbench.ami.readers.REJECT_SCHEMA) in the ingest's reject schema."""
    n = rejects.num_rows
    return pa.table({
        "file": rejects.column("source"),
        "row": rejects.column("row"),
        "meter": rejects.column("meter"),
        "timestamp": pa.nulls(n, pa.timestamp("us", tz="UTC")),
        "channel": pa.nulls(n, pa.string()),
        "kwh": pa.nulls(n, pa.float64()),
        "reason": rejects.column("reason"),
        "category": rejects.column("reason"),
    })
