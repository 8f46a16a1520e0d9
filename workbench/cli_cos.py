"""``workbench design allocators`` and ``workbench design cos``: cost of service from AMI (docs/cost-of-service.md).

Adds its subcommands to the ``design`` group that :mod:`workbench.cli_design` creates.
"""

from __future__ import annotations

import argparse

import pandas as pd

from workbench.cli_design import design_subparsers
from workbench.cli_parser import calendar_year
from workbench.design.allocators import allocator_table, class_loads, read_system_load
from workbench.design.cos_study import load_study
from workbench.design.cost_of_service import allocate, class_table, read_revenue_table
from workbench.design.present_revenue import present_revenue
from workbench.errors import WorkbenchError
from workbench.outputs import check_output_dir, write_csv_for_people
from workbench.outputs.guard import staged_output
from workbench.tariffs import load_tariff


def add_commands(sub) -> None:
    """Add ``workbench design allocators`` and ``workbench design cos`` to the ``design`` group."""
    add_cos_commands(design_subparsers(sub))


# =========================================================================================================
# cost of service: `workbench design allocators`, `workbench design cos`
# =========================================================================================================

_ALLOCATORS_EPILOG = """\
example:
  workbench design allocators --cube data/sample/cube.zarr --test-year 2025 --out reports/allocators-2025

Writes OUT/allocators.csv (one row per class: customers, weighted_customers, kwh, cp1_kw, cp4_kw, cp12_kw,
ncp_kw, sum_max_kw[, kwh_<ToU period>]) and OUT/peaks.csv (the year's and each month's system maximum and the
class loads then). Definitions: docs/cost-of-service.md.
"""

_COS_EPILOG = """\
example:
  workbench design cos --cube data/sample/cube.zarr --test-year 2025 --study docs/examples/cos-study.yaml \\
      --tariffs tariffs --out reports/cos-2025

Writes OUT/cos.csv (one row per class and TOTAL: each function's allocated cost, total cost, revenue at present
rates, revenue_to_cost, parity_ratio[, rate_of_return]), OUT/allocation.csv (every function split by class),
OUT/allocators.csv, OUT/peaks.csv and OUT/revenue.csv, and prints the class table. Study file format:
docs/cost-of-service.md.
"""


