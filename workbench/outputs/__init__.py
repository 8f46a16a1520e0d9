"""Safe outputs: folders a command owns, atomic writes, and locks that die with their process.

The rules every writing command follows (issue "nothing lost, nothing destroyed"):

- A command writes a folder only if the folder is new, empty, or carries the marker file
  (:data:`MARKER`) that this module wrote when the command created it, with the same ``kind``.
  A folder holding anything else (the working directory, a user's folder, an interval cube) is refused
  with an error that names it; nothing outside the command's own output is ever deleted.
- Files and folders appear by staging beside the target and an atomic :func:`os.replace`, so a reader
  sees the old version or the new one, never half of one.
- Locks are :class:`filelock.FileLock` (``flock`` on POSIX): the kernel frees a lock when its process dies,
  so a ``kill -9`` leaves no stale lock to clear by hand. The lock file's text names the holder's process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from workbench.errors import WorkbenchError

MARKER = ".workbench-output.json"
"""Marker file written into every folder a command creates; its ``kind`` says which command owns it."""

STAGING_PREFIX = ".staging-"


def _marker_kind(path: Path) -> str | None:
    try:
        return json.loads((path / MARKER).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def check_output_dir(path, kind: str, option: str = "--out") -> Path:
    """Refuse ``path`` unless this command may write it: new, empty, or marked as ``kind`` output.

    Returns the path. Raises :class:`WorkbenchError` naming the folder and what was found there.
    """
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise WorkbenchError(f"{option} {path}: is a file or a link, not a folder; name a new folder for the {kind}")
    if not path.exists():
        return path
    found = _marker_kind(path)
    if found == kind:
        return path
    try:
        entries = [p.name for p in path.iterdir()]
    except OSError as exc:
        raise WorkbenchError(f"{option} {path}: cannot be read ({exc.strerror}); name a folder this user can write") from None
    if not entries:
        return path
    if found is not None:
        raise WorkbenchError(f"{option} {path}: holds a {found} written by workbench, not a {kind}; name a new folder")
    shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
    raise WorkbenchError(f"{option} {path}: the folder holds files workbench did not write ({shown}); "
                         f"name a new or empty folder for the {kind} (nothing was changed)")


def mark_output_dir(path, kind: str) -> None:
    """Write the marker that makes ``path`` this command's own output folder."""
    path = Path(path)
    atomic_write_text(path / MARKER, json.dumps({
        "kind": kind, "written_by": "workbench",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}, indent=1))


def ensure_output_dir(path, kind: str, option: str = "--out") -> Path:
    """:func:`check_output_dir`, then create the folder (parents too) and mark it. Errors name the folder."""
    path = check_output_dir(path, kind, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if _marker_kind(path) != kind:
            mark_output_dir(path, kind)
    except OSError as exc:
        raise WorkbenchError(f"{option} {path}: cannot write there ({exc.strerror or exc}); "
                             "name a folder this user can write") from None
    return path


def staging_dir(final) -> Path:
    """A new, empty folder beside ``final`` (same file system, so :func:`replace_dir` is one rename)."""
    final = Path(final)
    tmp = final.parent / f"{STAGING_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise WorkbenchError(f"{final}: cannot write there ({exc.strerror or exc}); "
                             "name a folder this user can write") from None
    return tmp


def replace_dir(staged, final, kind: str, option: str = "--out") -> None:
    """Move the staged folder to ``final``, replacing only an earlier output of the same ``kind``.

    The staged folder gets the marker first; an earlier output is moved aside, the new one renamed in, and
    only then is the old one removed. Refuses (and leaves everything as it was) if ``final`` is not ours.
    """
    staged, final = Path(staged), Path(final)
    check_output_dir(final, kind, option)
    mark_output_dir(staged, kind)
    swap_into_place(staged, final, final.parent / f"{STAGING_PREFIX}{final.name}-old-{uuid.uuid4().hex[:8]}")


def swap_into_place(staged, final, aside) -> None:
    """Rename the folder ``staged`` to ``final``: an existing ``final`` is first moved to ``aside`` and put back
    if the rename fails, and removed only once the new folder is in place. The caller has checked ``final``."""
    staged, final, aside = Path(staged), Path(final), Path(aside)
    moved = final.exists()
    if moved:
        os.replace(final, aside)
    try:
        os.replace(staged, final)
    except BaseException:
        if moved:
            os.replace(aside, final)
        raise
    if moved:
        shutil.rmtree(aside, ignore_errors=True)


def remove_staging(staged) -> None:
    """Remove a staging folder made by :func:`staging_dir` (and nothing else)."""
    staged = Path(staged)
    if staged.name.startswith(STAGING_PREFIX):
        shutil.rmtree(staged, ignore_errors=True)


