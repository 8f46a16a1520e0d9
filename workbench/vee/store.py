"""VEE over a whole Zarr interval cube, chunk by chunk, written back atomically with its audit trail.

:func:`vee_cube` reads the cube one meter chunk at a time (memory bounded by the chunk), runs
:func:`~workbench.vee.engine.run_vee` on it, writes the validated chunk into a new cube in a hidden temporary
directory beside the old one, and swaps it into place only when every chunk is written (a failed run leaves
the cube as it was). The audit trail goes to the folder ``<cube>.vee/`` beside the cube, one set of files per
run, never overwritten: ``edits-<run>.parquet`` (every value changed, with the original),
``exceptions-<run>.parquet``, ``held-<run>.csv`` (meter-periods not bill-ready), ``run-<run>.json`` and, with
fault injection, ``faults-<run>.csv``. The cube's attribute ``vee_runs`` lists the runs that reached it; audit
files of a run it does not list belong to a run that failed before the swap.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import time as _time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xarray as xr

from workbench.ami.cube import open_cube
from workbench.ami.cube_reactive import has_reactive_flags, reactive_codec
from workbench.ami.cube_schema import HAS_REACTIVE, METER_COORDS, REACTIVE_VAR
from workbench.ami.cube_store import atomic_directory, quiet_zarr
from workbench.ami.cube_writer import cube_writer, link_subtree, read_version, resolve_cube, write_version
from workbench.ami.ingest_report import REPORT_KIND
from workbench.ami.ingest_store import INGEST_DIR
from workbench.outputs import ensure_output_dir, write_csv_for_people
from workbench.vee.billready import held_table
from workbench.vee.config import VeeConfig, load_config
from workbench.vee.engine import run_vee
from workbench.vee.faults import fault_rates, inject_faults, merge_scores, score_faults
from workbench.vee.reactive import reactive_exceptions
from workbench.vee.report import write_report
from workbench.vee.rules import FLAG_ATTRS, METHOD_ATTRS, VeeError
from workbench.vee.summary import VeeSummary
from workbench.vee.tables import EDITS_SCHEMA, EXCEPTIONS_SCHEMA

_VARS = {"delivered_kwh": np.float32, "received_kwh": np.float32, "quality": np.uint8, "vee_flags": np.uint32,
         "vee_method": np.uint8}


def audit_dir(cube_path: str | os.PathLike) -> Path:
    """The folder beside the cube that keeps its VEE audit trail (``data/cube.zarr`` -> ``data/cube.vee``); beside
    the real cube when ``cube_path`` is a symbolic link."""
    p = resolve_cube(cube_path)
    return p.with_name(p.name.removesuffix(".zarr") + ".vee")


def read_edits(cube_path: str | os.PathLike) -> pa.Table:
    """Every edit of every VEE run that reached the cube (oldest run first), with a ``run`` column."""
    ds = open_cube(cube_path, validate=False)
    runs = json.loads(ds.attrs.get("vee_runs", "[]"))
    folder = audit_dir(cube_path)
    tables = []
    for run in runs:
        path = folder / f"edits-{run}.parquet"
        if path.exists():
            t = pq.read_table(path)
            tables.append(t.append_column("run", pa.array([run] * t.num_rows, pa.string())))
    if not tables:
        return EDITS_SCHEMA.append(pa.field("run", pa.string())).empty_table()
    return pa.concat_tables(tables, promote_options="permissive")


def _template(ds: xr.Dataset, meter_chunk: int, attrs: dict) -> tuple[xr.Dataset, dict]:
    import dask.array as da  # only the VEE writer needs it; a bill run imports this package and skips 0.4 s

    n_meters, n_t = ds.sizes["meter"], ds.sizes["time"]
    base = ds.drop_vars([v for v in _VARS if v in ds.variables])
    updates = {}
    for name, var in base.coords.items():
        if var.dtype.kind in "UOT" and var.ndim == 1:
            updates[name] = (var.dims, np.asarray(var.values).astype(str).astype(object), var.attrs)
    base = base.assign_coords(updates)
    extra_attrs = {"vee_flags": FLAG_ATTRS, "vee_method": METHOD_ATTRS}
    for name, dtype in _VARS.items():
        var_attrs = ds[name].attrs if name in ds.variables else extra_attrs[name]
        base[name] = (("meter", "time"), da.zeros((n_meters, n_t), dtype=dtype, chunks=(meter_chunk, n_t)),
                      dict(var_attrs))
    for var in base.variables.values():
        var.encoding = {}
    base.attrs = attrs
    encoding = {name: {"chunks": (meter_chunk, n_t)} for name in _VARS}
    for name in (*METER_COORDS, "meter", HAS_REACTIVE):
        if name in base.variables:
            encoding[name] = {"chunks": (n_meters,)}
    if REACTIVE_VAR in base:  # the kVARh chunks are copied by each chunk job (not estimated)
        encoding[REACTIVE_VAR] = {"chunks": (meter_chunk, n_t), "compressors": (reactive_codec(),)}
    return base, encoding


def vee_cube(cube_path: str | os.PathLike, config: VeeConfig | None = None, report_dir=None, *, registry=None,
             register_reads=None, inject_seed: int | None = None, progress: bool = False,
             accounting: dict | None = None, workers: int | None = None) -> VeeSummary:
    """Validate and estimate the Zarr cube at ``cube_path`` in place (atomically); return the run's summary.

    Parameters
    ----------
    config : :class:`VeeConfig` (default ``defaults.yaml``)
    report_dir : when given, the report (``vee_report.html`` + CSVs, :func:`~workbench.vee.report.write_report`)
    registry, register_reads : as for :func:`~workbench.vee.engine.run_vee`
    inject_seed : inject the demo faults (:func:`~workbench.vee.faults.inject_faults`) with this seed before
        VEE, and score VEE against them (the faulted, validated cube replaces the cube)
    accounting : the ingest's accounting, passed to the report
    workers : meter chunks processed at once (default: 2 or the CPU count if smaller); each holds about
        30 bytes x meters per chunk x intervals in memory
    """
    config = config or load_config()
    workers = max(1, int(workers or min(2, os.cpu_count() or 1)))
    if not Path(cube_path).exists():
        open_cube(cube_path)  # the error naming the missing cube, before a lock file is made beside it
    if report_dir is not None:  # checked before the cube changes (the ingest's --report folder is the same kind)
        ensure_output_dir(report_dir, REPORT_KIND, "--report")
    with cube_writer(cube_path) as path:  # one writer at a time; symlinks resolved
        total = _vee_locked(path, config, workers, registry, register_reads, inject_seed, progress)
    if report_dir is not None:
        try:
            write_report(report_dir, total, accounting)
        except OSError as exc:
            raise VeeError(f"--report {report_dir}: cannot write the VEE report ({exc.strerror or exc}); the cube "
                           f"was validated (run {total.info['run']}): run `workbench vee --report {report_dir}` again "
                           "to write the report") from None
    return total


def _vee_locked(path: Path, config, workers, registry, register_reads, inject_seed, progress) -> VeeSummary:
    started = _time.perf_counter()
    ds = open_cube(path)
    n_meters = ds.sizes["meter"]
    chunks = ds["delivered_kwh"].chunks
    meter_chunk = int(chunks[0][0]) if chunks else min(1000, n_meters)
    run = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    runs = json.loads(ds.attrs.get("vee_runs", "[]")) + [run]
    attrs = {**ds.attrs, "vee_runs": json.dumps(runs)}
    template, encoding = _template(ds, meter_chunk, attrs)
    folder = audit_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    parts, scores, truths = [], [], []
    edits_path, exceptions_path = folder / f"edits-{run}.parquet", folder / f"exceptions-{run}.parquet"
    edits_writer = pq.ParquetWriter(edits_path, EDITS_SCHEMA, compression="zstd")
    exceptions_writer = pq.ParquetWriter(exceptions_path, EXCEPTIONS_SCHEMA, compression="zstd")
    try:
        import zarr
        from tqdm.auto import tqdm

        bar = tqdm(total=n_meters, unit="meter", desc="VEE", disable=not progress)
        with atomic_directory(path) as tmp, quiet_zarr():
            template.to_zarr(tmp, mode="w-", compute=False, consolidated=True, encoding=encoding)
            # the ingest's provenance (which file each value came from) is not VEE's to drop: VEE estimates
            # values but does not change where the reads came from
            link_subtree(path, tmp, INGEST_DIR)
            write_version(tmp, read_version(path), "vee", run)
            group = zarr.open_group(tmp, mode="r+", use_consolidated=False)
            source = zarr.open_group(path, mode="r", use_consolidated=False)
            job = functools.partial(_chunk_job, ds=ds, source=source, group=group, config=config, registry=registry,
                                    register_reads=register_reads, inject_seed=inject_seed, parallel=workers == 1)
            with ThreadPoolExecutor(workers) as pool:
                pending: deque = deque()
                starts = iter(range(0, n_meters, meter_chunk))
                while True:
                    while len(pending) < workers:
                        a = next(starts, None)
                        if a is None:
                            break
                        pending.append(pool.submit(job, a, min(a + meter_chunk, n_meters)))
                    if not pending:
                        break
                    edits, exceptions, summary, truth, score = pending.popleft().result()
                    edits_writer.write_table(edits)
                    exceptions_writer.write_table(exceptions)
                    parts.append(summary)
                    if truth is not None:
                        truths.append(truth)
                        scores.append(score)
                    bar.update(summary.n_meters)
            bar.close()
            edits_writer.close()
            exceptions_writer.close()
            total = VeeSummary.merge(parts)
            total.seconds = _time.perf_counter() - started
            total.info = {"cube": str(path), "run": run, "audit": str(folder), "configuration": config.source}
            if scores:
                total.faults = fault_rates(merge_scores(scores))
                pd.concat(truths, ignore_index=True).to_csv(folder / f"faults-{run}.csv", index=False)
            if total.held is not None:
                write_csv_for_people(total.held, folder / f"held-{run}.csv")
            (folder / f"run-{run}.json").write_text(json.dumps({
                "run": run, "cube": str(path), "configuration": config.source, "meters": total.n_meters,
                "intervals": total.n_intervals, "intervals_estimated": total.intervals_estimated,
                "edits": total.edits, "counts": total.counts, "meters_not_bill_ready": total.meters_not_ready,
                "inject_seed": inject_seed, "seconds": round(total.seconds, 3)}, indent=2))
    except BaseException:
        edits_writer.close()
        exceptions_writer.close()
        raise
    return total


def _chunk_job(a: int, b: int, *, ds, source, group, config, registry, register_reads, inject_seed, parallel):
    """Read meters ``a:b``, (inject faults,) run VEE, write the validated chunk; return its tables."""
    block = ds.isel(meter=slice(a, b))
    block = block.assign({name: (("meter", "time"), source[name][a:b, :], block[name].attrs)
                          for name in _VARS if name in block.data_vars})
    truth = score = None
    if inject_seed is not None:
        block, truth = inject_faults(block, int(inject_seed) * 1_000_003 + a, config=config)
        truth["meter_index"] += a
    result = run_vee(block, config, registry=registry, register_reads=_reads_for(register_reads, block),
                     parallel=parallel)
    out = result.dataset
    for name in _VARS:
        group[name][a:b, :] = np.asarray(out[name].values)
    exceptions = result.exceptions
    has = has_reactive_flags(block)
    if has.any() and REACTIVE_VAR in source:
        # kVARh are validated, not estimated; copied as they are (a chunk without a read is not written)
        kvarh = np.asarray(source[REACTIVE_VAR][a:b, :])
        group[REACTIVE_VAR][a:b, :] = kvarh
        extra = reactive_exceptions(block["meter"].values, has, kvarh, source["quality"][a:b, :], result.calendar)
        if extra.num_rows:
            exceptions = pa.concat_tables([exceptions.cast(EXCEPTIONS_SCHEMA), extra])
            result.exceptions = exceptions
    summary = result.summary()
    summary.held, summary.meter_periods = held_table(out, None, config)
    if truth is not None:
        score = score_faults(out["vee_flags"].values, out["vee_method"].values, truth,
                             result.exceptions.to_pandas(), meters_offset=a)
    return result.edits.cast(EDITS_SCHEMA), exceptions, summary, truth, score


def _reads_for(register_reads, block: xr.Dataset):
    if register_reads is None:
        return None
    frame = register_reads.to_pandas() if isinstance(register_reads, pa.Table) else pd.DataFrame(register_reads)
    keep = frame["meter"].astype(str).isin(set(np.asarray(block["meter"].values).astype(str)))
    return frame[keep] if keep.any() else None
