"""Determinants: the layer between interval data and the numba scan.

``schedule_arrays`` turns a time axis and a tariff into the per-interval arrays the kernel reads (energy and
demand bucket, demand block position, real-time price, system-peak flags); ``scan`` runs the kernel. Both are
independent of how the interval data is held (numpy here; see ``workbench.engine.cube`` for xarray/dask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.calendar import LocalTime, local_time, local_wall_times
from workbench.engine.pricing import Determinants
from workbench.engine.reactive import reactive_determinants
from workbench.errors import BillingError
from workbench.kernels.scan import scan_determinants
from workbench.tariffs.compile import CompiledTariff
from workbench.tariffs.prices import prices_for_intervals


@dataclass
class Schedule:
    """Per-interval arrays of one tariff on one time axis."""

    local: LocalTime
    energy_bucket: np.ndarray
    demand_bucket: np.ndarray
    block_pos: np.ndarray
    window: int
    rolling: bool
    kw_factor: float
    rtp_price: np.ndarray | None
    cp_flag: np.ndarray | None


def schedule_arrays(
    tariff: CompiledTariff, utc: np.ndarray, step_minutes: int, offsets_minutes: np.ndarray | None = None,
    timezone: str | None = None,
) -> Schedule:
    """Look up each interval's buckets in the tariff's local time (DST and holidays included)."""
    tz = timezone or tariff.timezone
    wall = local_wall_times(utc, tz, offsets_minutes)
    local = local_time(wall, tariff.holidays)
    month = local.month.astype(np.intp) - 1
    day_type = local.day_type.astype(np.intp)
    minute = local.minute.astype(np.intp)
    energy_bucket = tariff.energy_grid[month, day_type, minute]
    demand_bucket = tariff.demand_grid[month, day_type, minute]

    interval = tariff.demand_interval_minutes or step_minutes
    if interval % step_minutes and not tariff.needs_demand:
        interval = step_minutes  # nothing is billed on demand: report the peak at the data's resolution
    if interval % step_minutes:
        raise BillingError(
            f"{tariff.source_path}: demand is measured over {interval} minutes but the data's interval is "
            f"{step_minutes} minutes; {interval}-minute demand needs data at {interval} minutes or finer"
        )
    window = interval // step_minutes
    utc_min = np.asarray(utc, dtype="datetime64[m]").astype(np.int64)
    block_pos = ((utc_min % 1440) // step_minutes % window).astype(np.int16)

    rtp = None
    if tariff.rtp_prices is not None:
        rtp = prices_for_intervals(tariff.rtp_prices, utc, step_minutes, tariff.source_path)
    cp = None
    if tariff.coincident_peaks:
        peaks = np.array([np.datetime64(p.replace(tzinfo=None), "m") for p in tariff.coincident_peaks])
        cp = np.isin(wall.astype("datetime64[m]"), peaks)
    return Schedule(local, energy_bucket, demand_bucket, block_pos, window, tariff.demand_method == "rolling",
                    60.0 / interval, rtp, cp)


def scan(tariff, schedule: Schedule, delivered, received, bounds, quality=None, parallel=True,
         export_price=None, reactive=None) -> Determinants:
    """Run the numba scan over (meter, time) arrays; ``reactive`` (M, T) kVARh (NaN: no read) or None.

    The reactive scan runs only when the tariff needs it (kVA demand, $/kVAR, power factor)."""
    out = scan_determinants(
        delivered, received, bounds, schedule.energy_bucket, schedule.demand_bucket, tariff.n_energy_buckets,
        tariff.n_demand_buckets, quality=quality, block_pos=schedule.block_pos, window=schedule.window,
        rolling=schedule.rolling, kw_factor=schedule.kw_factor, rtp_price=schedule.rtp_price,
        cp_flag=schedule.cp_flag, parallel=parallel, export_price=export_price,
    )
    det = Determinants.from_scan(out)
    if export_price is None:
        det.export_credit = None
    det.reactive = reactive_determinants(tariff, schedule, delivered, reactive, bounds, parallel=parallel)
    return det
