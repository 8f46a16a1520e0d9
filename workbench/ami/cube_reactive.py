"""The cube's reactive channel: lagging kVARh per interval, kept only for the meters that record it.

Two variables (``docs/cube.md``, ``docs/reactive-power.md``):

- ``reactive_kvarh`` (meter, time) float32 [kVARh per interval], NaN = no read, chunked like the energy
  variables. Zarr does not write a chunk that is all fill value (NaN), so a meter chunk without a single kVARh
  read costs no bytes on disk;
- ``has_reactive`` (meter,) bool coordinate: whether the meter records kVARh. It is what tells "no reactive
  data" (False: the chunk may be absent, that is expected) from "a lost chunk" (True and the chunk missing on
  disk: an error, :func:`missing_reactive_chunks`).

A cube written before the channel existed has neither variable: nobody has reactive data
(:func:`has_reactive_flags`), and the ingest adds both (:func:`add_reactive_arrays`) when it next writes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.ami.cube_schema import HAS_REACTIVE, REACTIVE_VAR
from workbench.ami.cube_store import quiet_zarr
from workbench.outputs import atomic_write_text

if TYPE_CHECKING:
    import xarray as xr

REACTIVE_ATTRS = {"units": "kVARh", "long_name": "lagging reactive energy (NaN: no read)"}
HAS_REACTIVE_ATTRS = {"long_name": "the meter records kVARh (reactive_kvarh holds its reads)"}


def reactive_codec():
    """Blosc LZ4 with bit shuffle, as the ingest's other arrays: fast to write, NaN runs compress to little."""
    import zarr

    return zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")


def reactive_variables(n_rows: int, n_time: int, rows_per_chunk: int, has=None) -> tuple[dict, dict, dict]:
    """(data variables, coordinates, encoding) of an empty reactive channel, to merge into a cube template."""
    import dask.array as da  # only cube writers need it; a bill run reads the cube and skips its 0.4 s import

    values = da.full((n_rows, n_time), np.nan, dtype=np.float32, chunks=(rows_per_chunk, n_time))
    flags = np.zeros(n_rows, bool) if has is None else np.asarray(has, bool)
    encoding = {REACTIVE_VAR: {"chunks": (rows_per_chunk, n_time), "compressors": (reactive_codec(),)},
                HAS_REACTIVE: {"chunks": (n_rows,)}}
    return ({REACTIVE_VAR: (("meter", "time"), values, dict(REACTIVE_ATTRS))},
            {HAS_REACTIVE: ("meter", flags, dict(HAS_REACTIVE_ATTRS))}, encoding)


def has_reactive_flags(ds: xr.Dataset) -> np.ndarray:
    """(meter,) bool: the meters whose kVARh reads the cube holds (all False for a cube without the channel)."""
    if HAS_REACTIVE not in ds.variables:
        return np.zeros(ds.sizes["meter"], bool)
    return np.asarray(ds[HAS_REACTIVE].values, bool)


def add_reactive_arrays(staging: Path, n_rows: int, n_time: int, rows_per_chunk: int) -> bool:
    """Give a staged copy of a cube without a reactive channel its (empty) ``reactive_kvarh`` and
    ``has_reactive``; False if it has them already.

    The arrays are written by xarray into a scratch store beside ``staging`` and moved in; the staged root
    metadata (consolidated) gets their entries in a new file (never through a hard link to the live cube).
    """
    staging = Path(staging)
    if (staging / REACTIVE_VAR / "zarr.json").exists():
        return False
    import xarray as xr  # only cube writers need it (a bill run plans without xarray)

    data_vars, coords, encoding = reactive_variables(n_rows, n_time, rows_per_chunk)
    scratch = staging.parent / f".{staging.name}.reactive-{uuid.uuid4().hex[:8]}"
    try:
        with quiet_zarr():
            xr.Dataset(data_vars, coords=coords).to_zarr(scratch, mode="w-", compute=False, consolidated=False,
                                                         encoding=encoding)
        root = json.loads((staging / "zarr.json").read_text())
        entries = root.setdefault("consolidated_metadata", {"kind": "inline", "must_understand": False,
                                                            "metadata": {}})["metadata"]
        for name in (REACTIVE_VAR, HAS_REACTIVE):
            if (staging / name).exists():
                shutil.rmtree(staging / name)
            os.replace(scratch / name, staging / name)
            entries[name] = json.loads((staging / name / "zarr.json").read_text())
        atomic_write_text(staging / "zarr.json", json.dumps(root, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return True


def missing_reactive_chunks(group, start: int, stop: int, chunk_exists) -> list[tuple[str, int, int]]:
    """[(chunk key, first meter, last meter + 1)] of the reactive chunks of meters ``start:stop`` that are
    missing on disk although ``has_reactive`` says one of their meters records kVARh (a lost chunk).

    ``chunk_exists(array, coords) -> (key, present)``. A cube without the channel has none missing.
    """
    if REACTIVE_VAR not in group or HAS_REACTIVE not in group:
        return []
    arr = group[REACTIVE_VAR]
    has = np.asarray(group[HAS_REACTIVE][:], bool)
    mc = arr.chunks[0]
    out = []
    for i in range(start // mc, -(-stop // mc)):
        a, b = i * mc, min((i + 1) * mc, arr.shape[0])
        if not has[a:b].any():
            continue  # no meter of the chunk records kVARh: an absent chunk is expected
        for j in range(-(-arr.shape[1] // arr.chunks[1])):
            key, present = chunk_exists(arr, (i, j))
            if not present:
                out.append((key, a, b))
    return out
