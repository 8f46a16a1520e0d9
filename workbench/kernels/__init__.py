"""numba kernels only: plain loops over numpy arrays. No xarray, no pandas here.

numba's on-disk cache (``cache=True``) keys a compiled kernel by its own source file only, so a kernel that calls
one in another file (``scan`` calls ``run_sums``) would keep stale machine code after that other file changed
(a ``git pull`` that edits only ``run_sums.py``). Before any kernel is defined, this package points numba's cache
at a directory named by a hash of every kernel source file, so changed kernels always compile afresh.
"""

import hashlib
import os
from pathlib import Path

import numba

_HERE = Path(__file__).resolve().parent


def source_hash(folder: Path = _HERE) -> str:
    """A short sha256 of the names and bytes of every ``*.py`` file in ``folder`` (the kernels' sources)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _cache_root() -> Path:
    """The user's ``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside the kernels (or the user cache when that
    is not writable, as numba itself falls back)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    local = _HERE / "__pycache__"
    try:
        local.mkdir(exist_ok=True)
        if os.access(local, os.W_OK):
            return local
    except OSError:
        pass
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench"


CACHE_DIR = str(_cache_root() / f"numba-{source_hash()}")
numba.config.CACHE_DIR = CACHE_DIR

from workbench.kernels.scan import scan_determinants  # noqa: E402  (after the cache directory is set)

__all__ = ["CACHE_DIR", "scan_determinants", "source_hash"]
