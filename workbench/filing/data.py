"""The inputs of a filing: kept test-year determinants priced under the present and the proposed books.

:func:`open_filing` opens a determinants folder (:mod:`workbench.design.testyear`) as a
:class:`~workbench.design.scenarios.Study`, prices every kept customer under the present and the proposed
tariff books with the engine's own pricing, and returns a :class:`FilingData` that every schedule of
:mod:`workbench.filing.schedules` reads. Nothing here scans interval data: a proposal edited and re-filed only
re-prices.

:func:`run_identity` is the record of what a filing was made from: the sha256 of each input (tariff books,
cost-of-service file, the determinants' identity with the cube version) and the code version.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import workbench
from workbench.design.nem_revenue import NetMeteringStudy, SettledBook, compare_settled
from workbench.design.scenarios import PricedBook, Study, compare, no_customers_of
from workbench.design.testyear_store import IDENTITY, book_checksum
from workbench.errors import WorkbenchError
from workbench.outputs.checksums import file_sha256
from workbench.tariffs import load_tariff_book


@dataclass
class FilingData:
    """One filing's priced test year: the study, both books, their pricings and the comparison tables."""

    study: Study
    present_book: dict
    proposed_book: dict
    present: PricedBook
    proposed: PricedBook
    utility: str
    test_year: int
    basis: str
    tables: dict = field(default_factory=dict)  # compare(): revenue, components, customers
    #: the net-metering customers, settled under their programs with each book (workbench.design.nem_revenue)
    net_metering: NetMeteringStudy | None = None
    nem_present: SettledBook | None = None
    nem_proposed: SettledBook | None = None
    nem_tables: dict = field(default_factory=dict)  # compare_settled(): revenue, customers

    @property
    def customers(self) -> pd.DataFrame:
        """Each customer: meter, account, customer_class, rate_code, bills, kwh, annual bills and the change
        (the customers on no net-metering program: their determinants are the rates' billing units)."""
        return self.tables["customers"]

    @property
    def all_customers(self) -> pd.DataFrame:
        """:attr:`customers` and the net-metering customers (bills settled under their programs), with
        ``nem_program`` ('' for the others)."""
        cust = self.customers.assign(nem_program="")
        nem = self.nem_tables.get("customers")
        if nem is None or nem.empty:
            return cust
        nem = nem[[c for c in cust.columns if c in nem.columns]]
        if cust.empty:  # a test year of only net-metering customers (an empty frame would make the counts floats)
            return nem.reset_index(drop=True)
        return pd.concat([cust, nem], ignore_index=True)


def open_filing(determinants, present, proposed, *, basis: str | None = None, utility: str | None = None,
                classes=None) -> FilingData:
    """Price the kept determinants in ``determinants`` under the books ``present`` and ``proposed`` (folders)."""
    study = Study(determinants, classes=classes, basis=basis, tariffs_dir=present, empty_ok=True)
    nem = NetMeteringStudy(determinants, classes=classes, basis=study.basis)
    if not len(study) and not len(nem):
        raise WorkbenchError(f"{determinants}: no customers {no_customers_of(classes, study.identity['rate_codes'])}")
    # a class (or the whole test year) of only net-metering customers files too: its schedules are theirs
    present_book = load_tariff_book(present)
    proposed_book = load_tariff_book(proposed)
    missing = [code for code in sorted(set(study.rate_codes) | set(nem.rate_codes)) if code not in proposed_book]
    if missing:
        raise WorkbenchError(f"--proposed {proposed}: the proposed book has no tariff for rate codes {missing} "
                             "(every present rate code of the test year needs its proposed tariff, even unchanged)")
    priced_present = study.price(present_book, "present")
    priced_proposed = study.price(proposed_book, "proposed")
    # net-metering customers: settled under their programs, each book with its own programs/ folder
    nem_present = nem.price(present_book, present, "present")
    nem_proposed = nem.price(proposed_book, proposed, "proposed")
    name = utility or _utility_name(present_book, sorted(set(study.rate_codes) | set(nem.rate_codes)))
    return FilingData(study, present_book, proposed_book, priced_present, priced_proposed, name,
                      int(study.identity["test_year"]), study.basis, compare(priced_present, priced_proposed),
                      nem, nem_present, nem_proposed, compare_settled(nem_present, nem_proposed) if len(nem) else {})


def _utility_name(book: dict, codes) -> str:
    for code in codes:
        name = getattr(book[code].extra.get("spec"), "utility", None) or ""
        if name:
            return name
    return "The utility"



def code_version() -> str:
    """``workbench <version>`` and the git commit of the source tree when it is a checkout (``+dirty`` if edited)."""
    root = Path(workbench.__file__).resolve().parents[1]
    text = f"workbench {workbench.__version__}"
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return text
    return f"{text} (git {commit}{'+dirty' if dirty else ''})" if commit else text


def run_identity(determinants, present, proposed, cost_of_service=None) -> dict:
    """What the filing was made from: checksums of every input and the code version."""
    det = json.loads((Path(determinants) / IDENTITY).read_text(encoding="utf-8"))
    return {
        "code_version": code_version(),
        "determinants": str(determinants),
        "determinants_identity_sha256": file_sha256(Path(determinants) / IDENTITY),
        "cube": det.get("cube"), "cube_version": det.get("cube_version"),
        "test_year": det.get("test_year"),
        # the net-metering enrollment file the determinants were scanned with (none: the cube's nem_program)
        "enrollments": det.get("enrollments"), "enrollments_sha256": det.get("enrollments_sha256"),
        "present_book": str(present), "present_book_sha256": book_checksum(present),
        "proposed_book": str(proposed), "proposed_book_sha256": book_checksum(proposed),
        "cost_of_service": None if cost_of_service is None else str(cost_of_service),
        "cost_of_service_sha256": None if cost_of_service is None else file_sha256(cost_of_service),
    }
