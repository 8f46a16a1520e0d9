"""Determinants over the interval cube (xarray, numpy- or dask-backed).

The same numba scan runs per meter chunk through ``xr.apply_ufunc(..., dask="parallelized")``, so a cube
opened lazily from Zarr and the same cube loaded in memory give identical determinants. Inside dask's
thread pool the kernel runs serially per chunk (dask supplies the parallelism; numba's own thread pool is
not safe to enter from several threads at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.ami.cube_calendar import cube_time
from workbench.calendar.periods import BillPeriods
from workbench.engine.determinants import Schedule, schedule_arrays
from workbench.engine.pricing import Determinants
from workbench.kernels.scan import scan_determinants

if TYPE_CHECKING:
    import xarray as xr

_OUTPUTS = ("energy_kwh", "received_kwh", "peak_kw", "tou_peak_kw", "cp_kw", "rtp_cost", "export_credit", "counts")


def _scan_block(delivered, received, quality, bounds, *, schedule: Schedule, n_energy, n_demand, parallel,
                export_price=None):
    out = scan_determinants(
        delivered, received, bounds, schedule.energy_bucket, schedule.demand_bucket, n_energy, n_demand,
        quality=quality, block_pos=schedule.block_pos, window=schedule.window, rolling=schedule.rolling,
        kw_factor=schedule.kw_factor, rtp_price=schedule.rtp_price, cp_flag=schedule.cp_flag, parallel=parallel,
        export_price=export_price,
    )
    return tuple(out[name] for name in _OUTPUTS)


def cube_determinants(ds: xr.Dataset, tariff, periods: BillPeriods, schedule: Schedule | None = None,
                      export_price: np.ndarray | None = None) -> xr.Dataset:
    """Determinants of every meter of ``ds`` under ``tariff`` as a Dataset (lazy if ``ds`` is dask-backed).

    Variables: energy_kwh, received_kwh (meter, period, energy_bucket), peak_kw, cp_kw, rtp_cost,
    export_credit (meter, period), tou_peak_kw (meter, period, demand_bucket), counts (meter, period, count).
    """
    import xarray as xr  # here: a bill run imports this module for _OUTPUTS and plans without xarray

    if schedule is None:
        utc, step = cube_time(ds)
        schedule = schedule_arrays(tariff, utc, step, timezone=tariff.timezone or ds.attrs.get("timezone"))
    lazy = ds["delivered_kwh"].chunks is not None
    bounds = xr.DataArray(periods.bounds, dims=("meter", "edge"), coords={"meter": ds["meter"].values})
    if lazy:
        bounds = bounds.chunk({"meter": ds["delivered_kwh"].chunks[0], "edge": -1})
    n_periods = periods.bounds.shape[1] - 1
    n_e, n_d = tariff.n_energy_buckets, max(tariff.n_demand_buckets, 1)
    results = xr.apply_ufunc(
        _scan_block, ds["delivered_kwh"], ds["received_kwh"], ds["quality"], bounds,
        input_core_dims=[["time"], ["time"], ["time"], ["edge"]],
        output_core_dims=[["period", "energy_bucket"], ["period", "energy_bucket"], ["period"],
                          ["period", "demand_bucket"], ["period"], ["period"], ["period"], ["period", "count"]],
        kwargs={"schedule": schedule, "n_energy": n_e, "n_demand": tariff.n_demand_buckets, "parallel": not lazy,
                "export_price": export_price},
        dask="parallelized",
        output_dtypes=[np.float64] * 7 + [np.int64],
        dask_gufunc_kwargs={"output_sizes": {"period": n_periods, "energy_bucket": n_e, "demand_bucket": n_d,
                                             "count": 3}},
    )
    return xr.Dataset(dict(zip(_OUTPUTS, results, strict=True)))


def determinants_from_dataset(det: xr.Dataset) -> Determinants:
    """The pricing stage's numpy view of a (computed) determinants Dataset."""
    return Determinants(**{name: np.asarray(det[name].values) for name in _OUTPUTS})
