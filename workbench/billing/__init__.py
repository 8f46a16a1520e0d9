"""Bill periods, determinants (the scan), pricing and bills.

Scan once, price many: ``determinants`` reads every interval once into per-period determinants;
``pricing.price`` turns determinants into line items and can be re-run under changed rates without
touching interval data again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.billing.bills import Bill, LineItem, bills_for_meter, check_bills_add_up
from workbench.billing.determinants import scan, schedule_arrays
from workbench.billing.intervals import IntervalSeries, check_series
from workbench.billing.periods import calendar_month_periods, periods_from_rows, read_date_periods
from workbench.billing.pricing import price

__all__ = ["Bill", "LineItem", "bill_series", "bill_interval_series", "check_bills_add_up"]


def bill_interval_series(
    tariff, series: IntervalSeries, *, read_dates=None, timezone: str | None = None, program=None,
    true_up_month: int | None = None, export_rates=None, pto_date=None, programs_dir=None,
) -> list[Bill]:
    """Bills of one meter's checked interval series under a compiled tariff (and a net-metering program)."""
    from workbench.nem.resolve import prepare_program

    tz = timezone or tariff.timezone
    sched = schedule_arrays(tariff, series.utc, series.step_minutes, series.offsets_minutes, tz)
    day = sched.local.day
    first = np.datetime64(int(day[0]), "D")
    end = np.datetime64(int(day[-1]), "D") + 1
    if read_dates is None:
        rows = [calendar_month_periods(first, end)]
    else:
        rows = [read_date_periods(read_dates, first, end)]
    periods = periods_from_rows(rows, day)
    plan = prepare_program(tariff, series, sched, program=program, true_up_month=true_up_month,
                           export_rates=export_rates, pto_date=pto_date, programs_dir=programs_dir)
    delivered = plan.delivered[None, :]
    received = plan.received[None, :]
    det = scan(tariff, sched, delivered, received, periods.bounds, parallel=False, export_price=plan.export_price)
    label = series.source or "the meter"
    if plan.enrollment is None:
        items = price(tariff, det, periods)
        bills = bills_for_meter(items, periods, det, 0, label=label)
    else:
        from workbench.nem.billing import bill_with_program

        result = bill_with_program(tariff, det, periods, plan.enrollment, sell_rates=plan.sell_rates,
                                   export_valued=plan.export_price is not None)
        bills = bills_for_meter(result.items, periods, det, 0, extras=result.extras, label=label)
    check_bills_add_up(bills, label)  # money is finite and every bill adds up to its line items, in cents
    return bills


def bill_series(
    tariff, timestamps, delivered_kwh, received_kwh=None, *, read_dates=None, timezone=None, program=None,
    true_up_month=None, export_rates=None, pto_date=None,
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
    tz = timezone or tariff.timezone or (str(idx.tz) if not str(idx.tz).startswith(("UTC+", "UTC-")) else None)
    return bill_interval_series(tariff, series, read_dates=read_dates, timezone=tz, program=program,
                                true_up_month=true_up_month, export_rates=export_rates, pto_date=pto_date)
