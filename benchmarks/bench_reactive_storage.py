"""Bytes on disk of the cube's reactive channel: `python -m benchmarks.bench_reactive_storage --meters 2000`.

From one sample cube (N meters, one month of 15-minute data, 100 meters per chunk), writes with
:func:`workbench.ami.cube.write_cube`:

- ``none``: the cube without the reactive channel (the floor: what a cube cost before the channel existed);
- ``0 %``: the channel present, no meter with kVARh (only metadata and the all-False ``has_reactive``);
- ``10 % clustered``: 10 % of the meters, in consecutive rows (one meter chunk in ten holds kVARh);
- ``10 % spread``: every tenth meter (every meter chunk holds one: the worst case for meter chunking).

kVARh are the meter's kWh × tan(acos(0.9)) with ±10 % noise. Prints a Markdown table of bytes on disk.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from workbench.ami.cube import open_cube, write_cube
from workbench.sample import generate_sample_utility


def _bytes(path: Path, sub: str | None = None) -> int:
    root = path / sub if sub else path
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.exists() else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=2000, help="meters (default: %(default)s)")
    parser.add_argument("--chunk", type=int, default=100, help="meters per chunk (default: %(default)s)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-reactive-"))
    try:
        generate_sample_utility(tmp / "base.zarr", n_meters=args.meters, months=(1, 1), meter_chunk=args.chunk,
                                progress=False)
        base = open_cube(tmp / "base.zarr", chunks=False).drop_vars(["reactive_kvarh", "has_reactive"])
        n = base.sizes["meter"]
        rng = np.random.default_rng(1)
        tan = np.sqrt(1 - 0.81) / 0.9
        kvarh_all = (base["delivered_kwh"].values * tan * rng.normal(1, 0.1, base["delivered_kwh"].shape))
        kvarh_all = np.maximum(kvarh_all, 0).astype(np.float32)
        cases = {"none": None, "0 %": np.zeros(n, bool),
                 "10 % clustered": np.arange(n) < n // 10, "10 % spread": np.arange(n) % 10 == 0}
        rows = []
        for label, who in cases.items():
            ds = base
            if who is not None:
                kvarh = np.where(who[:, None], kvarh_all, np.nan).astype(np.float32)
                ds = base.assign(reactive_kvarh=(("meter", "time"), kvarh))
            path = tmp / f"{label.replace(' ', '_').replace('%', 'pct')}.zarr"
            write_cube(ds, path, meter_chunk=args.chunk)
            rows.append((label, _bytes(path), _bytes(path, "reactive_kvarh") + _bytes(path, "has_reactive")))
        floor = rows[0][1]
        print(f"{n:,} meters x {base.sizes['time']:,} 15-minute intervals (January), {args.chunk} meters per chunk\n")
        print("| cube | bytes on disk | reactive arrays | x the cube without the channel |")
        print("| --- | --- | --- | --- |")
        for label, total, reactive in rows:
            print(f"| {label} | {total:,} | {reactive:,} | {total / floor:.4f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
