"""Slow, obviously-correct references for the scan kernel and for whole bills.

Written from ``docs/tariff-format.md`` and the module docstring of ``workbench/kernels/scan.py`` only, not
from the engine's code: plain Python loops over intervals, ``zoneinfo`` for local time (not
``workbench.calendar``), the ``holidays`` package for holidays, and the validated ``TariffSpec`` (pydantic
objects of ``workbench/tariffs/model.py``) rather than the compiled arrays. Nothing here is fast; the point
is that each step can be checked against the documentation line by line.

``reference_scan.reference_scan`` one meter's determinants (its own module).
``reference_bills`` one meter's bills, straight from "How a bill is computed" (annual minimum included).
``reference_nem.reference_nem_bills`` the same under a net-metering / net-billing program.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays as holidays_lib

# --------------------------------------------------------------------------------------------- calendar

# the holidays package names them "New Year's Day", "Memorial Day", ..., "Thanksgiving Day", "Christmas Day"
NERC_NAMES = ("New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving", "Christmas Day")


def holiday_set(calendar: str, years) -> set[dt.date]:
    """Holidays of the named calendar. NERC: its six holidays, a Sunday holiday observed on the Monday."""
    out: set[dt.date] = set()
    if calendar == "none":
        return out
    for year in years:
        if calendar == "US":
            out.update(holidays_lib.US(years=year, observed=True).keys())
            continue
        for day, name in holidays_lib.US(years=year, observed=False).items():
            if name.startswith(NERC_NAMES):
                out.add(day + dt.timedelta(days=1) if day.weekday() == 6 else day)
    return out


def day_type(day: dt.date, holiday_dates: set[dt.date]) -> str:
    """weekday | weekend | holiday (a holiday on any day is a holiday)."""
    if day in holiday_dates:
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"


def hours_cover(hours, minute: int) -> bool:
    """Whether local minute-of-day ``minute`` falls in one of the windows ('22:00-06:00' wraps)."""
    for text in [hours] if isinstance(hours, str) else hours:
        start_text, end_text = (p.strip() for p in text.split("-"))
        sh, sm = (int(x) for x in start_text.split(":"))
        eh, em = (int(x) for x in end_text.split(":"))
        start, end = sh * 60 + sm, eh * 60 + em
        if start < end and start <= minute < end:
            return True
        if start > end and (minute >= start or minute < end):
            return True
    return False


def period_at(tou, season: str, dtype: str, minute: int, default="all"):
    """The ToU period that covers (season, day type, minute), ``default`` when the ToU is None, else None."""
    if tou is None:
        return default
    found = [
        name
        for name, windows in tou.periods.items()
        for w in windows
        if ("all" in w.seasons or season in w.seasons)
        and ("all" in w.days or dtype in w.days)
        and hours_cover(w.hours, minute)
    ]
    assert len(found) <= 1, f"overlapping periods {found}"
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------- money


def cents(amount: float) -> float:
    """Round half-up (away from zero) to the cent, once (9 decimals first: binary noise is not a half)."""
    return float(Decimal(f"{amount:.9f}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rate_of(value, season: str, period: str):
    """A rate (number | by period | by season | by season then period) for one season and period."""
    if isinstance(value, (int, float)):
        return float(value)
    if season in value:
        return rate_of(value[season], season, period)
    return rate_of(value[period], season, period)


def block_rates_of(value, season: str, period: str) -> list[float]:
    if isinstance(value, list):
        return [float(x) for x in value]
    if season in value:
        return block_rates_of(value[season], season, period)
    return block_rates_of(value[period], season, period)


def limits_of(value, season: str) -> list[float]:
    return [float(x) for x in (value if isinstance(value, list) else value[season])]


def split_blocks(amount: float, limits: list[float]) -> list[float]:
    """Amount split across blocks whose upper bounds (all but the last) are ``limits``."""
    out, lower = [], 0.0
    for upper in [*limits, math.inf]:
        out.append(min(max(amount - lower, 0.0), upper - lower))
        lower = upper
    return out


# ------------------------------------------------------------------------------------------------ bills


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def bill_periods(first: dt.date, end: dt.date, read_dates=None):
    """[(start, end exclusive, nominal days)] clipped to the data's days [first, end)."""
    out = []
    if read_dates is None:
        month = _month_start(first)
        while month < end:
            nxt = _next_month(month)
            out.append((max(month, first), min(nxt, end), (nxt - month).days))
            month = nxt
        return out
    reads = sorted(read_dates)
    for a, b in zip(reads, reads[1:], strict=False):
        if b > first and a < end:
            out.append((max(a, first), min(b, end), (b - a).days))
    return out


