"""The ``workbench`` command. Thin: it parses arguments, calls the package and prints.

Bad input (an invalid tariff, a malformed interval file...) prints one message that names the file, the
field or row and what was expected, and exits with status 2; no Python traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

from workbench.errors import WorkbenchError


def _bill(args) -> int:
    from workbench.billing import bill_interval_series
    from workbench.billing.intervals import read_interval_csv
    from workbench.tariffs import load_tariff

    tariff = load_tariff(args.tariff, timezone=args.timezone)
    series = read_interval_csv(args.intervals)
    read_dates = _read_dates(args.read_dates) if args.read_dates else None
    bills = bill_interval_series(
        tariff, series, read_dates=read_dates, timezone=args.timezone, program=args.program,
        true_up_month=args.true_up_month, export_rates=args.export_rates, pto_date=_date(args.pto_date, "--pto-date"),
        programs_dir=args.programs,
    )
    if args.format == "json":
        json.dump({"tariff": tariff.code, "tariff_name": tariff.name, "intervals": str(args.intervals),
                   "bills": [b.to_dict() for b in bills]}, sys.stdout, indent=2)
        print()
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["start", "end", "days", "description", "category", "quantity", "unit", "rate", "amount"])
        for b in bills:
            for li in b.line_items:
                writer.writerow([b.start, b.end, b.days, li.description, li.category, li.quantity, li.unit,
                                 li.rate, f"{li.amount:.2f}"])
            writer.writerow([b.start, b.end, b.days, "Total", "", "", "", "", f"{b.total:.2f}"])
    else:
        from workbench.billing.render import bills_as_text

        print(bills_as_text(tariff, bills))
    return 0


def _date(text, option):
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise WorkbenchError(f"{option}: {text!r} is not a date like 2024-05-01") from None


def _read_dates(text):
    import datetime as dt

    out = []
    for part in text.split(","):
        try:
            out.append(dt.date.fromisoformat(part.strip()))
        except ValueError:
            raise WorkbenchError(f"--read-dates: {part.strip()!r} is not a date like 2025-01-15") from None
    return out


def _sample(args) -> int:
    from workbench.sample import generate_sample_utility

    summary = generate_sample_utility(args.out, n_meters=args.meters, year=args.year, seed=args.seed,
                                      meter_chunk=args.chunk, progress=not args.quiet)
    print(f"sample utility written to {args.out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _cycle(args) -> int:
    from workbench.billing.cycle import run_cycle

    result = run_cycle(args.cube, args.tariffs, args.out, cycles=_cycles(args.cycle), period=args.period,
                       progress=not args.quiet)
    print(result.summary_text())
    return 0


def _cycles(text):
    if text in (None, "all"):
        return None
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise WorkbenchError(f"--cycle: {text!r} is not a cycle number (1-20), a list like 3,4 or 'all'") from None


def _serve(args) -> int:
    from workbench.app.nem_app import serve

    print(f"NEM 2.0 vs 3.0 study on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
    thread = serve(args.port, args.cube, show=False, n_meters=args.meters)
    try:
        thread.join()
    except KeyboardInterrupt:
        thread.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Rate Workbench: electric-utility rate analysis and billing.")
    sub = parser.add_subparsers(dest="command", required=True)

    bill = sub.add_parser("bill", help="bill one customer's interval file under a tariff")
    bill.add_argument("--tariff", required=True, help="workbench YAML tariff or OpenEI URDB v8 JSON")
    bill.add_argument("--intervals", required=True, help="CSV: timestamp (ISO 8601 with offset), delivered_kwh[, received_kwh]")
    bill.add_argument("--format", choices=["text", "json", "csv"], default="text")
    bill.add_argument("--timezone", help="IANA time zone the tariff's schedules apply in (default: the tariff's; "
                      "for URDB tariffs, the timestamps' own offsets)")
    bill.add_argument("--read-dates", help="meter-read dates, comma separated (bill periods run from one to the next); "
                      "default: calendar months of local time")
    bill.add_argument("--program", help="net-metering program: a code in tariffs/programs/, a program file, or a "
                      "PySAM option (net-metering-kwh, net-metering-dollars, net-billing, net-billing-carryover, "
                      "buy-all-sell-all); default for a URDB tariff: its dgrules")
    bill.add_argument("--programs", help="folder of program files (default: programs/ beside the tariff)")
    bill.add_argument("--true-up-month", type=int, help="month (1-12) whose bill carries the annual true-up")
    bill.add_argument("--export-rates", help="export values: CSV timestamp,export_rate (per interval or hour) or a "
                      "576-row table month,day_type,hour,export_rate")
    bill.add_argument("--pto-date", help="permission-to-operate date (picks the export-value vintage and the "
                      "anniversary true-up)")
    bill.set_defaults(func=_bill)

    sample = sub.add_parser("sample", help="generate the synthetic sample utility (interval cube)")
    sample.add_argument("--meters", type=int, default=2000)
    sample.add_argument("--year", type=int, default=2025)
    sample.add_argument("--seed", type=int, default=42)
    sample.add_argument("--chunk", type=int, default=1000, help="meters per Zarr chunk")
    sample.add_argument("--out", default="data/sample/cube.zarr")
    sample.add_argument("--quiet", action="store_true")
    sample.set_defaults(func=_sample)

    cycle = sub.add_parser("cycle", help="bill a bill cycle (or all) of the utility from the cube")
    cycle.add_argument("--cube", default="data/sample/cube.zarr")
    cycle.add_argument("--tariffs", default="tariffs", help="tariff book folder")
    cycle.add_argument("--cycle", default="all", help="cycle number(s), e.g. 7 or 3,4, or 'all'")
    cycle.add_argument("--period", help="only bill periods ending in this month, e.g. 2025-11 (default: every period)")
    cycle.add_argument("--out", default="reports/cycle")
    cycle.add_argument("--quiet", action="store_true")
    cycle.set_defaults(func=_cycle)
    serve = sub.add_parser("serve", help="serve a dashboard (nem: the NEM 2.0 vs 3.0 impact study)")
    serve.add_argument("app", choices=["nem"])
    serve.add_argument("--cube", default="data/sample/nem-study.zarr", help="generated if missing")
    serve.add_argument("--meters", type=int, default=300, help="meters to generate when the cube is missing")
    serve.add_argument("--port", type=int, default=5006)
    serve.set_defaults(func=_serve)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
