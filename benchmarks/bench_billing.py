"""Billing benchmark: `make bench` (or `python -m benchmarks.bench_billing --help`).

Prints, in one run and on the same data:

1. annual bills for N meters × 35,040 intervals (2 channels, float32, in memory) under RES-TOU,
   GS-TOU-DEMAND and LGS-TOU: seconds, bills per second, and the ratio to the fair floor (``benchmarks.floors``):
   a plain ``np.add.reduce`` of the same two arrays, on as many threads as the scan kernel uses (numba's pool),
   with GB/s; the one-thread floor is printed beside it. Each tariff is also set beside a "paired" floor, the
   same reduction run alternately with that tariff's runs (the floor drifts on a shared machine);
2. PySAM Utilityrate5 on the same tariffs (exported to URDB with ``to_urdb``) for a sample of the same
   meters, called once per customer-year as its users call it (build the model, set inputs, execute, read
   the monthly bills), against our engine on the same URDB tariffs and all N meters: bills per second and
   the ratio;
3. re-pricing M customers' determinants under a changed tariff (every price × 1.05; same periods).

Medians of --repeats runs; the machine is shared and noisy, so compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import yaml

from benchmarks.floors import describe, engine_threads, median_seconds, memory_floors, reduce_floor
from workbench.ami.cube import open_cube
from workbench.calendar.periods import calendar_month_periods, periods_from_rows
from workbench.engine.determinants import scan, schedule_arrays
from workbench.engine.pricing import Determinants, price
from workbench.sample import generate_sample_utility
from workbench.tariffs import load_tariff, tariff_from_spec
from workbench.tariffs.urdb import to_urdb

TARIFFS = ("RES-TOU", "GS-TOU-DEMAND", "LGS-TOU")


def median_time(fn, repeats):
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def paired_time(fn, floor_fn, repeats):
    """Median seconds of ``fn`` and of ``floor_fn`` run alternately (floor, fn, floor, fn, ...): on a shared
    machine the floor drifts within a run, so each tariff is set beside a floor measured next to it."""
    times, floors, result = [], [], None
    for _ in range(repeats):
        floors.append(median_seconds(floor_fn, 1))
        result = None  # the previous run's arrays are freed before the next run, as in one bill run
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), statistics.median(floors), result


def load_data(meters: int, folder: Path):
    cube = folder / f"cube-{meters}.zarr"
    if not cube.exists():
        print(f"generating {meters:,} sample meters into {cube} (once; reused by later runs)...", flush=True)
        generate_sample_utility(cube, n_meters=meters, year=2025, seed=7, meter_chunk=1000, progress=False)
    ds = open_cube(cube)
    delivered = np.ascontiguousarray(ds["delivered_kwh"].values)
    received = np.ascontiguousarray(ds["received_kwh"].values)
    utc = ds["time"].values.astype("datetime64[m]")
    return utc, delivered, received


def bill_all(tariff, utc, delivered, received, step=15):
    sched = schedule_arrays(tariff, utc, step, timezone=tariff.timezone or "America/New_York")
    day = sched.local.day
    first, end = np.datetime64(int(day[0]), "D"), np.datetime64(int(day[-1]), "D") + 1
    periods = periods_from_rows([calendar_month_periods(first, end)] * delivered.shape[0], day)
    det = scan(tariff, sched, delivered, received, periods.bounds)
    items = price(tariff, det, periods)
    return det, periods, items


def scaled_prices(node, factor):
    """Every price in a tariff's charges × factor (not limits, not percents)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("limits", "percent", "applies_to", "per", "unit", "scope", "measure", "type", "description", "prices"):
                out[key] = value
            else:
                out[key] = scaled_prices(value, factor)
        return out
    if isinstance(node, list):
        return [scaled_prices(v, factor) for v in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return node * factor
    return node


def pysam_bills_per_second(urdb_item, delivered, sample):
    """PySAM as its users call it: per customer-year, build the model, set inputs, execute, read the bills."""
    from tests.oracle.pysam_reference import run_utilityrate5

    steps_per_hour = delivered.shape[1] // 8760
    rows = np.linspace(0, delivered.shape[0] - 1, sample).astype(int)
    t0 = time.perf_counter()
    for row in rows:
        model = run_utilityrate5(urdb_item, delivered[row, : 8760 * steps_per_hour].astype(float),
                                 steps_per_hour=steps_per_hour)
        _ = model.Outputs.year1_monthly_utility_bill_w_sys  # read the outputs, as users do
    seconds = time.perf_counter() - t0
    return 12 * len(rows) / seconds, seconds, len(rows)


def bill_program(tariff, program, utc, delivered, received, step=15):
    from workbench.nem.billing import Enrollment, bill_with_program
    from workbench.nem.resolve import vintage_prices

    sched = schedule_arrays(tariff, utc, step, timezone=tariff.timezone)
    day = sched.local.day
    first, end = np.datetime64(int(day[0]), "D"), np.datetime64(int(day[-1]), "D") + 1
    periods = periods_from_rows([calendar_month_periods(first, end)] * delivered.shape[0], day)
    export = None
    if program.kind != "net_metering" and program.export_values is not None:
        export = vintage_prices(program, utc, sched.local, step)
    det = scan(tariff, sched, delivered, received, periods.bounds, export_price=export)
    result = bill_with_program(tariff, det, periods, Enrollment(program), export_valued=export is not None)
    return periods, result


def nem_section(args, utc, delivered, received, floor, results):
    """Net-metered annual bills: every meter gets a rooftop-solar export channel (the sample's solar meters'
    exports, repeated), billed under NEM 2.0 and the Net Billing Tariff on RES-TOU."""
    from tests.oracle.pysam_reference import run_utilityrate5
    from workbench.nem import load_program

    solar = np.flatnonzero(received.sum(axis=1) > 0)
    exports = received[solar] if len(solar) else np.zeros((1, received.shape[1]), np.float32)
    solar_received = np.ascontiguousarray(exports[np.arange(received.shape[0]) % len(exports)])
    tariff = load_tariff("tariffs/RES-TOU.yaml")
    print(f"\nnet-metered annual bills, {received.shape[0]:,} solar meters (RES-TOU); floor {floor:.3f} s")
    print(f"{'program':<16}{'seconds':>9}{'bills/s':>13}{'x floor':>9}{'PySAM bills/s':>15}{'ratio':>9}")
    item, _ = to_urdb(tariff)
    for code, option in (("NEM2", 0), ("NBT", 2)):
        program = load_program(f"tariffs/programs/{code}.yaml")
        bill_program(tariff, program, utc, delivered[:2], solar_received[:2])
        seconds, (periods, _) = median_time(
            lambda p=program: bill_program(tariff, p, utc, delivered, solar_received), args.repeats)
        bills = int(periods.valid.sum())
        steps = delivered.shape[1] // 8760
        rows = np.linspace(0, delivered.shape[0] - 1, args.pysam_sample).astype(int)
        t0 = time.perf_counter()
        for row in rows:
            model = run_utilityrate5(item, delivered[row, : 8760 * steps].astype(float),
                                     solar_received[row, : 8760 * steps].astype(float), steps_per_hour=steps,
                                     metering_option=option)
            _ = model.Outputs.utility_bill_w_sys_ym
        pysam = 12 * len(rows) / (time.perf_counter() - t0)
        ours = bills / seconds
        results.setdefault("nem", {})[code] = {"seconds": seconds, "bills_per_second": ours,
                                               "ratio_to_floor": seconds / floor, "pysam_bills_per_second": pysam,
                                               "ratio_to_pysam": ours / pysam}
        print(f"{code:<16}{seconds:>9.3f}{ours:>13,.0f}{seconds / floor:>9.2f}{pysam:>15,.1f}{ours / pysam:>8,.0f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--pysam-sample", type=int, default=40, help="customers PySAM bills (one call each)")
    parser.add_argument("--reprice-meters", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default="data/bench")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    folder = Path(args.data)
    folder.mkdir(parents=True, exist_ok=True)
    utc, delivered, received = load_data(args.meters, folder)
    n, t = delivered.shape
    gb = (delivered.nbytes + received.nbytes) / 1e9
    print(f"\nmachine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores; "
          f"data: {n:,} meters x {t:,} intervals x 2 channels float32 = {gb:.2f} GB in memory; "
          f"median of {args.repeats} runs\n")
    results = {"meters": n, "intervals": t, "gigabytes": round(gb, 3), "repeats": args.repeats, "tariffs": {}}

    threads = engine_threads()
    floors = memory_floors([delivered, received], args.repeats, threads)
    floor = floors["seconds"]  # same threads as the scan kernel
    results["floor"] = floors
    print(f"floor: {describe(floors)}; ratios below are against the {threads}-thread floor\n")

    print(f"{'tariff':<16}{'seconds':>9}{'bills/s':>13}{'x floor':>9}{'paired floor':>14}{'x paired':>10}"
          "   (annual bills, 12 per meter; paired: the floor run alternately with this tariff's runs)")
    pair_floor = lambda: reduce_floor([delivered, received], threads)  # noqa: E731
    for code in TARIFFS:
        tariff = load_tariff(f"tariffs/{code}.yaml")
        bill_all(tariff, utc, delivered[:2], received[:2])  # compile (numba cache) outside the timing
        seconds, paired, (det, periods, items) = paired_time(
            lambda t=tariff: bill_all(t, utc, delivered, received), pair_floor, args.repeats)
        bills = int(periods.valid.sum())
        results["tariffs"][code] = {"seconds": seconds, "bills": bills, "bills_per_second": bills / seconds,
                                    "ratio_to_floor": seconds / floor, "paired_floor_seconds": paired,
                                    "ratio_to_paired_floor": seconds / paired}
        print(f"{code:<16}{seconds:>9.3f}{bills / seconds:>13,.0f}{seconds / floor:>9.2f}{paired:>14.3f}"
              f"{seconds / paired:>10.2f}   ({gb / seconds:.1f} GB/s)")

    print(f"\nPySAM Utilityrate5 vs this engine on the same tariffs exported to URDB "
          f"(PySAM: {args.pysam_sample} customer-years, one call each; ours: all {n:,} meters)")
    print(f"{'tariff':<16}{'PySAM bills/s':>15}{'ours bills/s':>15}{'ratio':>10}   what URDB cannot say")
    for code in TARIFFS:
        item, dropped = to_urdb(load_tariff(f"tariffs/{code}.yaml"))
        ours_tariff = load_tariff(item, timezone="America/New_York")
        bill_all(ours_tariff, utc, delivered[:2], received[:2])
        seconds, (_, periods, _) = median_time(lambda t=ours_tariff: bill_all(t, utc, delivered, received), args.repeats)
        ours = int(periods.valid.sum()) / seconds
        theirs, _, _ = pysam_bills_per_second(item, delivered, args.pysam_sample)
        results["tariffs"][code].update({"pysam_bills_per_second": theirs, "ours_urdb_bills_per_second": ours,
                                         "ratio_to_pysam": ours / theirs})
        print(f"{code:<16}{theirs:>15,.1f}{ours:>15,.0f}{ours / theirs:>10,.0f}x  {'; '.join(dropped)}")
        # the ceiling: a bill computed at the floor's speed (reading a customer-year's two channels once)
        ceiling = (12 / theirs) / (floor / n)
        results["tariffs"][code]["pysam_ceiling"] = ceiling
    per_customer_us = floor / n * 1e6
    print(f"ceiling: at the {threads}-thread floor one customer-year's two channels take {per_customer_us:.1f} us, so "
          "no engine can beat PySAM by more than " + ", ".join(
              f"{c} {results['tariffs'][c]['pysam_ceiling']:,.0f}x" for c in TARIFFS) + " on this machine")

    print(f"\nre-pricing {args.reprice_meters:,} customers' determinants under changed prices (x1.05)")
    for code in TARIFFS:
        path = Path(f"tariffs/{code}.yaml")
        tariff = load_tariff(path)
        det, periods, _ = bill_all(tariff, utc, delivered, received)
        reps = -(-args.reprice_meters // n)
        big = Determinants(**{k: np.concatenate([getattr(det, k)] * reps)[: args.reprice_meters]
                              for k in Determinants.__dataclass_fields__ if getattr(det, k) is not None})
        big_periods = type(periods)(*(np.concatenate([getattr(periods, f)] * reps)[: args.reprice_meters]
                                      for f in ("start", "end", "nominal_days", "bounds")))
        spec = yaml.safe_load(path.read_text())
        spec["versions"] = scaled_prices(spec["versions"], 1.05)
        changed = tariff_from_spec(spec, str(path), base_dir=path.parent)
        seconds, items = median_time(lambda c=changed, d=big, p=big_periods: price(c, d, p), args.repeats)
        revenue = float(np.sum(items.total()))
        results["tariffs"][code]["reprice_seconds"] = seconds
        print(f"{code:<16}{seconds:>9.3f} s for {args.reprice_meters:,} customers x 12 bills "
              f"(revenue at new prices ${revenue:,.0f})")
    nem_section(args, utc, delivered, received, floor, results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
