"""The ``workbench`` command. Thin: it parses arguments, calls the package and prints.

Bad input (an invalid tariff, a malformed interval file...) prints one message that names the file, the
field or row and what was expected, and exits with status 2; no Python traceback.

:func:`main` is the last line of defence; what reaches it ends as follows:

- :class:`~workbench.errors.WorkbenchError`: its message, ``error: ...``, exit 2.
- a usage error (unknown command or option, ``--meters abc``): ``error: workbench sample: ...``, exit 2.
- an ``OSError`` on a path (permission denied, is a directory, not a directory, no such file, no space left,
  read-only file system, ...): ``error: <path>: <what>; <what to do>``, exit 2 (the path from the exception).
- a ``UnicodeDecodeError`` (a file that is not UTF-8 text): ``error: <file>: not UTF-8 text ...``, exit 2.
- ``MemoryError``: one line saying so, exit 2.
- the reader of the output went away (``workbench bill ... | head``): no message, exit 141 (128 + SIGPIPE,
  as a command killed by SIGPIPE), stdout pointed at /dev/null so the exit flush does not complain. A broken
  pipe that is not stdout's (a socket to a dask scheduler) is an ``OSError`` line like any other.
- Ctrl-C: ``interrupted``, exit 130.
- anything else is a bug of the workbench, not of the input: one line ``error: internal error (<type>:
  <message>); please report it ...``, exit 70 (``EX_SOFTWARE``), so a script can tell a bug from a refusal.
  The traceback is kept out of a user's terminal but not lost: ``WORKBENCH_DEBUG=1 workbench ...`` shows it
  (and the exception propagates, exit 1), which is what a bug report should carry.
"""

from __future__ import annotations

import argparse
import csv
import errno
import json
import os
import select
import socket
import sys

from workbench.cli_errors import decode_error_line, one_line, os_error_line
from workbench.errors import WorkbenchError


