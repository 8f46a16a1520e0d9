"""Reading one meter chunk's interval data from the cube, and the per-chunk masks a billing run needs.

Separate from :mod:`workbench.billing.cycle_chunk` so that a run can read chunk i + 1 (:func:`read_task`, Zarr
decoding) on a reader thread while it bills chunk i, and decode the first chunk (:class:`EarlyChunk`) while the
run is still being planned.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from workbench.ami.cube_chunks import check_chunks_present, open_zarr_group
from workbench.ami.cube_schema import QUALITY_MISSING, REACTIVE_VAR
from workbench.ami.cube_writer import cube_state, writer_active
from workbench.billing.cube_source import is_url
from workbench.calendar.periods import BillPeriods
from workbench.kernels.signs import NEGATIVE, POSITIVE, sign_flags
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
    meters = np.flatnonzero(out)
    m, b = np.nonzero(mask[meters])
    m = meters[m]
    hit = _positive_sums(received, m, periods.bounds[m, b], periods.bounds[m, b + 1])
    out[:] = False
    out[m[hit]] = True
    return out


def needs_reactive(book: dict, codes: np.ndarray) -> np.ndarray:
    """Per meter, whether the tariff of its rate code ``codes`` needs kVARh (a code not in ``book``: False);
    asked once per distinct code, not once per meter."""
    needing = [c for c in np.unique(codes).tolist() if getattr(book.get(c), "needs_reactive", False)]
    return np.isin(codes, needing) if needing else np.zeros(len(codes), bool)


#: the interval variables every chunk reads
ENERGY = ("delivered_kwh", "received_kwh", "quality")


def read_chunk(cube: str, start: int, stop: int, meters=None, reactive: bool = False,
               early: Future | None = None) -> dict[str, np.ndarray]:
    """The interval variables of meters ``start:stop`` from the Zarr store (chunks checked present);
    ``reactive``: also ``reactive_kvarh`` (kVARh, NaN = no read), for a chunk with a meter whose tariff needs it.
    ``early``: :data:`ENERGY` of some meters read ahead (:class:`EarlyChunk`), used when they are ``start:stop``."""
    group = open_zarr_group(cube)
    check_chunks_present(group, start, stop, cube, meters)
    data = _early_energy(early, start, stop)
    if data is None:
        data = {name: group[name][start:stop, :] for name in ENERGY}
    if reactive and REACTIVE_VAR in group:
        data[REACTIVE_VAR] = group[REACTIVE_VAR][start:stop, :]
    # VEE withholds an implausible read as missing (quality 2) and says so in vee_method: read it only when
    # the chunk has a missing interval, so that such a period is held, never billed as merely incomplete
    if "vee_method" in group and (data["quality"] == QUALITY_MISSING).any():
        data["implausible"] = withheld(group["vee_method"][start:stop, :])
    return data


def read_task(plan, task, early: Future | None = None) -> dict[str, np.ndarray] | None:
    """The interval data :func:`~workbench.billing.cycle_chunk.bill_chunk` needs for ``task`` (a ``CyclePlan`` and
    a ``ChunkTask``; None: no billable meter, nothing to read; ``early``: see :func:`read_chunk`).
    Separate so that a run can read the next chunk (Zarr decoding) while it bills this one."""
    idx = np.flatnonzero(task.billable)
    if not len(idx):
        return None
    # kVARh are read only for a chunk where a meter with them is on a tariff that needs them
    needs = needs_reactive(plan.book, task.rate_code[idx])
    return read_chunk(plan.cube, task.start, task.stop, task.meter, reactive=bool((needs & task.has_reactive[idx]).any()),
                      early=early)


class EarlyChunk:
    """The first meter chunk's :data:`ENERGY`, decoded on a thread of its own while the run is planned (the plan
    keeps one core busy for about a second; the decoding of a chunk takes about a third of that on the other).

    Only for a local cube that no writer holds; used only by a run whose cube version (``cube_state``, taken at
    planning) is the one taken before this read began, so an ingest or VEE committing in between leaves it unused
    (the chunk is read again). A failed early read is never an error: the chunk is read again, and its error, if
    it has one, is raised then, for its chunk."""

    def __init__(self, cube, chunk_meters: int | None = None):
        self.state, self._future, self._pool = None, None, None
        if is_url(cube) or writer_active(cube):
            return
        self.state = cube_state(cube)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="early-chunk")
        self._future = self._pool.submit(_read_first, str(cube), chunk_meters)

    def take(self, task, state: dict | None) -> Future | None:
        """For the first chunk the run reads (once; later calls: None): the early read, if it is of this cube
        version (``state``) and may be ``task``'s (:func:`read_chunk` checks its meters); None otherwise (the
        arrays are dropped). A run that never calls this (it fails while planning) drops them with this object;
        its thread ends when its one read does."""
        future, self._future = self._future, None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        if future is None or task.start != 0 or state is None or state != self.state:
            return None
        return future


def _read_first(cube: str, chunk_meters: int | None):
    """``(start, stop, arrays)``: :data:`ENERGY` of the cube's first ``chunk_meters`` meters (default: its first
    Zarr chunk along meters, the plan's default chunk)."""
    group = open_zarr_group(cube)
    delivered = group["delivered_kwh"]
    stop = min(int(chunk_meters or delivered.chunks[0]), delivered.shape[0])
    return 0, stop, {name: group[name][0:stop, :] for name in ENERGY}


def _early_energy(early: Future | None, start: int, stop: int) -> dict[str, np.ndarray] | None:
    """The early read's arrays when they are meters ``start:stop``; None when not, or when it failed."""
    if early is None:
        return None
    try:
        first, last, arrays = early.result()
    except Exception:  # noqa: BLE001 (any failure of the early read: the chunk is read again, raising it there)
        return None
    return dict(arrays) if (first, last) == (start, stop) else None


def exported(received: np.ndarray) -> np.ndarray:
    """Per meter, whether its received kWh add up to more than 0 (NaN: no read): one read of the values, no
    NaN-free copy of the chunk (what ``np.nansum`` makes); only a meter with a negative read is summed."""
    n = received.shape[0]
    return _positive_sums(received, np.arange(n), np.zeros(n, np.int64), np.full(n, received.shape[1], np.int64))


def _positive_sums(values: np.ndarray, rows, lo, hi) -> np.ndarray:
    """Per entry k, whether ``np.nansum(values[rows[k], lo[k]:hi[k]]) > 0`` (the same verdict, NaN rows included):
    decided from the signs (:func:`workbench.kernels.signs.sign_flags`), summed only where a value is negative."""
    rows, lo, hi = (np.ascontiguousarray(a, dtype=np.int64) for a in (rows, lo, hi))
    flags = sign_flags(values, rows, lo, hi)
    out = flags == POSITIVE
    for k in np.flatnonzero(flags == NEGATIVE):
        out[k] = np.nansum(values[rows[k], lo[k]:hi[k]]) > 0
    return out
