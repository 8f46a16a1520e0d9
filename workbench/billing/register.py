"""Bills from monthly (register) reads: Green Button monthly data, one reading per month.

A monthly reading says how much energy passed between two meter reads, nothing about when within them, so
it can be billed only under a tariff that needs no interval data: flat or tiered energy prices, customer
charges, riders, minimums and taxes. A time-of-use, real-time-price, demand or coincident-peak tariff is
refused with one line saying why. Each reading is one bill period (its local start date to its local end
date); its energy is spread evenly over its days, so a reading across a season change is priced by days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.billing.intervals import IntervalSeries, Reads
from workbench.billing.repair import at_text
from workbench.errors import BillingError, IntervalDataError


def register_refusal(tariff) -> str | None:
    """Why ``tariff`` cannot bill monthly reads, or None when it can."""
    if len(tariff.tou_names) > 1:
        return f"it prices energy by time of use ({', '.join(tariff.tou_names)})"
    if tariff.needs_demand:
        return "it bills demand (kW), which only interval data can measure"
    if tariff.rtp_prices is not None:
        return "it prices energy by the hour (real-time prices)"
    if tariff.coincident_peaks:
        return "it bills coincident-peak demand"
    return None


def register_series(reads: Reads, timezone: str | None) -> tuple[IntervalSeries, list]:
    """(a daily series on the local-day axis, the read dates) of monthly reads; checks they follow on."""
    src = reads.source
    if reads.received.any():
        raise IntervalDataError(f"{src}: monthly reads of received energy: net metering needs interval data")
    if timezone is None:
        raise IntervalDataError(f"{src}: monthly reads need the local time zone of their read dates; pass --timezone")
    order = np.lexsort((reads.row, reads.start))
    start = pd.DatetimeIndex(reads.start[order].astype("datetime64[ns]")).tz_localize("UTC").tz_convert(timezone)
    end = start + pd.to_timedelta(reads.seconds[order], unit="s")
    first = start.tz_localize(None).floor("D").to_numpy().astype("datetime64[D]")
    last = (end.tz_localize(None) - pd.Timedelta(seconds=1)).floor("D").to_numpy().astype("datetime64[D]") + 1
    kwh, rows = reads.kwh[order], reads.row[order]
    keep = np.ones(len(kwh), bool)
    for i in range(1, len(kwh)):
        if first[i] == first[i - 1] and last[i] == last[i - 1]:
            if kwh[i] != kwh[i - 1]:
                raise IntervalDataError(f"{src}: conflicting monthly readings for {first[i]} to {last[i]}: "
                                        f"{kwh[i - 1]:g} kWh (row {rows[i - 1]}) and {kwh[i]:g} kWh (row {rows[i]})")
            keep[i] = False
    first, last, kwh, rows = first[keep], last[keep], kwh[keep], rows[keep]
    broken = np.flatnonzero(first[1:] != last[:-1])
    if len(broken):
        i = broken[0]
        what = "a gap" if first[i + 1] > last[i] else "an overlap"
        raise IntervalDataError(f"{src}: {what} between the monthly readings ending {last[i]} (row {rows[i]}) and "
                                f"starting {first[i + 1]} (row {rows[i + 1]}, {at_text(reads.start[order][keep][i + 1])}); "
                                "monthly reads must follow on, one read date to the next")
    days = (last - first).astype(int)
    axis = np.arange(first[0], last[-1], dtype="datetime64[D]")
    per_day = np.repeat(kwh / days, days)
    utc = axis.astype("datetime64[m]")  # local dates on a naive axis: billed with timezone UTC
    series = IntervalSeries(utc, np.zeros(len(utc), np.int64), per_day, np.zeros(len(utc)), 1440, src,
                            np.where(reads.quality[order][keep].astype(bool).repeat(days), 1, 0).astype(np.uint8))
    return series, list(np.concatenate([first, last[-1:]]))


def check_register_tariff(tariff, source: str) -> None:
    why = register_refusal(tariff)
    if why:
        raise BillingError(f"{source}: holds monthly (register) reads, which the tariff {tariff.code} cannot bill: "
                           f"{why}; bill it from interval data or under a flat or tiered tariff")