def _bill(args) -> int:
    from workbench.tariffs import load_tariff

    tariff = load_tariff(args.tariff, timezone=args.timezone)
    bills, repairs, said, register = _bill_feed(args, tariff)
    if args.format == "json":
        json.dump({"tariff": tariff.code, "tariff_name": tariff.name, "intervals": str(args.intervals),
                   "estimated": any(b.estimated_intervals for b in bills),
                   "repairs": repairs, "warnings": said,
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
        from workbench.engine.render import bills_as_text

        print(bills_as_text(tariff, bills, register=register))
    return 0


def _bill_feed(args, tariff):
    """Check the feed whole, list its problems (stop, or repair with --repair), bill it: (bills, repairs,
    warnings, whether monthly register reads); see docs/bill-command.md."""
    from workbench.billing import bill_interval_series
    from workbench.billing.feedtime import feed_zone, zone_warnings
    from workbench.billing.register import check_register_tariff, register_series
    from workbench.billing.repair import build_series, check_reads
    from workbench.engine.intervals import read_meter_reads

    reads = read_meter_reads(args.intervals, meter=args.meter)
    source, said = reads.source, []
    check = check_reads(reads)
    feed = feed_zone(reads.local_time)
    tz = tariff.timezone or feed[0]
    whose = "--timezone's" if args.timezone else f"the tariff {tariff.code}'s" if tariff.timezone else "the feed's"
    if tz is None and reads.offsets_minutes is None:
        raise WorkbenchError(f"{source}: an AMI file's times are UTC and the file gives no time zone of its own; pass "
                             f"--timezone (e.g. America/New_York) so the tariff {args.tariff}'s hours apply in local time")
    if check.identical:
        _warn(f"{source}: {len(check.identical)} identical duplicate reading(s) merged, one kept: "
              + "; ".join(check.identical[:5]) + ("; ..." if len(check.identical) > 5 else ""), said)
    one = ~reads.received  # each timestamp once (a CSV row gives both channels)
    written = None if reads.offsets_minutes is None else reads.offsets_minutes[one]
    for text in zone_warnings(source, reads.start[one].astype("datetime64[m]"), written, feed, tz, whose):
        _warn(text, said)
    if check.problems:
        for problem in check.problems:
            print(f"  - {problem.text}" + ("" if problem.repairable else " (cannot be repaired)"), file=sys.stderr)
        if not check.repairable:
            raise WorkbenchError(f"{source}: {check.summary()}; the ones marked 'cannot be repaired' must be fixed in "
                                 "the file (see the list above)")
        if not args.repair:
            raise WorkbenchError(f"{source}: {check.summary()}; pass --repair to estimate, split or drop them as "
                                 "listed above (the bill is then marked estimated)")
    notes, repairs, nominal = [], [], None
    if check.register:
        check_register_tariff(tariff, source)
        if args.read_dates:
            raise WorkbenchError(f"--read-dates: {source} holds monthly reads, which are their own bill periods")
        series, read_dates, nominal = register_series(reads, tz, notes)
        tz = "UTC"  # the register series is on a naive axis of local dates
    else:
        if check.step_seconds >= 86400:
            check_register_tariff(tariff, source, "daily reads")
        series, repairs = build_series(reads, check, tz, repair=args.repair)
        for text in repairs:
            print(f"repaired: {source}: {text}", file=sys.stderr)
        read_dates = _read_dates(args.read_dates) if args.read_dates else None
    bills = bill_interval_series(
        tariff, series, read_dates=read_dates, timezone=tz if not tariff.timezone or check.register else None,
        program=args.program, true_up_month=args.true_up_month, export_rates=args.export_rates,
        pto_date=_date(args.pto_date, "--pto-date"), programs_dir=args.programs, notes=notes, nominal_days=nominal,
    )
    for text in notes:
        _warn(text, said)
    if check.register:
        for b in bills:
            b.peak_kw = 0.0  # a daily spread of a monthly reading is no measured demand
    return bills, repairs, said, check.register


def _warn(text: str, said: list | None = None) -> None:
    print(f"warning: {text}", file=sys.stderr)
    if said is not None:
        said.append(text)


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
    from workbench.sample.output import check_sample_outputs

    _int_range("--meters", args.meters, 1, 999_999, "meters to generate")
    _int_range("--chunk", args.chunk, 1, None, "meters per Zarr chunk")
    _int_range("--seed", args.seed, 0, None, "a random seed")
    _int_range("--year", args.year, 1901, 2099, "the sample's calendar year")
    year, months = args.year, None
    if args.months:
        from workbench.sample import parse_months

        try:
            year, first, last = parse_months(args.months, args.year)
        except ValueError as exc:
            raise WorkbenchError(f"--months: {exc}") from None
        months = (first, last)
    check_sample_outputs(args.out, args.ami)  # both folders, before anything is generated
    summary = generate_sample_utility(args.out, n_meters=args.meters, year=year, seed=args.seed,
                                      meter_chunk=args.chunk, progress=not args.quiet, months=months)
    print(f"sample utility written to {args.out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    if args.ami:
        from workbench.sample.ami_export import export_ami

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
                       chunk_meters=args.chunk, enrollments=args.enrollments, vee_config=args.vee_config,
                       replace=args.replace)
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
    _int_range("--port", args.port, 1, 65535, "a TCP port")
    _int_range("--meters", args.meters, 1, 999_999, "meters to generate when the cube is missing")
    try:
        from workbench.app.nem_app import origin_allow_list, serve
    except ImportError as exc:
        raise WorkbenchError(f"workbench serve needs the dashboard libraries ({exc.name or exc}): "
                             "pip install 'rate-workbench[notebooks]'") from None
    try:
        allowed = origin_allow_list(args.port, args.allow_origin or ())
    except ValueError as exc:
        raise WorkbenchError(f"--allow-origin: {exc}") from None
    _port_free(args.port)  # before a missing cube is generated, which takes minutes
    try:
        thread = serve(args.port, args.cube, show=False, n_meters=args.meters, allow_origins=args.allow_origin or ())
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES) and not exc.filename:
            raise WorkbenchError(f"--port {args.port}: cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); "
                                 "pick another --port") from None
        raise
    print(f"NEM 2.0 vs 3.0 study on http://127.0.0.1:{args.port} (Ctrl-C stops it); "
          f"browser connections accepted from: {', '.join(allowed)}", flush=True)
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
    parser = _Parser(prog="workbench", description="Rate Workbench: electric-utility rate analysis and billing.")
    sub = parser.add_subparsers(dest="command", required=True)

    bill = sub.add_parser("bill", help="bill one customer's interval file under a tariff")
    bill.add_argument("--tariff", required=True, help="workbench YAML tariff or OpenEI URDB v8 JSON")
    bill.add_argument("--intervals", required=True, help="CSV: timestamp (ISO 8601 with offset), delivered_kwh[, received_kwh]; "
                      "or any AMI file workbench ingest reads (Green Button XML/CSV, MDM CSV/Parquet, CMEP)")
    bill.add_argument("--meter", help="the meter to bill when the interval file holds several")
    bill.add_argument("--format", choices=["text", "json", "csv"], default="text")
    bill.add_argument("--timezone", help="IANA time zone the tariff's schedules apply in (default: the tariff's; "
                      "else a Green Button feed's LocalTimeParameters; else the timestamps' own offsets); a feed or "
                      "timestamps on another clock get a warning naming both")
    bill.add_argument("--read-dates", help="meter-read dates, comma separated (bill periods run from one to the next); "
                      "default: calendar months of local time")
    bill.add_argument("--repair", action="store_true", help="repair the feed's usual faults and bill (default: list "
                      "every problem and stop): estimate gaps (VEE: linear, like-day), split long readings evenly, "
                      "drop zero-length records and conflicting duplicates (then estimated); each repair is listed "
                      "and the bill is marked estimated; see docs/bill-command.md")
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
    cycle.add_argument("--out", default="reports/cycle", help="output folder: new, empty, or an earlier output of "
                       "this command (default: reports/cycle); see docs/outputs.md")
    cycle.add_argument("--replace", action="store_true", help="replace the bills in --out even if another run "
                       "(other cube, tariffs, cycles or period) wrote them")
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
    serve.add_argument("--allow-origin", action="append", metavar="HOST[:PORT]", help="also accept the browser's "
                       "live connection from this origin (a reverse proxy's name); repeatable. Default: only "
                       "127.0.0.1:PORT and localhost:PORT")
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
    """Run ``workbench ARGV``; returns the exit status (see the module docstring for what each failure prints)."""
    try:
        args = build_parser().parse_args(argv)
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit flush
        return status
    except WorkbenchError as exc:
        return _fail(str(exc))
    except BrokenPipeError as exc:
        if exc.filename is None and _stdout_gone():
            _stdout_to_devnull()
            return 141
        return _fail(os_error_line(exc))  # another pipe or socket than our reader's: say so
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UnicodeDecodeError as exc:
        return _fail(decode_error_line(exc))
    except OSError as exc:
        return _fail(os_error_line(exc))
    except MemoryError:
        return _fail("out of memory; bill or process fewer meters at a time (--chunk, --cycle) or use a machine "
                     "with more memory")
    except Exception as exc:
        if os.environ.get("WORKBENCH_DEBUG", "") not in ("", "0"):
            raise
        return _fail(f"internal error ({type(exc).__name__}: {one_line(str(exc))}); please report it with the "
                     "command and this line (WORKBENCH_DEBUG=1 shows the traceback)", status=70)


def _port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise WorkbenchError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                                 "pick another --port") from None


class _Parser(argparse.ArgumentParser):
    """argparse with the workbench's one-line errors: ``error: workbench sample: ...``, exit 2."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _int_range(option, value, low, high, what):
    if value is None:
        return
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise WorkbenchError(f"{option}: {value} is out of range; expected {what}, {bound}")


def _fail(message: str, status: int = 2) -> int:
    try:
        print(f"error: {message}", file=sys.stderr, flush=True)
    except (BrokenPipeError, ValueError):  # stderr gone: the status still tells
        pass
    return status


def _stdout_gone() -> bool:
    """Whether stdout's reader closed it (a pipe's write end polls as an error then); True when unknowable."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test's capture), or no poll()
        return True


def _stdout_to_devnull() -> None:
    """The reader of stdout left: point stdout at /dev/null so Python's exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing will flush to a pipe


if __name__ == "__main__":
    sys.exit(main())