def _weights(text: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        klass, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not klass.strip() or not weight > 0 or weight == float("inf"):
            raise argparse.ArgumentTypeError(f"{part!r}: expected CLASS=WEIGHT with a positive weight, e.g. SGS=2.5")
        out[klass.strip()] = weight
    return out


def _common(parser) -> None:
    parser.add_argument("--cube", required=True, help="the interval cube (Zarr directory or fsspec URL)")
    parser.add_argument("--test-year", required=True, type=calendar_year,
                        help="the test year: its 12 calendar months in the cube's local time (all must be there)")
    parser.add_argument("--out", required=True, help="output folder (new, empty, or an earlier output of this command)")
    parser.add_argument("--system-load", help="CSV time,kw: the system load whose maxima set the coincident peaks "
                        "(time = interval start with UTC offset; the cube's step or a multiple, e.g. hourly). "
                        "Default: the sum over the cube's meters")
    parser.add_argument("--tou-tariff", help="a tariff (YAML) whose ToU periods split kWh into kwh_<period> columns")
    parser.add_argument("--customer-weights", type=_weights, default={},
                        help="customer weights by class, e.g. RES=1,SGS=2.5,LGS=20 (default: 1 each; for cos, "
                        "these override the study file's customer_weights)")
    parser.add_argument("--engine", choices=["numba", "numpy"], default="numba",
                        help="the pass over the intervals: numba (default) or numpy (the reference)")
    parser.add_argument("--chunk-meters", type=int, default=None,
                        help="meters read at once (default: the cube's Zarr chunk); memory ≈ 8 bytes × meters × intervals")


def add_cos_commands(design_sub) -> None:
    """``design allocators`` and ``design cos`` (cost of service from AMI)."""
    fmt = argparse.RawDescriptionHelpFormatter
    alloc = design_sub.add_parser("allocators", help="class allocators from every meter's intervals (1CP, 4CP, 12CP, "
                                  "NCP, sum of maxima, kWh, customers)", epilog=_ALLOCATORS_EPILOG, formatter_class=fmt)
    _common(alloc)
    alloc.set_defaults(func=_allocators)

    cos = design_sub.add_parser("cos", help="class cost-of-service study: allocated cost, revenue at present rates, "
                                "parity", epilog=_COS_EPILOG, formatter_class=fmt)
    _common(cos)
    cos.add_argument("--study", required=True, help="the study: revenue requirement by function, classification and "
                     "allocator (YAML or CSV; docs/cost-of-service.md)")
    revenue = cos.add_mutually_exclusive_group(required=True)
    revenue.add_argument("--tariffs", help="tariff book folder: revenue at present rates = each meter's 12 "
                         "calendar-month bills of the test year from the billing engine")
    revenue.add_argument("--revenue", help="CSV class,revenue [$]: revenue at present rates by class, given")
    cos.set_defaults(func=_cos)


def _allocator_tables(args, tou):
    if args.chunk_meters is not None and args.chunk_meters < 1:
        raise WorkbenchError(f"--chunk-meters {args.chunk_meters}: expected a positive number of meters")
    loads = class_loads(args.cube, args.test_year, engine=args.engine, chunk_meters=args.chunk_meters)
    system = read_system_load(args.system_load, loads.year) if args.system_load else None
    return loads, *allocator_table(loads, system, weights=args.customer_weights, tou_tariff=tou)


def _tou(args):
    return load_tariff(args.tou_tariff) if args.tou_tariff else None


def _write(out, kind: str, frames: dict[str, pd.DataFrame]) -> None:
    with staged_output(out, kind, lambda p: bool(check_output_dir(p, kind)) and False) as tmp:
        for name, frame in frames.items():
            write_csv_for_people(frame, tmp / name)  # kWh and kW to 3 decimals, $ to cents; shares as computed


def _allocators(args) -> int:
    loads, table, peaks = _allocator_tables(args, _tou(args))
    _write(args.out, "allocators", {"allocators.csv": table, "peaks.csv": peaks})
    print(f"allocators of test year {args.test_year}: {int(loads.customers.sum())} meters, "
          f"{loads.bytes_read / 1e9:.2f} GB read in {loads.seconds:.1f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    print(f"written: {args.out}/allocators.csv, {args.out}/peaks.csv")
    return 0


def _cos(args) -> int:
    tou = _tou(args)
    # the study and the revenue table are checked before the long pass over the intervals
    study = load_study(args.study, {f"kwh_{name}" for name in tou.tou_names} if tou else set())
    given = read_revenue_table(args.revenue) if args.revenue else None
    args.customer_weights = {**study.customer_weights, **args.customer_weights}
    loads, table, peaks = _allocator_tables(args, tou)
    if given is None:
        revenue = present_revenue(args.cube, args.tariffs, args.test_year)
        cents = dict(zip(revenue["class"], revenue["revenue_cents"], strict=True))
    else:
        revenue = pd.DataFrame({"class": list(given), "revenue_cents": list(given.values())})
        cents = given
    long = allocate(study, table)
    result = class_table(study, long, cents)
    revenue = revenue.assign(revenue=revenue["revenue_cents"] / 100).drop(columns="revenue_cents")
    _write(args.out, "cost of service", {"cos.csv": result, "allocation.csv": long, "allocators.csv": table,
                                         "peaks.csv": peaks, "revenue.csv": revenue})
    print(f"cost of service: {study.name}, test year {args.test_year}, {int(loads.customers.sum())} meters")
    shown = result[["class", "total_cost", "revenue", "revenue_minus_cost", "revenue_to_cost", "parity_ratio"]
                   + (["rate_of_return"] if "rate_of_return" in result else [])]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}" if abs(v) >= 10 else f"{v:.3f}"))
    if given is None and int(revenue["bills_held"].sum()):
        print(f"note: {int(revenue['bills_held'].sum())} bill(s) in the revenue are held for review by VEE "
              "(computed on estimated or incomplete intervals)")
    print(f"written: {args.out}/cos.csv (and allocation.csv, allocators.csv, peaks.csv, revenue.csv)")
    return 0
