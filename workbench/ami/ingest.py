"""``workbench ingest``: load interval files into the interval cube, idempotently, atomically, losing nothing.

See ``docs/ingest.md``. :func:`ingest` streams each file through its reader (bounded memory), maps every read
to a cube cell through the meter registry (multipliers applied once, install windows enforced), rejects what
cannot be placed with the reason, file and row, and updates (or creates) the cube in a staging copy that
replaces it in one rename. Every read ends up accepted, rejected or counted as an identical duplicate:
``reads_in == accepted + rejected + duplicates`` is checked for every file.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.ami import ingest_create as C
from workbench.ami import ingest_passes as P
from workbench.ami import ingest_report as R
from workbench.ami.cube import open_cube
from workbench.ami.cube_reactive import add_reactive_arrays
from workbench.ami.cube_store import atomic_directory
from workbench.ami.cube_writer import cube_writer, read_version, write_version
from workbench.ami.ingest_map import ReadMapper
from workbench.ami.ingest_records import (
    LOG_NAME,
    AuditWriter,
    RejectWriter,
    read_log,
    records_dir,
    write_log,
)
from workbench.ami.ingest_store import (
    REACTIVE_SOURCE,
    ChunkStore,
    CubeLayout,
    create_provenance,
    link_metadata,
    link_unchanged,
)
from workbench.ami.registry import MeterRegistry, load_registry, registry_from_cube
from workbench.errors import IntervalDataError
from workbench.outputs import ensure_output_dir
from workbench.outputs.checksums import file_sha256

#: the marker kind of a ``--report`` folder (ingest and VEE write into the same one)
REPORT_KIND = R.REPORT_KIND

DEFAULT_BUDGET = 2 << 30


@dataclass
class IngestResult:
    """What an ingest did. ``accounting`` is the dict the report shows (see ``docs/ingest.md``)."""

    ingest_id: str
    cube: Path
    created: bool
    accounting: dict
    rejects_path: Path | None = None
    audit_path: Path | None = None
    log_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (hash, read_map, settle_write...)

    @property
    def changed(self) -> bool:
        a = self.accounting
        return a["new"] + a["updated"] > 0 or self.created

    def summary_text(self) -> str:
        a = self.accounting
        lines = []
        for f in a["files"]:
            if f["status"] != "ingested":
                lines.append(f"{f['file']}: {f['status']}, 0 changes")
                continue
            lines.append(f"{f['file']} ({f['format']}): {_acct(f)}; {f['new']:,} new, {f['updated']:,} updated, "
                         f"{f['unchanged']:,} unchanged")
        lines.append(f"total: {_acct(a)}; {a['new']:,} new, {a['updated']:,} updated, {a['unchanged']:,} unchanged"
                     f"{' (cube created)' if self.created else ''}")
        if a["rejects_by_reason"]:
            lines.append("rejected by reason:")
            for reason, n in sorted(a["rejects_by_reason"].items(), key=lambda kv: -kv[1]):
                lines.append(f"  {n:>12,}  {reason}")
        for label, path in (("rejects", self.rejects_path), ("audit trail", self.audit_path),
                            ("ingest log", self.log_path)):
            if path is not None:
                lines.append(f"{label}: {path}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _acct(a: dict) -> str:
    return (f"{a['reads_in']:,} reads in = {a['accepted']:,} accepted + {a['rejected']:,} rejected + "
            f"{a['duplicates']:,} duplicates")


def ingest(files, cube, registry=None, *, create_period=None, timezone: str | None = None,
           multiplier_applied: bool | None = None, step_minutes: int | None = None, read_dates=None,
           reader_options: dict | None = None, force: bool = False, meter_chunk: int = 1000,
           memory_budget: int = DEFAULT_BUDGET, batch_rows: int = 1 << 20, utility: str | None = None,
           report_dir=None, progress: bool = False) -> IngestResult:
    """Ingest interval ``files`` into the cube at ``cube`` (created if missing); return an :class:`IngestResult`.

    Parameters
    ----------
    files : interval files (any format of ``workbench.ami.readers``; sniffed).
    cube : the cube's Zarr directory (a symbolic link is followed). The ingest holds the cube's writer lock
        (:mod:`workbench.ami.cube_writer`): another ingest or VEE on the cube is refused meanwhile.
    registry : a :class:`MeterRegistry`, a registry file (CSV/YAML), or None for an existing cube (then one
        meter per row, see :func:`registry_from_cube`). Required to create a cube.
    create_period : calendar months of a new cube, ``"2025-01:2025-12"``; default: the months the data cover.
    timezone : IANA zone of times written without a UTC offset in the files and of a new cube; default the
        cube's (the registry's for a new cube).
    multiplier_applied : True/False for every meter of these files (the source does / does not already
        include CT × PT); None: each meter's registry flag.
    step_minutes : interval length of a new cube [min]; default: the data's most common interval length.
    read_dates : bill-cycle read dates of a new cube, ``{cycle: [dates]}`` or a CSV (cycle, read_date);
        default the 1st of every month.
    reader_options : extra options for the readers (see docs/readers.md).
    force : ingest files even if their sha256 is already in the cube's ingest log.
    meter_chunk : meters per Zarr chunk of a new cube.
    memory_budget : bytes of meter chunks held in memory before parking some in scratch files.
    report_dir : also write ``ingest_accounting.json`` and copies of the rejects and audit files there; the
        folder is checked before the cube changes (:mod:`workbench.ami.ingest_report`).
    progress : draw a progress bar on stderr (a step per file, with the reads read so far).
    """
    files = [Path(f) for f in files]
    if not files:
        raise IntervalDataError("no interval files to ingest")
    for f in files:
        if not f.is_file():
            raise IntervalDataError(f"{f}: file not found (nothing was ingested)")
    if report_dir is not None:  # before the cube changes: a report that cannot be written stops nothing half-way
        ensure_output_dir(report_dir, REPORT_KIND, "--report")
    with cube_writer(cube) as real:  # symlinks resolved: the records and the lock are the real cube's
        return _ingest_locked(files, real, registry, locals())


def _ingest_locked(files, cube, registry, opts) -> IngestResult:
    exists = cube.exists()
    ds = open_cube(cube) if exists else None
    if isinstance(registry, str | os.PathLike):
        registry = load_registry(registry)
    if registry is None:
        if ds is None:
            raise IntervalDataError(
                f"{cube}: the cube does not exist yet and no meter registry was given: pass --registry meters.csv "
                "(meter_id, service_point, account, customer_class, rate_code, ...; see docs/registry.md)")
        registry = registry_from_cube(ds)
    if not isinstance(registry, MeterRegistry):
        raise TypeError(f"registry must be a MeterRegistry or a file, got {type(registry).__name__}")
    if opts["multiplier_applied"] is not None:
        registry = registry.with_multiplier_applied(bool(opts["multiplier_applied"]))
    tz = _timezone(ds, registry, opts["timezone"])  # the cube's (utility's) time zone
    ingest_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    ingested_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    log = read_log(cube) if exists else []
    reader_opts = {"default_timezone": tz, "batch_rows": int(opts["batch_rows"])}
    if opts["timezone"]:
        reader_opts["timezone"] = opts["timezone"]
    units = {m.unit for m in registry}
    if len(units) == 1:
        reader_opts["unit"] = units.pop()
    reader_opts.update(opts["reader_options"] or {})

    clock = _Clock()
    jobs, skipped = _select_files(files, log, force=opts["force"])
    clock.lap("hash")
    result_files = {str(f): s for f, s in skipped}
    if not jobs:
        acct = _accounting([], result_files, files)
        result = IngestResult(ingest_id, cube, False, acct, log_path=records_dir(cube) / LOG_NAME)
        if opts["report_dir"] is not None:  # e.g. the report of an earlier run could not be written: write it now
            result.notes.append(R.write_logged_report(Path(opts["report_dir"]), cube, log, [s for _, s in skipped]))
        return result

    notes = []
    if ds is not None:
        for opt, flag in (("create_period", "--period"), ("step_minutes", "step_minutes"),
                          ("read_dates", "--read-dates")):
            if opts[opt] is not None:
                notes.append(f"{flag} ignored: it applies when the cube is created, and {cube} exists")
        layout = CubeLayout(ds["meter"].values.astype(str), ds["time"].values, int(ds.attrs["step_minutes"]),
                            int(ds["delivered_kwh"].encoding.get("chunks", (1000,))[0]))
        received_zero = ()
    else:
        layout, coords, received_zero, cycle_ids, read_date = _new_layout(jobs, registry, tz, reader_opts, opts)
    row_of = {sp: i for i, sp in enumerate(layout.meters)}
    mapper = ReadMapper(registry, layout, row_of, timezone=tz, cube_name=str(cube))
    scratch = cube.parent / f".{cube.name}.scratch-{ingest_id}"
    store = ChunkStore(layout, None, scratch, original=cube if exists else None, received_zero=received_zero,
                       budget_bytes=opts["memory_budget"])
    version = read_version(cube) if exists else {}
    next_id = _next_source_id(cube, log, version, store, notes)
    store.first_new = next_id
    sources = {int(e["source_id"]): e["file"] for e in log if "source_id" in e}
    sources.update({next_id + j: str(job[0]) for j, job in enumerate(jobs)})

    records = records_dir(cube)
    rejects = RejectWriter(records / "rejects" / f"{ingest_id}.parquet")
    audit = AuditWriter(records / "audit" / f"{ingest_id}.parquet", ingest_id, ingested_at, sources)
    try:
        with atomic_directory(cube) as staging:
            store.staging = staging
            keep_provenance = exists and store.provenance_valid()
            if exists:
                link_metadata(cube, staging, skip_provenance=not keep_provenance)
                # a cube from before the reactive channel gets it (empty: no chunk written until a kVARh read)
                add_reactive_arrays(staging, layout.n_rows, layout.n_time, layout.rows_per_chunk)
            else:
                C.write_template(staging, layout, coords, cycle_ids, read_date, _attrs(opts, tz, layout))
            if not keep_provenance:
                create_provenance(staging, layout)
            elif REACTIVE_SOURCE not in store.original_arrays():
                create_provenance(staging, layout, reactive_only=True)
            store.open_outputs()
            clock.lap("prepare")
            per_file = P.pass_one(jobs, mapper, store, rejects, reader_opts, next_id, progress=opts["progress"])
            clock.lap("read_map")
            conflicts, changed = P.settle(store, layout, per_file, audit, next_id, write_all=not exists)
            store.write_has_reactive()
            clock.lap("settle_write")
            if len(conflicts):
                P.pass_two(jobs, mapper, layout, conflicts, rejects, per_file, reader_opts)
                clock.lap("conflicts")
            entries = P.finish_files(per_file, jobs, next_id, ingest_id, ingested_at)
            if exists and not changed:
                raise _NothingChanged  # leave the cube exactly as it is (same files, not even re-linked)
            if exists:
                link_unchanged(cube, staging, skip_provenance=not keep_provenance)
            # the version and the provenance ids in use change in the same rename as the values
            write_version(staging, version, "ingest", ingest_id, next_source_id=next_id + len(jobs))
    except _NothingChanged:
        pass
    except BaseException:
        rejects.discard()
        audit.discard()
        raise
    finally:
        store.close()
    if store.parking_note():
        notes.append(store.parking_note())
    rejects_path, audit_path = rejects.close(), audit.close()
    # the log is replaced after the cube: if the process died in between, running the ingest again finds every
    # value of the file already in the cube ("unchanged") and logs it then
    write_log(records / LOG_NAME, log + [dict(e, type="file") for e in entries])
    clock.lap("finish")
    result_files.update({e["file"]: e for e in entries})
    result = IngestResult(ingest_id, cube, not exists, _accounting(entries, result_files, files, rejects),
                          rejects_path=rejects_path, audit_path=audit_path, log_path=records / LOG_NAME,
                          notes=notes + store.notes, timings=clock.laps)
    if opts["report_dir"] is not None:
        _write_report(result, Path(opts["report_dir"]), committed=True)
    return result


class _NothingChanged(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------
# steps


def _timezone(ds, registry: MeterRegistry, given: str | None) -> str:
    if ds is not None:
        return str(ds.attrs["timezone"])
    if given:
        return given
    zones = registry.timezones()
    if len(zones) == 1:
        return zones.pop()
    if not zones:
        raise IntervalDataError(f"{registry.source}: no timezone column: pass --timezone America/New_York "
                                "(the utility's time zone) to create the cube")
    raise IntervalDataError(f"{registry.source}: meters in several time zones {sorted(zones)}: pass --timezone "
                            "for the cube (the utility's time zone)")



def _select_files(files, log, *, force: bool):
    """(jobs to ingest [(path, sha256, size)], skipped [(path, file entry)])."""
    done = {e["sha256"]: e for e in log if e.get("type", "file") == "file" and e.get("status") == "ingested"}
    jobs, skipped, seen = [], [], {}
    for f in files:
        sha = file_sha256(f)
        if sha in seen:
            status = f"same content as {seen[sha]} in this ingest"
        elif sha in done and not force:
            prev = done[sha]
            status = f"already ingested (ingest {prev['ingest_id']} at {prev['ingested_at']})"
        else:
            seen[sha] = f
            jobs.append((f, sha, f.stat().st_size))
            continue
        skipped.append((f, {"file": str(f), "format": "", "sha256": sha, "status": status, "reads_in": 0,
                            "accepted": 0, "rejected": 0, "duplicates": 0, "new": 0, "updated": 0,
                            "unchanged": 0}))
    return jobs, skipped


def _new_layout(jobs, registry, tz, reader_opts, opts):
    step = opts["step_minutes"]
    period = opts["create_period"]
    if period is None or step is None:
        lo, hi, seconds = P.data_extent(jobs, registry, reader_opts, need_extent=period is None)
        step = step or P.step_minutes_of(seconds)
    first, last = C.parse_period(period) if period is not None else C.months_of(lo, hi, tz)
    axis = C.months_axis(first, last, tz, int(step))
    points, coords, zero = C.cube_rows(registry, tz, axis, int(step))
    if not points:
        raise IntervalDataError(f"{registry.source}: no meter is installed during the period "
                                f"{first[0]}-{first[1]:02d} to {last[0]}-{last[1]:02d}; check install_date and "
                                "removal_date, or --period")
    layout = CubeLayout(np.array(points), axis, int(step), min(int(opts["meter_chunk"]), len(points)))
    cycle_ids, read_date = C.read_dates_table(sorted(set(coords["cycle"])), first, last, opts["read_dates"])
    return layout, coords, zero, cycle_ids, read_date


def _attrs(opts, tz, layout) -> dict:
    return {"timezone": tz, "step_minutes": layout.step_minutes, "utility": opts["utility"] or "",
            "synthetic": False, "generator": "workbench ingest (workbench.ami.ingest)"}


def _accounting(entries, result_files: dict, files, rejects: RejectWriter | None = None) -> dict:
    keys = ("reads_in", "accepted", "rejected", "duplicates", "new", "updated", "unchanged")
    acct = {k: sum(int(e[k]) for e in entries) for k in keys}
    acct["rejects_by_reason"] = dict(rejects.by_reason) if rejects else {}
    file_keys = ("file", "format", "status", "sha256", *keys)
    acct["files"] = [{k: result_files[str(f)][k] for k in file_keys} for f in dict.fromkeys(files)]
    acct["rejects_sample"] = list(rejects.sample) if rejects else []
    assert acct["reads_in"] == acct["accepted"] + acct["rejected"] + acct["duplicates"], acct
    assert acct["rejected"] == sum(acct["rejects_by_reason"].values()), acct
    return acct


def _write_report(result: IngestResult, out: Path, *, committed: bool) -> None:
    doc = dict(result.accounting, ingest_id=result.ingest_id, cube=str(result.cube), created=result.created,
               rejects_path=str(result.rejects_path or ""), audit_path=str(result.audit_path or ""))
    R.write_report_files(out, doc, {"ingest_rejects": result.rejects_path, "ingest_audit": result.audit_path},
                         committed_note=f"ingest {result.ingest_id}" if committed else "")


def _next_source_id(cube: Path, log: list, version: dict, store: ChunkStore, notes: list) -> int:
    """The first provenance id free for this ingest's files: above every id the log, the cube's version record
    or (for a cube without a record) its provenance arrays use. A cube copied without its ``.ingest`` folder,
    or an ingest killed between committing the cube and writing the log, must not reuse an id: the kernels
    would take the cube's own values for reads of this ingest."""
    from_log = max((int(e.get("source_id", 0)) for e in log), default=0) + 1
    recorded = int(version.get("next_source_id", 0) or 0)
    if recorded == 0 and store.provenance_valid():
        recorded = store.max_source_id() + 1  # a cube from before version records: read the ids it holds
    if not log and recorded > 1:
        notes.append(f"{records_dir(cube) / LOG_NAME}: the ingest log is missing (the cube was copied or moved "
                     "without its .ingest folder): files ingested before are not recognised, their values count as "
                     "unchanged, and earlier sources show as (source N) in the audit trail")
    return max(from_log, recorded, 1)


class _Clock:
    def __init__(self):
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._t
        self._t = now
