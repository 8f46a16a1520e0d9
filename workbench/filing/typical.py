"""Typical bills: present and proposed bills at fixed usage levels and of the percentile customers.

Fixed usage levels are priced by the engine's own :func:`workbench.engine.pricing.price` over the twelve
calendar months of the test year (the periods ``workbench bill`` makes from a year of intervals), with the
same kWh every month. The usage shape is an assumption and is stated on every row:

- energy by ToU period (and so by block) follows the **class average load shape**: in each calendar month,
  the level's kWh is in that month's season, split over its ToU periods in the shares of the class's own
  kWh on that rate in that season (kept determinants), so a ToU rate is priced on the class's on-peak share;
- demand [kW] = kWh / (load factor x 730 h) for rates with a demand charge, at each of the class's load
  factors; the ToU-period and coincident demands keep the class's average ratios to the maximum demand.

The percentile customers are real customers: the customer at the 10th/25th/50th/75th/90th percentile of
annual kWh on each rate (nearest rank), with their own bills; their ``kwh`` and ``present_bill`` are monthly
averages over their bills of the test year.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from workbench.calendar.periods import BillPeriods
from workbench.engine.pricing import Determinants, price
from workbench.filing.data import FilingData

#: Default fixed usage levels [kWh per month] by class.
DEFAULT_LEVELS = {
    "RES": [250, 500, 750, 1000, 1500, 2000],
    "SGS": [1000, 2500, 5000, 10_000],
    "LGS": [50_000, 100_000, 250_000, 500_000],
}
GENERIC_LEVELS = [500, 1000, 5000]
DEFAULT_LOAD_FACTORS = [0.4, 0.6]  # for rates with a demand charge
PERCENTILES = [10, 25, 50, 75, 90]
HOURS_PER_MONTH = 730.0
SHAPE_NOTE = "class average load shape"


def month_periods(test_year: int, n: int) -> BillPeriods:
    """The twelve calendar months of ``test_year`` for ``n`` bills each."""
    months = np.arange(np.datetime64(f"{test_year}-01"), np.datetime64(f"{test_year + 1}-01"))
    start = np.tile(months.astype("datetime64[D]"), (n, 1))
    end = np.tile((months + 1).astype("datetime64[D]"), (n, 1))
    return BillPeriods(start, end, (end - start).astype(int), np.zeros((0, 0), np.int64))


def class_shape(rcd, customer_class: str, tariff) -> dict:
    """The class's average load shape on this rate, per calendar month (12) of a typical bill.

    Read-cycle bills straddle months and seasons, so the shape is taken per season: the class's kWh by ToU
    period within each season (over all its bills of the test year), applied to the season of each calendar
    month; the same for ToU-period demand per kW of maximum demand. Coincident demand per kW applies in the
    months holding one of the tariff's coincident peaks; RTP cost per kWh per billing month.
    """
    rows = rcd.meters["customer_class"].to_numpy() == customer_class
    mask = (rcd.billed & rcd.periods.valid) & rows[:, None]
    n_e, n_d = rcd.det.energy_kwh.shape[-1], rcd.det.tou_peak_kw.shape[-1]
    n_tou, n_dtou = len(tariff.tou_names), len(tariff.demand_tou_names)
    energy = rcd.det.energy_kwh[mask].sum(axis=0)  # (E,) season x ToU period
    peak = rcd.det.peak_kw[mask]
    tou = rcd.det.tou_peak_kw[mask]  # (bills, D)
    energy_share, tou_per_kw = np.zeros((12, n_e)), np.zeros((12, n_d))
    for month in range(12):
        season = int(tariff.month_season[month])
        e = np.arange(season * n_tou, (season + 1) * n_tou)
        total = energy[e].sum()
        energy_share[month, e] = energy[e] / total if total > 0 else 1.0 / n_tou
        for d in range(season * n_dtou, min((season + 1) * n_dtou, n_d)):
            seen = tou[:, d] > 0
            tou_per_kw[month, d] = tou[seen, d].sum() / peak[seen].sum() if peak[seen].sum() > 0 else 0.0
    cp_seen = rcd.det.cp_kw[mask] > 0
    cp_ratio = rcd.det.cp_kw[mask][cp_seen].sum() / peak[cp_seen].sum() if peak[cp_seen].sum() > 0 else 0.0
    cp_months = {p.month - 1 for p in tariff.coincident_peaks}
    cp_per_kw = np.array([cp_ratio if m in cp_months else 0.0 for m in range(12)])
    month = (rcd.periods.end - np.timedelta64(1, "D")).astype("datetime64[M]").astype(np.int64) % 12
    kwh, rtp = np.zeros(12), np.zeros(12)
    for m in range(12):
        sel = mask & (month == m)
        kwh[m], rtp[m] = rcd.det.delivered_kwh[sel].sum(), rcd.det.rtp_cost[sel].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        rtp_per_kwh = np.nan_to_num(rtp / kwh)
    return {"energy_share": energy_share, "tou_per_kw": tou_per_kw, "cp_per_kw": cp_per_kw, "rtp_per_kwh": rtp_per_kwh}


def usage_determinants(shape: dict, kwh, kw) -> Determinants:
    """Determinants of bills of ``kwh`` [kWh/month] and ``kw`` [kW] each month (arrays of n levels) in ``shape``."""
    kwh, kw = np.asarray(kwh, float)[:, None], np.asarray(kw, float)[:, None]
    n = kwh.shape[0]
    energy = kwh[:, :, None] * shape["energy_share"][None]
    return Determinants(energy_kwh=energy, received_kwh=np.zeros_like(energy), peak_kw=np.repeat(kw, 12, axis=1),
                        tou_peak_kw=kw[:, :, None] * shape["tou_per_kw"][None],
                        cp_kw=kw * shape["cp_per_kw"][None], rtp_cost=kwh * shape["rtp_per_kwh"][None],
                        counts=np.zeros((n, 12, 3), np.int64))


def monthly_bills_cents(tariff, det: Determinants, test_year: int) -> np.ndarray:
    """(n, 12) bill totals [cents] of the calendar months of the test year: sums of the engine's line items."""
    items = price(tariff, det, month_periods(test_year, det.peak_kw.shape[0]))
    total = np.zeros(det.peak_kw.shape)
    for amount in items.amount:
        total += np.rint(np.asarray(amount) * 100.0)
    return total.astype(np.int64)


