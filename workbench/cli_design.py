"""``workbench design ...``: the rate-design wing's subcommands (test-year determinants, pricing, solve).

:func:`add_commands` adds the ``design`` command; :func:`design_subparsers` returns its subparsers so other
modules of the wing (cost of service, allocators) add their own subcommands to the same group.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from workbench.cli_logging import progress_wanted
from workbench.cli_parser import calendar_year
from workbench.design.nem_revenue import NetMeteringStudy, compare_settled
from workbench.design.proposal import Proposal
from workbench.design.rescan import check_comparable
from workbench.design.revreq import PRICE_DECIMALS, mid_year_versions, round_solution, solve
from workbench.design.scenarios import Study, compare, no_customers_of
from workbench.design.testyear import build_test_year
from workbench.design.testyear_store import excluded_note
from workbench.design.versions import proposed_version_notes
from workbench.errors import WorkbenchError
from workbench.outputs import atomic_write_text, check_output_dir, write_csv_for_people
from workbench.outputs.guard import staged_output
from workbench.tariffs import load_tariff_book

log = logging.getLogger(__name__)
PRICE_KIND = "rate-design scenario"
SOLVE_KIND = "rate-design solve"


def design_subparsers(sub) -> argparse._SubParsersAction:
    """The ``design`` command's subparsers (created on first call), for every module of the wing to extend."""
    group = getattr(sub, "_workbench_design_group", None)  # kept on the parser itself: ids are reused after GC
    if group is None:
        design = sub.add_parser("design", help="rate design and cost of service: test-year determinants, scenarios, revenue requirement, allocators",
                                description="Rate design on the whole customer base: scan a test year once, then "
                                "price present and proposed tariffs and solve for a revenue requirement "
                                "(docs/rate-design.md); class allocators and cost-of-service studies from every meter's intervals "
                                "(docs/cost-of-service.md).")
        group = design.add_subparsers(dest="design_command", required=True, metavar="SUBCOMMAND")
        sub._workbench_design_group = group
    return group


def _formatter(prog):
    return argparse.ArgumentDefaultsHelpFormatter(prog, width=110)


