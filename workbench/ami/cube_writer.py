"""One writer at a time on an interval cube, a version every reader can check, and the leftovers of killed writers.

Every command that writes a cube (``workbench ingest``, ``workbench vee`` with or without ``--inject-faults``,
:func:`workbench.ami.cube.write_cube`) runs inside :func:`cube_writer`:

- the cube's path is resolved first (symbolic links followed), so two spellings of one cube share one lock, and
  the writer's records (``<cube>.ingest/``, ``<cube>.vee/``) sit beside the real cube;
- it holds the lock file ``<parent>/.<name>.lock`` (an ``flock``, :func:`workbench.outputs.exclusive_lock`: freed
  by the kernel when its process dies, so a killed writer leaves no lock to delete by hand). A second writer is
  refused with one line saying the cube is in use;
- under the lock it removes the staging folders a killed writer left beside the cube (only folders named
  ``.<name>.tmp-*``, ``.<name>.old-*``, ``.<name>.scratch-*``); if the writer died between moving the old cube
  aside and renaming the new one in, the old cube is put back first.

Each writer commits a new **version** with the data: the small file :data:`VERSION_FILE` inside the cube
(a Zarr group's attributes: ``version``, the writer and its run id, ``next_source_id`` for the ingest's
provenance) is written into the staging copy, so it changes in the same rename as the values. Readers that must see one version
(``workbench cycle``) take :func:`cube_state` when they start and compare it when they finish.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from workbench.ami.ingest_records import settle_partial_records
from workbench.outputs import atomic_write_text, exclusive_lock

log = logging.getLogger(__name__)

#: the version record: the attributes of a small Zarr group inside the cube (a plain file there would make zarr
#: warn that it is not part of the hierarchy); like ``_ingest/``, not in the cube's consolidated metadata
VERSION_GROUP = "_workbench"
VERSION_FILE = f"{VERSION_GROUP}/zarr.json"
#: seconds a writer waits for the lock (rides over a reader's momentary probe, not over another writer's run)
LOCK_WAIT = 2.0

_held: dict[str, int] = {}  # cubes whose lock this process holds (a writer calling another writer nests)
_held_guard = threading.Lock()


def resolve_cube(cube) -> Path:
    """The cube's real path: symbolic links followed, relative paths made absolute."""
    return Path(os.path.expanduser(str(cube))).resolve()


def lock_path(cube) -> Path:
    """The lock file of the cube: ``<parent>/.<name>.lock`` beside the (resolved) cube."""
    real = resolve_cube(cube)
    return real.parent / f".{real.name}.lock"


@contextmanager
def cube_writer(cube) -> Iterator[Path]:
    """Hold the cube's writer lock for the block and yield the cube's resolved path.

    Raises :class:`~workbench.errors.WorkbenchError` (one line) when another run holds the lock. Nested use in
    one process (``workbench ingest --vee``) takes the lock once.
    """
    real = resolve_cube(cube)
    key = str(real)
    with _held_guard:
        nested = key in _held
        if nested:
            _held[key] += 1
    if nested:
        try:
            yield real
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    with exclusive_lock(lock_path(real), f"the cube {real}", wait_seconds=LOCK_WAIT):
        with _held_guard:
            _held[key] = 1
        try:
            recover_leftovers(real)
            yield real
        finally:
            with _held_guard:
                _held.pop(key, None)


def writer_active(cube) -> bool:
    """Whether some process holds the cube's writer lock now (a non-blocking probe that creates no file)."""
    path = lock_path(cube)
    if not path.is_file():
        return False  # no lock file: no writer ever ran here
    # the same filelock the writers take (flock on POSIX, LockFileEx on Windows), tried once without waiting;
    # a writer starting meanwhile waits out this momentary hold (LOCK_WAIT)
    probe = filelock.FileLock(str(path), timeout=0, is_singleton=False)
    try:
        probe.acquire()
    except filelock.Timeout:
        return True
    except OSError:
        return False
    probe.release()
    return False


def _leftover_pattern(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.(tmp|old|scratch)-[0-9A-Za-z_-]+$")


def recover_leftovers(real: Path) -> list[str]:
    """Under the lock: restore a cube a killed writer moved aside, remove its staging folders. Returns notes."""
    parent, name = real.parent, real.name
    if not parent.is_dir():
        return []
    pattern = _leftover_pattern(name)
    found = [p for p in parent.iterdir() if pattern.match(p.name) and p.is_dir() and not p.is_symlink()]
    notes = []
    olds = sorted((p for p in found if ".old-" in p.name), key=lambda p: p.stat().st_mtime_ns)
    if olds and not real.exists():
        os.replace(olds[-1], real)  # died between the two renames: the cube as it was before that run
        found.remove(olds[-1])
        notes.append(f"{real}: put back the cube a stopped run had moved aside ({olds[-1].name})")
    for p in found:
        shutil.rmtree(p, ignore_errors=True)
        notes.append(f"{p}: removed the staging folder a stopped run left behind")
    notes += settle_partial_records(real, str(read_version(real).get("run", "")))
    for note in notes:
        log.warning(f"warning: {note}")
    return notes


# ---------------------------------------------------------------------------------------------------------
# versions


def read_version(cube) -> dict:
    """The cube's version record (empty for a cube no workbench writer has committed yet)."""
    try:
        doc = json.loads((Path(cube) / VERSION_FILE).read_text()).get("attributes", {}).get("workbench_version")
    except (OSError, ValueError, AttributeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def write_version(staging, previous: dict, writer: str, run: str, **extra) -> dict:
    """Write the next version record into the staging copy (a new file: never through a hard link)."""
    doc = {**previous, **extra, "version": int(previous.get("version", 0) or 0) + 1, "writer": writer, "run": run,
           "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    (Path(staging) / VERSION_GROUP).mkdir(parents=True, exist_ok=True)
    meta = {"zarr_format": 3, "node_type": "group", "attributes": {"workbench_version": doc}}
    atomic_write_text(Path(staging) / VERSION_FILE, json.dumps(meta, indent=1, sort_keys=True))
    return doc


def cube_state(cube) -> dict:
    """What identifies the committed version of a local cube: its version record and its directory's inode.

    Every writer replaces the cube's directory by a rename, so the inode changes with every commit, also for
    cubes written before version records existed.
    """
    real = resolve_cube(cube)
    try:
        inode = real.stat().st_ino
    except OSError:
        inode = None
    doc = read_version(real)
    return {"version": doc.get("version", 0), "run": doc.get("run", ""), "inode": inode}


def link_subtree(original: Path, staging: Path, sub: str) -> bool:
    """Hard-link (or copy) every file under ``original/sub`` into ``staging/sub``; False if there is none."""
    src_root = Path(original) / sub
    if not src_root.is_dir():
        return False
    for root, _dirs, files in os.walk(src_root):
        for name in files:
            src = Path(root) / name
            dst = Path(staging) / src.relative_to(original)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                continue
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    return True
