"""Bill periods, determinants (the scan), pricing and bills.

Scan once, price many: ``determinants`` reads every interval once into per-period determinants;
``pricing.price`` turns determinants into line items and can be re-run under changed rates without
touching interval data again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.calendar.periods import (
    calendar_month_periods,
    hour_shares,
    periods_from_rows,
    read_date_periods,
)
from workbench.engine.bills import Bill, LineItem, bills_for_meter, check_bills_add_up
from workbench.engine.determinants import scan, schedule_arrays
from workbench.engine.intervals import IntervalSeries, check_reactive, check_series
from workbench.engine.pricing import price
from workbench.engine.reactive import reactive_refusals
from workbench.errors import BillingError
from workbench.nem.billing import bill_with_program
from workbench.nem.resolve import prepare_program

__all__ = ["Bill", "LineItem", "bill_series", "bill_interval_series", "check_bills_add_up"]


def bill_interval_series(
    tariff, series: IntervalSeries, *, read_dates=None, timezone: str | None = None, program=None,
    true_up_month: int | None = None, export_rates=None, pto_date=None, programs_dir=None, notes: list | None = None,
    nominal_days=None, opening_credit: float = 0.0, opening_kwh: float = 0.0,
) -> list[Bill]:
    """Bills of one meter's checked interval series under a compiled tariff (and a net-metering program).

    ``notes``: a list that receives warnings a user must see (data outside ``read_dates`` left unbilled, a
    period the data cover only in part, prorated by hours). ``nominal_days``: the full length of each period
    between ``read_dates`` when it is not the period itself (a monthly reading that is a fragment of a month).
    ``opening_credit`` [$] / ``opening_kwh``: the program's bank brought into the first bill (docs/net-metering.md).
    """
    notes = [] if notes is None else notes
    tz = timezone or tariff.timezone
    sched = schedule_arrays(tariff, series.utc, series.step_minutes, series.offsets_minutes, tz)
    day = sched.local.day
    first = np.datetime64(int(day[0]), "D")
    end = np.datetime64(int(day[-1]), "D") + 1
    if read_dates is None:
        rows = [calendar_month_periods(first, end)]
    else:
        rows = [read_date_periods(read_dates, first, end)]
        if nominal_days is not None:
            start, stop, nominal = rows[0]
            if len(nominal) != len(nominal_days):
                raise ValueError("nominal_days: one per period between read_dates that holds data")
            rows = [(start, stop, np.maximum(nominal, np.asarray(nominal_days, dtype=int)))]
        _outside_notes(read_dates, day, series, notes)
    periods = periods_from_rows(rows, day)
    periods.covered_share = hour_shares(periods, series.step_minutes, _full_hours(periods, tz))
    plan = prepare_program(tariff, series, sched, program=program, true_up_month=true_up_month,
                           export_rates=export_rates, pto_date=pto_date, programs_dir=programs_dir,
                           opening_credit=opening_credit, opening_kwh=opening_kwh)
    delivered = plan.delivered[None, :]
    received = plan.received[None, :]
    quality = None if series.quality is None else series.quality[None, :]
    reactive = None if series.reactive_kvarh is None else series.reactive_kvarh[None, :]
    det = scan(tariff, sched, delivered, received, periods.bounds, quality=quality, parallel=False,
               export_price=plan.export_price, reactive=reactive)
    label = series.source or "the meter"
    refused = reactive_refusals(tariff, det.reactive, periods, [label])
    if refused:
        raise BillingError(refused[0])
    if plan.enrollment is None:
        items = price(tariff, det, periods)
        bills = bills_for_meter(items, periods, det, 0, label=label)
    else:
        result = bill_with_program(tariff, det, periods, plan.enrollment, sell_rates=plan.sell_rates,
                                   export_valued=plan.export_price is not None)
        bills = bills_for_meter(result.items, periods, det, 0, extras=result.extras, label=label)
    check_bills_add_up(bills, label)  # money is finite and every bill adds up to its line items, in cents
    share = periods.covered_share[0][periods.valid[0]]
    for bill, s in zip(bills, share, strict=True):
        if not np.isnan(s):
            bill.partial = True
            full = _nominal(bill, periods) * 24
            hours = round(float(s) * full, 2)
            notes.append(f"{series.source}: the data cover only {hours:g} h of the bill period {bill.start} to "
                         f"{bill.end} (the full period: {full} h); its monthly charges are prorated {hours:g}/{full} h")
    return bills


def _nominal(bill, periods) -> int:
    starts = periods.start[0].astype("datetime64[D]")
    i = int(np.flatnonzero(starts == np.datetime64(bill.start, "D"))[0])
    return int(periods.nominal_days[0][i])


def _full_hours(periods, tz) -> np.ndarray:
    """(M, B) hours of each period's local days: 24 a day, 23 or 25 across a DST change in ``tz``."""
    hours = periods.days * 24.0
    if tz is None:
        return hours
    edges = pd.DatetimeIndex(np.concatenate([periods.start.ravel(), periods.end.ravel()]).astype("datetime64[ns]"))
    utc = edges.tz_localize(tz, nonexistent="shift_forward", ambiguous=False).tz_convert("UTC").tz_localize(None)
    utc = utc.to_numpy().astype("datetime64[m]").astype(np.int64).reshape(2, *periods.start.shape)
    return (utc[1] - utc[0]) / 60.0


