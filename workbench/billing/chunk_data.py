"""Reading one meter chunk's interval data from the cube, and the per-chunk masks a billing run needs.

Separate from :mod:`workbench.billing.cycle_chunk` so that a run can read chunk i + 1 (:func:`read_task`, Zarr
decoding) on a reader thread while it bills chunk i.
"""

from __future__ import annotations

import numpy as np

from workbench.ami.cube_chunks import check_chunks_present, open_zarr_group
from workbench.ami.cube_schema import QUALITY_MISSING, REACTIVE_VAR
from workbench.calendar.periods import BillPeriods
from workbench.vee.billready import withheld


def period_mask(periods: BillPeriods, period: str | None) -> np.ndarray:
    valid = periods.valid
    if period is None:
        return valid
    month = np.datetime64(period, "M")
    return valid & ((periods.end - 1).astype("datetime64[M]") == month)


def exported_in_run(received: np.ndarray, periods: BillPeriods, period: str | None) -> np.ndarray:
    """Per meter: any received energy in a bill period of the run (an export months before is not this bill's)."""
    out = exported(received)
    mask = period_mask(periods, period)
    for i in np.flatnonzero(out):
        out[i] = any(np.nansum(received[i, periods.bounds[i, b]:periods.bounds[i, b + 1]]) > 0
                     for b in np.flatnonzero(mask[i]))
    return out


def read_chunk(cube: str, start: int, stop: int, meters=None, reactive: bool = False) -> dict[str, np.ndarray]:
    """The interval variables of meters ``start:stop`` from the Zarr store (chunks checked present);
    ``reactive``: also ``reactive_kvarh`` (kVARh, NaN = no read), for a chunk with a meter whose tariff needs it."""
    group = open_zarr_group(cube)
    check_chunks_present(group, start, stop, cube, meters)
    data = {name: group[name][start:stop, :] for name in ("delivered_kwh", "received_kwh", "quality")}
    if reactive and REACTIVE_VAR in group:
        data[REACTIVE_VAR] = group[REACTIVE_VAR][start:stop, :]
    # VEE withholds an implausible read as missing (quality 2) and says so in vee_method: read it only when
    # the chunk has a missing interval, so that such a period is held, never billed as merely incomplete
    if "vee_method" in group and (data["quality"] == QUALITY_MISSING).any():
        data["implausible"] = withheld(group["vee_method"][start:stop, :])
    return data


def read_task(plan, task) -> dict[str, np.ndarray] | None:
    """The interval data :func:`~workbench.billing.cycle_chunk.bill_chunk` needs for ``task`` (a ``CyclePlan`` and
    a ``ChunkTask``; None: no billable meter, nothing to read).
    Separate so that a run can read the next chunk (Zarr decoding) while it bills this one."""
    idx = np.flatnonzero(task.billable)
    if not len(idx):
        return None
    # kVARh are read only for a chunk where a meter with them is on a tariff that needs them
    needs = np.array([getattr(plan.book.get(c), "needs_reactive", False) for c in task.rate_code[idx]], bool)
    return read_chunk(plan.cube, task.start, task.stop, task.meter, reactive=bool((needs & task.has_reactive[idx]).any()))


def exported(received: np.ndarray, rows: int = 64) -> np.ndarray:
    """Per meter, whether its received kWh add up to more than 0 (NaN: no read), a few rows at a time: a NaN-free
    copy of the whole chunk (what ``np.nansum`` makes) would cost a fresh 140 MB allocation per chunk."""
    out = np.zeros(received.shape[0], bool)
    for i in range(0, received.shape[0], rows):
        out[i:i + rows] = np.nansum(received[i:i + rows], axis=1) > 0
    return out
