"""Bills from monthly (register) reads: Green Button monthly data, one reading per month.

A monthly reading says how much energy passed between two meter reads, nothing about when within them, so
it can be billed only under a tariff that needs no interval data: flat or tiered energy prices, customer
charges, riders, minimums and taxes. A time-of-use, real-time-price, demand or coincident-peak tariff is
refused with one line saying why. Each reading is one bill period (its local start date to its local end
date); its energy is spread evenly over its days, so a reading across a season change is priced by days.
A reading shorter than :data:`FULL_DAYS` (the last one of a download, cut at its date) is a fragment of a
month: its monthly charges are prorated by its days over its calendar month's days, with a warning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.billing.repair import at_text
from workbench.engine.intervals import IntervalSeries, Reads
from workbench.errors import BillingError, IntervalDataError

FULL_DAYS = 27  # a monthly reading of fewer days is a fragment of a month


def register_refusal(tariff, *, demand_read: bool = False) -> str | None:
    """Why ``tariff`` cannot bill monthly reads, or None when it can. ``demand_read``: the reads carry a kW
    demand register (workbench.ami.register_reads), which bills a demand that is not by time of use."""
    if len(tariff.tou_names) > 1:
        return f"it prices energy by time of use ({', '.join(tariff.tou_names)})"
    if any(c.kind in ("demand", "demand_blocks") and getattr(c.spec, "measure", "") == "tou" for v in tariff.versions for c in v.charges):
        return "it bills demand by time of use, which a demand register cannot measure"
    if tariff.needs_demand and not demand_read:
        return "it bills demand (kW), which only interval data can measure"
    if tariff.rtp_prices is not None:
        return "it prices energy by the hour (real-time prices)"
    if tariff.coincident_peaks:
        return "it bills coincident-peak demand"
    return None


def register_series(reads: Reads, timezone: str | None, notes: list) -> tuple[IntervalSeries, list, list]:
    """(a daily series on the local-day axis, the read dates, each period's nominal days) of monthly reads;
    checks they follow on; a fragment of a month is noted in ``notes``."""
    src = reads.source
    if reads.received.any():
        raise IntervalDataError(f"{src}: monthly reads of received energy: net metering needs interval data")
    if timezone is None:
        raise IntervalDataError(f"{src}: monthly reads need the local time zone of their read dates; pass --timezone")
    order = np.lexsort((reads.row, reads.start))
    start = pd.DatetimeIndex(reads.start[order].astype("datetime64[ns]")).tz_localize("UTC").tz_convert(timezone)
    end = start + pd.to_timedelta(reads.seconds[order], unit="s")
    # read dates: the local dates nearest the reads (a read at local midnight, or a few hours off it)
    first = start.tz_localize(None).round("D").to_numpy().astype("datetime64[D]")
    last = end.tz_localize(None).round("D").to_numpy().astype("datetime64[D]")
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
    nominal = days.copy()
    for i in np.flatnonzero(days < FULL_DAYS):
        month = first[i].astype("datetime64[M]")
        nominal[i] = int(((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(int))
        notes.append(f"{src}: the monthly reading {first[i]} to {last[i]} (row {rows[i]}) covers only {days[i]} days; "
                     f"its monthly charges are prorated {days[i]}/{nominal[i]} days")
    return series, list(np.concatenate([first, last[-1:]])), list(nominal)


def check_register_tariff(tariff, source: str, what: str = "monthly (register) reads") -> None:
    why = register_refusal(tariff)
    if why:
        raise BillingError(f"{source}: holds {what}, which the tariff {tariff.code} cannot bill: "
                           f"{why}; bill it from finer interval data or under a flat or tiered tariff")
