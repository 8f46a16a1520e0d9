"""The cube's directory on disk: atomic replacement of a Zarr directory, and quiet zarr-python warnings.

:func:`atomic_directory` yields a hidden temporary directory beside the target and renames it into place only
when everything is written, under the cube's writer lock; a failed or interrupted write never leaves a
half-written cube. :func:`quiet_zarr` silences zarr-python's warnings about v3 features not yet in the
specification (consolidated metadata, variable-length strings).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

from workbench.ami.cube_writer import cube_writer
from workbench.errors import CubeError
from workbench.outputs import swap_into_place


def _looks_like_zarr(path: Path) -> bool:
    return any((path / name).exists() for name in ("zarr.json", ".zgroup", ".zattrs", ".zmetadata"))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success rename it to ``path``.

    On any exception the temporary directory is removed and ``path`` is left as it was. An existing ``path``
    is replaced only if ``overwrite`` and it is a Zarr store (never an unrelated directory or file). The whole
    write holds the writer lock of ``path`` (:func:`~workbench.ami.cube_writer.cube_writer`; taken once when the
    caller already holds it), and a symbolic link is followed: the real directory is replaced, the link stays.
    """
    with cube_writer(path) as target:
        yield from _atomic_directory(target, overwrite)


def _atomic_directory(target: Path, overwrite: bool) -> Iterator[Path]:
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if not overwrite:
            raise CubeError(f"{target}: already exists (pass overwrite=True to replace it)")
        if not (target.is_dir() and _looks_like_zarr(target)):
            raise CubeError(f"{target}: exists and is not a Zarr store; refusing to replace it")
    tag = uuid.uuid4().hex[:12]
    tmp = parent / f".{target.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        swap_into_place(tmp, target, parent / f".{target.name}.old-{tag}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Silence zarr-python warnings about v3 features that are not yet in the specification."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message=".*not part in the Zarr format 3 specification.*")
        yield
