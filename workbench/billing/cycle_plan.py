"""Plan a bill cycle run: everything decided once, before any meter chunk is read.

:func:`plan_cycle` opens the cube (its per-meter coordinates only), loads the tariff book and the net-metering
programs (and an enrollment file's program histories, :func:`_enrolled`), holds the meters whose rate code or
program is not in the book, computes each tariff's per-interval schedule, each program's export prices and each
cycle's bill periods, derives the run's key (:mod:`workbench.billing.run_store`) and lists the meter chunks to
bill. The result, a :class:`CyclePlanned`, is what :func:`workbench.billing.cycle.run_cycle` executes. Planning
writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.ami.cube_calendar import cube_local_days, cube_time
from workbench.ami.cube_reactive import has_reactive_flags
from workbench.ami.cube_schema import _as_unicode
from workbench.billing.cube_source import begin_cube_read, open_plan_cube
from workbench.billing.cycle_chunk import ChunkTask, CyclePlan, program_export_price
from workbench.billing.run_store import RunStore, run_key
from workbench.calendar.periods import read_date_periods
from workbench.engine.determinants import schedule_arrays
from workbench.errors import BillingError, CubeError
from workbench.nem import load_programs
from workbench.nem.enrollments import EnrollmentError, load_enrollments, opening_problem
from workbench.nem.results import bank_unit
from workbench.nem.true_up import assumed_review
from workbench.tariffs import load_tariff_book
from workbench.tariffs.system_peaks import read_system_peaks
from workbench.vee import load_config as load_vee_config

#: the run's logger (the plan's warnings are the run's)
log = logging.getLogger("workbench.billing.cycle")


@dataclass
class CyclePlanned:
    """A planned run: the shared plan, the chunks to bill, and the meters held before any chunk is read."""

    plan: CyclePlan
    tasks: list[ChunkTask]
    exceptions: list[dict]
    meters_in: int
    meters_billable: int
    key: str
    inputs: dict
    cube_state: dict | None = None  # the cube's version when planned (begin_cube_read)
    # billed, not held, but for the billing manager to review (meter, account, rate_code, reason): banking
    # accounts enrolled before the cube with no opening balance given (their bank starts at zero); meters whose
    # anniversary true-up month is assumed (no PTO date; ``check`` = workbench.nem.true_up.ASSUMED_CHECK)
    review: list[dict] = field(default_factory=list)


def plan_cycle(cube, tariffs_dir, out, *, cycles=None, period=None, chunk_meters=None, enrollments=None,
               vee_config=None, system_peaks=None, peak_zone=None) -> CyclePlanned:
    """Plan the billing of cycles ``cycles`` (None: all) of ``cube`` under the tariff book ``tariffs_dir``.

    ``enrollments``: an enrollment file (``workbench.nem.enrollments``); each listed account is billed under the
    program its history gives on the run's last day (the end of ``period``, else the cube's last day), with its
    own PTO date (export-value vintage, anniversary true-up) and true-up month. Accounts not in the file keep the
    cube's ``nem_program``. ``vee_config``: a site VEE configuration file whose bill-ready rule holds bills
    (default: ``workbench/vee/defaults.yaml``). ``system_peaks``: a system-peak file (docs/coincident-peaks.md)
    whose peaks every coincident-peak charge of the book bills on (``peak_zone``: the zone to use); its content
    is part of the run's key, so a resume with another file is another run.
    """
    if period is not None:
        try:
            np.datetime64(period, "M")
        except ValueError:
            raise BillingError(f"--period {period!r}: expected a month like 2025-11") from None
    cube_state = begin_cube_read(cube)  # refuses while an ingest or VEE writes the cube
    ds = open_plan_cube(cube)  # the cube's small arrays, from zarr: the chunks are read with zarr too (chunk_data)
    peaks = read_system_peaks(system_peaks, zone=peak_zone) if system_peaks is not None else None
    book = load_tariff_book(tariffs_dir, system_peaks=peaks)
    utc, step = cube_time(ds)
    local_day = cube_local_days(ds)
    cycle_of = ds["cycle"].values.astype(int)
    n_meters = ds.sizes["meter"]
    selected = np.ones(n_meters, bool) if cycles is None else np.isin(cycle_of, cycles)
    if cycles is not None:
        unknown = sorted(set(cycles) - set(cycle_of.tolist()))
        if unknown:
            raise BillingError(f"cycle(s) {unknown} have no meters in {cube}; cycles present: {sorted(set(cycle_of.tolist()))}")
    meters = _as_unicode(ds["meter"].values)  # the cube's strings as stored: numpy unicode from here
    accounts = _as_unicode(ds["account"].values)
    rate_codes = _as_unicode(ds["rate_code"].values)
    nem_codes = _as_unicode(ds["nem_program"].values)
    programs_dir = Path(tariffs_dir) / "programs"
    programs = load_programs(programs_dir) if programs_dir.exists() else {}
    pto = np.full(n_meters, "", dtype=object)
    true_up = np.zeros(n_meters, dtype=int)
    opening = {"opening_credit": np.zeros(n_meters), "opening_kwh": np.zeros(n_meters)}
    unopened = {}
    if enrollments is not None:
        nem_codes, pto, true_up, opening, unopened = _enrolled(enrollments, programs, accounts, nem_codes, period,
                                                               local_day, selected)
    exceptions = [
        {"meter": m, "account": a, "rate_code": r, "reason": f"rate code {r!r} is not in the tariff book {tariffs_dir}"}
        for m, a, r, s in zip(meters, accounts, rate_codes, selected, strict=True)
        if s and r not in book
    ]
    exceptions += [
        {"meter": m, "account": a, "rate_code": r,
         "reason": f"net-metering program {p!r} is not in {programs_dir}/ (programs: {sorted(programs)})"}
        for m, a, r, p, s in zip(meters, accounts, rate_codes, nem_codes, selected, strict=True)
        if s and r in book and p and p not in programs
    ]
    billable = selected & np.isin(rate_codes, list(book)) & ((nem_codes == "") | np.isin(nem_codes, list(programs)))
    review = [{"meter": meters[i], "account": accounts[i], "rate_code": rate_codes[i], "reason": why}
              for i, why in sorted(unopened.items()) if billable[i]]
    # an anniversary true-up with no PTO date: billed in the assumed month, listed for review (held: no)
    review += assumed_review(programs, meters, accounts, rate_codes, nem_codes, pto, true_up, billable)

    codes_used = sorted(set(rate_codes[billable].tolist()))
    schedules = {code: schedule_arrays(book[code], utc, step, timezone=book[code].timezone or ds.attrs["timezone"])
                 for code in codes_used}
    pairs = sorted(set(zip(rate_codes[billable], nem_codes[billable], pto[billable], strict=True)))
    export_prices = {(code, prog, when): program_export_price(programs[prog], schedules[code], utc, step, when)
                     for code, prog, when in pairs if prog}
    first = np.datetime64(int(local_day[0]), "D")
    end = np.datetime64(int(local_day[-1]), "D") + 1
    reads = ds["read_date"].values.astype("datetime64[D]")
    cycle_ids = list(ds["cycle_id"].values.astype(int))
    cycle_rows = {}
    for cycle in sorted(set(cycle_of[billable].tolist())):
        if cycle not in cycle_ids:
            raise CubeError(f"meter cycle {cycle} has no read dates in the cube (cycle_id {cycle_ids})")
        cycle_rows[cycle] = read_date_periods(reads[cycle_ids.index(cycle)], first, end, f"cycle {cycle} read dates")

    chunk = int(chunk_meters or _disk_meter_chunk(ds))
    key, inputs = run_key(cube, tariffs_dir, cycles=cycles, period=period, chunk_meters=chunk, n_meters=n_meters)
    vee_config = load_vee_config(vee_config)
    # the bill-ready thresholds decide which bills are held: other thresholds are a different run
    inputs["vee_bill_ready"] = vee_config.bill_ready.model_dump()
    key = hashlib.sha256((key + json.dumps(inputs["vee_bill_ready"], sort_keys=True)).encode()).hexdigest()[:16]
    if system_peaks is not None:  # other peaks (another file, or the same file changed, or another zone): another run
        inputs["system_peaks"] = {"sha256": hashlib.sha256(Path(system_peaks).read_bytes()).hexdigest(),
                                  "zone": peak_zone}
        key = hashlib.sha256((key + json.dumps(inputs["system_peaks"], sort_keys=True)).encode()).hexdigest()[:16]
    if enrollments is not None:  # a changed enrollment file is a different run
        inputs["enrollments"] = hashlib.sha256(Path(enrollments).read_bytes()).hexdigest()
        key = hashlib.sha256((key + inputs["enrollments"]).encode()).hexdigest()[:16]
    store = RunStore(out, key)
    plan = CyclePlan(cube=str(cube), parts=str(store.parts), tariffs_dir=str(tariffs_dir), book=book,
                     programs=programs, schedules=schedules, export_prices=export_prices, utc=utc, step=step,
                     local_day=local_day, cycle_rows=cycle_rows, period=period, vee_config=vee_config)
    coords = {"account": accounts, "customer_class": _as_unicode(ds["customer_class"].values), "rate_code": rate_codes}
    coords["nem_program"] = nem_codes  # the cube's, or the enrollment file's
    has_reactive = has_reactive_flags(ds)  # which meters' kVARh the cube holds (docs/reactive-power.md)
    tasks = []
    for chunk_no, start in enumerate(range(0, n_meters, chunk)):
        stop = min(start + chunk, n_meters)
        if not billable[start:stop].any():
            continue
        tasks.append(ChunkTask(chunk_no=chunk_no, start=start, stop=stop, meter=meters[start:stop],
                               cycle=cycle_of[start:stop], billable=billable[start:stop], pto=pto[start:stop],
                               true_up=true_up[start:stop], has_reactive=has_reactive[start:stop],
                               **{name: values[start:stop] for name, values in {**coords, **opening}.items()}))
    return CyclePlanned(plan, tasks, exceptions, int(selected.sum()), int(billable.sum()), key, inputs, cube_state,
                        review)


def _enrolled(path, programs, accounts, nem_codes, period, local_day, selected):
    """Program, PTO date, true-up month and opening bank per meter from an enrollment file (accounts not in it:
    unchanged; no opening bank).

    The opening bank (``opening_credit`` / ``opening_kwh`` of the row that bills the account) enters at the cube's
    first bill, where the bank walk starts, for a ``--period`` run too. An account whose program banks, enrolled
    before the cube's first day, with no opening balance given for it, is counted in one warning: its bank
    starts at zero. Returned too, as ``{meter index: reason}``, for the run's outputs (``exceptions.csv``, held
    ``no``; the run summary)."""
    book = load_enrollments(path, programs)
    first = np.datetime64(int(local_day[0]), "D").astype(dt.date)
    if period is not None:
        last = (np.datetime64(period, "M") + 1).astype("datetime64[D]") - 1
    else:
        last = np.datetime64(int(local_day[-1]), "D")
    day = last.astype(dt.date)
    codes = nem_codes.astype(object)
    pto = np.full(len(accounts), "", dtype=object)
    true_up = np.zeros(len(accounts), dtype=int)
    opening = {"opening_credit": np.zeros(len(accounts)), "opening_kwh": np.zeros(len(accounts))}
    unopened, banked, reasons = set(), set(), {}
    for i, account in enumerate(accounts.astype(str)):
        if account not in book:
            continue
        on = book.program_on(account, day)
        codes[i] = on.program if on else ""
        if not on:
            continue
        pto[i], true_up[i] = on.pto_date.isoformat(), on.true_up_month or 0
        program = programs[on.program]
        problem = opening_problem(program, on.opening_credit, on.opening_kwh)
        if problem:  # a lock-in ended: the successor banks in another unit
            raise EnrollmentError(f"{path}: account {account}: {problem} ({on.reason})")
        unit = bank_unit(program)
        given = {"dollars": on.opening_credit, "kwh": on.opening_kwh}.get(unit)
        if given:
            if account in banked:  # the bank is the account's: given to two meters it would be paid twice
                raise EnrollmentError(f"{path}: account {account}: an opening bank is given, but the cube has more "
                                      "than one meter on the account; the bank would be brought in twice")
            banked.add(account)
            opening["opening_credit" if unit == "dollars" else "opening_kwh"][i] = given
        elif unit and given is None and selected[i] and on.start < first:
            unopened.add(account)
            reasons[i] = (f"billed with a net-metering bank starting at zero: on {on.program} (banks "
                          f"{'$ credit' if unit == 'dollars' else 'kWh'}) since {on.start}, before the cube's first "
                          f"day {first}, and {Path(path).name} gives no opening balance (opening_credit / "
                          "opening_kwh); give the balance, or 0 to say it is empty, and bill again")
    if unopened:
        log.warning(f"warning: {path}: {len(unopened):,} account(s) on a program that banks credit were enrolled "
                    f"before the cube's first day {first} but the file gives no opening balance for them "
                    f"(opening_credit / opening_kwh; e.g. {sorted(unopened)[0]}): their bank starts at zero. "
                    "Give the balance, or 0 to say it is empty")
    return codes.astype(str), pto, true_up, opening, reasons


def _disk_meter_chunk(ds) -> int:
    enc = ds["delivered_kwh"].encoding.get("chunks")
    if enc:
        return int(enc[0])
    return int(ds["delivered_kwh"].chunks[0][0]) if ds["delivered_kwh"].chunks else 1000
