"""The interval cube store (see ``docs/cube.md``).

The interval cube is an :class:`xarray.Dataset` with dims ``(meter, time)`` kept on disk as a Zarr directory,
chunked along ``meter`` only (``time`` is one chunk, because it is a core dimension of the scan kernels).

- :func:`write_cube` writes a cube atomically: into a hidden temporary directory beside the target, renamed
  into place only when everything is written. A failed or interrupted write never leaves a half-written cube.
- :func:`open_cube` opens a cube lazily (dask-backed, one dask chunk per Zarr chunk) or in memory.
- :func:`~workbench.ami.cube_schema.validate_cube` checks a dataset against ``docs/cube.md`` and raises
  :class:`~workbench.errors.CubeError` naming the variable or coordinate that is wrong.

The layout and its check live in :mod:`workbench.ami.cube_schema`, the atomic directory and quiet zarr in
:mod:`workbench.ami.cube_store`, the chunk-level reads of a billing run in :mod:`workbench.ami.cube_chunks`.

Zarr notes (zarr-python 3.x writes Zarr format 3 by default):

- String coordinates (``meter``, ``account``, ...) are written as variable-length UTF-8 strings (the Zarr v3
  ``string`` data type; fixed-width numpy unicode has no v3 specification yet). Zarr hands them back as numpy
  ``StringDType``; :func:`open_cube` converts every string coordinate back to fixed-width numpy unicode
  (``<U..``) and loads it into memory (they are small: one value per meter).
- Consolidated metadata is written (it is not yet part of the v3 specification; zarr-python warns about that
  and we silence the warning).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from workbench.ami.cube_schema import (  # noqa: F401  (QUALITY_* re-exported from their old home)
    HAS_REACTIVE,
    INTERVAL_VARS,
    METER_COORDS,
    QUALITY_ACTUAL,
    QUALITY_ESTIMATED,
    QUALITY_MISSING,
    REACTIVE_VAR,
    _as_unicode,
    _is_str_dtype,
    validate_cube,
)
from workbench.ami.cube_store import _looks_like_zarr, atomic_directory, quiet_zarr
from workbench.ami.cube_writer import cube_writer, read_version, write_version
from workbench.errors import CubeError

# ---------------------------------------------------------------------------------------------------------
# write / open


def _for_disk(ds: xr.Dataset) -> xr.Dataset:
    """Strings as object (Zarr v3 variable-length UTF-8), stale encodings dropped."""
    ds = ds.copy()
    for name, var in ds.variables.items():
        var.encoding = {}
        if _is_str_dtype(var.dtype) and name not in ds.dims:
            ds[name] = var.copy(data=_as_unicode(var.values).astype(object))
    # index coordinates (meter) cannot be replaced through ds[name] =
    for dim in ds.dims:
        if dim in ds.variables and _is_str_dtype(ds[dim].dtype):
            ds = ds.assign_coords({dim: _as_unicode(ds[dim].values).astype(object)})
    return ds


def write_cube(
    ds: xr.Dataset, path: str | os.PathLike, meter_chunk: int = 1000, *, overwrite: bool = True
) -> Path:
    """Write interval cube ``ds`` to the Zarr directory ``path``, atomically; return the path.

    The cube is validated first (:func:`validate_cube`), then written chunked along ``meter`` in chunks of
    ``meter_chunk`` meters with ``time`` in one chunk. The data go to a hidden temporary directory beside
    ``path`` that is renamed into place only when complete; a ``reactive_kvarh`` variable (kVARh, NaN = no
    read) is kept with ``has_reactive`` set from its data (``docs/reactive-power.md``); an existing cube at ``path`` is replaced
    (``overwrite=True``) in the same way, under the cube's writer lock, with a new version
    (:mod:`workbench.ami.cube_writer`).
    """
    if int(meter_chunk) < 1:
        raise ValueError(f"meter_chunk must be >= 1, got {meter_chunk}")
    if REACTIVE_VAR in ds.data_vars:
        # the data decide which meters record kVARh: a meter flagged without a read would have no chunk on disk,
        # which a billing run would take for a lost one
        has = ds[REACTIVE_VAR].notnull().any("time")
        ds = ds.assign_coords({HAS_REACTIVE: ("meter", np.asarray(has.values, bool),
                                              ds[HAS_REACTIVE].attrs if HAS_REACTIVE in ds.variables else {})})
    validate_cube(ds, check_chunks=False)
    n_meter = ds.sizes["meter"]
    n_time = ds.sizes["time"]
    mc = min(int(meter_chunk), n_meter)
    out = _for_disk(ds)
    # interval variables chunked along meter; everything else small and in memory (object strings in
    # dask would make xarray load them anyway, with a warning)
    for name in list(out.variables):
        if name in INTERVAL_VARS or (name in out.data_vars and out[name].dims == ("meter", "time")):
            out[name] = out[name].chunk({"meter": mc, "time": -1})
        elif out[name].chunks is not None:
            loaded = out[name].variable.load()
            if name in out.coords:
                out = out.assign_coords({name: loaded})
            else:
                out[name] = loaded
    # the interval variables, and any other (meter, time) variable (VEE's vee_flags / vee_method), chunked alike
    encoding = {name: {"chunks": (mc, n_time)} for name in INTERVAL_VARS}
    encoding.update({name: {"chunks": (mc, n_time)} for name, var in out.data_vars.items()
                     if var.dims == ("meter", "time") and name not in encoding})
    for name in (*METER_COORDS, "meter", *([HAS_REACTIVE] if HAS_REACTIVE in out.variables else [])):
        encoding[name] = {"chunks": (n_meter,)}
    with cube_writer(path) as target:  # one writer at a time (docs/cube.md), the same lock as ingest and VEE
        previous = read_version(target) if target.is_dir() else {}
        with atomic_directory(target, overwrite=overwrite) as tmp, quiet_zarr():
            out.to_zarr(tmp, mode="w", consolidated=True, encoding=encoding)
            write_version(tmp, {k: v for k, v in previous.items() if k == "version"}, "write_cube", "")
    return Path(path)


def _strings_to_unicode(ds: xr.Dataset) -> xr.Dataset:
    """Load the small variables (per-meter coordinates, read dates) into memory; strings as numpy unicode."""
    updates = {}
    for name, var in ds.coords.items():
        if var.ndim == 1 and _is_str_dtype(var.dtype):
            updates[name] = (var.dims, _as_unicode(var.values), var.attrs)
        elif var.ndim == 1 and var.dims == ("meter",) and var.chunks is not None:
            updates[name] = var.load()
    ds = ds.assign_coords(updates) if updates else ds
    if "read_date" in ds.data_vars and ds["read_date"].chunks is not None:
        ds["read_date"] = ds["read_date"].load()
    return ds


def _load_as_stored(ds: xr.Dataset) -> xr.Dataset:
    """Load the small variables of a cube opened without dask into memory, in place and as stored (strings as
    Zarr gives them): a new variable made from a numpy array makes xarray import dask.array (0.4 s, scipy.fft
    with it) to ask whether the array is a dask one."""
    for var in ds.coords.values():
        if var.ndim == 1 and (var.dims == ("meter",) or _is_str_dtype(var.dtype)):
            var.variable.load()
    if "read_date" in ds.data_vars:
        ds["read_date"].variable.load()
    return ds


def open_cube(path: str | os.PathLike, chunks: bool | None = True, *, validate: bool = True) -> xr.Dataset:
    """Open the interval cube at ``path``.

    ``chunks=True`` (default): lazily, dask-backed, one dask chunk per Zarr chunk (meter chunks, time whole).
    ``chunks=False``: loaded into memory (numpy). The per-meter coordinates are always in memory, strings as
    numpy unicode. The cube is validated (cheap checks) unless ``validate=False``.
    ``chunks=None``: lazily without dask, each interval variable read from Zarr when indexed, the per-meter
    coordinates in memory with their strings as stored (numpy ``StringDType`` from Zarr 3: take them through
    :func:`workbench.ami.cube_schema._as_unicode`); for a caller that reads the interval data with zarr itself
    (a billing run), which then never imports dask.array nor distributed (0.7 s of a run).
    """
    p = Path(path)
    if not p.exists():
        raise CubeError(f"{p}: no interval cube here (run `workbench sample` or an import first)")
    if not _looks_like_zarr(p):
        raise CubeError(f"{p}: not a Zarr store (no zarr.json / .zgroup)")
    with quiet_zarr():
        try:
            ds = xr.open_zarr(p, chunks={} if chunks else None, consolidated=None)
        except Exception as exc:  # zarr raises many kinds of errors on damaged stores
            raise CubeError(f"{p}: cannot open the interval cube: {exc}") from exc
        if chunks is False:
            ds = ds.load()
    ds = _load_as_stored(ds) if chunks is None else _strings_to_unicode(ds)
    if validate:
        try:
            validate_cube(ds)
        except CubeError as exc:
            raise CubeError(f"{p}: {exc}") from None
    return ds
