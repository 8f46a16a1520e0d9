"""From what a user asked (``--program``, ``--export-rates``, ``--true-up-month``) to what billing needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.nem import DGRULES, PYSAM_OPTIONS, ProgramError, load_program, pysam_program
from workbench.nem.billing import Enrollment
from workbench.nem.enrollment_rows import kwh_value, money_value
from workbench.nem.exports import export_prices, read_export_values
from workbench.nem.pysam_options import PysamInputs, sell_tiers_for
from workbench.nem.true_up import warn_assumed

log = logging.getLogger(__name__)


@dataclass
class ProgramPlan:
    delivered: np.ndarray
    received: np.ndarray
    enrollment: Enrollment | None = None
    export_price: np.ndarray | None = None  # (T,) [$/kWh], when exports are valued per interval
    sell_rates: np.ndarray | None = None  # (E,) [$/kWh], the tariff's sell rates (URDB `sell`)


def resolve_program(program, tariff, programs_dir=None, true_up_month=None):
    if program is None or not isinstance(program, str):
        return program
    if program in PYSAM_OPTIONS:
        urdb = tariff.extra.get("urdb", {})
        return pysam_program(program, true_up_month or 12, urdb.get("yearend_sell_rate", 0.0))
    path = Path(program)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_program(path)
    folder = Path(programs_dir) if programs_dir else Path(tariff.source_path).parent / "programs"
    candidate = folder / f"{program}.yaml"
    if candidate.exists():
        return load_program(candidate)
    raise ProgramError(
        f"--program {program!r}: not a PySAM option ({', '.join(PYSAM_OPTIONS)}), a program file, "
        f"nor a program code in {folder}/"
    )


def _hourly_net(delivered, received, utc, step_minutes):
    """Net the two channels within each clock hour; the net goes to the channel it favours, at hour end."""
    per_hour = 60 // step_minutes
    if per_hour <= 1:  # hourly (or longer) reads: each interval is its own hour, netted in place
        net = np.nan_to_num(delivered) - np.nan_to_num(received)
        return np.maximum(net, 0.0).astype(delivered.dtype), np.maximum(-net, 0.0).astype(received.dtype)
    hour = np.asarray(utc, dtype="datetime64[h]")
    _, start, counts = np.unique(hour, return_index=True, return_counts=True)
    net = np.add.reduceat(np.nan_to_num(delivered) - np.nan_to_num(received), start, axis=-1)
    d = np.zeros_like(delivered)
    r = np.zeros_like(received)
    last = start + counts - 1
    d[..., last] = np.maximum(net, 0.0)
    r[..., last] = np.maximum(-net, 0.0)
    return d, r


def vintage_prices(program, utc, local, step_minutes, pto=None) -> np.ndarray:
    """(T,) export values of the vintage in force at the PTO date (default: the data's first year), with adders."""
    vintages = program.export_values.vintages
    year = int(str(pto)[:4]) if pto is not None else int(str(utc[0])[:4])
    usable = [v for v in vintages if v <= year]
    if not usable:
        raise ProgramError(f"program {program.code}: no export-value vintage for a PTO in {year} "
                           f"(vintages {sorted(vintages)})")
    vintage = max(usable)
    values = read_export_values(vintages[vintage], base_dir=program.__dict__.get("_base_dir"))
    price = export_prices(values, utc, local, step_minutes, vintages[vintage])
    start = np.datetime64(pto, "D") if pto is not None else np.asarray(utc[0]).astype("datetime64[D]")
    for adder in program.export_values.adders:
        until = start + np.timedelta64(int(round(adder.years * 365.25)), "D")
        price = price + np.where(utc < until, adder.rate, 0.0)
    return price


def _opening(value, option: str, parse) -> float:
    """An opening bank (None: 0), text or number, refused in one line naming ``option`` when it is not one."""
    if value is None:
        return 0.0
    try:
        return parse(value)
    except ValueError as e:
        raise WorkbenchError(f"{option} {value!r} {e}") from None


def prepare_program(tariff, series, schedule, *, program=None, true_up_month=None, export_rates=None,
                    pto_date=None, programs_dir=None, opening_credit=0.0, opening_kwh=0.0) -> ProgramPlan:
    delivered, received = series.delivered_kwh, series.received_kwh
    opening_credit = _opening(opening_credit, "--opening-credit", money_value)
    opening_kwh = _opening(opening_kwh, "--opening-kwh", kwh_value)
    urdb = tariff.extra.get("urdb")
    if program is None and urdb and urdb.get("dgrules") and np.nansum(received) > 0:
        program = DGRULES.get(str(urdb["dgrules"]).strip().lower())
    if program is None:
        if np.nansum(received) > 0:
            raise WorkbenchError(
                f"{series.source}: the meter received {np.nansum(received):,.3f} kWh from the customer but no "
                "net-metering program was given; pass --program (a program in tariffs/programs/ or one of "
                f"{', '.join(PYSAM_OPTIONS)})"
            )
        if export_rates is not None or true_up_month is not None or opening_credit or opening_kwh:
            raise WorkbenchError("--export-rates, --true-up-month and an opening credit bank need a --program")
        return ProgramPlan(delivered, received)
    if true_up_month is not None and not 1 <= int(true_up_month) <= 12:
        raise WorkbenchError(f"--true-up-month {true_up_month}: expected a month 1-12")
    program = resolve_program(program, tariff, programs_dir, true_up_month)
    if program.netting_interval == "hourly":
        delivered, received = _hourly_net(delivered, received, series.utc, series.step_minutes)
    _warn_closed(program, pto_date)
    warn_assumed(program, pto_date, true_up_month)
    pto = np.datetime64(pto_date, "D") if pto_date is not None else None
    enrollment = Enrollment(program, pto, true_up_month, opening_credit=opening_credit, opening_kwh=opening_kwh)
    if program.pysam_option is not None:
        if export_rates is not None and program.pysam_option in (0, 1):
            raise WorkbenchError(
                f"--export-rates: {program.code} nets kWh per ToU period and values surplus at the tariff's rates; "
                "export values per interval apply to net-billing, net-billing-carryover and buy-all-sell-all "
                "(PySAM refuses time-series sell rates with net metering too)"
            )
        enrollment.pysam_inputs = PysamInputs(delivered[None, :], received[None, :], schedule.energy_bucket,
                                              sell_tiers_for(tariff))
    price = None
    source = "--export-rates"
    if export_rates is not None:
        if isinstance(export_rates, pd.Series):
            idx = pd.DatetimeIndex(export_rates.index)
            if idx.tz is None:
                raise WorkbenchError("export rates: the series index must be time-zone aware")
            utc = idx.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[m]")
            values = ("series", (utc, np.asarray(export_rates.values, dtype=float)))
        else:
            values = read_export_values(export_rates)
            source = str(export_rates)
        price = export_prices(values, series.utc, schedule.local, series.step_minutes, source)
    elif program.export_values is not None and program.kind != "net_metering":
        price = vintage_prices(program, series.utc, schedule.local, series.step_minutes, pto)
    sell = tariff.extra.get("sell_rates")
    return ProgramPlan(delivered, received, enrollment, price, sell)


def _warn_closed(program, pto_date) -> None:
    """A PTO after the program closed to new customers: billed as asked (a what-if is legitimate: the NEM study
    prices a new system under NEM 2.0), but said loudly, since `workbench cycle --enrollments` refuses it."""
    closed = getattr(program, "closed_after", None)
    if pto_date is None or closed is None or np.datetime64(pto_date, "D") <= np.datetime64(closed, "D"):
        return
    successor = getattr(program, "successor", None)
    log.warning(f"warning: --pto-date {pto_date}: {program.code} closed to new customers after {closed}; a customer "
                f"with this PTO is on {successor or 'another program'}, not {program.code} (`workbench cycle "
                f"--enrollments` refuses it): billed under {program.code} as asked, as a what-if")
