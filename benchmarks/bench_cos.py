"""Benchmark: the cost-of-service allocators against one plain read of the same Zarr arrays.

    PYTHONPATH=. python benchmarks/bench_cos.py CUBE YEAR [--engine numba|numpy]

The floor reads ``delivered_kwh`` and ``received_kwh`` of the test year chunk by chunk (what any pass over the
intervals must do) and discards them; it runs before and after the allocators, and the ratio uses the faster.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from workbench.ami.cube_calendar import cube_time
from workbench.ami.cube_chunks import open_zarr_group
from workbench.billing.cube_source import open_run_cube
from workbench.design.allocators import allocator_table, class_loads, find_test_year
from workbench.kernels.allocators import accumulate_class_loads


def plain_read(cube, year) -> tuple[float, int]:
    ds = open_run_cube(cube)
    utc, step = cube_time(ds)
    ty = find_test_year(utc, step, ds.attrs["timezone"], year)
    group = open_zarr_group(cube)
    chunk = group["delivered_kwh"].chunks[0]
    started, read = time.perf_counter(), 0
    for lo in range(0, group["delivered_kwh"].shape[0], chunk):
        for name in ("delivered_kwh", "received_kwh"):
            read += group[name][lo:lo + chunk, ty.start:ty.stop].nbytes
    return time.perf_counter() - started, read


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cube")
    parser.add_argument("year", type=int)
    parser.add_argument("--engine", default="numba")
    args = parser.parse_args()
    accumulate_class_loads(np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32), np.zeros(2, np.int64), 4.0,
                           np.zeros((1, 4)), np.zeros((1, 4)), np.zeros(2), np.zeros(2))  # compile outside the timing
    floor1, nbytes = plain_read(args.cube, args.year)
    started = time.perf_counter()
    loads = class_loads(args.cube, args.year, engine=args.engine)
    allocator_table(loads)
    seconds = time.perf_counter() - started
    floor2, _ = plain_read(args.cube, args.year)
    floor = min(floor1, floor2)
    meters = int(loads.customers.sum())
    print(f"meters {meters}, intervals {loads.net_kw.shape[1]}, bytes {nbytes / 1e9:.2f} GB (float32, decompressed)")
    print(f"plain read: {floor1:.2f} s / {floor2:.2f} s -> {nbytes / floor / 1e9:.2f} GB/s")
    print(f"allocators ({args.engine}): {seconds:.2f} s -> {nbytes / seconds / 1e9:.2f} GB/s, "
          f"ratio {seconds / floor:.2f} x the plain read")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