def add_commands(sub) -> None:
    """Add ``workbench design determinants | price | solve``."""
    group = design_subparsers(sub)
    det = group.add_parser("determinants", help="scan the cube once into a test year's billing determinants",
                           formatter_class=_formatter, epilog="example: workbench design determinants --cube "
                           "data/sample/cube.zarr --tariffs tariffs --test-year 2025 --out reports/testyear-2025")
    det.add_argument("--cube", required=True, help="interval cube (Zarr)")
    det.add_argument("--tariffs", default="tariffs", help="tariff book folder: the present rates, or a proposed "
                     "book that moves ToU hours or seasons (scan it into another --out; then design price "
                     "--proposed-determinants)")
    det.add_argument("--test-year", type=calendar_year, required=True, help="the 12 calendar months of this year")
    det.add_argument("--basis", choices=["billed", "calendarized"], default="billed",
                     help="billed: the bills ending in the year; calendarized: bills straddling its ends prorated by days")
    det.add_argument("--out", required=True, help="new folder for the determinants (or an earlier one to replace)")
    det.add_argument("--chunk", type=int, help="meters per chunk (default: the cube's Zarr meter chunk)")
    det.add_argument("--scheduler", help="run the meter chunks on dask: 'local' or a scheduler address")
    det.add_argument("--workers", type=int, help="worker processes of --scheduler local (default 2)")
    det.add_argument("--enrollments", help="account program histories (CSV account,program,pto_date,start,end,...), "
                     "as `workbench cycle --enrollments` takes them: each listed account's program, PTO date, "
                     "true-up month and opening bank on the cube's last day (default: the cube's nem_program); "
                     "see docs/net-metering.md")
    det.set_defaults(func=_determinants)

    pr = group.add_parser("price", help="revenue by class, rate and component; each customer's annual bill; the change",
                          formatter_class=_formatter, epilog="example: workbench design price --determinants "
                          "reports/testyear-2025 --proposed proposed-tariffs --class RES --out reports/scenario\n"
                          "moved ToU hours: workbench design determinants --cube CUBE --tariffs proposed-tariffs "
                          "--test-year 2025 --out reports/testyear-2025-proposed; workbench design price "
                          "--determinants reports/testyear-2025 --proposed-determinants reports/testyear-2025-proposed "
                          "--proposed proposed-tariffs --out reports/scenario")
    pr.add_argument("--determinants", required=True, help="folder written by `workbench design determinants`")
    pr.add_argument("--tariffs", help="present tariff book (default: the one the determinants were scanned with)")
    pr.add_argument("--proposed", help="proposed tariff book folder (its rate codes' edited YAML; default with "
                    "--proposed-determinants: the book those were scanned with)")
    pr.add_argument("--proposed-determinants", metavar="FOLDER",
                    help="determinants scanned with the proposed book (a proposal that moves ToU hours, seasons, "
                    "holidays or demand measurement): the proposed book is priced on these, the present on "
                    "--determinants; both must be the same cube, test year, basis and customers")
    pr.add_argument("--class", dest="classes", action="append", help="only this customer class (repeatable)")
    pr.add_argument("--basis", choices=["billed", "calendarized"], help="default: the determinants' basis")
    pr.add_argument("--out", required=True, help="new folder for revenue.csv, components.csv, customers.csv and, "
                    "when the test year has net-metering customers, net_metering.csv and net_metering_customers.csv")
    pr.set_defaults(func=_price)

    so = group.add_parser("solve", help="solve a price that recovers a class's revenue requirement; write the book",
                          formatter_class=_formatter, epilog="example: workbench design solve --determinants "
                          "reports/testyear-2025 --class RES --requirement 330000 --charge RES-FLAT:Energy "
                          "--charge RES-TOU:Energy --out proposed-tariffs")
    so.add_argument("--determinants", required=True, help="folder written by `workbench design determinants`")
    so.add_argument("--tariffs", help="tariff book to start from (default: the one the determinants were scanned with)")
    so.add_argument("--class", dest="classes", action="append", required=True, help="customer class (repeatable)")
    so.add_argument("--requirement", type=_dollars, required=True, help="the revenue requirement [$] of the classes' "
                    "customers on the rate codes of --charge (a rate code with no charge moved is not counted)")
    so.add_argument("--charge", action="append", required=True, metavar="RATE:DESCRIPTION",
                    help="a charge to move, e.g. RES-TOU:Energy (repeatable; one x moves them all)")
    so.add_argument("--how", choices=["scale", "set"], default="scale",
                    help="scale: multiply the charges' prices by x; set: set them all to the price x")
    so.add_argument("--decimals", type=int, help="round x (the scale factor or set price) to this many decimals "
                    "before the prices are rounded")
    so.add_argument("--price-decimals", action="append", type=_unit_decimals, metavar="UNIT=N", default=[],
                    help="decimals each solved price is rounded to (half up), by its unit (repeatable): "
                    + ", ".join(f"{u}={n}" for u, n in PRICE_DECIMALS.items()) + " unless given; e.g. kWh=4 (default: none given)")
    so.add_argument("--basis", choices=["billed", "calendarized"], help="default: the determinants' basis")
    so.add_argument("--out", required=True, help="new folder for the proposed tariff book and solution.json")
    so.set_defaults(func=_solve)


def _dollars(text: str) -> float:
    """``--requirement``: an amount of dollars written as a plain number. ``5%`` (a change, not a revenue),
    ``$1,000,000`` or ``1.000.000`` are refused naming what to write: a guessed amount would cost money."""
    try:
        value = float(text)
    except ValueError:
        said = ("a percent is a change, not a revenue: give the revenue it comes to, e.g. the present revenue "
                "x 1.05" if "%" in text else "no $ sign, thousands separators or words")
        raise argparse.ArgumentTypeError(f"{text!r}: expected the revenue requirement in dollars as a plain "
                                         f"number, e.g. 1692369.35 ({said})") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite amount of dollars above 0 (the classes' "
                                         "revenue of the test year)")
    return value


def _unit_decimals(text: str) -> tuple[str, int]:
    """``'kWh=4'`` -> ('kWh', 4): a unit of :data:`PRICE_DECIMALS` and 0 to 10 decimals."""
    unit, sep, n = str(text).partition("=")
    if not sep or unit.strip() not in PRICE_DECIMALS or not n.strip().isdigit() or not 0 <= int(n) <= 10:
        raise argparse.ArgumentTypeError(f"{text!r}: expected UNIT=N with UNIT one of {', '.join(PRICE_DECIMALS)} "
                                         "and N a whole number of decimals from 0 to 10, e.g. kWh=5")
    return unit.strip(), int(n)


