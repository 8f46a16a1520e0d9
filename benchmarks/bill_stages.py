"""Where an annual bill run's time goes: ``bench_billing.bill_all`` timed stage by stage, per tariff.

    PYTHONPATH=$PWD python -m benchmarks.bill_stages --data /work/main/data/bench --meters 10000 --repeats 7

Each stage (the tariff's schedule arrays, the bill periods, the scan and its numba kernel, pricing and its
version weights, context, season days, billing demand, and the line items of each version) is timed by wrapping
the function that does it, in this process only; the runs alternate with the 2-thread ``np.add.reduce`` floor
(``benchmarks.floors.reduce_floor``) and each stage is printed as milliseconds and as a share of that floor
(medians of --repeats). Run it under ``flock /tmp/bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from pathlib import Path

import benchmarks.bench_billing as bench
import workbench.calendar.periods as calendar_periods
import workbench.engine.pricing as pricing
import workbench.kernels.scan as scan_kernels
from benchmarks.floors import engine_threads, reduce_floor
from workbench.tariffs import load_tariff

STAGES = (  # (module or class, function, label): the label's number orders the table
    (bench, "schedule_arrays", "1 schedule arrays"),
    (bench, "periods_from_rows", "2 bill periods"),
    (bench, "scan", "3 scan (all)"),
    (scan_kernels, "_scan_segments_parallel", "3a scan kernel"),
    (bench, "price", "4 price (all)"),
    (pricing, "_version_weights", "4a version weights"),
    (pricing._Context, "build", "4b pricing context (all)"),
    (calendar_periods.BillPeriods, "_season_days", "4b1 season days"),
    (pricing, "billing_demand", "4b2 billing demand"),
    (pricing, "price_version", "4c line items, minimums, taxes"),
)


def instrument(spent):
    """Wrap each stage's function so that its seconds add up in ``spent`` (this process only)."""
    for owner, name, label in STAGES:
        fn = getattr(owner, name)

        def timed(*args, _fn=fn, _label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - t0

        setattr(owner, name, timed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=10_000, help="meters of the cube cube-<meters>.zarr")
    parser.add_argument("--repeats", type=int, default=7, help="bill runs per tariff (medians)")
    parser.add_argument("--data", default="data/bench", help="folder of the benchmark cubes")
    args = parser.parse_args(argv)
    utc, delivered, received = bench.load_data(args.meters, Path(args.data))
    threads = engine_threads()
    spent = collections.defaultdict(float)
    instrument(spent)
    print(f"{args.meters:,} meters x {delivered.shape[1]:,} intervals; floor: np.add.reduce on {threads} threads")
    for code in bench.TARIFFS:
        tariff = load_tariff(f"tariffs/{code}.yaml")
        bench.bill_all(tariff, utc, delivered[:2], received[:2])  # compile outside the timing
        runs, floors, totals = [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            reduce_floor([delivered, received], threads)
            floors.append(time.perf_counter() - t0)
            spent.clear()
            t0 = time.perf_counter()
            bench.bill_all(tariff, utc, delivered, received)
            totals.append(time.perf_counter() - t0)
            runs.append(dict(spent))
        floor, total = statistics.median(floors), statistics.median(totals)
        print(f"\n{code}: bill run {total * 1e3:.1f} ms, paired floor {floor * 1e3:.1f} ms, {total / floor:.2f}x")
        for label in sorted(runs[0]):
            ms = statistics.median(run[label] for run in runs)
            print(f"  {label:34s}{ms * 1e3:8.1f} ms  {ms / floor:5.2f} floor")
        kernel = statistics.median(run["3a scan kernel"] for run in runs)
        print(f"  {'all but the scan kernel':34s}{(total - kernel) * 1e3:8.1f} ms  {(total - kernel) / floor:5.2f} floor")


if __name__ == "__main__":
    main()
