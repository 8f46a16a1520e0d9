"""Reactive scan cost: `python -m benchmarks.bench_reactive --meters 2000`.

On the same in-memory data (N meters × 35,040 15-minute intervals, float32 kWh, float64 kVARh), prints the
median seconds of: the energy scan under GS-TOU-DEMAND (the tariff as shipped: no reactive charge, so no
reactive scan runs), the same tariff with a power-factor demand multiplier added (energy scan + reactive scan),
and re-pricing the determinants of each. The shipped tariff's scan must not change: the reactive scan runs only
for a tariff that needs it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import yaml

from workbench.calendar.periods import calendar_month_periods, periods_from_rows
from workbench.engine.determinants import scan, schedule_arrays
from workbench.engine.pricing import price
from workbench.tariffs import tariff_from_spec


def _median(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=2000, help="meters (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure, median (default: %(default)s)")
    args = parser.parse_args(argv)
    spec = yaml.safe_load(open("tariffs/GS-TOU-DEMAND.yaml"))
    plain = tariff_from_spec(spec, "GS-TOU-DEMAND.yaml")
    pf_spec = {**spec, "versions": [{**v, "charges": [*v["charges"], {"type": "power_factor",
               "method": "demand_multiplier", "threshold": 0.9}]} for v in spec["versions"]]}
    with_pf = tariff_from_spec(pf_spec, "GS-TOU-DEMAND+PF.yaml")
    utc = np.arange("2025-01-01T08:00", "2026-01-01T08:00", 15, dtype="datetime64[m]")
    rng = np.random.default_rng(1)
    kwh = rng.gamma(2.0, 0.5, (args.meters, len(utc))).astype(np.float32)
    kvarh = (kwh * 0.5).astype(np.float64)
    sched = schedule_arrays(plain, utc, 15)
    day = sched.local.day
    periods = periods_from_rows([calendar_month_periods(np.datetime64(int(day[0]), "D"),
                                                        np.datetime64(int(day[-1]), "D") + 1)] * args.meters, day)
    zeros = np.zeros_like(kwh)
    scan(plain, sched, kwh[:2], zeros[:2], periods.bounds[:2])  # compile
    scan(with_pf, sched, kwh[:2], zeros[:2], periods.bounds[:2], reactive=kvarh[:2])
    figures = {}
    det = {}
    for name, tariff, reactive in (("plain", plain, None), ("power factor", with_pf, kvarh)):
        figures[f"scan, {name}"] = _median(lambda t=tariff, r=reactive: scan(t, sched, kwh, zeros, periods.bounds,
                                                                            reactive=r), args.repeats)
        det[name] = scan(tariff, sched, kwh, zeros, periods.bounds, reactive=reactive)
        figures[f"price, {name}"] = _median(lambda t=tariff, d=det[name]: price(t, d, periods), args.repeats)
    floor = _median(lambda: np.add.reduce(kwh, axis=1), args.repeats)
    print(f"{args.meters} meters x {len(utc)} intervals")
    print(f"floor (np.add.reduce of kWh): {floor:.3f} s")
    for key, value in figures.items():
        print(f"{key}: {value:.3f} s ({value / floor:.1f} x floor)")


if __name__ == "__main__":
    main()
