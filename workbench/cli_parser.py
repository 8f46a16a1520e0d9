"""The ``workbench`` command's options: its argparse parser, subcommands, options and their help.

:func:`build_parser` lays out every subcommand (``bill``, ``sample``, ``cycle``, ``serve``, ``vee``,
``ingest``) with its options, defaults, help text and examples; what each subcommand does is
:mod:`workbench.cli`'s, which hands its functions in (``handlers``). ``_Parser`` words usage errors as the
workbench's one line, ``error: workbench sample: ...``, exit 2. Every subcommand, a wing's too, gets the
``-v``/``-q`` options of :func:`workbench.cli_logging.common_options` and the help layout of
:class:`workbench.cli_logging.HelpFormatter` (defaults shown, examples kept as written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import textwrap
from collections.abc import Callable, Mapping, Sequence

from workbench import __version__
from workbench.cli_logging import HelpFormatter, common_options


class _Parser(argparse.ArgumentParser):
    """argparse with the workbench's one-line errors: ``error: workbench sample: ...``, exit 2."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(handlers: Mapping[str, Callable], wings: Sequence[Callable] = ()) -> argparse.ArgumentParser:
    """The ``workbench`` parser; each subcommand's ``func`` is ``handlers[its name]`` (``bill``, ``sample``, ...).

    ``wings``: each wing's ``add_commands(sub)`` (``workbench/cli_<wing>.py``) adds its own subcommands, with
    their handlers, to the subparsers ``sub``.
    """
    parser = _Parser(prog="workbench", description="Rate Workbench: electric-utility rate analysis and billing.",
                     epilog=_MAIN_EPILOG, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"workbench (rate-workbench) {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _with_common_options(sub)

    bill = sub.add_parser("bill", help="bill one customer's interval file under a tariff", epilog=_BILL_EPILOG,
                          description="Bill one customer's interval file under a tariff; the bills go to stdout.")
    bill.add_argument("--tariff", required=True, help="workbench YAML tariff or OpenEI URDB v8 JSON")
    bill.add_argument("--intervals", required=True, help="CSV: timestamp (ISO 8601 with offset), delivered_kwh[, received_kwh]; "
                      "or any AMI file workbench ingest reads (Green Button XML/CSV, MDM CSV/Parquet, CMEP)")
    bill.add_argument("--system-peaks", metavar="FILE", help="CSV of the utility's or ISO's system-peak intervals "
                      "(start[,zone][,label]) that coincident-peak charges bill on (docs/coincident-peaks.md)")
    bill.add_argument("--peak-zone", help="the zone whose peaks to use when --system-peaks lists several")
    bill.add_argument("--meters-on-account", type=int, default=1, metavar="N",
                      help="meters on the billed account, for a URDB charge per additional meter "
                      "(fixedchargeeaaddl: N - 1 additional meters; default: 1, no additional meter)")
    bill.add_argument("--meter", help="the meter to bill when the interval file holds several")
    bill.add_argument("--format", choices=["text", "json", "csv"], default="text", help="how the bills are printed: "
                      "text for people, json (every line item, repairs, warnings) or csv (one row per line item)")
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
    bill.add_argument("--opening-credit", metavar="DOLLARS", help="$ credit the customer brings into the first "
                      "bill (net billing, $-credit net metering; default: 0, an empty bank); docs/net-metering.md")
    bill.add_argument("--opening-kwh", metavar="KWH", help="banked kWh the customer brings into the first bill "
                      "(kWh-credit net metering; default: 0, an empty bank)")
    bill.set_defaults(func=handlers["bill"])

    sample = sub.add_parser("sample", help="generate the synthetic sample utility (interval cube)", epilog=_SAMPLE_EPILOG,
                            description="Generate the synthetic sample utility: an interval cube (Zarr) of "
                            "residential, commercial and solar meters, and optionally its AMI export with faults.")
    sample.add_argument("--meters", type=int, default=2000, help="number of meters to generate")
    sample.add_argument("--year", type=int, default=2025, help="calendar year of the intervals")
    sample.add_argument("--seed", type=int, default=42, help="random seed (the same seed gives the same utility)")
    sample.add_argument("--chunk", type=int, default=1000, help="meters per Zarr chunk")
    sample.add_argument("--months", help="only these months of the year, e.g. 2025-10:2025-11 (default: the whole "
                        "year); the year given here replaces --year")
    sample.add_argument("--out", default="data/sample/cube.zarr", help="the cube to write (a new folder, or an "
                        "earlier sample cube)")
    sample.add_argument("--ami", metavar="DIR", help="also write the utility as its AMI head-end would export it, "
                        "with faults: MDM Parquet by month, meters.csv, read-dates.csv (for workbench ingest)")
    sample.set_defaults(func=handlers["sample"])

    cycle = sub.add_parser("cycle", help="bill a bill cycle (or all) of the utility from the cube", epilog=_CYCLE_EPILOG,
                           description="Bill a bill cycle (or all) of the utility from the interval cube: bills "
                           "and line items as Parquet, summary.csv and exceptions.csv (meters held, and billed meters to "
                           "review: held yes/no) for people, run.json.")
    cycle.add_argument("--cube", default="data/sample/cube.zarr", help="the interval cube (Zarr folder, or an "
                       "s3:// URL with the s3 extra)")
    cycle.add_argument("--tariffs", default="tariffs", help="tariff book folder")
    cycle.add_argument("--cycle", default="all", help="cycle number(s), e.g. 7 or 3,4, or 'all'")
    cycle.add_argument("--period", help="only bill periods ending in this month, e.g. 2025-11 (default: every period)")
    cycle.add_argument("--out", default="reports/cycle", help="output folder: new, empty, or an earlier output of "
                       "this command (default: reports/cycle); see docs/outputs.md")
    cycle.add_argument("--replace", action="store_true", help="replace the bills in --out even if another run "
                       "(other cube, tariffs, cycles or period) wrote them")
    cycle.add_argument("--scheduler", help="run the meter chunks on dask: 'local' (a LocalCluster on this machine) "
                       "or a scheduler address like tcp://10.0.0.5:8786 (default: in this process)")
    cycle.add_argument("--workers", type=int, help="worker processes of --scheduler local (default: 2)")
    cycle.add_argument("--fresh", action="store_true", help="ignore meter chunks kept by an interrupted earlier run "
                       "of the same inputs (default: resume from them)")
    cycle.add_argument("--enrollments", help="account program histories (CSV account,program,pto_date,start,end,...): "
                       "program, PTO date, true-up month and opening bank (opening_credit, opening_kwh) per account; "
                       "see docs/net-metering.md")
    cycle.add_argument("--vee-config", help="site VEE configuration whose bill-ready rule holds bills (default: "
                       "workbench/vee/defaults.yaml: held above 2%% estimated intervals)")
    cycle.add_argument("--system-peaks", metavar="FILE", help="CSV of the system-peak intervals (start[,zone][,label]) "
                       "that the tariff book's coincident-peak charges bill on (docs/coincident-peaks.md); part of "
                       "the run's identity (default: none)")
    cycle.add_argument("--peak-zone", help="the zone whose peaks to use when --system-peaks lists several")
    cycle.add_argument("--chunk", type=int, help="meters per billing chunk (default: the cube's Zarr meter chunk)")
    cycle.set_defaults(func=handlers["cycle"])
    serve = sub.add_parser("serve", help="serve a dashboard (nem: the NEM 2.0 vs 3.0 impact study; rates: rate design)",
                           epilog=_SERVE_EPILOG,
                           description="Serve a dashboard on 127.0.0.1 (needs the notebooks extra: panel, hvplot).")
    serve.add_argument("app", choices=["nem", "rates"], help="nem: the NEM 2.0 vs 3.0 impact study; rates: edit a "
                       "tariff's prices and see revenue and bill impacts (needs --determinants)")
    serve.add_argument("--determinants", help="rates: a folder written by `workbench design determinants`")
    serve.add_argument("--cube", default="data/sample/nem-study.zarr", help="nem: the study's interval cube; "
                       "generated if missing")
    serve.add_argument("--meters", type=int, default=300, help="meters to generate when the cube is missing")
    serve.add_argument("--port", type=int, default=5006, help="TCP port to listen on (127.0.0.1 only)")
    serve.add_argument("--allow-origin", action="append", metavar="HOST[:PORT]", help="also accept the browser's "
                       "live connection from this origin (a reverse proxy's name); repeatable. Default: only "
                       "127.0.0.1:PORT and localhost:PORT")
    serve.add_argument("--weather", help="the PV's typical weather year: a TMY3 CSV or an EnergyPlus EPW file (the site "
                       "comes from its header). Default: the TMY3 of Greensboro NC shipped with pvlib")
    serve.add_argument("--latitude", type=float, help="site latitude [degrees north], overriding the weather file's")
    serve.add_argument("--longitude", type=float, help="site longitude [degrees east, west negative], overriding the "
                       "weather file's")
    serve.set_defaults(func=handlers["serve"])

    vee = sub.add_parser("vee", help="validate, estimate and edit the interval cube in place (VEE) and report",
                         epilog=_VEE_EPILOG, description="Validate, estimate and edit the interval cube in place "
                         "(VEE): flags, estimates with the originals kept, the bill-ready verdict; and report.")
    vee.add_argument("--cube", default="data/sample/cube.zarr", help="the interval cube to validate (changed in "
                     "place, as one new version)")
    vee.add_argument("--config", help="site VEE configuration (YAML) merged over workbench/vee/defaults.yaml")
    vee.add_argument("--report", help="folder for vee_report.html and its CSV tables")
    vee.add_argument("--inject-faults", type=int, metavar="SEED", help="first inject the demo faults (gaps, "
                     "spikes, flatlines, ...) with this seed and score VEE against them; changes the cube")
    vee.set_defaults(func=handlers["vee"])

    ing = sub.add_parser("ingest", help="load interval files (Green Button, MDM CSV/Parquet, CMEP) into the cube",
                         epilog=_INGEST_EPILOG, description="Load interval files into the cube: every read is "
                         "landed or rejected with its reason (see docs/ingest.md).")
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
    ing.add_argument("--delimiter", help="field separator of MDM CSV/TSV files: one character, or 'tab' "
                     "(default: sniffed from the header among , ; tab |)")
    ing.set_defaults(func=handlers["ingest"])
    for add_commands in wings:
        add_commands(sub)
    return parser


def _with_common_options(sub) -> None:
    """Make every ``sub.add_parser`` (a wing's too) take ``-v``/``-q`` and the help layout with defaults."""
    add_parser = sub.add_parser

    def add_with_common(name, **kwargs):
        parents = list(kwargs.pop("parents", ()))
        if not any(getattr(p, "workbench_common", False) for p in parents):
            parents.append(common_options())
        kwargs["formatter_class"] = HelpFormatter  # one help layout everywhere (a wing's own is replaced)
        if kwargs.get("description"):  # the formatter keeps text as written (for the examples): wrap it here
            kwargs["description"] = textwrap.fill(kwargs["description"], 100)
        parser = add_parser(name, parents=parents, **kwargs)
        add_subparsers = parser.add_subparsers

        def add_nested(**options):  # a wing's group (ledger init, design cos, ...): the same for its commands
            nested = add_subparsers(**options)
            _with_common_options(nested)
            return nested

        parser.add_subparsers = add_nested
        return parser

    sub.add_parser = add_with_common


_MAIN_EPILOG = """\
every command takes -v (more detail) and -q (less: no progress bars; -qq errors only).
exit status: 0 done, 2 bad input (one 'error:' line), 70 a bug of the workbench, 130 interrupted.

a first session:
  workbench sample --meters 200 --out data/sample/cube.zarr
  workbench cycle --cube data/sample/cube.zarr --cycle 7 --period 2025-11 --out reports/cycle-7
  workbench COMMAND --help      (options and examples of one command)
"""

_BILL_EPILOG = """\
examples:
  workbench bill --tariff tariffs/RES-TOU.yaml --intervals meter.csv
  workbench bill --tariff urdb.json --intervals greenbutton.xml --format csv > bills.csv
  workbench bill --tariff tariffs/RES-FLAT.yaml --intervals solar.csv --program net-billing --true-up-month 12
"""

_SAMPLE_EPILOG = """\
examples:
  workbench sample --meters 200 --months 2025-11 --out data/sample/small.zarr
  workbench sample --meters 2000 --ami data/sample/ami      (also the head-end export, for workbench ingest)
"""

_CYCLE_EPILOG = """\
examples:
  workbench cycle --cube data/sample/cube.zarr --cycle 7 --period 2025-11 --out reports/cycle-7
  workbench cycle --cycle all --scheduler local --workers 4 --out reports/all
outputs (see docs/outputs.md): summary.csv and exceptions.csv rounded for people (kWh to 3 decimals, $ to
cents); bills.parquet and line_items.parquet at full precision.
"""

_SERVE_EPILOG = """\
examples:
  workbench serve nem --port 5006      (then open http://127.0.0.1:5006; works offline, no CDN)
  workbench design determinants --cube data/sample/cube.zarr --test-year 2025 --out reports/testyear-2025
  workbench serve rates --determinants reports/testyear-2025 --port 5007
"""

_VEE_EPILOG = """\
examples:
  workbench vee --cube data/sample/cube.zarr --report reports/vee
  workbench vee --cube data/sample/demo.zarr --inject-faults 7 --report reports/vee-demo
"""

_INGEST_EPILOG = """\
examples:
  workbench ingest data/ami/*.parquet --into data/utility.zarr --registry data/ami/meters.csv --report reports/ingest
  workbench ingest export.csv --into data/utility.zarr --delimiter ';' --vee --report reports/ingest
"""


#: the --db help of every ledger command
DB_HELP = "ledger database URL (default: $WORKBENCH_DB_URL, else sqlite:///data/ledger.sqlite)"


def iso_date(text: str) -> dt.date:
    """An argparse ``type``: a date written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def wing_group(sub, name: str, wing: str):
    """The subcommands of ``workbench NAME`` (a group :mod:`workbench.cli_ledger` makes), for a wing that adds to it;
    the wing must come after cli_ledger in ``cli_wings.WINGS``."""
    parser = sub.choices.get(name)
    if parser is None:
        raise RuntimeError(f"{wing}: register it after cli_ledger in cli_wings.WINGS (no `{name}` group)")
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def whole_number(low: int, high: int, what: str):
    """An argparse ``type`` for a whole number from ``low`` to ``high``; anything else is refused naming ``what``."""
    def parse(text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}; expected a whole number from {low} to {high}")
        return value
    return parse


def calendar_year(text: str) -> int:
    """An argparse ``type`` for a test year: four digits (``25`` is refused, not read as the year 25)."""
    if not str(text).strip().isdigit() or len(str(text).strip()) != 4:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a calendar year like 2025")
    return int(text)
