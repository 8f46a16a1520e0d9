"""A seeded, synthetic sample utility: one calendar year of 15-minute interval data for N meters.

Everything here is **synthetic** (made up by a model), except the weather: the typical meteorological year
(TMY3) of Greensboro, NC (station 723170) that ships with ``pvlib``. The model:

- time: 15-minute intervals in UTC covering local 1 January 00:00 to the next 1 January 00:00 in
  ``America/New_York`` (35,040 intervals in a 365-day year, 35,136 in a leap year);
- classes: about 85 % residential (``RES``), 12 % small commercial (``SGS``), 3 % large C&I (``LGS``);
- load = (daily shape by day type + cooling + heating driven by the TMY temperature) × day factor (day-to-day
  variation, vacations, plant shutdowns) × interval noise, scaled to each customer's kWh/day target;
- about 5 % of residential customers have rooftop PV (modelled with pvlib from TMY irradiance); their meters
  record net flow per interval: delivered = max(load − PV, 0), received = max(PV − load, 0);
- large C&I meters are CT/PT metered: the meter records secondary Wh, the cube holds kWh × multiplier;
- 20 bill cycles: cycle 1 reads on the 1st of each month, cycle k ≥ 2 on the (k−1)-th business day after
  the 1st.

Determinism: every meter's parameters and noise come from its own random stream, seeded by
``(seed, meter index)``, so the data do not depend on ``meter_chunk``, the number of threads or even
``n_meters`` (meter ``M000123`` is the same in a 200-meter and a 100,000-meter sample).

Memory is bounded by the chunk: meters are generated and written ``meter_chunk`` at a time.

``months=(first, last)`` writes only some months of the year (e.g. a bill run's two months at 500,000
meters, for the scaling benchmark); see :func:`generate_sample_utility`.

The package's modules, bottom to top: :mod:`~workbench.sample.year` (time axis, holidays, read dates,
weather), :mod:`~workbench.sample.meters` (who the meters are), :mod:`~workbench.sample.loads` (their
interval data), this module (:func:`generate_sample_utility`: writing the cube), :mod:`~workbench.sample.output`
(the folders ``workbench sample`` may write) and :mod:`~workbench.sample.ami_export` (the AMI export with
faults).
"""

from __future__ import annotations

import math
import os
import time as _time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from workbench.ami.cube import METER_COORDS, quiet_zarr
from workbench.ami.cube_reactive import reactive_variables
from workbench.ami.cube_schema import QUALITY_ATTRS
from workbench.outputs.guard import staged_output
from workbench.sample.loads import _block
from workbench.sample.meters import (
    CLASS_SHARES,
    LGS_MULTIPLIERS,
    LGS_RATES,
    RES_RATES,
    SOLAR_SHARE,
    _meters,
    account_ids,
    meter_ids,
    reactive_kvarh,
    reactive_meters,
)
from workbench.sample.output import SAMPLE_KIND, check_sample_out
from workbench.sample.year import (
    N_CYCLES,
    PV_ORIENTATIONS,
    STEP_MINUTES,
    TIMEZONE,
    TMY_FILE,
    _span,
    _year_features,
    cycle_read_dates,
    parse_months,
    us_holidays,
    utility_time_axis,
)

#: the names importable from ``workbench.sample`` (the model's constants and helpers live in its modules)
__all__ = [
    "CLASS_SHARES", "LGS_MULTIPLIERS", "LGS_RATES", "N_CYCLES", "PV_ORIENTATIONS", "RES_RATES", "SOLAR_SHARE",
    "STEP_MINUTES", "TIMEZONE", "TMY_FILE", "UTILITY_NAME", "account_ids", "cycle_read_dates",
    "generate_sample_utility", "meter_ids", "parse_months", "us_holidays", "utility_time_axis",
]

UTILITY_NAME = "Piedmont Sample Electric Cooperative (synthetic)"

_SUB_BLOCK = 64  # meters generated at a time inside a chunk (bounds the temporaries)
_MAX_WORKERS = 4  # chunks generated and written in parallel (each holds ~2 x meter_chunk x 140 kB)
_MAX_METERS = 999_999


