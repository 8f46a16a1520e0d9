"""VEE benchmark: `python -m benchmarks.bench_vee --meters 10000` (see --help).

Prints, in one run and on the same data (N meters x one month of 15-minute intervals of the sample utility,
with the demo faults injected so that estimation has work to do):

1. the fair floor: a plain ``np.add.reduce`` of the same arrays in memory, on as many threads as the VEE kernel, of delivered and of
   received per meter (what merely reading the energy data once costs);
2. ``run_vee`` on the same in-memory slice, end to end (calendar, kernels, edits and exceptions tables, the
   edited dataset), and its numba kernel alone;
3. the ratio VEE / reference (target: within 5x);
4. once, from and to Zarr: reading the month from the cube and summing it vs ``vee_cube`` (read, VEE, write
   the validated cube atomically, audit trail) on a copy of the cube.

Medians of --repeats interleaved runs; the machine is shared and noisy, so compare ratios, not seconds. The month cube is
generated once with workbench.sample and cached under data/bench/ (git-ignored).
"""

from __future__ import annotations

import argparse
import inspect
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.floors import engine_threads, reduce_floor
from workbench.ami.cube import open_cube, write_cube
from workbench.sample import generate_sample_utility
from workbench.vee import inject_faults, load_config, run_vee, vee_cube
from workbench.vee.calendar import active_ranges, vee_calendar
from workbench.vee.engine import kernel_params, rule_masks, vee_arrays


def median_times(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Median seconds of each function; the runs are interleaved (a, b, c, a, b, c...) so that a change in
    the machine's load hits every contender alike."""
    times = {name: [] for name in fns}
    results = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}, results


def month_cube(meters: int, month: int, folder: Path) -> Path:
    """The cached cube of ``meters`` sample meters for ``month`` of 2025 (generated once)."""
    cube = folder / f"vee-{meters}-2025-{month:02d}.zarr"
    if cube.exists():
        return cube
    print(f"generating {meters:,} sample meters x 2025-{month:02d} into {cube} (once; reused later)...", flush=True)
    if "months" in inspect.signature(generate_sample_utility).parameters:
        generate_sample_utility(cube, n_meters=meters, year=2025, seed=7, meter_chunk=1000, progress=False,
                                months=(month, month))
    else:  # an older generator: a year, then the month cut out of it
        year = folder / f"vee-{meters}-2025.zarr"
        generate_sample_utility(year, n_meters=meters, year=2025, seed=7, meter_chunk=1000, progress=False)
        ds = open_cube(year, chunks=False)
        lo = np.datetime64(f"2025-{month:02d}-01T05:00")
        hi = np.datetime64(f"2025-{month + 1:02d}-01T04:00") if month < 12 else ds["time"].values[-1]
        write_cube(ds.sel(time=slice(lo, hi)), cube)
        shutil.rmtree(year)
    return cube


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--month", type=int, default=3, help="month of 2025 (3: has the spring-forward day)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default="data/bench", help="where the month cube is cached")
    parser.add_argument("--no-zarr", action="store_true", help="skip the Zarr-to-Zarr run (4.)")
    args = parser.parse_args(argv)

    cube = month_cube(args.meters, args.month, Path(args.data))
    config = load_config()
    clean = open_cube(cube, chunks=False)
    ds, truth = inject_faults(clean, seed=1, config=config)
    delivered = np.ascontiguousarray(ds["delivered_kwh"].values)
    received = np.ascontiguousarray(ds["received_kwh"].values)
    n_meters, n_t = delivered.shape
    print(f"VEE benchmark: {n_meters:,} meters x {n_t:,} intervals (2025-{args.month:02d}, 15 min), "
          f"{len(truth):,} injected faults; {platform.processor() or platform.machine()}, median of {args.repeats}")

    threads = engine_threads()  # run_vee's kernel is a numba parallel loop over meters

    def reference():
        return reduce_floor([delivered, received], threads)

    run_vee(ds.isel(meter=slice(0, 10)), config)  # compile / load the numba cache outside the timings
    cal = vee_calendar(ds["time"].values, ds.attrs["timezone"], 15, config.holiday_calendar)
    a0, a1 = active_ranges(ds["meter"].values, ds["time"].values, None, ds.attrs["timezone"])
    enabled, estimate = rule_masks(config)
    fp, ip = kernel_params(config, 15)
    nem = np.asarray(ds["nem_program"].values).astype(str) != ""
    quality = np.ascontiguousarray(ds["quality"].values)

    def kernel():
        return vee_arrays(delivered, received, quality, cal.day_of, cal.day_start, cal.day_kind, cal.slot,
                          cal.slot_pos, a0, a1, nem, enabled, estimate, fp, ip)

    medians, results = median_times({"reference": reference, "run_vee": lambda: run_vee(ds, config),
                                     "kernel": kernel}, args.repeats)
    t_ref, t_vee, t_kernel = medians["reference"], medians["run_vee"], medians["kernel"]
    result = results["run_vee"]
    gb = (delivered.nbytes + received.nbytes) / 1e9
    print(f"  floor      np.add.reduce of both channels, {threads} thread(s): {t_ref:8.3f} s  ({gb / t_ref:5.1f} GB/s)")
    print(f"  run_vee    end to end (in memory):                     {t_vee:8.3f} s  "
          f"ratio {t_vee / t_ref:5.2f}x  (target <= 5x)")
    print(f"  kernel     vee_arrays alone:                          {t_kernel:8.3f} s  ratio {t_kernel / t_ref:5.2f}x")
    print(f"  intervals per second (run_vee): {n_meters * n_t / t_vee / 1e6:,.1f} million; estimated "
          f"{result.intervals_estimated:,}, edits {result.edits.num_rows:,}, exceptions {result.exceptions.num_rows:,}")

    if not args.no_zarr:
        with tempfile.TemporaryDirectory(dir=args.data) as tmp:
            copy = Path(tmp) / "cube.zarr"
            shutil.copytree(cube, copy)
            t0 = time.perf_counter()
            lazy = open_cube(copy)
            reduce_floor([lazy["delivered_kwh"].values, lazy["received_kwh"].values], threads)
            t_read = time.perf_counter() - t0
            t0 = time.perf_counter()
            vee_cube(copy, config)
            t_cube = time.perf_counter() - t0
        print(f"  from Zarr: read + plain sum {t_read:.2f} s; vee_cube (read, VEE, write, audit) {t_cube:.2f} s, "
              f"ratio {t_cube / t_read:.2f}x (one run each)")


if __name__ == "__main__":
    main()
