"""The passes of an ingest over its files (see :mod:`workbench.ami.ingest`).

- :func:`data_extent`: the period and interval length the data cover (for a new cube without ``--period``);
- :func:`pass_one`: stream every file into the working meter chunks (reads -> cells, rejects);
- :func:`settle`: settle and stage every touched chunk, with the audit of replaced values;
- :func:`pass_two`: only when two reads of one cell conflict: read again and reject every read of the cell;
- :func:`finish_files`: each file's accounting, checked (reads in = accepted + rejected + duplicates).
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from workbench.ami.ingest_map import ReadMapper, conflict_rejects, read_ahead
from workbench.ami.ingest_records import AuditWriter, RejectWriter, reader_rejects_table
from workbench.ami.ingest_store import ChunkStore, CubeLayout
from workbench.ami.readers import sniff_format, stream_file
from workbench.errors import IntervalDataError, WorkbenchError
from workbench.kernels.ingest import partition_rows, scatter_reads

#: meter chunks settled at a time (the kernel and the compressors release the GIL)
SETTLE_THREADS = 2

log = logging.getLogger(__name__)


def open_stream(path, reader_opts: dict):
    """The file's reader stream. ``default_timezone`` (the cube's) serves files whose times have no UTC offset,
    except Green Button CSV downloads, whose preamble may name their zone (the reader would let an explicit
    zone override it): they get only a ``timezone`` the user gave.
    """
    opts = dict(reader_opts)
    default = opts.pop("default_timezone", None)
    if "timezone" not in opts and default and sniff_format(path) != "greenbutton_csv":
        opts["timezone"] = default
    stream = stream_file(path, **opts)
    # a negative delivered read stays in the cube for VEE's NEGATIVE rule (flagged, estimated, the original kept
    # in the edits); non-finite and absurd values are rejected by the reader boundary (docs/ingest.md)
    stream.negative_delivered = "keep"
    return stream


def step_minutes_of(seconds: Counter) -> int:
    if not seconds:
        raise IntervalDataError("the files hold no reads of registry meters: cannot choose the cube's interval "
                                "length (pass --period and step_minutes)")
    sec = seconds.most_common(1)[0][0]
    if sec % 60 or not 0 < sec <= 86400:
        raise IntervalDataError(f"the most common interval length is {sec} s, not a whole number of minutes")
    return sec // 60


def data_extent(jobs, registry, reader_opts, *, need_extent: bool):
    """First and last interval start [µs UTC] and interval lengths of the reads of registry meters."""
    ids = pa.array(registry.meter_ids, pa.string())
    lo, hi, seconds = None, None, Counter()
    for path, _, _ in jobs:
        opts = dict(reader_opts) if need_extent else dict(reader_opts, batch_rows=10_000)
        for batch in read_ahead(open_stream(path, opts)):
            meter = batch.column("meter")
            known = pc.is_in(meter.dictionary.cast(pa.string()), value_set=ids).to_numpy(
                zero_copy_only=False)[meter.indices.fill_null(0).to_numpy(zero_copy_only=False)]
            if not known.any():
                continue
            start = batch.column("start").view(pa.int64()).to_numpy(zero_copy_only=False)[known]
            secs, counts = np.unique(batch.column("seconds").to_numpy(zero_copy_only=False)[known],
                                     return_counts=True)
            seconds.update(dict(zip(secs.tolist(), counts.tolist(), strict=True)))
            lo = int(start.min()) if lo is None else min(lo, int(start.min()))
            hi = int(start.max()) if hi is None else max(hi, int(start.max()))
            if not need_extent:
                return lo, hi, seconds
    if lo is None:
        raise IntervalDataError("none of the reads in the files belongs to a meter of the registry: nothing to "
                                "build a cube from (check the meter ids in the registry)")
    return lo, hi, seconds


def pass_one(jobs, mapper: ReadMapper, store: ChunkStore, rejects: RejectWriter, reader_opts, first_new, *,
             progress: bool = False):
    """Stream every file into the working chunks; return per-file tallies. ``progress``: a bar on stderr, a
    step per file, with the reads read so far."""
    layout = store.layout
    per_file = []
    bar = tqdm(total=len(jobs), unit="file", desc="Ingesting", disable=not progress)
    reads_read = 0
    for j, (path, _, _) in enumerate(jobs):
        tally = {"format": "", "mapped_ok": 0, "map_rejected": 0, "dups_seen": 0, "conflicts_seen": 0,
                 "conflict_rejected": 0}
        stream = open_stream(path, reader_opts)
        tally["format"] = stream.format
        chunk = -1
        for batch in read_ahead(stream):
            # the reads of the chunk the batch starts in go straight into it (one pass, map and scatter); the
            # others (a batch crossing chunks, unsorted input) are partitioned by chunk and scattered after
            row = mapper.first_row(batch)
            chunk = row // layout.rows_per_chunk if row >= 0 else max(chunk, 0)
            work = store.acquire(chunk)
            mapped = mapper.map_scatter(batch, layout.rows(chunk), work.val, work.prov, first_new + j, first_new)
            tally["mapped_ok"] += mapped.n_ok
            reads_read += mapped.n
            bar.set_postfix_str(f"{reads_read:,} reads", refresh=False)
            tally["dups_seen"] += mapped.dups
            tally["conflicts_seen"] += mapped.conflicts
            if mapped.n_ok < mapped.n:
                tally["map_rejected"] += mapped.n - mapped.n_ok
                rejects.add(mapper.rejects(batch, mapped))
            if not mapped.n_left:
                continue
            rows = mapped.row[: mapped.n]
            order, offsets = partition_rows(rows, layout.rows_per_chunk, layout.n_chunks)
            for k in np.flatnonzero(np.diff(offsets)):
                k = int(k)
                work = store.acquire(k)
                dups, conflicts = scatter_reads(order, offsets[k], offsets[k + 1], rows, mapped.t, mapped.flags,
                                                mapped.value, layout.rows(k)[0], work.val, work.prov, first_new + j,
                                                first_new)
                tally["dups_seen"] += dups
                tally["conflicts_seen"] += conflicts
        rejects.add(reader_rejects_table(stream.rejects))
        n_negative = stream.metadata.get("negative_delivered", 0)
        if n_negative:
            log.warning(f"warning: {path}: {n_negative:,} negative delivered read(s) (first on row "
                        f"{stream.metadata['negative_delivered_first_row']}) kept for VEE, which flags them NEGATIVE "
                        "and estimates them (ingest --vee, or workbench vee, before billing)")
        tally["negative_delivered"] = n_negative
        tally["counts"] = stream.counts
        per_file.append(tally)
        bar.update(1)
    bar.close()
    return per_file


def settle(store: ChunkStore, layout: CubeLayout, per_file, audit: AuditWriter, first_new, *, write_all):
    """Settle every touched chunk (every chunk of a new cube); audit updates.

    Returns (the conflict keys, sorted; whether any value changed).
    """
    n_new = len(per_file)
    totals = np.zeros((n_new, 3), np.int64)
    conflicts = []
    chunks = range(layout.n_chunks) if write_all else sorted(store.touched)
    any_changed = False
    with ThreadPoolExecutor(max_workers=SETTLE_THREADS) as pool:
        settled = pool.map(lambda k: store.settle(k, first_new, n_new, write_all=write_all), chunks)
        for counts, keys, updates, changed in settled:
            totals += counts
            any_changed |= changed
            if len(keys):
                conflicts.append(keys)
            if updates is not None:
                c, r, t, pv, nv, pp, np_, pq = updates
                prev_est = ((pp & 1) == 1) | (pq == 1)  # the file said so, or the cube's quality (a VEE estimate)
                audit.add(layout.meters[r], layout.t0_us + t.astype(np.int64) * layout.step_us, c, pv, nv, pp,
                          np_, prev_est)
    for j, tally in enumerate(per_file):
        tally["new"], tally["updated"], tally["unchanged"] = (int(x) for x in totals[j])
    return (np.sort(np.concatenate(conflicts)) if conflicts else np.zeros(0, np.int64)), any_changed


def pass_two(jobs, mapper: ReadMapper, layout: CubeLayout, conflicts, rejects, per_file, reader_opts):
    """Read the files again and reject every read of a conflicting cell, naming the others."""
    hits = []
    for j, (path, _, _) in enumerate(jobs):
        for batch in read_ahead(open_stream(path, reader_opts)):
            mapped = mapper.map(batch)
            ok = np.flatnonzero(mapped.row[: mapped.n] >= 0)
            keys = ((mapped.flags[ok] & 3).astype(np.int64) * layout.n_rows + mapped.row[ok]) * layout.n_time \
                + mapped.t[ok]
            pos = np.minimum(np.searchsorted(conflicts, keys), len(conflicts) - 1)
            sel = ok[conflicts[pos] == keys]
            if not len(sel):
                continue
            per_file[j]["conflict_rejected"] += len(sel)
            take = pa.array(sel)
            hits.append(pa.table({
                "key": pa.array(keys[conflicts[pos] == keys]),
                "file": pa.repeat(pa.scalar(str(path)), len(sel)),
                "row": batch.column("row").take(take),
                "meter": batch.column("meter").take(take).cast(pa.string()),
                "timestamp": batch.column("start").take(take),
                "channel": batch.column("channel").take(take).cast(pa.string()),
                "kwh": batch.column("kwh").take(take),
            }))
    if hits:
        rejects.add(conflict_rejects(pa.concat_tables(hits)))


def finish_files(per_file, jobs, first_new, ingest_id, ingested_at) -> list[dict]:
    entries = []
    for j, (tally, (path, sha, size)) in enumerate(zip(per_file, jobs, strict=True)):
        counts = tally["counts"]
        accepted = tally["new"] + tally["updated"] + tally["unchanged"]
        rejected = counts["rejected"] + tally["map_rejected"] + tally["conflict_rejected"]
        duplicates = tally["mapped_ok"] - accepted - tally["conflict_rejected"]
        reads_in = counts["read"]
        if duplicates < 0 or reads_in != accepted + rejected + duplicates or (
                tally["conflicts_seen"] == 0 and duplicates != tally["dups_seen"]):
            raise WorkbenchError(
                f"{path}: internal accounting error: {reads_in} reads in, {accepted} accepted, {rejected} rejected, "
                f"{duplicates} duplicates ({tally}). Nothing was written; please report this file.")
        entries.append({
            "file": str(path), "format": tally["format"], "sha256": sha, "size": size, "status": "ingested",
            "ingest_id": ingest_id, "ingested_at": ingested_at, "source_id": first_new + j,
            "reads_in": reads_in, "accepted": accepted, "rejected": rejected, "duplicates": duplicates,
            "new": tally["new"], "updated": tally["updated"], "unchanged": tally["unchanged"],
        })
    return entries