def _nearest_rank(values: np.ndarray, pct: float) -> int:
    order = np.argsort(values, kind="stable")
    return int(order[max(math.ceil(pct / 100.0 * len(values)) - 1, 0)])


def typical_bills(data: FilingData, levels: dict | None = None, load_factors: dict | None = None,
                  percentiles=PERCENTILES) -> pd.DataFrame:
    """Present and proposed bills by class and rate at fixed usage levels and of the percentile customers."""
    levels = {**DEFAULT_LEVELS, **(levels or {})}
    load_factors = load_factors or {}
    cust = data.customers
    rows = []
    for code, rcd in sorted(data.study.data.items()):
        has_demand = any(c.kind == "demand" for v in data.present_book[code].versions for c in v.charges)
        for cls in sorted(set(rcd.meters["customer_class"])):
            shape = class_shape(rcd, cls, data.present_book[code])
            lfs = load_factors.get(cls, DEFAULT_LOAD_FACTORS) if has_demand else [0.5]
            grid = [(kwh, lf) for kwh in levels.get(cls, GENERIC_LEVELS) for lf in lfs]
            kwh = np.array([g[0] for g in grid], float)
            kw = kwh / (np.array([g[1] for g in grid]) * HOURS_PER_MONTH)
            det = usage_determinants(shape, kwh, kw)
            present = monthly_bills_cents(data.present_book[code], det, data.test_year).sum(axis=1)
            proposed = monthly_bills_cents(data.proposed_book[code], det, data.test_year).sum(axis=1)
            for i, (level, lf) in enumerate(grid):
                rows.append(_row(cls, code, f"{level:,.0f} kWh" + (f" at {lf:.0%} load factor" if has_demand else ""),
                                 level, kw[i] if has_demand else np.nan, lf if has_demand else np.nan,
                                 int(present[i]), int(proposed[i]), 12, SHAPE_NOTE))
            rows += _percentile_rows(cust, rcd, cls, code, has_demand, percentiles)
    return pd.DataFrame(rows, columns=TYPICAL_COLUMNS)  # none: a test year of only net-metering customers


def _percentile_rows(cust, rcd, cls, code, has_demand, percentiles) -> list[dict]:
    mine = cust[(cust["customer_class"] == cls) & (cust["rate_code"] == code) & (cust["bills"] > 0)]
    mine = mine.reset_index(drop=True)
    if mine.empty:
        return []
    mask = rcd.billed & rcd.periods.valid
    peak = pd.Series(np.where(mask, rcd.det.peak_kw, 0.0).sum(axis=1) / np.maximum(mask.sum(axis=1), 1),
                     index=rcd.meters["meter"].to_numpy())
    rows = []
    for pct in percentiles:
        c = mine.iloc[_nearest_rank(mine["kwh"].to_numpy(), pct)]
        bills = int(c["bills"])
        rows.append(_row(cls, code, f"P{pct} customer", float(c["kwh"]) / bills,
                         float(peak[c["meter"]]) if has_demand else np.nan, np.nan,
                         int(round(c["annual_bill_present"] * 100)), int(round(c["annual_bill_proposed"] * 100)),
                         bills, f"actual customer at the {pct}th percentile of annual kWh"))
    return rows


TYPICAL_COLUMNS = ["class", "rate_code", "level", "kwh", "kw", "load_factor", "present_bill", "proposed_bill",
                   "change", "change_pct", "present_annual", "proposed_annual", "bills", "usage_shape"]


def _row(cls, code, level, kwh, kw, load_factor, present_cents, proposed_cents, bills, shape) -> dict:
    change = proposed_cents - present_cents
    return {"class": cls, "rate_code": code, "level": level, "kwh": kwh, "kw": kw, "load_factor": load_factor,
            "present_bill": round(present_cents / bills) / 100.0, "proposed_bill": round(proposed_cents / bills) / 100.0,
            "change": round(change / bills) / 100.0,
            "change_pct": 100.0 * change / present_cents if present_cents else np.nan,
            "present_annual": present_cents / 100.0, "proposed_annual": proposed_cents / 100.0, "bills": bills,
            "usage_shape": shape}
