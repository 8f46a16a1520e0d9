"""Reading a cube's Zarr chunks safely: the read-only Zarr group, and the check that no chunk is missing on disk.

:func:`open_zarr_group` opens the cube's Zarr group read-only (a local path, cached until the cube is rewritten,
or an fsspec URL); :func:`check_chunks_present` refuses a meter range whose energy chunk is missing on disk, which
Zarr would otherwise read as NaN (no data) and bill wrongly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
from pathlib import Path

import numpy as np

from workbench.ami.cube_reactive import missing_reactive_chunks
from workbench.ami.cube_schema import QUALITY_MISSING
from workbench.ami.cube_store import quiet_zarr
from workbench.errors import CubeError, require_for_url


def open_zarr_group(path: str | os.PathLike):
    """The cube's Zarr group, read-only (local path or an fsspec URL such as ``s3://bucket/cube.zarr``)."""
    import zarr

    text = str(path)
    if "://" in text:
        require_for_url(text, "the interval cube")
        return zarr.open_group(text, mode="r")
    meta = Path(text) / "zarr.json"
    stamp = meta.stat().st_mtime_ns if meta.exists() else 0
    return _open_local_group(str(Path(text).resolve()), stamp)


@functools.lru_cache(maxsize=8)
def _open_local_group(path: str, stamp: int):  # stamp: a rewritten cube (new zarr.json) is opened again
    import zarr

    with quiet_zarr():
        return zarr.open_group(path, mode="r")


def _chunk_exists(arr, coords: tuple[int, ...]) -> tuple[str, bool]:
    """Whether chunk ``coords`` of ``arr`` is written, asked of the store through public APIs only: the local
    folder (``LocalStore.root``), else the store's own ``exists`` coroutine on a loop of its own."""
    key = arr.metadata.encode_chunk_key(coords)
    store_path = arr.store_path
    full = f"{store_path.path}/{key}" if store_path.path else key
    store = store_path.store
    root = getattr(store, "root", None)
    if root is not None:
        return key, (Path(root) / full).exists()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own, even inside Jupyter's
        return key, bool(pool.submit(asyncio.run, store.exists(full)).result())


def check_chunks_present(group, start: int, stop: int, cube: str | os.PathLike = "", meters=None) -> None:
    """Raise :class:`CubeError` if a chunk of meters ``start:stop`` of ``delivered_kwh`` or ``received_kwh``
    is missing on disk.

    Zarr reads a missing chunk as its fill value, NaN for energy: bills computed from it would silently
    be wrong. A missing energy chunk is accepted only where the quality chunk is present and marks every
    interval missing (Zarr does not write a chunk that is all fill value). A missing ``quality`` chunk
    reads as 0 (actual), which is what Zarr writes for an all-actual chunk, so it is not an error.

    The reactive channel (``reactive_kvarh``): a missing chunk is expected where no meter of it records kVARh
    (``has_reactive`` False: "no reactive data"), and an error where one does (a lost chunk would bill its
    meters as if they had no kVARh reads).
    """
    quality = group["quality"]
    for name in ("delivered_kwh", "received_kwh"):
        arr = group[name]
        mc = arr.chunks[0]
        for i in range(start // mc, -(-stop // mc)):
            for j in range(-(-arr.shape[1] // arr.chunks[1])):
                key, present = _chunk_exists(arr, (i, j))
                if present:
                    continue
                a, b = i * mc, min((i + 1) * mc, arr.shape[0])
                if _chunk_exists(quality, (i, j))[1] and (quality[a:b] == QUALITY_MISSING).all():
                    continue  # an all-missing chunk: nothing to write, and quality says so
                who = f"meters {a}..{b - 1}"
                if meters is not None and len(meters):
                    ids = np.asarray(meters)
                    who += f" ({ids[max(a - start, 0)]} to {ids[min(b, stop) - 1 - start]})"
                raise CubeError(
                    f"{cube}: chunk {key} of variable '{name}' ({who}) is missing on disk; Zarr would read it as "
                    "NaN (no data) and the bills would be wrong. Restore the cube (rewrite it with "
                    "workbench.ami.cube.write_cube or re-run the import) and run again"
                )
    for key, a, b in missing_reactive_chunks(group, start, stop, _chunk_exists):
        raise CubeError(
            f"{cube}: chunk {key} of variable 'reactive_kvarh' (meters {a}..{b - 1}) is missing on disk, but "
            "'has_reactive' says some of these meters record kVARh; their reactive charges cannot be billed. Restore "
            "the cube (rewrite it with workbench.ami.cube.write_cube or re-run the import) and run again"
        )
