"""Keep freed chunk buffers inside the process (glibc only): the one place the workbench tunes ``malloc``.

A bill run decodes each meter chunk of the cube (the energy channels of 1,000 meters for a year: ~315 MB)
into new arrays, bills it and frees it. glibc serves every allocation above its mmap threshold with a fresh
``mmap`` and returns it with ``munmap`` on free, and a thread's arena (Zarr decodes on its own threads) always
does so for a block larger than its 64 MB heap. So every chunk touched new pages: ~88,000 minor page faults a
chunk, ~940,000 and 4-9 s of system time for 10,000 meters x a year, about as much as the decoding itself.

:func:`keep_freed_memory` sets three ``mallopt`` parameters for the rest of the process:

- ``M_ARENA_MAX`` 1: every thread allocates from the main arena (whose heap can hold blocks of any size);
- ``M_MMAP_MAX`` 0: no allocation is served by its own ``mmap``, so a freed block stays in the heap;
- ``M_TRIM_THRESHOLD`` 2 GiB: the heap's free top is not handed back to the system after each chunk.

The next chunk's buffers then reuse the pages of the last one (no faults): ~216,000 faults and 1-2 s of system
time for that run. The price is memory held until the process ends: its peak RSS rose by about one chunk (~900
to ~1,200 MiB), while 100,000 meters x a month fell (~630 to ~535 MiB). It is for a process that does one bill
run (``workbench cycle``), not for a library caller, whose process it would change. Bills are the same to the
bit.

Nothing is done elsewhere than on glibc (musl, macOS, Windows have other allocators), nor when the user set
any of glibc's malloc variables (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_``,
``GLIBC_TUNABLES``): theirs win. Must run before the run starts its threads: a thread that already has an
arena keeps it.
"""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8

SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1))  # mallopt takes a C int
USER_VARIABLES = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def glibc():
    """The C library of this process when it is glibc (a ``ctypes.CDLL``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it: musl does not)
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory(environ=os.environ) -> bool:
    """Tell glibc's ``malloc`` to keep freed blocks for reuse (see the module docstring); True when it did,
    False when skipped (not glibc, or the user set glibc's malloc variables) or glibc refused a setting."""
    if any(name in environ for name in USER_VARIABLES):
        return False
    libc = glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    return all([libc.mallopt(param, value) == 1 for param, value in SETTINGS])
