"""The ``--report DIR`` folder of ``workbench ingest`` (and ``workbench vee``, which writes into the same one).

The folder is checked and marked (:func:`workbench.outputs.ensure_output_dir`, kind :data:`REPORT_KIND`) before
the cube changes. Its files are written atomically. If writing them fails after the cube was committed, the error
says so, and running the same command again writes the report: the files are then all "already ingested", and
:func:`write_logged_report` writes the report of the ingest(s) that loaded them from the ingest log and the
rejects / audit files kept beside the cube.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.ami.ingest_records import records_dir
from workbench.errors import WorkbenchError
from workbench.outputs import atomic_write_bytes, atomic_write_text, ensure_output_dir

REPORT_KIND = "ingest report"
_COUNTS = ("reads_in", "accepted", "rejected", "duplicates", "new", "updated", "unchanged")


def write_report_files(out: Path, doc: dict, copies: dict, *, committed_note: str = "") -> None:
    """``ingest_accounting.json`` and copies of the rejects / audit files (``{name: path or None}``)."""
    try:
        ensure_output_dir(out, REPORT_KIND, "--report")
        atomic_write_text(out / "ingest_accounting.json", json.dumps(doc, indent=2, default=str))
        for name, src in copies.items():
            if isinstance(src, pa.Table):
                sink = pa.BufferOutputStream()
                pq.write_table(src, sink)
                atomic_write_bytes(out / f"{name}.parquet", sink.getvalue().to_pybytes())
            elif src is not None:
                atomic_write_bytes(out / f"{name}.parquet", Path(src).read_bytes())
            else:  # an earlier report's file in this (our own, marked) folder would look like this run's
                (out / f"{name}.parquet").unlink(missing_ok=True)
    except (OSError, WorkbenchError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        done = (f"; {committed_note} went through (the cube and its ingest log are updated): run the same "
                "command again to write the report" if committed_note else "")
        raise WorkbenchError(f"--report {out}: cannot write the ingest report ({why}){done}") from None


def write_logged_report(out: Path, cube: Path, log: list, skipped: list[dict]) -> str:
    """The report of the earlier ingest(s) of files that are all already ingested; returns a note saying so."""
    by_sha = {}
    for e in log:
        if e.get("type", "file") == "file" and e.get("status") == "ingested":
            by_sha[e["sha256"]] = e  # the latest ingest of each content
    entries = [by_sha[s["sha256"]] for s in skipped if s["sha256"] in by_sha]
    files = {e["file"] for e in entries}
    ids = sorted({e["ingest_id"] for e in entries})
    records = records_dir(cube)
    rejects = _kept(records / "rejects", ids, "file", files)
    audit = _kept(records / "audit", ids, "new_source", files)
    by_reason = {}
    if rejects is not None:
        for item in rejects.column("category").value_counts().to_pylist():
            by_reason[item["values"]] = item["counts"]
    doc = {k: sum(int(e.get(k, 0)) for e in entries) for k in _COUNTS}
    doc.update(rejects_by_reason=by_reason, files=[{k: e.get(k) for k in ("file", "format", "status", "sha256",
                                                                         *_COUNTS)} for e in entries],
               ingest_ids=ids, cube=str(cube), regenerated=True,
               note="these files were already ingested: the accounting of the ingest(s) that loaded them, from the "
                    "ingest log")
    write_report_files(out, doc, {"ingest_rejects": rejects, "ingest_audit": audit})
    return (f"the files were already ingested: wrote the report of ingest(s) {', '.join(ids) or '(none logged)'} "
            f"to {out}")


def _kept(folder: Path, ids: list[str], column: str, files: set[str]) -> pa.Table | None:
    tables = []
    for ingest_id in ids:
        path = folder / f"{ingest_id}.parquet"
        if path.exists():
            t = pq.read_table(path)
            tables.append(t.filter(pc.is_in(t.column(column), value_set=pa.array(sorted(files), pa.string()))))
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables) if tables else None
