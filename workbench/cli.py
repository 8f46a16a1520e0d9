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
    from workbench.billing.intervals import is_simple_csv, read_meter_file
    from workbench.tariffs import load_tariff

    tariff = load_tariff(args.tariff, timezone=args.timezone)
    if not is_simple_csv(args.intervals) and not (tariff.timezone or args.timezone):
        raise WorkbenchError(f"{args.intervals}: an AMI file's times are UTC; pass --timezone (e.g. America/New_York) so "
                             f"the tariff {args.tariff}'s time-of-use hours apply in local time")
    series = read_meter_file(args.intervals, meter=args.meter)
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

    year, months = args.year, None
    if args.months:
        from workbench.sample import parse_months

        try:
            year, first, last = parse_months(args.months, args.year)
        except ValueError as exc:
            raise WorkbenchError(f"--months: {exc}") from None
        months = (first, last)
    summary = generate_sample_utility(args.out, n_meters=args.meters, year=year, seed=args.seed,
                                      meter_chunk=args.chunk, progress=not args.quiet, months=months)
    print(f"sample utility written to {args.out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    if args.ami:
        from workbench.sample_ami import export_ami

        truth = export_ami(args.out, args.ami, seed=args.seed)
        print(f"AMI export (MDM Parquet by month, meter registry, read dates) written to {args.ami}: "
              f"{truth['reads_written']:,} reads, with faults: {truth['interval_faults']} in the intervals and "
              f"{truth['file_faults']} in the files (the truth is in {args.ami}/faults.json)")
    return 0


def _cycle(args) -> int:
    from workbench.billing.cycle import run_cycle

    if args.workers is not None and args.scheduler != "local":
        raise WorkbenchError("--workers: only with --scheduler local (an existing cluster has its own workers)")
    result = run_cycle(args.cube, args.tariffs, args.out, cycles=_cycles(args.cycle), period=args.period,
                       progress=not args.quiet, scheduler=args.scheduler, workers=args.workers, fresh=args.fresh,
                       chunk_meters=args.chunk, enrollments=args.enrollments, vee_config=args.vee_config)
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


def _vee(args) -> int:
    from workbench.vee import load_config, vee_cube

    config = load_config(args.config)
    summary = vee_cube(args.cube, config, report_dir=args.report, inject_seed=args.inject_faults,
                       progress=not args.quiet)
    print(summary.summary_text())
    if args.report:
        print(f"report: {args.report}/vee_report.html (tables as CSV beside it)")
    print(f"audit trail (edits with originals, exceptions): {summary.info.get('audit')}/")
    return 0


def _ingest(args) -> int:
    from workbench.ami.cube_writer import cube_writer
    from workbench.ami.ingest import ingest

    applied = None if args.multiplier_applied is None else args.multiplier_applied == "yes"
    with cube_writer(args.into):  # ingest and VEE as one writer: no other run gets the cube between them
        result = ingest(args.files, args.into, args.registry, create_period=args.period, timezone=args.timezone,
                        multiplier_applied=applied, read_dates=args.read_dates, force=args.force,
                        report_dir=args.report)
        print(result.summary_text())
        if args.vee:
            from workbench.ami.registry import load_registry
            from workbench.vee import load_config, vee_cube

            registry = load_registry(args.registry) if args.registry else None
            summary = vee_cube(args.into, load_config(args.vee_config), report_dir=args.report, registry=registry,
                               accounting=result.accounting, progress=False)
            print()
            print(summary.summary_text())
            if args.report:
                print(f"ingest and VEE report: {args.report}/vee_report.html")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Rate Workbench: electric-utility rate analysis and billing.")
    sub = parser.add_subparsers(dest="command", required=True)

    bill = sub.add_parser("bill", help="bill one customer's interval file under a tariff")
    bill.add_argument("--tariff", required=True, help="workbench YAML tariff or OpenEI URDB v8 JSON")
    bill.add_argument("--intervals", required=True, help="CSV: timestamp (ISO 8601 with offset), delivered_kwh[, received_kwh]; "
                      "or any AMI file workbench ingest reads (Green Button XML/CSV, MDM CSV/Parquet, CMEP)")
    bill.add_argument("--meter", help="the meter to bill when the interval file holds several")
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
    sample.add_argument("--months", help="only these months of the year, e.g. 2025-10:2025-11 (default: the whole "
                        "year); the year given here replaces --year")
    sample.add_argument("--out", default="data/sample/cube.zarr")
    sample.add_argument("--ami", metavar="DIR", help="also write the utility as its AMI head-end would export it, "
                        "with faults: MDM Parquet by month, meters.csv, read-dates.csv (for workbench ingest)")
    sample.add_argument("--quiet", action="store_true")
    sample.set_defaults(func=_sample)

    cycle = sub.add_parser("cycle", help="bill a bill cycle (or all) of the utility from the cube")
    cycle.add_argument("--cube", default="data/sample/cube.zarr")
    cycle.add_argument("--tariffs", default="tariffs", help="tariff book folder")
    cycle.add_argument("--cycle", default="all", help="cycle number(s), e.g. 7 or 3,4, or 'all'")
    cycle.add_argument("--period", help="only bill periods ending in this month, e.g. 2025-11 (default: every period)")
    cycle.add_argument("--out", default="reports/cycle")
    cycle.add_argument("--scheduler", help="run the meter chunks on dask: 'local' (a LocalCluster on this machine) "
                       "or a scheduler address like tcp://10.0.0.5:8786 (default: in this process)")
    cycle.add_argument("--workers", type=int, help="worker processes of --scheduler local (default 2)")
    cycle.add_argument("--fresh", action="store_true", help="ignore meter chunks kept by an interrupted earlier run "
                       "of the same inputs (default: resume from them)")
    cycle.add_argument("--enrollments", help="account program histories (CSV account,program,pto_date,start,end,...): "
                       "program, PTO date and true-up month per account; see docs/net-metering.md")
    cycle.add_argument("--vee-config", help="site VEE configuration whose bill-ready rule holds bills (default: "
                       "workbench/vee/defaults.yaml: held above 2%% estimated intervals)")
    cycle.add_argument("--chunk", type=int, help="meters per billing chunk (default: the cube's Zarr meter chunk)")
    cycle.add_argument("--quiet", action="store_true")
    cycle.set_defaults(func=_cycle)
    serve = sub.add_parser("serve", help="serve a dashboard (nem: the NEM 2.0 vs 3.0 impact study)")
    serve.add_argument("app", choices=["nem"])
    serve.add_argument("--cube", default="data/sample/nem-study.zarr", help="generated if missing")
    serve.add_argument("--meters", type=int, default=300, help="meters to generate when the cube is missing")
    serve.add_argument("--port", type=int, default=5006)
    serve.set_defaults(func=_serve)

    vee = sub.add_parser("vee", help="validate, estimate and edit the interval cube in place (VEE) and report")
    vee.add_argument("--cube", default="data/sample/cube.zarr")
    vee.add_argument("--config", help="site VEE configuration (YAML) merged over workbench/vee/defaults.yaml")
    vee.add_argument("--report", help="folder for vee_report.html and its CSV tables")
    vee.add_argument("--inject-faults", type=int, metavar="SEED", help="first inject the demo faults (gaps, "
                     "spikes, flatlines, ...) with this seed and score VEE against them; changes the cube")
    vee.add_argument("--quiet", action="store_true")
    vee.set_defaults(func=_vee)

    ing = sub.add_parser("ingest", help="load interval files (Green Button, MDM CSV/Parquet, CMEP) into the cube")
    ing.add_argument("files", nargs="+", metavar="FILE", help="interval files; the format is recognised")
    ing.add_argument("--into", required=True, metavar="CUBE", help="the cube (Zarr directory); created if missing")
    ing.add_argument("--registry", help="meter registry CSV or YAML (required to create a cube; see docs/registry.md)")
    ing.add_argument("--period", help="months of a new cube, e.g. 2025-01:2025-12 (default: the months the data cover)")
    ing.add_argument("--multiplier-applied", choices=["yes", "no"], help="the files already include CT x PT (yes) "
                     "or hold raw meter values (no); default: each meter's registry flag")
    ing.add_argument("--timezone", help="IANA zone of times without a UTC offset, and of a new cube "
                     "(default: the cube's, or the registry's)")
    ing.add_argument("--read-dates", help="CSV cycle,read_date of a new cube's bill cycles (default: the 1st of "
                     "each month)")
    ing.add_argument("--force", action="store_true", help="ingest files even if already in the cube's ingest log")
    ing.add_argument("--report", metavar="DIR", help="also write ingest_accounting.json and the rejects/audit here")
    ing.add_argument("--vee", action="store_true", help="then validate and estimate the cube (VEE) and put the "
                     "ingest accounting and the VEE results in one report (--report)")
    ing.add_argument("--vee-config", help="site VEE configuration merged over workbench/vee/defaults.yaml")
    ing.set_defaults(func=_ingest)
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