def read_prices(path: Path):
    """(sorted UTC datetimes, prices) of an RTP price CSV."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            stamp = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).astimezone(dt.UTC)
            rows.append((stamp, float(row["price"])))
    rows.sort()
    return [r[0] for r in rows], [r[1] for r in rows]


def reference_bills(spec, timestamps_utc, delivered, received=None, step_minutes=15, read_dates=None, timezone=None,
                    base_dir=None, export_values=None, adjust=None):
    """Bills of one meter, computed the way docs/tariff-format.md says.

    Parameters
    ----------
    spec : workbench.tariffs.model.TariffSpec (``tariff.extra["spec"]``)
    timestamps_utc : list of aware datetimes, interval starts (uniform step ``step_minutes``); with no time
        zone anywhere, each timestamp's own offset is its local time
    delivered, received : lists [kWh per interval]; NaN = no read
    read_dates : list of dates, optional (default: calendar months of local time)
    timezone : str, optional; overrides the tariff's
    base_dir : folder RTP price files are relative to
    export_values : list [$/kWh per interval], optional: what an exported kWh earns (``export_credit``)
    adjust : callable(periods, dets), optional: changes the determinants before pricing (net metering nets
        ``dets[b]["energy"]`` against ``dets[b]["received"]``: see ``reference_nem``)

    Returns a list of dicts: start, end (exclusive), days, total, lines = [(description, category, amount)],
    and the determinants it used (energy, peak_kw, billing_kw, ...), for debugging a disagreement.
    """
    tz_name = timezone or spec.timezone
    zone = ZoneInfo(tz_name) if tz_name else None
    n = len(timestamps_utc)
    local = [(ts.astimezone(zone) if zone else ts).replace(tzinfo=None) for ts in timestamps_utc]
    days_of = [wall.date() for wall in local]
    first, end = days_of[0], days_of[-1] + dt.timedelta(days=1)
    hol = holiday_set(spec.holidays, range(first.year - 1, end.year + 2))
    month_season = {mo: name for name, months in spec.seasons.items() for mo in months}
    dem = spec.demand
    interval = dem.interval_minutes or step_minutes
    window = interval // step_minutes
    kw_factor = 60.0 / interval
    peaks_local = {p.replace(tzinfo=None) for p in dem.coincident_peaks}

    # per interval: season, energy period, demand period (memoized: the answer depends on these keys only)
    season_of, period_of, dperiod_of = [], [], []
    lookup: dict[tuple[str, str, int], tuple[str | None, str | None]] = {}
    for wall in local:
        season = month_season[wall.month]
        key = (season, day_type(wall.date(), hol), wall.hour * 60 + wall.minute)
        if key not in lookup:
            lookup[key] = (period_at(spec.time_of_use, *key),
                           period_at(dem.time_of_use, *key) if dem.time_of_use else "all")
        season_of.append(season)
        period_of.append(lookup[key][0])
        dperiod_of.append(lookup[key][1])

    prices = None
    rtp_files = {c.prices for v in spec.versions for c in v.charges if c.type == "rtp"}
    if rtp_files:
        path = Path(rtp_files.pop())
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        prices = read_prices(path)

    periods = bill_periods(first, end, read_dates)
    dets = []
    for p_start, p_end, _ in periods:
        idx = [i for i in range(n) if p_start <= days_of[i] < p_end]
        dets.append(_period_determinants(
            idx, timestamps_utc, local, delivered, received, season_of, period_of, dperiod_of, window, kw_factor,
            dem.method, interval, peaks_local, prices, export_values,
        ))
    # billing demand: max(peak, minimum, ratchet % × highest counted peak of the previous `months` periods)
    ratchet = dem.ratchet
    history = list(ratchet.history_kw) if ratchet else []
    for b in range(len(periods)):
        billing = max(dets[b]["peak_kw"], dem.minimum_kw)
        if ratchet is not None:
            previous = []
            for k in range(len(history) + b - ratchet.months, len(history) + b):
                if k < 0:
                    continue
                if k < len(history):
                    previous.append(history[k])
                else:
                    j = k - len(history)
                    ends_in = (periods[j][1] - dt.timedelta(days=1)).month
                    previous.append(dets[j]["peak_kw"] if ends_in in ratchet.count_months else 0.0)
            if previous:
                billing = max(billing, ratchet.percent / 100.0 * max(previous))
        dets[b]["billing_kw"] = billing
    if adjust is not None:
        adjust(periods, dets)

    versions = sorted(spec.versions, key=lambda v: v.effective)

    def price_bill(b, annual_short):
        p_start, p_end, nominal = periods[b]
        days = (p_end - p_start).days
        lines = []
        for i, version in enumerate(versions):
            v_end = version.expires or (versions[i + 1].effective if i + 1 < len(versions) else None)
            lo = max(p_start, version.effective)
            hi = p_end if v_end is None else min(p_end, v_end)
            overlap = (hi - lo).days
            if overlap <= 0:
                continue
            tag = f" (rates of {version.effective})" if _versions_in(versions, p_start, p_end) > 1 else ""
            lines += _price_version(spec, version, dets[b], p_start, p_end, nominal, overlap / days, tag,
                                    annual_short.get((b, i), 0.0))
        return lines

    # annual minimum (per: year): the year's bills (those whose last day is in the year) together pay at least
    # the amount; the shortfall is billed on the year's last bill that ends in December (a version's share of
    # it by its days in that bill). Pass 1 prices without it to learn what the year's bills charge.
    annual_short: dict[tuple[int, int], float] = {}
    if any(c.type == "minimum" and c.per == "year" for v in versions for c in v.charges):
        charged = [sum(a for _, cat, a in price_bill(b, {}) if cat in ("fixed", "energy", "demand", "rider"))
                   for b in range(len(periods))]
        last_day = [p_end - dt.timedelta(days=1) for _, p_end, _ in periods]
        for b in range(len(periods)):
            later_december = [k for k in range(b + 1, len(periods))
                              if last_day[k].year == last_day[b].year and last_day[k].month == 12]
            if last_day[b].month != 12 or later_december:
                continue
            year_total = sum(charged[k] for k in range(len(periods)) if last_day[k].year == last_day[b].year)
            p_start, p_end, _ = periods[b]
            for i, version in enumerate(versions):
                v_end = version.expires or (versions[i + 1].effective if i + 1 < len(versions) else None)
                lo, hi = max(p_start, version.effective), p_end if v_end is None else min(p_end, v_end)
                weight = max((hi - lo).days, 0) / (p_end - p_start).days
                for c in version.charges:
                    if c.type == "minimum" and c.per == "year":
                        annual_short[(b, i)] = annual_short.get((b, i), 0.0) + max(c.amount - year_total, 0.0) * weight

    bills = []
    for b, (p_start, p_end, nominal) in enumerate(periods):
        days = (p_end - p_start).days
        lines = price_bill(b, annual_short)
        bills.append({
            "start": p_start, "end": p_end, "days": days, "nominal_days": nominal,
            "total": cents(sum(amount for _, _, amount in lines)), "lines": lines, **dets[b],
        })
    return bills


def _versions_in(versions, p_start, p_end):
    count = 0
    for i, version in enumerate(versions):
        v_end = version.expires or (versions[i + 1].effective if i + 1 < len(versions) else None)
        if version.effective < p_end and (v_end is None or v_end > p_start):
            count += 1
    return count


def _period_determinants(idx, timestamps_utc, local, delivered, received, season_of, period_of, dperiod_of,
                         window, kw_factor, method, interval, peaks_local, prices, export_values=None):
    energy: dict[tuple[str, str], float] = {}
    received_by: dict[tuple[str, str], float] = {}  # received kWh per (season, energy period)
    export_credit = 0.0
    received_kwh = 0.0
    rtp_cost = 0.0
    total = 0.0
    for i in idx:
        v = float(delivered[i])
        if received is not None and not math.isnan(float(received[i])):
            r = float(received[i])
            received_kwh += r
            received_by[(season_of[i], period_of[i])] = received_by.get((season_of[i], period_of[i]), 0.0) + r
            if export_values is not None:
                export_credit += r * float(export_values[i])
        if math.isnan(v):
            continue
        key = (season_of[i], period_of[i])
        energy[key] = energy.get(key, 0.0) + v
        total += v
        if prices is not None:
            k = bisect.bisect_right(prices[0], timestamps_utc[i]) - 1
            rtp_cost += v * prices[1][k]

    def kwh(i):
        v = float(delivered[i])
        return 0.0 if math.isnan(v) else v

    # demand windows inside the period: (kW, demand period of the window's last interval, its last interval)
    windows = []
    if window == 1:
        windows = [(kwh(i) * kw_factor, i, [i]) for i in idx]
    elif method == "rolling":
        for j in range(window - 1, len(idx)):
            members = idx[j - window + 1 : j + 1]
            windows.append((sum(kwh(i) for i in members) * kw_factor, members[-1], members))
    else:
        # clock-aligned blocks: intervals whose start falls in the same `interval`-minute slot of the clock
        blocks: dict[int, list[int]] = {}
        for i in idx:
            epoch_min = int(timestamps_utc[i].timestamp() // 60)
            blocks.setdefault(epoch_min // interval, []).append(i)
        for slot, members in sorted(blocks.items()):
            last_of_slot = (slot + 1) * interval - (interval // window)
            if int(timestamps_utc[members[-1]].timestamp() // 60) != last_of_slot:
                continue  # the block's last interval is not in this period: never measured
            windows.append((sum(kwh(i) for i in members) * kw_factor, members[-1], members))
    peak = max([0.0] + [kw for kw, _, _ in windows])
    tou_peak: dict[tuple[str, str], float] = {}
    for kw, last, _ in windows:
        if dperiod_of[last] is not None:
            key = (season_of[last], dperiod_of[last])
            tou_peak[key] = max(tou_peak.get(key, 0.0), kw)
    # coincident peak: the demand interval that *starts* at each system-peak time (all of it in the period)
    cp_values = []
    for pos, i in enumerate(idx):
        if local[i] in peaks_local and pos + window <= len(idx):
            cp_values.append(sum(kwh(j) for j in idx[pos : pos + window]) * kw_factor)
    return {
        "energy": energy, "received": received_by, "export_credit": export_credit,
        "delivered_kwh": total, "received_kwh": received_kwh, "peak_kw": peak,
        "tou_peak": tou_peak, "cp_kw": sum(cp_values) / len(cp_values) if cp_values else 0.0, "rtp_cost": rtp_cost,
    }


def _season_days(p_start: dt.date, p_end: dt.date, spec) -> dict[str, int]:
    month_season = {mo: name for name, months in spec.seasons.items() for mo in months}
    out = dict.fromkeys(spec.seasons, 0)
    day = p_start
    while day < p_end:
        out[month_season[day.month]] += 1
        day += dt.timedelta(days=1)
    return out


def _price_version(spec, version, det, p_start, p_end, nominal, weight, tag, annual_short=0.0):
    """Line items (description, category, rounded amount) of one version, weighted by its share of days."""
    days = (p_end - p_start).days
    share = days / nominal if days < nominal else 1.0
    season_days = _season_days(p_start, p_end, spec)
    frac = {s: d / days for s, d in season_days.items()}
    seasons = list(spec.seasons)
    tou_names = list(spec.time_of_use.periods) if spec.time_of_use else ["all"]
    dtou_names = list(spec.demand.time_of_use.periods) if spec.demand.time_of_use else ["all"]
    billing_kw = det["billing_kw"]
    total_kwh = det["delivered_kwh"]
    end_month = (p_end - dt.timedelta(days=1)).month
    lines: list[tuple[str, str, float]] = []

    # docs/tariff-format.md "How a bill is computed", 3: a partial period pays this share of a month's demand
    # charges (1 for a full period, or when the tariff says ``demand: {partial_periods: full}``)
    demand_share = 1.0 if spec.demand.partial_periods == "full" else share

    def add(description, category, amount):
        if category == "demand":
            amount = amount * demand_share
        lines.append((description + tag, category, cents(amount * weight)))

    for c in version.charges:
        if c.type == "customer":
            quantity = {"bill": 1.0, "day": float(days), "month": share}[c.per]
            add(c.description, "fixed", quantity * c.amount)
        elif c.type == "energy" and c.rates is not None:
            for s in seasons:
                for p in tou_names:
                    kwh = det["energy"].get((s, p), 0.0)
                    add(f"{c.description} {s} {p}", "energy", kwh * rate_of(c.rates, s, p))
        elif c.type == "energy":
            blk = c.blocks
            for s in seasons:
                scale = {
                    "kWh": share * frac[s], "kWh/day": season_days[s], "kWh/kW": billing_kw * share * frac[s],
                    "kWh/kW/day": billing_kw * season_days[s],
                }[blk.unit]
                limits = [x * scale for x in limits_of(blk.limits, s)]
                season_kwh = sum(det["energy"].get((s, p), 0.0) for p in tou_names)
                for p in tou_names:
                    kwh = det["energy"].get((s, p), 0.0)
                    if blk.scope == "total":
                        part = kwh / season_kwh if season_kwh > 0 else 0.0
                        quantities = [q * part for q in split_blocks(season_kwh, limits)]
                    else:
                        quantities = split_blocks(kwh, limits)
                    rates = block_rates_of(blk.rates, s, p)
                    for k, q in enumerate(quantities):
                        add(f"{c.description} {s} {p} block {k + 1}", "energy", q * rates[k])
        elif c.type == "demand":
            if c.measure == "tou":
                for s in seasons:
                    for p in dtou_names:
                        kw = det["tou_peak"].get((s, p), 0.0)
                        if c.rates is not None:
                            add(f"{c.description} {s} {p}", "demand", kw * rate_of(c.rates, s, p))
                        else:
                            rates = block_rates_of(c.blocks.rates, s, p)
                            for k, q in enumerate(split_blocks(kw, limits_of(c.blocks.limits, s))):
                                add(f"{c.description} {s} {p} block {k + 1}", "demand", q * rates[k])
                continue
            kw = billing_kw if c.measure == "max" else det["cp_kw"]
            if c.rates is not None:
                # a period across seasons pays each season's rate by its share of days
                add(c.description, "demand", sum(frac[s] * kw * rate_of(c.rates, s, "all") for s in seasons))
            else:
                n_blocks = len(limits_of(c.blocks.limits, seasons[0])) + 1
                for k in range(n_blocks):
                    amount = sum(
                        frac[s] * split_blocks(kw, limits_of(c.blocks.limits, s))[k]
                        * block_rates_of(c.blocks.rates, s, "all")[k]
                        for s in seasons
                    )
                    add(f"{c.description} block {k + 1}", "demand", amount)
        elif c.type == "rtp":
            add(c.description, "energy", det["rtp_cost"])
            if c.adder:
                add(f"{c.description} adder", "energy", total_kwh * c.adder)
        elif c.type == "rider":
            rate = c.rate[end_month] if isinstance(c.rate, dict) else c.rate
            add(c.description, "rider", total_kwh * rate)

    def subtotal(categories):
        return sum(amount for _, category, amount in lines if category in categories)

    for c in version.charges:
        if c.type == "minimum":
            if c.per == "year":  # the shortfall of the year, worked out over all bills (reference_bills)
                lines.append((c.description + tag, "minimum", cents(annual_short)))
                continue
            floor = cents(c.amount * {"bill": 1.0, "day": float(days), "month": share}[c.per] * weight)
            short = max(floor - subtotal(("fixed", "energy", "demand", "rider")), 0.0)
            lines.append((c.description + tag, "minimum", cents(short)))
    for c in version.charges:
        if c.type == "tax":
            lines.append((c.description + tag, "tax", cents(c.percent / 100.0 * subtotal(tuple(c.applies_to)))))
    return lines