def _outside_notes(read_dates, day, series, notes) -> None:
    reads = np.asarray(read_dates, dtype="datetime64[D]")
    reads = reads[~np.isnat(reads)]
    if not len(reads):
        return
    days = np.asarray(day).astype("datetime64[D]")
    total = series.delivered_kwh
    for mask, where in ((days < reads.min(), f"before the first read date {reads.min()}"),
                        (days >= reads.max(), f"on or after the last read date {reads.max()}")):
        if mask.any():
            notes.append(f"{series.source}: {int(mask.sum()):,} intervals ({total[mask].sum():,.3f} kWh delivered, "
                         f"{days[mask][0]} to {days[mask][-1]}) are {where} (--read-dates) and are not billed")


def bill_series(
    tariff, timestamps, delivered_kwh, received_kwh=None, *, read_dates=None, timezone=None, program=None,
    true_up_month=None, export_rates=None, pto_date=None, reactive_kvarh=None, opening_credit=0.0, opening_kwh=0.0,
) -> list[Bill]:
    """Bills of one meter from arrays.

    Parameters
    ----------
    tariff : CompiledTariff (``workbench.tariffs.load_tariff``)
    timestamps : pandas.DatetimeIndex, tz-aware interval starts (uniform step)
    delivered_kwh, received_kwh : array-like [kWh per interval]
    read_dates : list of dates, optional
        Meter-read dates; bill periods run from one to the next. Default: calendar months of local time.
    timezone : str, optional
        Time zone the tariff's schedules apply in; default the tariff's, else the timestamps' own.
    program : str or Program, optional
        Net-metering program: a PySAM option name (net-metering-kwh, net-metering-dollars, net-billing,
        net-billing-carryover, buy-all-sell-all), a program file, or a Program. Default: none, or for a URDB
        tariff its ``dgrules`` when the meter exports.
    true_up_month : int, optional
        Month (1-12) whose bill carries the annual true-up.
    export_rates : pandas.Series or path, optional
        Export values [$/kWh]: a series indexed by tz-aware timestamps (interval or hour starts), or a CSV file
        (timestamp, export_rate) or a 576-value table (month, day_type, hour, export_rate).
    pto_date : date, optional
        Permission-to-operate (enrollment) date: picks the export-value vintage, the anniversary true-up.
    reactive_kvarh : array-like, optional
        Lagging reactive energy [kVARh per interval], NaN for no read; needed by kVA demand, $/kVAR and
        power-factor charges (docs/reactive-power.md), which refuse a meter without it.
    opening_credit, opening_kwh : float, optional
        The program's bank brought into the first bill: $ credit (net billing, $-credit net metering) or banked
        kWh (kWh-credit net metering). Default 0 (an empty bank).
    """
    idx = pd.DatetimeIndex(timestamps)
    if idx.tz is None:
        raise ValueError("timestamps must be time-zone aware (interval starts with their UTC offset)")
    utc = idx.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[m]")
    offsets = (idx.tz_localize(None).to_numpy() - idx.tz_convert("UTC").tz_localize(None).to_numpy())
    offsets = offsets.astype("timedelta64[m]").astype(np.int64)
    delivered = np.asarray(delivered_kwh, dtype=float)
    received = np.zeros_like(delivered) if received_kwh is None else np.asarray(received_kwh, dtype=float)
    series = check_series(utc, offsets, delivered, received, "<timestamps>")
    if reactive_kvarh is not None:
        series.reactive_kvarh = check_reactive(np.asarray(reactive_kvarh, dtype=float), len(delivered), "<timestamps>")
    tz = timezone or tariff.timezone or (str(idx.tz) if not str(idx.tz).startswith(("UTC+", "UTC-")) else None)
    return bill_interval_series(tariff, series, read_dates=read_dates, timezone=tz, program=program,
                                true_up_month=true_up_month, export_rates=export_rates, pto_date=pto_date,
                                opening_credit=opening_credit, opening_kwh=opening_kwh)