def _determinants(args) -> int:
    identity = build_test_year(args.cube, args.tariffs, args.test_year, args.out, basis=args.basis,
                               chunk_meters=args.chunk, scheduler=args.scheduler, workers=args.workers,
                               progress=progress_wanted(args), enrollments=args.enrollments)
    codes = identity["rate_codes"]
    print(f"Test year {identity['test_year']} ({identity['basis']}): determinants of {identity['meters_in']:,} meters "
          f"({identity['meters_excluded']:,} excluded, see excluded.csv) in {identity['seconds']:.1f} s")
    for code, info in codes.items():
        nem = info.get("net_metering_meters") or {}
        print(f"  {code}: {info['billed_bills']:,} bills in the test year, {info['rows']:,} bill periods kept"
              + ("; net-metering customers (settled under their programs when priced): "
                 + ", ".join(f"{program} {n:,}" for program, n in sorted(nem.items())) if nem else ""))
    if args.enrollments:
        print(f"Net-metering programs, PTO dates, true-up months and opening banks: {args.enrollments} (accounts "
              "not in it: the cube's nem_program)")
    if identity.get("no_opening_bank_meters"):
        print(f"WARNING: {identity['no_opening_bank_meters']:,} meter(s) on a net-metering program that banks, "
              f"enrolled before the cube's first day, are settled with a bank starting at zero: {args.enrollments} "
              "gives no opening balance for them (opening_credit / opening_kwh; 0 says the bank is empty)")
    if identity.get("true_up_assumed_meters"):
        print(f"WARNING: {identity['true_up_assumed_meters']:,} meter(s) on a program that trues up on the PTO "
              f"anniversary have no PTO date: settled with the true-up in month {identity['true_up_assumed_month']} "
              "(December); give their accounts' pto_date in --enrollments")
    print(f"Kept in {args.out}/ (identity.json, <RATE-CODE>.parquet, excluded.csv)")
    return 0


def _study(args, *, solve: bool = False) -> Study:
    """The customers on no net-metering program of ``--class`` (none is fine for ``design price`` when the class
    has net-metering customers: they are priced beside; the solve needs some, so it says why it has none)."""
    note = excluded_note(args.determinants)
    if note:
        log.warning(f"warning: {note}")
    study = Study(args.determinants, classes=args.classes, basis=args.basis, tariffs_dir=args.tariffs, empty_ok=True)
    if not len(study):
        codes = sorted(study.identity["rate_codes"])
        nem = NetMeteringStudy(args.determinants, classes=args.classes, basis=study.basis)
        if not len(nem):
            raise WorkbenchError(f"{args.determinants}: no customers {no_customers_of(args.classes, codes)}")
        if solve:
            raise WorkbenchError(f"{args.determinants}: every customer {no_customers_of(args.classes, codes)} is "
                                 f"net-metered ({len(nem):,} on {', '.join(nem.rate_codes)}), and the solve keeps "
                                 "net-metering customers out of --requirement (their bills settle credits under "
                                 "their programs): no customer to solve on; price a proposal for them with "
                                 "`workbench design price --proposed BOOK`")
    return study


