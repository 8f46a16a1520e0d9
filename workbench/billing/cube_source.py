"""Where a billing run reads its cube from: a local Zarr directory or a Zarr store behind an fsspec URL.

Local paths go through :func:`workbench.ami.cube.open_cube`; a bill run's plan reads a local cube's small arrays
with zarr instead (:func:`open_plan_cube`, no xarray). A URL (``s3://bucket/utility/cube.zarr``,
``gs://...``, ``memory://...``; any fsspec protocol whose package is installed, e.g. ``s3fs`` for S3 and
S3-compatible stores such as MinIO or Ceph) is opened with xarray the same way: lazily, per-meter
coordinates in memory as numpy unicode, validated against docs/cube.md. Credentials and endpoints come from
the usual fsspec/botocore configuration (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ``~/.aws``, or
``FSSPEC_S3_ENDPOINT_URL``), on the client and on every worker alike.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.ami.cube_arrays import CubeArrays, read_cube_arrays
from workbench.ami.cube_chunks import open_zarr_group
from workbench.ami.cube_schema import validate_cube
from workbench.ami.cube_store import quiet_zarr
from workbench.ami.cube_writer import cube_state, lock_path, writer_active
from workbench.errors import CubeError, require_for_url

if TYPE_CHECKING:
    import xarray as xr


def is_url(cube) -> bool:
    return "://" in str(cube)


def open_run_cube(cube, *, dask: bool = True) -> xr.Dataset:
    """The cube at ``cube`` (a path or an fsspec URL), lazily, with its per-meter coordinates in memory.
    ``dask=False``: a local cube's variables are not dask arrays (see :func:`workbench.ami.cube.open_cube`)."""
    if not is_url(cube):
        from workbench.ami.cube import open_cube  # (xarray: not imported by a bill run, see open_plan_cube)

        return open_cube(cube, chunks=True if dask else None)
    require_for_url(cube, "the interval cube")
    import xarray as xr

    try:
        with quiet_zarr():
            ds = xr.open_zarr(str(cube), chunks={}, consolidated=None)
    except Exception as exc:  # fsspec and zarr raise many kinds of errors for a missing or damaged store
        raise CubeError(f"{cube}: cannot open the interval cube: {exc}") from exc
    updates = {}
    for name, var in ds.coords.items():
        if var.ndim == 1 and var.dtype.kind in ("U", "O", "T", "S"):
            updates[name] = (var.dims, np.array([str(v) for v in var.values]), var.attrs)
        elif var.ndim == 1 and var.dims == ("meter",):
            updates[name] = var.load()
    ds = ds.assign_coords(updates)
    ds["read_date"] = ds["read_date"].load()
    try:
        validate_cube(ds)
    except CubeError as exc:
        raise CubeError(f"{cube}: {exc}") from None
    return ds


def open_plan_cube(cube) -> CubeArrays | xr.Dataset:
    """What a bill run plans from: a local cube's layout and small arrays read with zarr
    (:func:`workbench.ami.cube_arrays.read_cube_arrays`; no xarray, dask or CF decoding before the first chunk),
    validated as :func:`open_run_cube` validates it. A URL, a cube of another layout, or one zarr cannot open is
    opened through :func:`open_run_cube` (``dask=False``), which says what is wrong with it, as before."""
    path = Path(str(cube))
    if not is_url(cube) and (path / "zarr.json").is_file():
        try:
            with quiet_zarr():
                arrays = read_cube_arrays(open_zarr_group(path))
        except Exception:  # noqa: BLE001 (a damaged store: xarray's open says what is wrong, for the run)
            arrays = None
        if arrays is not None:
            try:
                validate_cube(arrays)
            except CubeError as exc:
                raise CubeError(f"{path}: {exc}") from None
            return arrays
    return open_run_cube(cube, dask=False)


def cube_fingerprint(cube) -> dict:
    """What identifies this version of the cube: its root metadata, and when that file was written."""
    if is_url(cube):
        require_for_url(cube, "the interval cube")
        import fsspec

        fs, root = fsspec.core.url_to_fs(str(cube))
        for name in ("zarr.json", ".zmetadata"):
            path = f"{root.rstrip('/')}/{name}"
            if fs.exists(path):
                info = fs.info(path)
                stamp = {k: str(info[k]) for k in ("ETag", "LastModified", "mtime", "created") if k in info}
                return {"cube": str(cube), "metadata": hashlib.sha256(fs.cat_file(path)).hexdigest(), **stamp}
        return {"cube": str(cube)}
    path = Path(cube)
    for name in ("zarr.json", ".zmetadata", ".zgroup"):
        meta = path / name
        if meta.exists():
            # the version record and the directory's inode change with every commit of a writer, also when the
            # root metadata is carried over unchanged (an ingest hard-links it): kept chunks never mix versions
            return {"cube": str(path.resolve()), "metadata": hashlib.sha256(meta.read_bytes()).hexdigest(),
                    "modified_ns": meta.stat().st_mtime_ns, "state": cube_state(path)}
    return {"cube": str(cube)}


def begin_cube_read(cube) -> dict | None:
    """At the start of a run that must see one version of a local cube: refuse while a writer (ingest, VEE)
    holds the cube's lock, and return the version to check at the end (None for a URL)."""
    if is_url(cube):
        return None
    if writer_active(cube):
        raise CubeError(f"{cube}: the cube is being written by another run (an ingest or VEE holds "
                        f"{lock_path(cube)}); run again when it has finished")
    return cube_state(cube)


def cube_changed(cube, state: dict | None) -> bool:
    """Whether a writer committed a new version of the cube since :func:`begin_cube_read` returned ``state``."""
    return state is not None and cube_state(cube) != state


CHANGED_MESSAGE = "the cube changed during the run (an ingest or VEE wrote it); run the cycle again"
