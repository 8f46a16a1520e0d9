"""Export a compiled tariff as an OpenEI URDB v8 item (for SAM/PySAM and other URDB tools)."""

from __future__ import annotations

import numpy as np

from workbench.calendar import WEEKDAY, WEEKEND
from workbench.tariffs.urdb_fields import DAYS_PER_MONTH

__all__ = ["to_urdb"]


def to_urdb(tariff, version: int = 0) -> tuple[dict, list[str]]:
    """Export a compiled tariff as a URDB v8 item, for SAM/PySAM and other URDB tools.

    Returns ``(item, dropped)``: ``dropped`` names what URDB cannot say (holidays, taxes, minimum billing
    demand, coincident peaks, RTP, sub-hourly ToU boundaries...), so a comparison can state its caveats.
    """
    dropped = []
    if tariff.holidays != "none":
        dropped.append(f"holidays ({tariff.holidays}): URDB has none")
    if tariff.timezone:
        dropped.append(f"time zone {tariff.timezone} and DST: URDB schedules are in local standard hours")
    grid = tariff.energy_grid
    if (grid[:, :, ::60].repeat(60, axis=2) != grid).any():
        dropped.append("ToU boundaries inside an hour: rounded to the hour")
    hours = np.arange(24) * 60
    charges = tariff.versions[version].charges
    item = {"label": tariff.code, "name": tariff.name, "utility": "", "sector": "Commercial"}
    energy = [c for c in charges if c.kind in ("energy", "energy_blocks")]
    if len(energy) > 1:
        dropped.append("more than one energy charge: only the first is exported")
    buckets = sorted({int(b) for b in np.unique(grid[:, [WEEKDAY, WEEKEND]][..., hours])})
    index = {b: i for i, b in enumerate(buckets)}
    item["energyweekdayschedule"] = [[index[int(grid[mo, WEEKDAY, h])] for h in hours] for mo in range(12)]
    item["energyweekendschedule"] = [[index[int(grid[mo, WEEKEND, h])] for h in hours] for mo in range(12)]
    units = {"kWh": "kWh", "kWh/day": "kWh daily", "kWh/kW": "kWh/kW", "kWh/kW/day": "kWh/kW daily"}
    structure = []
    for b in buckets:
        season = b // len(tariff.tou_names)
        if not energy:
            structure.append([{"rate": 0.0}])
        elif energy[0].kind == "energy":
            structure.append([{"rate": float(energy[0].rates[b])}])
        else:
            c = energy[0]
            if c.spec.blocks.scope != "total":
                dropped.append("blocks per ToU period (scope: period): exported as monthly blocks")
            limits = c.limits[season]
            structure.append([
                {"rate": float(c.rates[b, k]), "unit": units[c.spec.blocks.unit],
                 **({"max": float(limits[k])} if k < len(limits) else {})}
                for k in range(c.rates.shape[1])
            ])
    item["energyratestructure"] = structure
    riders = [c for c in charges if c.kind == "rider"]
    if riders:
        fuel = np.zeros(12)
        for c in riders:
            rate = c.spec.rate
            fuel += [rate[m + 1] for m in range(12)] if isinstance(rate, dict) else rate
        item["fueladjustmentsmonthly"] = [float(x) for x in fuel]
    for c in charges:
        spec = c.spec
        if c.kind == "customer":
            item["fixedchargefirstmeter"] = float(spec.amount) * (DAYS_PER_MONTH if spec.per == "day" else 1.0)
            item["fixedchargeunits"] = "$/month"
        elif c.kind == "minimum":
            item["mincharge"], item["minchargeunits"] = float(spec.amount), {"year": "$/year"}.get(spec.per, "$/month")
        elif c.kind in ("demand", "demand_blocks") and spec.measure == "max":
            n_s = len(tariff.season_names)
            rows = c.rates.reshape(n_s, -1)
            item["flatdemandstructure"] = [
                [{"rate": float(rows[s, k]), **({"max": float(c.limits[s][k])} if c.limits is not None and k < c.limits.shape[1] else {})}
                 for k in range(rows.shape[1])]
                for s in range(n_s)
            ]
            item["flatdemandmonths"] = [int(s) for s in tariff.month_season]
            item["flatdemandunit"] = "kW"
        elif c.kind in ("demand", "demand_blocks") and spec.measure == "tou":
            dgrid = tariff.demand_grid
            dbuckets = sorted({int(b) for b in np.unique(dgrid[:, [WEEKDAY, WEEKEND]][..., hours])})
            # URDB needs a period for every hour: hours outside demand ToU get a $0 period
            dindex = {b: i for i, b in enumerate(dbuckets)}
            rates = c.rates if c.rates.ndim == 2 else c.rates[:, None]
            item["demandratestructure"] = [
                [{"rate": float(rates[b, 0]) if b >= 0 else 0.0}] for b in dbuckets
            ]
            if rates.shape[1] > 1:
                dropped.append("tiered ToU demand: exported at the first block's rate")
            item["demandweekdayschedule"] = [[dindex[int(dgrid[mo, WEEKDAY, h])] for h in hours] for mo in range(12)]
            item["demandweekendschedule"] = [[dindex[int(dgrid[mo, WEEKEND, h])] for h in hours] for mo in range(12)]
            item["demandrateunit"] = "kW"
        elif c.kind in ("demand", "demand_blocks"):
            dropped.append(f"{spec.measure} demand charge '{spec.description}'")
        elif c.kind in ("tax", "rtp"):
            dropped.append(f"{c.kind} '{spec.description}'")
    if tariff.minimum_kw:
        dropped.append(f"minimum billing demand {tariff.minimum_kw} kW")
    if tariff.demand_partial == "full":
        dropped.append("demand charges not prorated on a partial period (demand.partial_periods: full)")
    if tariff.ratchet is not None:
        if tariff.ratchet.percent_by_month:
            item["demandratchetpercentage"] = [v / 100.0 for v in tariff.ratchet.percent_by_month]
        else:
            item["lookbackpercent"] = tariff.ratchet.percent / 100.0
        item["lookbackrange"] = tariff.ratchet.months
        item["lookbackmonths"] = [m + 1 in tariff.ratchet.count_months for m in range(12)]
    if tariff.demand_interval_minutes not in (None, 15, 60):
        dropped.append(f"{tariff.demand_interval_minutes}-minute demand window")
    return item, dropped
