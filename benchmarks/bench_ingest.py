"""Ingest benchmark: ``python -m benchmarks.bench_ingest --meters 10000`` (``--help`` for options).

Long-format Parquet (meter, start, channel, value) for N meters × one month of 15-minute intervals × 2
channels (10,000 meters: 59.5 M reads), generated with pyarrow and cached under ``data/bench/``. Prints:

1. ``workbench.ami.ingest.ingest`` end to end into a new cube (read + map + write the cube), reads/s, beside
   ``pyarrow.parquet.read_table`` of the same file (decoding alone) and the reader alone
   (``stream_file``), medians of ``--repeats`` runs in one process, and the ingest's own step timings;
2. the same file ingested again (``force``: every value compared, nothing written);
3. peak RSS of a fresh process ingesting 1 month and 3 months of the same meters into a new 3-month cube
   under one memory budget: the peak does not grow with the file (it is set by the budget, the meter chunk
   and the batch size).

Target: >= 10 million reads/s end to end on the 2-core machine. The machine is shared: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.ami.registry import MeterRegistry
from workbench.ami.registry_meter import Meter

BENCH_DIR = Path("data/bench")
TZ = "America/New_York"


def bench_file(meters: int, months: int) -> Path:
    """The cached long-format Parquet file: meters × local months of 2025 from January × 2 channels."""
    path = BENCH_DIR / f"ingest-{meters}m-{months}mo.parquet"
    if path.exists():
        return path
    from workbench.ami.ingest_create import months_axis

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    starts = months_axis((2025, 1), (2025, months), TZ, 15).astype("datetime64[us]").astype(np.int64)
    n_t = len(starts)
    rng = np.random.default_rng(7)
    per_group = max(1, (1 << 21) // (2 * n_t))
    tmp = path.with_suffix(".partial")
    writer = None
    for m0 in range(0, meters, per_group):
        ids = [f"M{m:06d}" for m in range(m0, min(meters, m0 + per_group))]
        k = len(ids)
        n = k * 2 * n_t
        table = pa.table({
            "meter": pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(k, dtype=np.int32), 2 * n_t)),
                                                    pa.array(ids)),
            "start": pa.array(np.tile(starts, 2 * k)).view(pa.timestamp("us", tz="UTC")),
            "channel": pa.DictionaryArray.from_arrays(
                pa.array(np.tile(np.repeat(np.array([0, 1], np.int32), n_t), k)),
                pa.array(["delivered", "received"])),
            "value": np.round(rng.gamma(2.0, 0.3, n), 3),
        })
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=1 << 20)
    writer.close()
    os.replace(tmp, path)
    return path


def bench_registry(meters: int) -> MeterRegistry:
    return MeterRegistry([
        Meter(f"M{m:06d}", f"M{m:06d}", f"A{m:06d}", "RES", "RES-TOU", cycle=1 + m % 20,
              channels=("delivered", "received"), timezone=TZ, row=m + 2)
        for m in range(meters)
    ], "<bench>", validate=False)


def run_ingest(path: Path, cube: Path, meters: int, months: int, **kwargs):
    """Ingest ``path`` into ``cube`` (a new cube covers January to month ``months`` of 2025)."""
    from workbench.ami.ingest import ingest

    return ingest([path], cube, bench_registry(meters), create_period=f"2025-01:2025-{months:02d}",
                  step_minutes=15, reader_options={"unit": "kWh"}, **kwargs)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _stream(path: Path) -> int:
    from workbench.ami.readers import stream_file

    return sum(b.num_rows for b in stream_file(path, unit="kWh"))


_CHILD = """
import json, resource, sys
sys.path.insert(0, {cwd!r})
from benchmarks.bench_ingest import bench_registry, run_ingest
from pathlib import Path
import workbench.ami.ingest  # imports (numba, zarr, pyarrow) before the baseline

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

base = status("VmRSS:")
try:  # reset the high-water mark so the import-time peak does not count (Linux >= 4.0)
    open("/proc/self/clear_refs", "w").write("5")
except OSError:
    pass
