"""``workbench filing``: the rate-case schedules of a test year as CSV, Excel and PDF, from one command.

Reuses kept test-year determinants (``--determinants``, or the ones an earlier filing built into
``OUT/determinants`` from the same cube version and ToU schedules) so an edited proposal re-files without a
new scan; otherwise it scans the cube once into ``OUT/determinants``. It then executes
``notebooks/puc_filing.ipynb`` with papermill into the output folder (the executed notebook is the run's record
beside ``run.json``). The folder appears whole (staged beside it and renamed into place) and only replaces an
earlier filing (``workbench.outputs``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from pathlib import Path

import workbench
from workbench.ami.cube_writer import cube_state
from workbench.billing.cube_source import open_run_cube
from workbench.cli_logging import progress_wanted
from workbench.cli_parser import calendar_year
from workbench.design.testyear import build_test_year
from workbench.design.testyear_store import excluded_note, read_identity, schedule_fingerprint
from workbench.errors import WorkbenchError, require
from workbench.filing.schedules import read_cost_of_service
from workbench.outputs import check_output_dir
from workbench.outputs.checksums import file_sha256
from workbench.outputs.guard import refuse_nested, refuse_working_dir, remove_private_lock, staged_output
from workbench.outputs.kernel import KERNEL_ARGUMENTS
from workbench.tariffs import load_tariff_book

log = logging.getLogger(__name__)
KIND = "PUC filing"
NOTEBOOK = Path(workbench.__file__).resolve().parents[1] / "notebooks" / "puc_filing.ipynb"


def add_commands(sub) -> None:
    """Add ``workbench filing``."""
    p = sub.add_parser("filing", help="rate-case schedules (proof of revenue, bill frequency, typical bills...) "
                       "as CSV, Excel and PDF", formatter_class=lambda prog: argparse.ArgumentDefaultsHelpFormatter(
                           prog, width=110),
                       description="The PUC filing package of a test year: class summary, proof of revenue, bill "
                       "frequency, typical bills, bill impacts, rate mapping and (given) cost of service, as "
                       "OUT/<schedule>.csv, OUT/filing.xlsx and OUT/filing.pdf (docs/filing.md).",
                       epilog="example: workbench filing --cube data/sample/cube.zarr --test-year 2025 --present "
                       "tariffs --proposed proposed-tariffs --out reports/filing-2025")
    p.add_argument("--cube", required=True, help="interval cube (Zarr) the test year is scanned from")
    p.add_argument("--test-year", type=calendar_year, required=True, help="the 12 calendar months of this year")
    p.add_argument("--present", required=True, help="present tariff book folder")
    p.add_argument("--proposed", required=True, help="proposed tariff book folder (every present rate code)")
    p.add_argument("--cost-of-service", help="cost-of-service result CSV: class, allocated_cost [$] per class")
    p.add_argument("--determinants", help="kept test-year determinants (workbench design determinants); default: "
                   "OUT/determinants, built once and reused by later filings into OUT")
    p.add_argument("--basis", choices=["billed", "calendarized"], default="billed",
                   help="billed: the bills ending in the test year; calendarized: straddling bills prorated by days")
    p.add_argument("--enrollments", help="account program histories (CSV) the net-metering customers are scanned "
                   "with, as `workbench design determinants --enrollments` (default: the cube's nem_program)")
    p.add_argument("--utility", help="the utility's name in titles (default: the present tariffs' `utility`)")
    p.add_argument("--out", required=True, help="new folder for the filing (or an earlier filing to replace)")
    p.set_defaults(func=_filing)


def _checker(path: Path) -> bool:
    check_output_dir(path, KIND)
    return False


def _reusable(kept: Path, cube, test_year: int, book: dict, enrollments=None) -> bool:
    """Whether determinants kept by an earlier filing fit: same cube version, test year, enrollment file (its
    sha256) and ToU schedules."""
    try:
        identity = read_identity(kept)
    except WorkbenchError:
        return False
    if identity.get("test_year") != test_year or identity.get("cube_version") != json.loads(
            json.dumps(cube_state(cube), default=str)):
        return False
    if identity.get("enrollments_sha256") != (file_sha256(enrollments) if enrollments else None):
        return False
    codes = identity.get("rate_codes", {})
    # a set scanned before net-metering customers were kept lists them as excluded: scan again to settle them
    return all(code in book and "net_metering_meters" in codes[code] and codes[code]["schedule"] == json.loads(json.dumps(schedule_fingerprint(book[code])))
               for code in codes)


def _given_determinants(folder, cube, test_year: int, enrollments=None) -> Path:
    identity = read_identity(folder)
    if enrollments and identity.get("enrollments_sha256") != file_sha256(enrollments):
        raise WorkbenchError(f"--determinants {folder}: scanned with "
                             f"{identity.get('enrollments') or 'no enrollment file'}, not --enrollments {enrollments} "
                             "(or the file changed since); scan it again with --enrollments, or drop one of them")
    if identity.get("test_year") != test_year:
        raise WorkbenchError(f"--determinants {folder}: holds test year {identity.get('test_year')}, not "
                             f"--test-year {test_year}")
    if identity.get("cube_version") != json.loads(json.dumps(cube_state(cube), default=str)):
        raise WorkbenchError(f"--determinants {folder}: scanned from another version of the cube {cube} (an ingest "
                             "or VEE wrote it since); scan it again (workbench design determinants) or drop "
                             "--determinants")
    return Path(folder)


def _test_year_codes(given, cube, present_book: dict) -> list[str]:
    """The rate codes the filing prices: the kept determinants' (``--determinants``), else the present book's
    rate codes that meters of the cube are on (the meters of other codes are excluded by the scan)."""
    if given is not None:
        return sorted(read_identity(given).get("rate_codes", {}))
    on_meters = {str(code) for code in open_run_cube(cube)["rate_code"].values}  # one small array, no scan
    return sorted(on_meters & set(present_book))


def _refuse_missing_codes(codes, proposed_book: dict, proposed) -> None:
    """Refuse a proposed book without a tariff for a rate code of the test year, before anything is scanned."""
    missing = [code for code in codes if code not in proposed_book]
    if missing:
        raise WorkbenchError(f"--proposed {proposed}: the proposed book has no tariff for rate codes {missing} "
                             "(every present rate code of the test year needs its proposed tariff, even unchanged; "
                             "nothing was scanned or written)")


def _filing(args) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    refuse_working_dir(out, KIND)
    check_output_dir(out, KIND)
    refuse_nested(out, args.cube, "the cube")
    if not Path(args.cube).exists():
        raise WorkbenchError(f"--cube {args.cube}: no such cube (make one with `workbench sample` or `workbench ingest`)")
    for option, folder in (("--present", args.present), ("--proposed", args.proposed)):
        if not Path(folder).is_dir():
            raise WorkbenchError(f"{option} {folder}: no such folder (a tariff book is a folder of *.yaml tariffs)")
    present_book = load_tariff_book(args.present)
    proposed_book = load_tariff_book(args.proposed)
    if args.cost_of_service:
        read_cost_of_service(args.cost_of_service)
    if not NOTEBOOK.is_file():
        raise WorkbenchError(f"{NOTEBOOK}: the filing notebook is missing from this installation")
    if args.enrollments and not Path(args.enrollments).is_file():
        raise WorkbenchError(f"--enrollments {args.enrollments}: no such file (account program histories, CSV)")
    given = (_given_determinants(args.determinants, args.cube, args.test_year, args.enrollments)
             if args.determinants else None)
    _refuse_missing_codes(_test_year_codes(given, args.cube, present_book), proposed_book, args.proposed)
    with staged_output(out, KIND, _checker) as tmp:
        scanned = False
        if given is None:
            staged = tmp / "determinants"
            if _reusable(out / "determinants", args.cube, args.test_year, present_book, args.enrollments):
                shutil.copytree(out / "determinants", staged, copy_function=os.link)  # hard links: no copy
            else:
                build_test_year(args.cube, args.present, args.test_year, staged, basis=args.basis,
                                progress=progress_wanted(args), enrollments=args.enrollments)
                remove_private_lock(staged)  # its lock was made inside our own staging folder
                scanned = True
        source = given or tmp / "determinants"
        record = given or out / "determinants"
        # imported here, not at the top: papermill (nbformat, jsonschema) costs every workbench command ~1.5 s
        papermill = require("papermill", "notebooks", "workbench filing (it executes notebooks/puc_filing.ipynb)")
        try:
            papermill.execute_notebook(
                str(NOTEBOOK), str(tmp / "puc_filing.ipynb"), kernel_name="python3", progress_bar=False,
                extra_arguments=KERNEL_ARGUMENTS,
                parameters={"determinants": str(Path(source).resolve()), "present": str(Path(args.present).resolve()),
                            "proposed": str(Path(args.proposed).resolve()),
                            "cost_of_service": str(Path(args.cost_of_service).resolve()) if args.cost_of_service else "",
                            "basis": args.basis, "utility": args.utility or "", "out": str(tmp.resolve()),
                            "record_determinants": str(record)})
        except papermill.PapermillExecutionError as exc:
            said = (exc.evalue or exc.ename).splitlines()[0]
            raise WorkbenchError(f"{said} (in the filing notebook {NOTEBOOK.name}; nothing was written to {out})") from None
        run = json.loads((tmp / "run.json").read_text(encoding="utf-8"))
        note = excluded_note(source, record)
    if note:
        log.warning(f"warning: {note}")
    print(f"{run['utility']}: filing of test year {run['test_year']} ({run['basis']} basis) in "
          f"{time.perf_counter() - started:.1f} s; determinants {'scanned' if scanned else 'reused'} ({record})")
    print(f"Written to {out}/: filing.xlsx, filing.pdf, " + ", ".join(f"{s}.csv" for s in run["schedules"])
          + ", run.json, puc_filing.ipynb")
    return 0
