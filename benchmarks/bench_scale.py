"""Scaling benchmark: ``python -m benchmarks.bench_scale --meters 10000,50000,100000,500000 --workers 1,2,4``.

One-month bill runs (``workbench cycle --period 2025-11`` on a sample cube of October and November 2025,
15-minute data) at several utility sizes, each run as the command line runs it, in a subprocess under
``/usr/bin/time -v`` (or ``getrusage`` where that is missing), so the peak resident memory is the whole
run's. Printed beside each run, measured in the same run on the same cube: the time to read the same Zarr
data once (every meter chunk of ``delivered_kwh``, ``received_kwh`` and ``quality`` decoded and summed plainly with
numpy, in a subprocess too), and the ratio. Then the same bill run of one size on a dask ``LocalCluster`` of
1, 2 and 4 worker processes against the in-process run, and (``--storage``) how the meter chunk size and
the compression codec change the size on disk, the read time and the bill run time.

Cubes are generated once into ``--data`` (default ``data/bench/scale``, git-ignored) and reused: 500,000
meters × 2 months take about 3 minutes and 6 GB. The machine is shared and noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.floors import ZARR_READ

MONTHS = "2025-10:2025-11"
PERIOD = "2025-11"
SEED = 42
READ_ONCE = ZARR_READ  # a plain decode-and-sum of the same arrays, chunk by chunk, on N threads


def cube_path(folder: Path, meters: int, suffix: str = "") -> Path:
    return folder / f"cube-{meters}-{MONTHS.replace(':', '_')}{suffix}.zarr"


def ensure_cube(folder: Path, meters: int) -> Path:
    path = cube_path(folder, meters)
    if not path.exists():
        print(f"generating {meters:,} meters x {MONTHS} into {path} (once; reused later)...", flush=True)
        run([sys.executable, "-m", "workbench.cli", "sample", "--meters", str(meters), "--months", MONTHS,
             "--seed", str(SEED), "--out", str(path), "--quiet"])
    return path


def run(cmd: list[str]) -> dict:
    """Run ``cmd``; return its wall seconds, peak RSS [MiB] and stdout."""
    timer = shutil.which("time") and Path("/usr/bin/time").exists()
    full = (["/usr/bin/time", "-v"] if timer else []) + cmd
    t0 = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    if timer:
        peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    else:  # the largest child so far: our subprocesses run one at a time
        import resource

        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "peak_mib": peak_kib / 1024, "stdout": proc.stdout}


READ_THREADS = os.cpu_count() or 1  # the in-process cycle decodes and scans on every core: so may the floor


def read_once(cube: Path) -> float:
    """Seconds of one plain decode-and-sum of the arrays the cycle reads, on READ_THREADS threads."""
    out = run([sys.executable, "-c", READ_ONCE, str(cube), str(READ_THREADS), "delivered_kwh,received_kwh,quality"])
    return float(out["stdout"].split()[0])


def bill(cube: Path, out: Path, *extra: str) -> dict:
    result = run([sys.executable, "-m", "workbench.cli", "cycle", "--cube", str(cube), "--period", PERIOD,
                  "--out", str(out), "--fresh", "--quiet", *extra])
    run_json = json.loads((out / "run.json").read_text())
    result.update(bills=run_json["bills"], meters=run_json["meters_in"])
    # the run's own time, without starting Python and importing the package
    result["in_run"] = float(re.search(r"meters .* in ([0-9.]+) s", result["stdout"]).group(1))
    shutil.rmtree(out, ignore_errors=True)
    return result


def median_of(fn, repeats):
    values = [fn() for _ in range(repeats)]
    return statistics.median(v if isinstance(v, float) else v["seconds"] for v in values), values


def sizes_section(args, folder: Path, scratch: Path) -> list[dict]:
    rows = []
    print(f"\n## One-month bill run by utility size (in-process; the floor reads on {READ_THREADS} threads)\n")
    print("| meters | bills | bill run: s (in the run) | peak RSS: MiB | bills/s | µs per meter | read Zarr once: s "
          "| × read |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for meters in args.meters:
        cube = ensure_cube(folder, meters)
        read_s, _ = median_of(lambda c=cube: read_once(c), args.repeats)
        runs = [bill(cube, scratch / "out") for _ in range(args.repeats)]
        best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        row = {"meters": meters, "bills": best["bills"], "seconds": best["seconds"], "in_run": best["in_run"],
               "peak_mib": max(r["peak_mib"] for r in runs), "read_seconds": read_s}
        row["bills_per_s"] = row["bills"] / row["seconds"]
        row["us_per_meter"] = 1e6 * row["seconds"] / meters
        row["ratio"] = row["seconds"] / read_s
        rows.append(row)
        print(f"| {meters:,} | {row['bills']:,} | {row['seconds']:.1f} ({row['in_run']:.1f}) | {row['peak_mib']:,.0f} | "
              f"{row['bills_per_s']:,.0f} | {row['us_per_meter']:.0f} | {read_s:.1f} | {row['ratio']:.2f} |", flush=True)
    return rows


def workers_section(args, folder: Path, scratch: Path) -> list[dict]:
    meters = args.workers_meters
    cube = ensure_cube(folder, meters)
    print(f"\n## The same run on a dask LocalCluster ({meters:,} meters; client process RSS)\n")
    print("| run | s | peak RSS (client): MiB | bills/s | × in-process |")
    print("| --- | --- | --- | --- | --- |")
    base_s, base = median_of(lambda: bill(cube, scratch / "out"), args.repeats)
    rows = [{"run": "in-process", "seconds": base_s, "peak_mib": base[0]["peak_mib"], "bills": base[0]["bills"]}]
    print(f"| in-process | {base_s:.1f} | {base[0]['peak_mib']:,.0f} | {base[0]['bills'] / base_s:,.0f} | 1.00 |",
          flush=True)
    for n in args.workers:
        secs, runs = median_of(lambda n=n: bill(cube, scratch / "out", "--scheduler", "local", "--workers", str(n)),
                               args.repeats)
        rows.append({"run": f"LocalCluster {n} workers", "seconds": secs, "peak_mib": runs[0]["peak_mib"],
                     "bills": runs[0]["bills"], "overhead": secs / base_s})
        print(f"| LocalCluster, {n} worker{'s' if n > 1 else ''} | {secs:.1f} | {runs[0]['peak_mib']:,.0f} | "
              f"{runs[0]['bills'] / secs:,.0f} | {secs / base_s:.2f} |", flush=True)
    return rows


def storage_section(args, folder: Path, scratch: Path) -> list[dict]:
    """Meter chunk size and codec: size on disk, read time, bill run time (same data rewritten)."""
    from zarr.codecs import BloscCodec

    from workbench.ami.cube import open_cube, write_cube

    meters = args.storage_meters
    source = ensure_cube(folder, meters)
    variants = [(500, "zstd (default)"), (1000, "zstd (default)"), (5000, "zstd (default)"),
                (1000, "blosc lz4 + shuffle"), (1000, "none")]
    codecs = {"blosc lz4 + shuffle": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")], "none": None}
    print(f"\n## Storage: meter chunk and codec ({meters:,} meters x {MONTHS}, float32)\n")
    print("| meters per chunk | codec | on disk: MB | read once: s | bill run: s | peak RSS: MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    rows = []
    ds = open_cube(source)
    for chunk, codec in variants:
        path = scratch / f"storage-{chunk}-{codec.split()[0]}.zarr"
        write_cube(ds, path, meter_chunk=chunk)
        if codec != "zstd (default)":
            _recompress(path, codecs[codec])
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        read_s, _ = median_of(lambda p=path: read_once(p), args.repeats)
        billed_s, runs = median_of(lambda p=path: bill(p, scratch / "out"), args.repeats)
        rows.append({"chunk": chunk, "codec": codec, "mb": size, "read_seconds": read_s, "bill_seconds": billed_s,
                     "peak_mib": runs[0]["peak_mib"]})
        print(f"| {chunk:,} | {codec} | {size:,.0f} | {read_s:.2f} | {billed_s:.1f} | {runs[0]['peak_mib']:,.0f} |",
              flush=True)
        shutil.rmtree(path)
    return rows


def _recompress(path: Path, compressors) -> None:
    """Rewrite the interval arrays of the cube at ``path`` with other compressors (same chunks, same data)."""
    import zarr

    from workbench.ami.cube_schema import INTERVAL_VARS
    from workbench.ami.cube_store import quiet_zarr

    with quiet_zarr():
        group = zarr.open_group(path, mode="r+")
        for name in INTERVAL_VARS:
            old = group[name]
            data, attrs = old[:], dict(old.attrs)
            del group[name]
            new = group.create_array(name, shape=data.shape, chunks=old.chunks, dtype=data.dtype,
                                     fill_value=old.fill_value, compressors=compressors,
                                     dimension_names=("meter", "time"))
            new[:] = data
            new.attrs.update(attrs)
        zarr.consolidate_metadata(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda text: [int(v) for v in text.split(",") if v]  # noqa: E731
    parser.add_argument("--meters", type=ints, default=[10_000, 50_000, 100_000, 500_000])
    parser.add_argument("--workers", type=ints, default=[1, 2, 4], help="LocalCluster sizes ('' to skip)")
    parser.add_argument("--workers-meters", type=int, default=50_000, help="utility size of the LocalCluster runs")
    parser.add_argument("--storage", action="store_true", help="also measure meter chunk sizes and codecs")
    parser.add_argument("--storage-meters", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=1, help="runs per figure (medians)")
    parser.add_argument("--data", default="data/bench/scale", help="where the cubes are cached")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    folder = Path(args.data)
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f"scratch-{os.getpid()}"
    scratch.mkdir()
    print(f"# bench_scale: {os.cpu_count()} cores, one-month bill runs ({PERIOD}) from {MONTHS} cubes")
    results = {}
    try:
        if args.meters:
            results["sizes"] = sizes_section(args, folder, scratch)
        if args.workers:
            results["workers"] = workers_section(args, folder, scratch)
        if args.storage:
            results["storage"] = storage_section(args, folder, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
