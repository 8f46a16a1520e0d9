"""The ``workbench`` command. Thin: it parses arguments, calls the package and prints.

Its subcommands, options and help text are :mod:`workbench.cli_parser`'s; what each subcommand does is here.

Bad input (an invalid tariff, a malformed interval file...) prints one message that names the file, the
field or row and what was expected, and exits with status 2; no Python traceback.

:func:`main` is the last line of defence; what reaches it ends as follows:

- :class:`~workbench.errors.WorkbenchError`: its message, ``error: ...``, exit 2.
- a usage error (unknown command or option, ``--meters abc``): ``error: workbench sample: ...``, exit 2.
- an ``OSError`` on a path (permission denied, is a directory, not a directory, no such file, no space left,
  read-only file system, ...): ``error: <path>: <what>; <what to do>``, exit 2 (the path from the exception).
- a ``UnicodeDecodeError`` (a file that is not UTF-8 text): ``error: <file>: not UTF-8 text ...``, exit 2.
- ``MemoryError``: one line saying so, exit 2. Ctrl-C: ``interrupted``, exit 130.
- the reader of the output went away (``workbench bill ... | head``): no message, exit 141 (128 + SIGPIPE,
  as a command killed by SIGPIPE), stdout pointed at /dev/null so the exit flush does not complain. A broken
  pipe that is not stdout's (a socket to a dask scheduler) is an ``OSError`` line like any other.
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
import logging
import os
import select
import sys

from workbench import cli_logging, cli_parser
from workbench.cli_errors import decode_error_line, int_range, one_line, os_error_line, port_free
from workbench.errors import WorkbenchError, require
from workbench.heap import keep_freed_memory

log = logging.getLogger("workbench.cli")


def _bill(args) -> int:
    from workbench.tariffs import load_tariff

    peaks = None
    if getattr(args, "system_peaks", None):
        from workbench.tariffs.system_peaks import read_system_peaks

        peaks = read_system_peaks(args.system_peaks, zone=args.peak_zone)
    tariff = load_tariff(args.tariff, timezone=args.timezone, system_peaks=peaks,
                         meters_on_account=getattr(args, "meters_on_account", 1))
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
    from workbench.engine.intervals import attach_reactive, read_meter_reads

    reads = read_meter_reads(args.intervals, meter=args.meter, timezone=args.timezone)
    source, said = reads.source, []
    check = check_reads(reads)
    feed = feed_zone(reads.local_time)
    tz = tariff.timezone or feed[0]
    whose = "--timezone's" if args.timezone else f"the tariff {tariff.code}'s" if tariff.timezone else "the feed's"
    if tz is None and reads.offsets_minutes is None:
        raise WorkbenchError(f"{source}: an AMI file's times are UTC and the file gives no time zone of its own; pass "
                             f"--timezone (e.g. America/New_York) so the tariff {args.tariff}'s hours apply in local time")
    if reads.leading_kvarh:
        _warn(f"{source}: {reads.leading_kvarh} leading (received) kVARh read(s) not used: the workbench bills "
              "lagging kVARh only (docs/reactive-power.md, 'Leading kVARh')", said)
    if check.identical:
        _warn(f"{source}: {len(check.identical)} identical duplicate reading(s) merged, one kept: "
              + "; ".join(check.identical[:5]) + ("; ..." if len(check.identical) > 5 else ""), said)
    one = ~reads.received  # each timestamp once (a CSV row gives both channels)
    written = None if reads.offsets_minutes is None else reads.offsets_minutes[one]
    for text in zone_warnings(source, reads.start[one].astype("datetime64[m]"), written, feed, tz, whose):
        _warn(text, said)
    if check.problems:
        for problem in check.problems:
            # the detail of the error that follows: shown even with -qq
            log.error(f"  - {problem.text}" + ("" if problem.repairable else " (cannot be repaired)"))
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
        series = attach_reactive(series, reads)  # kVARh reads, when the file has them (docs/reactive-power.md)
        for text in repairs:
            log.warning(f"repaired: {source}: {text}")
        read_dates = _read_dates(args.read_dates) if args.read_dates else None
    bills = bill_interval_series(
        tariff, series, read_dates=read_dates, timezone=tz if not tariff.timezone or check.register else None,
        program=args.program, true_up_month=args.true_up_month, export_rates=args.export_rates,
        pto_date=_date(args.pto_date, "--pto-date"), programs_dir=args.programs, notes=notes, nominal_days=nominal,
        opening_credit=args.opening_credit, opening_kwh=args.opening_kwh)
    for text in notes:
        _warn(text, said)
    if check.register:
        for b in bills:
            b.peak_kw = 0.0  # a daily spread of a monthly reading is no measured demand
    return bills, repairs, said, check.register


def _warn(text: str, said: list | None = None) -> None:
    log.warning(f"warning: {text}")
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

    int_range("--meters", args.meters, 1, 999_999, "meters to generate")
    int_range("--chunk", args.chunk, 1, None, "meters per Zarr chunk")
    int_range("--seed", args.seed, 0, None, "a random seed")
    int_range("--year", args.year, 1901, 2099, "the sample's calendar year")
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
                                      meter_chunk=args.chunk, progress=cli_logging.progress_wanted(args), months=months)
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
    keep_freed_memory()  # first: before pyarrow's thread takes a malloc arena of its own (workbench/heap.py)
    from workbench.billing.cycle import run_cycle

    if args.workers is not None and args.scheduler != "local":
        raise WorkbenchError("--workers: only with --scheduler local (an existing cluster has its own workers)")
    result = run_cycle(args.cube, args.tariffs, args.out, cycles=_cycles(args.cycle), period=args.period,
                       progress=cli_logging.progress_wanted(args), scheduler=args.scheduler, workers=args.workers, fresh=args.fresh,
                       chunk_meters=args.chunk, enrollments=args.enrollments, vee_config=args.vee_config,
                       replace=args.replace, system_peaks=args.system_peaks, peak_zone=args.peak_zone)
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
    int_range("--port", args.port, 1, 65535, "a TCP port")
    int_range("--meters", args.meters, 1, 999_999, "meters to generate when the cube is missing")
    for module in ("panel", "hvplot", "holoviews"):
        require(module, "notebooks", "workbench serve (the dashboard)")
    # imported here, not at the top: the dashboards load panel and bokeh, seconds every other command should not pay
    from workbench.app.nem_app import origin_allow_list, serve
    from workbench.app.rates_app import serve as serve_rates

    try:
        allowed = origin_allow_list(args.port, args.allow_origin or ())
    except ValueError as exc:
        raise WorkbenchError(f"--allow-origin: {exc}") from None
    from workbench.design.solar import Weather, read_weather

    weather = Weather(args.weather, args.latitude, args.longitude)
    _, site = read_weather(weather)  # a bad weather file or site is refused before the port and the scan
    port_free(args.port)  # before a missing cube is generated, which takes minutes
    try:
        if args.app == "rates":
            if not args.determinants:
                raise WorkbenchError("workbench serve rates: --determinants DIR is required (a folder written by "
                                     "`workbench design determinants`)")
            thread = serve_rates(args.port, args.determinants, allow_origins=args.allow_origin or ())
        else:
            thread = serve(args.port, args.cube, show=False, n_meters=args.meters,
                           allow_origins=args.allow_origin or (), weather=weather)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES) and not exc.filename:
            raise WorkbenchError(f"--port {args.port}: cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); "
                                 "pick another --port") from None
        raise
    what = "Rate design" if args.app == "rates" else "NEM 2.0 vs 3.0 study"
    if args.app == "nem":
        print(f"PV weather: {site['name']} ({weather.file.name}), site {site['latitude']:.4f}, {site['longitude']:.4f}")
    print(f"{what} on http://127.0.0.1:{args.port} (Ctrl-C stops it); "
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
                       progress=cli_logging.progress_wanted(args))
    print(summary.summary_text())
    if args.report:
        print(f"report: {args.report}/vee_report.html (tables as CSV beside it)")
    print(f"audit trail (edits with originals, exceptions): {summary.info.get('audit')}/")
    return 0


def _ingest(args) -> int:
    from workbench.ami.cube_writer import cube_writer
    from workbench.ami.ingest import ingest

    applied = None if args.multiplier_applied is None else args.multiplier_applied == "yes"
    reader_options = None
    if args.delimiter is not None:
        from workbench.ami.readers import check_delimiter

        reader_options = {"delimiter": check_delimiter(args.delimiter, "--delimiter")}
    progress = cli_logging.progress_wanted(args)
    with cube_writer(args.into):  # ingest and VEE as one writer: no other run gets the cube between them
        result = ingest(args.files, args.into, args.registry, create_period=args.period, timezone=args.timezone,
                        multiplier_applied=applied, read_dates=args.read_dates, force=args.force,
                        report_dir=args.report, reader_options=reader_options, progress=progress)
        print(result.summary_text())
        if args.vee:
            from workbench.ami.registry import load_registry
            from workbench.vee import load_config, vee_cube

            registry = load_registry(args.registry) if args.registry else None
            summary = vee_cube(args.into, load_config(args.vee_config), report_dir=args.report, registry=registry,
                               accounting=result.accounting, progress=progress)
            print()
            print(summary.summary_text())
            if args.report:
                print(f"ingest and VEE report: {args.report}/vee_report.html")
    return 0


def wings() -> list:
    """Each wing's ``add_commands(sub)`` (:mod:`workbench.cli_wings`, which lists them)."""
    # imported here (downward: cli_wings ranks below cli): the wings load pandas, SQLAlchemy, WeasyPrint, ... (~2 s)
    from workbench.cli_wings import WINGS

    return WINGS


HANDLERS = {"bill": _bill, "sample": _sample, "cycle": _cycle, "serve": _serve, "vee": _vee, "ingest": _ingest}


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The ``workbench`` parser (:mod:`workbench.cli_parser`), its subcommands calling this module's functions.

    When ``argv`` names one of this module's own subcommands first (``workbench cycle ...``), the parser leaves the
    wings out, so their modules are not imported. Otherwise (no ``argv``, ``--help``, a wing's command) all of it."""
    ours = bool(argv) and argv[0] in HANDLERS
    return cli_parser.build_parser(HANDLERS, wings=() if ours else wings())


def main(argv=None) -> int:
    """Run ``workbench ARGV``; returns the exit status (see the module docstring for what each failure prints)."""
    # numba's OpenMP threads sleep between parallel regions, not spin (a user's setting wins; read when the first
    # parallel kernel loads libgomp): spinning took the cores from the cycle's Zarr readers (docs/scale.md)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(argv).parse_args(argv)
        with cli_logging.configured(cli_logging.verbosity(args)):
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