@contextmanager
def atomic_file(path) -> Iterator[Path]:
    """The one atomic write of the workbench: yield a temporary path beside ``path`` for the block to write
    (with any library: ``pq.write_table(table, tmp)``, ``frame.to_csv(tmp)``); on success it is renamed over
    ``path`` with :func:`os.replace`, on failure removed. A reader sees the old file or the new, never half."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it (flushed to disk) and :func:`os.replace`."""
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def exclusive_lock(lock_path, what: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold ``lock_path`` for the block, or raise :class:`WorkbenchError` saying ``what`` is busy.

    ``what`` says what is locked in people's words ("the cube data/utility.zarr"). The lock is an
    ``flock``: a process killed while holding it frees it, so no stale lock ever needs deleting.
    """
    lock_path = Path(lock_path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"{lock_path.parent}: cannot write there ({exc.strerror or exc})") from None
    try:  # a lock file that cannot be made is a path problem, not a busy lock (filelock says "timeout")
        with open(lock_path, "a"):
            pass
    except OSError as exc:
        raise WorkbenchError(f"{lock_path}: cannot lock {what} ({exc.strerror or exc}); "
                             "name a folder this user can write") from None
    lock = filelock.FileLock(str(lock_path), timeout=wait_seconds)
    try:
        lock.acquire()
    except filelock.Timeout:
        holder = _lock_holder(lock_path)
        raise WorkbenchError(f"{what} is in use by another workbench run{holder} (lock {lock_path}); "
                             "wait for it to finish and run again") from None
    except OSError as exc:
        raise WorkbenchError(f"{lock_path}: cannot lock {what} ({exc.strerror or exc})") from None
    try:
        _note_holder(lock_path)
        yield
    finally:
        lock.release()


def _holder_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder")


def _note_holder(lock_path: Path) -> None:
    try:
        _holder_path(lock_path).write_text(f"{os.getpid()}\n")
    except OSError:
        pass


def _lock_holder(lock_path: Path) -> str:
    try:
        pid = _holder_path(lock_path).read_text().strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


# ---------------------------------------------------------------------------------------------------------
# tables for people

#: decimals kept in a CSV for people: energy and demand to the watt-hour / watt, money to the cent
ENERGY_DECIMALS, MONEY_DECIMALS = 3, 2
_ENERGY_WORDS = ("kwh", "kvarh", "kw", "kva", "kvar")
_MONEY_WORDS = ("revenue", "amount", "bill", "total", "charge", "credit", "usd", "dollars", "cost", "balance")
_NOT_ROUNDED = ("rate", "per_", "_per", "ratio", "share", "pct", "percent", "factor", "multiplier")


def people_decimals(column: str) -> int | None:
    """Decimals a CSV for people keeps in ``column``: 3 for energy/demand (``kwh``, ``kw``...), 2 for money
    (``revenue``, ``amount``, ``average_bill``...), None (as computed) for prices, ratios and anything else.

    >>> people_decimals("kwh"), people_decimals("average_bill"), people_decimals("energy_rate")
    (3, 2, None)
    """
    words = str(column).lower()
    if any(w in words for w in _NOT_ROUNDED):
        return None
    parts = set(words.replace("-", "_").split("_"))
    if parts & set(_ENERGY_WORDS) or any(w in words for w in ("kwh", "kvarh")):
        return ENERGY_DECIMALS
    if any(w in words for w in _MONEY_WORDS):
        return MONEY_DECIMALS
    return None


def write_csv_for_people(frame, path) -> None:
    """Write a pandas DataFrame as CSV (atomically) with energy to 3 decimals and money to cents
    (:func:`people_decimals`); the Parquet beside it keeps full precision. Integers and text are as given."""
    rounded = frame.copy()
    for column in rounded.columns:
        decimals = people_decimals(column)
        if decimals is not None and rounded[column].dtype.kind == "f":
            rounded[column] = rounded[column].round(decimals)
    with atomic_file(path) as tmp:
        rounded.to_csv(tmp, index=False)


def check_report_csv(path, columns) -> None:
    """Refuse ``--out FILE`` that :func:`write_report_csv` would refuse for a report of ``columns``: a command that
    changes the ledger calls it first, so a refused ``--out`` means nothing was changed."""
    path = Path(path)
    if path.exists():
        try:
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        except (OSError, UnicodeDecodeError):
            first = ""
        if first != ",".join(map(str, columns)):
            raise WorkbenchError(f"--out {path}: exists and is not a report this command wrote; name a new file "
                                 "(nothing was changed)")


def write_report_csv(path, frame) -> None:
    """Write a command's report CSV (``--out FILE``) atomically. An existing file is replaced only when it is a
    report with the same header (the same command's earlier output); anything else is refused, unchanged."""
    path = Path(path)
    check_report_csv(path, frame.columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        frame.to_csv(tmp, index=False)