def generate_sample_utility(
    path: str | os.PathLike,
    n_meters: int = 2000,
    year: int = 2025,
    seed: int = 42,
    meter_chunk: int = 1000,
    progress: bool = True,
    months: tuple[int, int] | None = None,
) -> dict:
    """Generate the synthetic sample utility and write it as an interval cube (Zarr) at ``path``.

    One calendar ``year`` of 15-minute data for ``n_meters`` meters, deterministic for a given ``seed``
    (independent of ``meter_chunk``), written ``meter_chunk`` meters at a time (memory is bounded by the
    chunk) into a staging folder that replaces ``path`` only when complete. ``path`` must be new, empty or an
    earlier sample cube (:mod:`workbench.sample.output`); it is locked while written. Returns a summary dict.

    ``months=(first, last)`` writes only local months ``first``..``last`` (inclusive) of ``year``, e.g.
    ``(10, 11)`` for a November bill run whose cycles start in October (:func:`parse_months` reads
    ``"2025-10:2025-11"``). Generation time and size scale with the span. A span is its own model: the
    meters, their day factors and demand peaks are those of the year, the interval noise is drawn for the
    span only and each meter is scaled to its kWh/day over the span, so its values differ from the same
    days of a full-year sample.
    """
    n_meters, year, seed, meter_chunk = int(n_meters), int(year), int(seed), int(meter_chunk)
    if not 1 <= n_meters <= _MAX_METERS:
        raise ValueError(f"n_meters must be between 1 and {_MAX_METERS:,}, got {n_meters:,}")
    if meter_chunk < 1:
        raise ValueError(f"meter_chunk must be >= 1, got {meter_chunk}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if not 1901 <= year <= 2099:
        raise ValueError(f"year must be between 1901 and 2099, got {year}")
    check_sample_out(path)  # before any work: a folder that is not ours is refused at once
    t0 = _time.perf_counter()
    meter_chunk = min(meter_chunk, n_meters)

    if months is not None:
        first_month, last_month = (int(v) for v in months)
        if not 1 <= first_month <= last_month <= 12:
            raise ValueError(f"months must be (first, last) with 1 <= first <= last <= 12, got {months}")
        yr = _span(year, first_month, last_month)
    else:
        yr = _year_features(year)
    n_t = yr.time.size
    meters = _meters(seed, n_meters)
    classes = np.array([c for c, _ in CLASS_SHARES])[meters.cls]
    read_date = cycle_read_dates(year)
    has_reactive, power_factor = reactive_meters(seed, classes)
    reactive_vars, reactive_coords, reactive_encoding = reactive_variables(n_meters, n_t, meter_chunk, has_reactive)

    template = xr.Dataset(
        {
            "delivered_kwh": (
                ("meter", "time"),
                da.zeros((n_meters, n_t), dtype=np.float32, chunks=(meter_chunk, n_t)),
            ),
            "received_kwh": (
                ("meter", "time"),
                da.zeros((n_meters, n_t), dtype=np.float32, chunks=(meter_chunk, n_t)),
            ),
            "quality": (
                ("meter", "time"),
                da.zeros((n_meters, n_t), dtype=np.uint8, chunks=(meter_chunk, n_t)),
            ),
            "read_date": (("cycle_id", "read"), read_date),
        },
        coords={
            "time": yr.time,
            "meter": meter_ids(n_meters),
            "account": ("meter", account_ids(n_meters)),
            "customer_class": ("meter", classes.astype(object)),
            "rate_code": ("meter", meters.rate_code.astype(object)),
            "multiplier": ("meter", meters.multiplier),
            "cycle": ("meter", meters.cycle),
            "nem_program": ("meter", meters.nem_program.astype(object)),
            "cycle_id": np.arange(1, N_CYCLES + 1, dtype=np.int16),
        },
        attrs={
            "timezone": TIMEZONE,
            "step_minutes": STEP_MINUTES,
            "utility": UTILITY_NAME,
            "synthetic": True,
            "generator": (
                f"workbench.sample.generate_sample_utility(n_meters={n_meters}, year={year}, seed={seed}"
                f"{'' if yr.full is None else f', months={months}'}); "
                f"synthetic loads driven by TMY3 weather {TMY_FILE} (Greensboro NC, shipped with pvlib)"
            ),
            "seed": seed,
            "year": year,
        },
    )
    if yr.full is not None:
        template.attrs["months"] = f"{year}-{first_month:02d}:{year}-{last_month:02d}"
    template["delivered_kwh"].attrs = {"units": "kWh", "long_name": "energy delivered to the customer"}
    template["received_kwh"].attrs = {"units": "kWh", "long_name": "energy received from the customer"}
    template["quality"].attrs = dict(QUALITY_ATTRS)
    # the reactive channel: lagging kVARh of the large C&I meters that record it (docs/reactive-power.md)
    template = template.assign(reactive_vars).assign_coords(reactive_coords)
    encoding = {name: {"chunks": (meter_chunk, n_t)} for name in ("delivered_kwh", "received_kwh", "quality")}
    encoding.update(reactive_encoding)
    for name in (*METER_COORDS, "meter"):
        encoding[name] = {"chunks": (n_meters,)}

    delivered_per_meter = np.zeros(n_meters, dtype=np.float64)
    received_per_meter = np.zeros(n_meters, dtype=np.float64)
    # each worker generates and writes whole chunks; at most n_workers chunks are in memory at once
    n_workers = max(1, min(os.cpu_count() or 1, _MAX_WORKERS))
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    bar = tqdm(total=n_meters, unit="meter", desc="Sample utility", disable=not progress) if tqdm else None

    import zarr

    with staged_output(path, SAMPLE_KIND, check_sample_out) as tmp, quiet_zarr():
        template.to_zarr(tmp, mode="w-", compute=False, consolidated=True, encoding=encoding)
        group = zarr.open_group(tmp, mode="r+", use_consolidated=False)
        arr_d, arr_r, arr_q = group["delivered_kwh"], group["received_kwh"], group["reactive_kvarh"]

        def chunk_job(a: int, b: int) -> int:
            out_d = np.empty((b - a, n_t), dtype=np.float32)
            out_r = np.empty((b - a, n_t), dtype=np.float32)
            for s in range(a, b, _SUB_BLOCK):
                e = min(s + _SUB_BLOCK, b)
                out_d[s - a : e - a], out_r[s - a : e - a] = _block(yr, meters.take(slice(s, e)), seed)
            delivered_per_meter[a:b] = [row.sum(dtype=np.float64) for row in out_d]
            received_per_meter[a:b] = [row.sum(dtype=np.float64) for row in out_r]
            arr_d[a:b, :] = out_d
            arr_r[a:b, :] = out_r  # always: an unwritten float chunk would read as NaN (the fill value)
            rows = np.flatnonzero(has_reactive[a:b])
            if len(rows):  # a chunk without a meter recording kVARh is never written (has_reactive says so)
                out_q = np.full((b - a, n_t), np.nan, dtype=np.float32)
                for r in rows:
                    out_q[r] = reactive_kvarh(out_d[r], float(power_factor[a + r]), seed, a + int(r))
                arr_q[a:b, :] = out_q
            return b - a

        with ThreadPoolExecutor(n_workers) as pool:
            pending: deque = deque()
            for a in range(0, n_meters, meter_chunk):
                if len(pending) >= n_workers:
                    done = pending.popleft().result()
                    if bar is not None:
                        bar.update(done)
                pending.append(pool.submit(chunk_job, a, min(a + meter_chunk, n_meters)))
            while pending:
                done = pending.popleft().result()
                if bar is not None:
                    bar.update(done)
    if bar is not None:
        bar.close()

    sums = {c: float(delivered_per_meter[classes == c].sum()) for c, _ in CLASS_SHARES}
    received_total = float(received_per_meter.sum())
    elapsed = _time.perf_counter() - t0
    class_counts = Counter(classes.tolist())
    return {
        "path": str(Path(path)),
        "utility": UTILITY_NAME,
        "synthetic": True,
        "n_meters": n_meters,
        "year": year,
        **({} if yr.full is None else {"months": template.attrs["months"]}),
        "seed": seed,
        "timezone": TIMEZONE,
        "n_intervals": int(n_t),
        "start_utc": str(yr.time[0]),
        "end_utc": str(yr.time[-1] + np.timedelta64(STEP_MINUTES, "m")),
        "meter_chunk": meter_chunk,
        "meters_by_class": {c: int(class_counts.get(c, 0)) for c, _ in CLASS_SHARES},
        "meters_by_rate_code": dict(sorted(Counter(meters.rate_code.tolist()).items())),
        "solar_meters": int((meters.solar_kw > 0).sum()),
        "reactive_meters": int(has_reactive.sum()),
        "delivered_mwh_by_class": {c: round(v / 1000.0, 3) for c, v in sums.items()},
        "received_mwh": round(received_total / 1000.0, 3),
        "weather": f"TMY3 {TMY_FILE} (Greensboro NC) from pvlib",
        "seconds": round(elapsed, 2),
        "meters_per_second": round(n_meters / elapsed, 1) if elapsed > 0 else math.inf,
    }
