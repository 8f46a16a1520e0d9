"""Rate-design benchmarks: test-year determinants vs a plain Zarr read; re-pricing; the revenue-requirement solve.

    python -m benchmarks.bench_design CUBE TARIFFS OUT [--year 2025]

Prints one line per measure (seconds, ratio against the floor measured in the same run, peak memory of the
scan in a child process). Re-pricing and the solve tile the kept determinants to 500,000 / 100,000 customers.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np

from workbench.ami.cube_chunks import open_zarr_group
from workbench.calendar.periods import BillPeriods
from workbench.design.proposal import Proposal
from workbench.design.revreq import solve
from workbench.design.scenarios import Study
from workbench.design.testyear import build_test_year
from workbench.design.testyear_store import RateCodeDeterminants
from workbench.engine.pricing import Determinants


def plain_read(cube) -> float:
    """The floor: read every chunk of the three interval arrays the scan reads, once."""
    started = time.perf_counter()
    group = open_zarr_group(cube)
    n = group["delivered_kwh"].shape[0]
    step = group["delivered_kwh"].chunks[0]
    for start in range(0, n, step):
        for name in ("delivered_kwh", "received_kwh", "quality"):
            group[name][start:start + step, :]
    return time.perf_counter() - started


def _child(cube, tariffs, out, year) -> None:
    started = time.perf_counter()
    build_test_year(cube, tariffs, year, out, progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{time.perf_counter() - started:.3f} {peak:.0f}")


def tile(rcd: RateCodeDeterminants, times: int) -> RateCodeDeterminants:
    p, d = rcd.periods, rcd.det
    periods = BillPeriods(np.tile(p.start, (times, 1)), np.tile(p.end, (times, 1)), np.tile(p.nominal_days, (times, 1)),
                          np.zeros((0, 0), np.int64))
    det = Determinants(**{name: np.tile(getattr(d, name), (times,) + (1,) * (getattr(d, name).ndim - 1))
                          for name in ("energy_kwh", "received_kwh", "peak_kw", "tou_peak_kw", "cp_kw", "rtp_cost",
                                       "counts")})
    meters = rcd.meters.loc[np.tile(np.arange(len(rcd.meters)), times)].reset_index(drop=True)
    meters["meter"] = [f"{m}-{i // len(rcd.meters)}" for i, m in enumerate(meters["meter"])]
    return RateCodeDeterminants(rcd.rate_code, meters, periods, det, np.tile(rcd.billed, (times, 1)),
                                np.tile(rcd.test_year_days, (times, 1)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cube")
    parser.add_argument("tariffs")
    parser.add_argument("out")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        _child(args.cube, args.tariffs, args.out, args.year)
        return
    floor = plain_read(args.cube)
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_design", args.cube, args.tariffs, args.out,
                           "--year", str(args.year), "--child"], capture_output=True, text=True, check=True)
    seconds, peak = done.stdout.split()
    floor_again = plain_read(args.cube)
    floor = min(floor, floor_again)
    print(f"determinants: {float(seconds):.2f} s; plain read of the same Zarr arrays {floor:.2f} s; ratio "
          f"{float(seconds) / floor:.2f}; peak RSS of the scan process {peak} MiB")

    study = Study(args.out)
    n = sum(len(r) for r in study.data.values())
    times = -(-500_000 // n)
    study.data = {code: tile(r, times) for code, r in study.data.items()}
    customers = sum(len(r) for r in study.data.values())
    proposal = Proposal.from_book(args.tariffs).scale("RES-TOU", "Energy", 1.05)
    book = proposal.compile()
    started = time.perf_counter()
    priced = study.price(book, "proposed")
    reprice = time.perf_counter() - started
    print(f"re-pricing {customers:,} customers ({n:,} kept x {times}) under a changed price: {reprice:.2f} s "
          f"(revenue ${priced.total_cents() / 100:,.2f})")

    res = Study(args.out, classes=["RES"])
    n_res = sum(len(r) for r in res.data.values())
    times = -(-100_000 // n)
    res.data = {code: tile(r, times) for code, r in res.data.items()}
    customers = sum(len(r) for r in res.data.values())
    present = res.price(res.present_book(), "present").total_cents() / 100
    started = time.perf_counter()
    sol = solve(res, round(present * 1.07, 2), [(c, "Energy") for c in res.rate_codes])
    took = time.perf_counter() - started
    print(f"revenue-requirement solve, class RES, {customers:,} customers ({n_res:,} kept x {times}): {took:.2f} s, "
          f"{sol.evaluations} pricings, residual {sol.residual:+.2f}")


if __name__ == "__main__":
    main()