def _price(args) -> int:
    study = _study(args)
    rescanned = None
    if args.proposed_determinants:
        note = excluded_note(args.proposed_determinants)
        if note:
            log.warning(f"warning: {note}")
        rescanned = Study(args.proposed_determinants, classes=args.classes, basis=args.basis,
                          tariffs_dir=args.proposed, empty_ok=True)
        check_comparable(study, rescanned)  # before anything is priced
        args.proposed = args.proposed or str(rescanned.tariffs_dir)
    proposed_book = load_tariff_book(args.proposed) if args.proposed else None
    missing = [code for code in study.rate_codes if proposed_book is not None and code not in proposed_book]
    if missing:  # before anything is priced
        raise WorkbenchError(f"--proposed {args.proposed}: the proposed book has no tariff for rate codes {missing} "
                             "of the determinants (every one needs its proposed tariff, even unchanged)")
    present_book = study.present_book()
    present = study.price(present_book, "present")
    # net-metering customers: their bills settled under their programs with each book's own programs/ folder
    nem = NetMeteringStudy(args.determinants, classes=args.classes, basis=study.basis)
    nem_present = nem.price(present_book, study.tariffs_dir, "present") if len(nem) else None
    if proposed_book is not None:  # a proposal effective after the test year prices none of its bills: say so
        for note in proposed_version_notes(present_book, proposed_book, study.identity["test_year"],
                                           [*study.rate_codes, *(nem.rate_codes if len(nem) else [])]):
            log.warning(f"warning: {note}")
    with staged_output(args.out, PRICE_KIND, _checker(PRICE_KIND)) as tmp:
        if proposed_book is not None:  # on its own determinants when the proposal was scanned anew
            proposed = (rescanned or study).price(proposed_book, "proposed")
            tables = compare(present, proposed)
        else:
            tables = {"revenue": present.revenue(), "components": present.components(),
                      "customers": present.customers()}
        nem_tables = {}
        if nem_present is not None:
            if proposed_book is not None:
                nem_proposed_study = (NetMeteringStudy(args.proposed_determinants, classes=args.classes,
                                                       basis=study.basis) if rescanned else nem)
                nem_tables = compare_settled(nem_present, nem_proposed_study.price(proposed_book, args.proposed,
                                                                                   "proposed"))
            else:
                nem_tables = {"revenue": nem_present.revenue(), "customers": nem_present.customers()}
            tables["net_metering"] = nem_tables["revenue"]
            tables["net_metering_customers"] = nem_tables["customers"]
        for name, table in tables.items():  # kWh to 3 decimals, $ to cents (docs/command-line.md)
            units = [c for c in table.columns if c.startswith("billing_units")]  # kWh, kW, months...: not $
            counts = [c for c in table.columns if c.startswith("bills") and table[c].dtype.kind == "f"]
            write_csv_for_people(table.assign(**{c: table[c].round(3).astype(object) for c in units},
                                              **{c: table[c].round().astype("Int64") for c in counts}),
                                 tmp / f"{name}.csv")
    print(_shown(tables["revenue"]) if len(tables["revenue"])
          else "No customers on no net-metering program (every customer priced is net-metered).")
    if nem_tables:
        print("Net-metering customers (bills settled under their programs):")
        print(_shown(nem_tables["revenue"]))
        print(_all_revenue(tables["revenue"], nem_tables["revenue"]))
    print(f"Outputs in {args.out}/: revenue.csv, components.csv, customers.csv"
          + (", net_metering.csv, net_metering_customers.csv" if nem_tables else ""))
    return 0


def _shown(table) -> str:
    """A revenue table for the terminal, each number with its unit: kWh whole, $ to the cent, the change in %."""
    shown = table.copy()
    for column in shown.columns:
        if column in ("kwh", "received_kwh"):
            shown[column] = shown[column].map("{:,.0f} kWh".format)
        elif column.startswith("revenue"):
            shown[column] = shown[column].map("${:,.2f}".format)
        elif column == "change":
            shown[column] = shown[column].map(lambda v: f"{'-' if v < 0 else '+'}${abs(v):,.2f}")
        elif column == "change_pct":
            shown[column] = shown[column].map(lambda v: "" if v != v else f"{v:+.2f}%")
    return shown.to_string(index=False)


def _nem_in_solve(args, study, moved, out) -> str:
    """The net-metering customers of the solved rate codes are not in the requirement (their credits and
    true-ups settle across bills, so their revenue is not linear in a price): say how many, and what they bring
    in at present prices and under the solved book (settled again), so that the total is never read as the
    whole class's. Recorded in ``solution.json`` under ``net_metering``."""
    nem = NetMeteringStudy(args.determinants, classes=args.classes, rate_codes=[c for c in moved if c in
                           study.identity["rate_codes"]], basis=study.basis)
    if not len(nem):
        return ""
    present = nem.price(study.present_book(), study.tariffs_dir, "present").total_cents()
    solved = nem.price(load_tariff_book(out), out, "solved").total_cents()
    record = json.loads((out / "solution.json").read_text(encoding="utf-8"))
    record["net_metering"] = {"customers": len(nem), "rate_codes": nem.rate_codes, "in_requirement": False,
                              "present_revenue": present / 100, "solved_revenue": solved / 100}
    atomic_write_text(out / "solution.json", json.dumps(record, indent=1))
    return (f"{len(nem):,} net-metering customer(s) on {', '.join(nem.rate_codes)} are NOT in --requirement "
            f"(their bills settle credits under their programs): they bring in ${present / 100:,.2f} at present "
            f"prices and ${solved / 100:,.2f} under the solved book (settled again under their programs), on top "
            f"of the solved revenue (recorded in solution.json under net_metering)")