res = run_ingest(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                 memory_budget=int(sys.argv[5]))
print(json.dumps({{"reads": res.accounting["reads_in"], "base_kib": base, "peak_kib": status("VmHWM:"),
                  "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def peak_rss(path: Path, meters: int, months: int, budget: int, workdir: Path) -> dict:
    cube = workdir / f"rss-{path.stem}.zarr"
    out = subprocess.run([sys.executable, "-c", _CHILD.format(cwd=os.getcwd()), str(path), str(cube), str(meters),
                          str(months), str(budget)], check=True, capture_output=True, text=True,
                         env=os.environ | {"PYTHONWARNINGS": "ignore"})
    shutil.rmtree(cube, ignore_errors=True)
    shutil.rmtree(cube.with_name(cube.name.removesuffix(".zarr") + ".ingest"), ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-budget", type=int, default=512 << 20,
                    help="memory budget of the peak-RSS runs [bytes] (default 512 MiB)")
    ap.add_argument("--skip-memory", action="store_true", help="skip the 1- vs 3-month peak-RSS runs")
    ap.add_argument("--workdir", type=Path, default=None, help="where the cubes go (default: a temp dir)")
    args = ap.parse_args(argv)

    print(f"generating / reusing {BENCH_DIR}/ ...")
    path = bench_file(args.meters, 1)
    n = pq.ParquetFile(path).metadata.num_rows
    with tempfile.TemporaryDirectory(dir=args.workdir) as d:
        d = Path(d)
        # warm up: numba loads its cached kernels once per process (about a second)
        small = bench_file(min(args.meters, 20), 1)
        run_ingest(small, d / "warm.zarr", min(args.meters, 20), 1)
        print(f"\n1. long-format Parquet, {args.meters:,} meters x 1 month x 2 channels = {n:,} reads "
              f"({path.stat().st_size / 1e6:.0f} MB), {os.cpu_count()} cores, medians of {args.repeats}")
        floor, reader, ours, steps = [], [], [], []
        for i in range(args.repeats):
            floor.append(_timed(lambda: pq.read_table(path)))
            reader.append(_timed(lambda: _stream(path)))
            cube = d / f"cube-{i}.zarr"
            t0 = time.perf_counter()
            res = run_ingest(path, cube, args.meters, 1)
            ours.append(time.perf_counter() - t0)
            steps.append(res.timings)
            assert res.accounting["new"] == n, res.accounting
            if i < args.repeats - 1:
                shutil.rmtree(cube)
        f, r, o = (statistics.median(x) for x in (floor, reader, ours))
        print(f"   pyarrow.parquet.read_table (decode only)  {f:6.2f} s  {n / f / 1e6:6.1f} M reads/s")
        print(f"   reader alone (stream_file -> READ_SCHEMA) {r:6.2f} s  {n / r / 1e6:6.1f} M reads/s")
        print(f"   ingest end to end (new cube)              {o:6.2f} s  {n / o / 1e6:6.1f} M reads/s   "
              f"= {o / f:.2f}x read_table's time (target >= 10 M reads/s)")
        keys = list(steps[0])
        print("   ingest steps (median s): " + ", ".join(
            f"{k} {statistics.median(s.get(k, 0.0) for s in steps):.2f}" for k in keys))
        print(f"   all runs: read_table {[round(x, 2) for x in floor]}, reader {[round(x, 2) for x in reader]}, "
              f"ingest {[round(x, 2) for x in ours]}")

        again = []
        for _ in range(max(1, args.repeats - 1)):
            t0 = time.perf_counter()
            res = run_ingest(path, cube, args.meters, 1, force=True)
            again.append(time.perf_counter() - t0)
            assert res.accounting["unchanged"] == n, res.accounting
        a = statistics.median(again)
        print(f"\n2. the same file again (force): every value compared, nothing written: {a:6.2f} s  "
              f"{n / a / 1e6:6.1f} M reads/s")

        if not args.skip_memory:
            path3 = bench_file(args.meters, 3)
            n3 = pq.ParquetFile(path3).metadata.num_rows
            print(f"\n3. peak RSS of a fresh process creating a 3-month cube, memory budget "
                  f"{args.memory_budget / 2**20:.0f} MiB, batches of 1,048,576 reads")
            for months, p, reads in ((1, path, n), (3, path3, n3)):
                rss = peak_rss(p, args.meters, 3, args.memory_budget, d)
                print(f"   {months} month(s) of reads: {reads:>12,} reads, file {p.stat().st_size / 1e6:5.0f} MB: "
                      f"after imports {rss['base_kib'] / 1024:5.0f} MiB, peak {rss['peak_kib'] / 1024:5.0f} MiB "
                      f"(+{(rss['peak_kib'] - rss['base_kib']) / 1024:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
