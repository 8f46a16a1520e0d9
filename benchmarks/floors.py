"""Fair floors for the benchmarks: the least work that touches the same bytes, measured in the same run.

- In memory: a plain ``np.add.reduce`` of the same arrays along time (no NaN handling, no float64 upcast),
  on one thread, and on as many threads as the code under test uses (rows split across a thread pool;
  numpy releases the GIL inside a reduction). A ratio is stated against the floor with the same threads.
- From Zarr: one plain decode-and-sum of the same arrays, chunk by chunk, on the same number of threads.

Hand-written on purpose: the floor must be the plainest possible pass, with nothing of ours in it.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def engine_threads() -> int:
    """Threads the numba kernels run on (``parallel=True`` kernels use numba's pool)."""
    import numba

    return int(numba.get_num_threads())


def _row_blocks(n_rows: int, threads: int) -> list[slice]:
    step = -(-n_rows // threads)
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def reduce_floor(arrays, threads: int = 1):
    """``np.add.reduce(a, axis=1)`` of every array; with ``threads`` > 1, rows split across a thread pool."""
    if threads <= 1:
        return [np.add.reduce(a, axis=1) for a in arrays]
    with ThreadPoolExecutor(threads) as pool:
        out = []
        for a in arrays:
            parts = list(pool.map(lambda s, a=a: np.add.reduce(a[s], axis=1), _row_blocks(a.shape[0], threads)))
            out.append(np.concatenate(parts))
        return out


def memory_floors(arrays, repeats: int, threads: int) -> dict:
    """Seconds and GB/s of the plain reduction on 1 thread and on ``threads`` threads."""
    gb = sum(a.nbytes for a in arrays) / 1e9
    reduce_floor(arrays, threads)  # warm the pages and the pool outside the timing
    one = median_seconds(lambda: reduce_floor(arrays, 1), repeats)
    many = median_seconds(lambda: reduce_floor(arrays, threads), repeats) if threads > 1 else one
    return {"gigabytes": gb, "threads": threads, "seconds_1_thread": one, "gbps_1_thread": gb / one,
            "seconds": many, "gbps": gb / many}


def describe(floor: dict) -> str:
    text = (f"np.add.reduce of the same arrays: {floor['seconds_1_thread']:.3f} s on 1 thread "
            f"({floor['gbps_1_thread']:.1f} GB/s)")
    if floor["threads"] > 1:
        text += f", {floor['seconds']:.3f} s on {floor['threads']} threads ({floor['gbps']:.1f} GB/s)"
    return text


ZARR_READ = r"""
import sys, time
from workbench.heap import keep_freed_memory
keep_freed_memory()  # the malloc settings `workbench cycle` makes, so the floor reuses freed pages as it does
from concurrent.futures import ThreadPoolExecutor
import numpy as np, zarr
path, threads = sys.argv[1], int(sys.argv[2])
names = sys.argv[3].split(",")
group = zarr.open_group(path, mode="r")
n, chunk = group[names[0]].shape[0], group[names[0]].chunks[0]
def one(start):
    total, nbytes = 0.0, 0
    for name in names:
        block = group[name][start:start + chunk]
        total += float(np.add.reduce(block, axis=None))
        nbytes += block.nbytes
    return total, nbytes
t0 = time.perf_counter()
with ThreadPoolExecutor(threads) as pool:
    parts = list(pool.map(one, range(0, n, chunk)))
print(time.perf_counter() - t0, sum(p[1] for p in parts))
"""
"""A subprocess script: decode every meter chunk of the named arrays and sum it plainly, on N threads.
Prints seconds and decoded bytes. Run it from the repository root (it imports ``workbench.heap``): with
glibc's default settings the read itself pays ~885,000 page faults on the 10,000 x year cube (8-13 s instead
of 2-3 s), a floor the cycle, which keeps freed memory, would beat."""