def _all_revenue(revenue, nem_revenue) -> str:
    """One line: the revenue of every customer, net-metering customers included, present (and proposed)."""
    said = []
    for side in ("present", "proposed"):
        col = "revenue" if "revenue" in revenue.columns else f"revenue_{side}"
        nem_col = "revenue" if "revenue" in nem_revenue.columns else f"revenue_{side}"
        if col not in revenue.columns or (col == "revenue" and side == "proposed"):
            continue
        cents = int(round(revenue[col].sum() * 100)) + int(round(nem_revenue[nem_col].sum() * 100))
        said.append(f"{side} ${cents / 100:,.2f}")
    n = int(nem_revenue["customers"].sum())
    return f"All customers, the {n:,} net-metering customers included: " + ", ".join(said)


def _checker(kind):
    def check(path: Path) -> bool:
        check_output_dir(path, kind)
        return False
    return check


def _solve(args) -> int:
    if not math.isfinite(args.requirement) or args.requirement <= 0:
        raise WorkbenchError(f"--requirement {args.requirement!r}: expected a finite amount of dollars above 0 "
                             "(the classes' revenue of the test year)")
    targets = []
    for text in args.charge:
        code, sep, description = text.partition(":")
        if not sep or not code or not description:
            raise WorkbenchError(f"--charge {text!r}: expected RATE-CODE:charge description, e.g. RES-TOU:Energy")
        targets.append((code, description))
    units = [unit for unit, _ in args.price_decimals]
    twice = sorted({unit for unit in units if units.count(unit) > 1})
    if twice:
        raise WorkbenchError(f"--price-decimals: {', '.join(twice)} given twice; expected one UNIT=N per unit")
    study = _study(args, solve=True)
    for code, charge in targets:
        if code not in study.rate_codes:  # the requirement is of the classes' customers: none is on this rate code
            raise WorkbenchError(f"--charge {code}:{charge}: no customer of classes {args.classes} on no "
                                 f"net-metering program is on {code}; expected a rate code of theirs: "
                                 f"{', '.join(study.rate_codes)}")
    base = Proposal.from_book(study.tariffs_dir)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise WorkbenchError(f"--out {out}: not empty; name a new folder for the proposed tariff book (nothing changed)")
    given = dict(args.price_decimals)
    solution = solve(study, args.requirement, targets, how=args.how, base=base, decimals=args.decimals)
    rounded = round_solution(study, solution, given)
    rounded.proposal.write(out)
    atomic_write_text(out / "solution.json", json.dumps({
        "classes": args.classes, "requirement": solution.requirement, "revenue": rounded.revenue,
        "difference": rounded.difference, "difference_percent": rounded.percent,
        "price_decimals": [dict(zip(("rate_code", "charge", "unit", "decimals", "from"), d, strict=True))
                           for d in rounded.decimals],
        "unrounded": {"revenue": solution.revenue, "residual": solution.residual, "x": solution.x},
        "how": solution.how, "x": solution.x, "charges": [list(t) for t in targets],
        "basis": study.basis, "determinants": str(args.determinants)}, indent=1))
    if solution.implausible():
        log.warning(f"warning: {solution.implausible()}")
    moved = sorted({code for code, _ in targets})
    left = [code for code in study.rate_codes if code not in moved]
    if left:
        log.warning(f"warning: --requirement ${args.requirement:,.2f} is the revenue of {', '.join(moved)} only: the "
                    f"class's other rate codes ({', '.join(left)}) are not in it and keep their prices; give a "
                    "--charge of each to solve the class as a whole")
    nem_note = _nem_in_solve(args, study, moved, out)
    if nem_note:
        log.warning(f"warning: {nem_note}")
    mid_year = mid_year_versions(study, rounded, moved)
    if mid_year:
        log.warning(f"warning: {mid_year}")
    print("unrounded: " + solution.summary())
    for code, component, unit, n, source in rounded.decimals:
        print(f"  {code} {component}: prices rounded to {n} decimals ($/{unit}, {source}; --price-decimals {unit}=N)")
    print(rounded.summary())
    kept = [code for code in rounded.proposal.tariffs if rounded.proposal.unedited(code)]
    print(f"Proposed tariff book in {out}/ (bill it with `workbench cycle --tariffs {out}`: it bills the rounded "
          f"revenue); solution.json" + (f"; copied unchanged: {', '.join(kept)}" if kept else ""))
    return 0
