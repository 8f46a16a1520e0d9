"""Reading one meter chunk's interval data from the cube, and the per-chunk masks a billing run needs.

Separate from :mod:`workbench.billing.cycle_chunk` so that a run can read chunk i + 1 (:func:`read_task`, Zarr
decoding) on a reader thread while it bills chunk i, and decode the first chunk (:class:`EarlyChunk`) while the
run is still being planned.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

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
    ``early``: :data:`ENERGY` of these meters read ahead (:class:`EarlyChunk`), a future."""
    group = open_zarr_group(cube)
    check_chunks_present(group, start, stop, cube, meters)
    data = _early_energy(early)
    if data is None:
        data = _energy(group, start, stop)
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
    """The first ``chunks`` meter chunks' :data:`ENERGY`, decoded on a thread of its own while the run is planned
    (the plan keeps one core busy for about a second; decoding a chunk takes about a third of that on the other).
    Two by default: the most a run holds at once anyway (one billed, the next read ahead), and with both decoded
    the run's reader starts on chunk 2 as soon as billing starts.

    Only for a local cube that no writer holds; used only by a run whose cube version (``cube_state``, taken at
    planning) is the one taken before these reads began, so an ingest or VEE committing in between leaves them
    unused (the chunks are read again). A failed early read is never an error: the chunk is read again, and its
    error, if it has one, is raised then, for its chunk."""

    def __init__(self, cube, chunk_meters: int | None = None, chunks: int = 2):
        self.state, self._futures, self._pool = None, {}, None
        if is_url(cube) or not Path(cube).is_dir() or writer_active(cube):
            return  # (no cube there: planning says so, for the run, before any thread starts)
        try:
            self.state = cube_state(cube)
            delivered = open_zarr_group(cube)["delivered_kwh"]
            n_meters, size = delivered.shape[0], int(chunk_meters or delivered.chunks[0])
        except Exception:  # noqa: BLE001 (no cube, a damaged one...: planning says what is wrong, for the run)
            return
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="early-chunk")
        for start in range(0, min(n_meters, chunks * size), size):
            stop = min(start + size, n_meters)
            self._futures[(start, stop)] = self._pool.submit(_read_energy, str(cube), start, stop)

    def take(self, task, state: dict | None) -> Future | None:
        """The early read of ``task``'s meters (called for each chunk the run reads, in order), if it is of this
        cube version (``state``); None otherwise. The reads of chunks before it are dropped (cancelled if not
        begun): tasks come in meter order. A run that never calls this (it fails while planning) drops them with
        this object; its thread ends when its read in progress does."""
        future = self._futures.pop((task.start, task.stop), None)
        unusable = state is None or state != self.state
        for key in [key for key in self._futures if unusable or key[0] < task.start]:
            self._futures.pop(key).cancel()
        if not self._futures and self._pool is not None:
            self._pool.shutdown(wait=False)
        if future is not None and unusable:
            future.cancel()
        return None if unusable else future


def _energy(group, start: int, stop: int) -> dict[str, np.ndarray]:
    return {name: group[name][start:stop, :] for name in ENERGY}


def _read_energy(cube: str, start: int, stop: int) -> dict[str, np.ndarray]:
    return _energy(open_zarr_group(cube), start, stop)


def _early_energy(early: Future | None) -> dict[str, np.ndarray] | None:
    """The early read's arrays; None when there is none, or when it failed."""
    if early is None:
        return None
    try:
        return dict(early.result())
    except Exception:  # noqa: BLE001 (any failure of the early read: the chunk is read again, raising it there)
        return None


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
