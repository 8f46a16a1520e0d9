"""How ``workbench cycle`` and ``workbench sample`` hold, check and write their output folders.

Built on the shared primitives of :mod:`workbench.outputs` (owned folders with a marker, staging + atomic
rename, ``flock`` locks). What this module adds, for commands that write one output folder ``OUT``:

- :func:`output_lock`: the lock ``<parent>/.<OUT name>.lock`` held for the whole run, so a second run into the
  same folder is refused with one line naming it (the kernel frees the lock when a run dies);
- :func:`refuse_working_dir`: ``--out .`` (or any folder the shell stands in) is never an output folder;
- :func:`clean_stale_staging`: the staging folders a killed run left beside ``OUT`` (only those named by
  :func:`workbench.outputs.staging_dir` for this ``OUT``; the old-output ones only when they carry our marker);
- :func:`write_error`: an ``OSError`` met while writing (no space, no permission, read-only, a file in the
  way) as a :class:`WorkbenchError` naming the path and what to do;
- :func:`staged_output`: all of the above around writing one folder (lock, check, stage, rename into place).

The rules are in docs/outputs.md.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.outputs import (
    MARKER,
    STAGING_PREFIX,
    exclusive_lock,
    mark_output_dir,
    remove_staging,
    replace_dir,
    staging_dir,
)

_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space or name a folder on another disk",
    errno.EDQUOT: "the disk quota is used up: free some space or name a folder on another disk",
    errno.EACCES: "permission denied: name a folder this user can write",
    errno.EPERM: "not permitted: name a folder this user can write",
    errno.EROFS: "the file system is read-only: name a folder on a writable disk",
    errno.ENOTDIR: "a file is in the way where a folder is expected: name another folder",
    errno.EEXIST: "a file is in the way where a folder is expected: name another folder",
    errno.EISDIR: "a folder is in the way where a file is expected: name another folder",
    errno.ENOENT: "the folder does not exist and cannot be made there: name a folder this user can write",
    errno.ENAMETOOLONG: "the path is too long: name a shorter one",
    errno.EIO: "the disk reported an input/output error: check the disk, or name a folder on another one",
}


def absolute(path) -> Path:
    """``path`` made absolute without resolving links (``.`` becomes the working directory's name)."""
    return Path(os.path.abspath(Path(path)))


def lock_path(out) -> Path:
    """The lock file of the output folder ``out``: ``<parent>/.<name>.lock``, beside the folder."""
    out = absolute(out)
    return out.parent / f".{out.name}.lock"


def remove_private_lock(out) -> None:
    """Remove the (released) lock files of ``out`` when ``out`` was written inside a staging folder.

    A command that builds a sub-folder (``OUT/determinants``) with :func:`staged_output` inside its own staging
    folder leaves that sub-folder's lock ``.<name>.lock`` (and ``.holder``) in the staging folder, and so in its
    output. No other run can know that path (the staging folder's name is random and the outer run holds the
    lock of ``OUT``), so no process can wait on that lock: removing it after release is safe, unlike the lock
    beside ``OUT`` itself, which stays (docs/outputs.md).
    """
    lock = lock_path(out)
    for path in (lock, lock.with_name(lock.name + ".holder")):
        path.unlink(missing_ok=True)


def refuse_working_dir(out, kind: str, option: str = "--out") -> None:
    """Refuse an output folder that is the working directory or holds it (``--out .``, ``--out ..``, ``/``)."""
    target = absolute(out)
    here = absolute(Path.cwd())
    if target == here or target in here.parents:
        raise WorkbenchError(f"{option} {out}: is the working directory (or holds it); name a new folder for the "
                             f"{kind}, e.g. {option} {kind.replace(' ', '-')} (nothing was changed)")


def refuse_nested(out, other, what: str, option: str = "--out") -> None:
    """Refuse ``out`` inside ``other`` (a local input such as the cube) or ``other`` inside ``out``."""
    if other is None or "://" in str(other):
        return
    a, b = absolute(out), absolute(other)
    if a == b or b in a.parents or a in b.parents:
        raise WorkbenchError(f"{option} {out}: overlaps {what} {other}; name a folder outside it (nothing was changed)")


def write_error(path, exc: OSError, option: str | None = "--out") -> WorkbenchError:
    """The error for ``exc``, met while writing ``path`` (or the file the OS names), saying what to do."""
    code = exc.errno
    if code is None:  # pyarrow raises OSError("... [Errno 28] No space left on device") without errno
        found = re.search(r"\[Errno (\d+)\]", str(exc))
        code = int(found.group(1)) if found else None
    where = exc.filename or path
    advice = _ADVICE.get(code) or f"{exc.strerror or exc}: name a folder this user can write"
    head = f"{option} {path}" if option else f"{path}"
    target = "there" if str(where) == str(path) else str(where)
    return WorkbenchError(f"{head}: cannot write {target} ({advice}); nothing was replaced")


@contextmanager
def output_lock(out, kind: str, option: str = "--out") -> Iterator[Path]:
    """Hold the lock of the output folder ``out`` for the block; refuse if another run holds it."""
    lock = lock_path(out)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a"):  # a lock that cannot be made is a write error, not "in use"
            pass
    except OSError as exc:
        raise write_error(out, exc, option) from None
    with exclusive_lock(lock, f"the {kind} folder {out}"):
        yield lock


def clean_stale_staging(out, kind: str) -> list[Path]:
    """Remove the staging folders a killed run into ``out`` left beside it; returns what was removed.

    Call with the lock of ``out`` held. ``.staging-<name>-<8 hex>`` is only ever made by
    :func:`workbench.outputs.staging_dir` for this ``out``; ``.staging-<name>-old-<8 hex>`` (an earlier output
    moved aside) is removed only if it carries the marker of ``kind`` (the name could be another folder's).
    """
    out = absolute(out)
    name = re.escape(out.name)
    new = re.compile(rf"{re.escape(STAGING_PREFIX)}{name}-[0-9a-f]{{8}}")
    old = re.compile(rf"{re.escape(STAGING_PREFIX)}{name}-old-[0-9a-f]{{8}}")
    removed = []
    try:
        candidates = list(out.parent.glob(f"{STAGING_PREFIX}*"))
    except OSError:
        return removed
    for path in candidates:
        if path.is_symlink() or not path.is_dir():
            continue
        if new.fullmatch(path.name) or (old.fullmatch(path.name) and marker_kind(path) == kind):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def marker_kind(path) -> str | None:
    """The ``kind`` in the marker of ``path``, or None (no marker, or not readable)."""
    try:
        return json.loads((Path(path) / MARKER).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


@contextmanager
def staged_output(out, kind: str, check: Callable[[Path], bool], option: str = "--out") -> Iterator[Path]:
    """Lock ``out``, check it, yield a staging folder beside it, then rename the staging folder into place.

    ``check(out)`` raises if this command may not write ``out`` and returns True for an earlier output of the
    command written before the marker existed (it gets the marker, so that :func:`replace_dir` takes it).
    On any error the staging folder is removed and ``out`` is as it was; an ``OSError`` becomes
    :func:`write_error`.
    """
    out = Path(out)
    with output_lock(out, kind, option):
        check(out)
        clean_stale_staging(out, kind)
        tmp = staging_dir(out)
        try:
            try:
                yield tmp
                if check(out):  # again: files put there by hand during the run are refused, not deleted
                    mark_output_dir(out, kind)
                replace_dir(tmp, out, kind, option)
            except OSError as exc:
                raise write_error(out, exc, option) from None
        except BaseException:
            remove_staging(tmp)
            raise
