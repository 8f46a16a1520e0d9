"""numba kernels of the ingest (plain numpy in, no xarray/pandas): map reads to cells, scatter, finalize.

Cell provenance ("source code", uint32, one per cube cell and channel; ``docs/ingest.md``):
``source_id << 2 | conflicted << 1 | estimated``; 0 = no ingest record (never read, or loaded before
ingest logging). ``source_id`` is the file's number in the ingest log; during an ingest the files being
ingested have ids >= ``first_new``, which is how a cell already written by this ingest is recognised.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: reject reason codes of :func:`map_scatter` (0 = accepted)
OK = 0
UNKNOWN_METER = 1
NOT_IN_CUBE = 2
NOT_A_NUMBER = 3
NO_SUCH_CHANNEL = 4
WRONG_LENGTH = 5
OFF_GRID = 6
OUT_OF_RANGE = 7
BEFORE_INSTALL = 8
AFTER_REMOVAL = 9
REACTIVE_NOT_KEPT = 10  # a kVARh read (channel code -2): the cube keeps no reactive channel

#: finalize classes per cell and channel
UNTOUCHED, NEW, UPDATED, UNCHANGED, CONFLICTED = 0, 1, 2, 3, 4


@njit(nogil=True, cache=True)
def map_scatter(
    meter_code, code_to_meter, channel_code, code_to_channel, start_us, seconds, kwh, quality,
    meter_row, meter_lo, meter_hi, meter_factor, meter_channels, t0_us, step_us, n_time,
    row0, row1, val, prov, source_id, first_new,
    out_row, out_t, out_value, out_flags, out_reason, out_meter,
):  # pragma: no cover - compiled
    """Map each read to (cube row, time index, channel) or a reject reason; write the reads of cube rows
    [row0, row1) straight into that meter chunk's working arrays ``val``/``prov`` (channel, row, time).

    meter_code/channel_code: dictionary indices of the batch; code_to_meter: registry index per meter
    dictionary entry (-1 unknown); code_to_channel: 0 delivered, 1 received, -1 other. Per registry meter:
    meter_row (cube row, -1 = not in the cube), install window [meter_lo, meter_hi) [µs UTC], meter_factor
    (CT × PT to apply, 1 if already applied), meter_channels (bit 0 delivered, bit 1 received).

    Outputs per read: out_reason (0 or a reason code), out_meter (registry index or -1), out_row (-1 when
    rejected or written here, else the row, with out_t, out_value = kWh × factor as float32 and out_flags =
    channel | estimated << 1, for :func:`scatter_reads`). A cell already written by this ingest (source id
    >= first_new) is not overwritten: an identical read (same value and estimated flag) is a duplicate; a
    different one marks the cell conflicted. Returns (accepted, left for the caller, duplicates, conflicting
    reads seen here); the exact accounting is settled in :func:`finalize_chunk`.
    """
    n_ok = 0
    n_left = 0
    dups = 0
    conflicts = 0
    span_us = step_us * n_time
    inv_step = 1.0 / step_us
    for i in range(start_us.shape[0]):
        out_row[i] = -1
        mc = meter_code[i]
        m = code_to_meter[mc] if mc >= 0 else -1
        out_meter[i] = m
        if m < 0:
            out_reason[i] = UNKNOWN_METER
            continue
        v = kwh[i]
        if not np.isfinite(v):
            out_reason[i] = NOT_A_NUMBER
            continue
        c = code_to_channel[channel_code[i]]
        if c == -2:
            out_reason[i] = REACTIVE_NOT_KEPT
            continue
        if c < 0 or (meter_channels[m] >> c) & 1 == 0:
            out_reason[i] = NO_SUCH_CHANNEL
            continue
        if seconds[i] * 1_000_000 != step_us:
            out_reason[i] = WRONG_LENGTH
            continue
        offset = start_us[i] - t0_us
        if offset < 0 or offset >= span_us:
            out_reason[i] = OUT_OF_RANGE if (offset % step_us) == 0 else OFF_GRID
            continue
        # nearest whole step by a float multiply (exact below 2**53 µs), checked by an integer multiply: an
        # integer division per read would cost more than everything else here
        t = np.int64(offset * inv_step + 0.5)
        if t * step_us != offset:
            out_reason[i] = OFF_GRID
            continue
        if start_us[i] < meter_lo[m]:
            out_reason[i] = BEFORE_INSTALL
            continue
        if start_us[i] >= meter_hi[m]:
            out_reason[i] = AFTER_REMOVAL
            continue
        row = meter_row[m]
        if row < 0:  # last: a read the cube could hold, but the meter's service point is not a row
            out_reason[i] = NOT_IN_CUBE
            continue
        out_reason[i] = OK
        n_ok += 1
        value = np.float32(v * meter_factor[m])
        e = 1 if quality[i] == 1 else 0
        if row0 <= row < row1:
            r = row - row0
            p = prov[c, r, t]
            if (p >> 2) >= first_new:
                if p & 2:
                    conflicts += 1
                elif val[c, r, t] == value and (p & 1) == e:
                    dups += 1
                else:
                    prov[c, r, t] = p | 2
                    conflicts += 1
            else:
                val[c, r, t] = value
                prov[c, r, t] = (np.uint32(source_id) << np.uint32(2)) | np.uint32(e)
        else:
            out_row[i] = row
            out_t[i] = t
            out_value[i] = value
            out_flags[i] = c | (e << 1)
            n_left += 1
    return n_ok, n_left, dups, conflicts


@njit(nogil=True, cache=True)
def partition_rows(rows, rows_per_chunk, n_chunks):  # pragma: no cover - compiled
    """Counting sort of the accepted reads (row >= 0) by meter chunk: (order, offsets[n_chunks + 1])."""
    counts = np.zeros(n_chunks + 1, np.int64)
    for i in range(rows.shape[0]):
        if rows[i] >= 0:
            counts[rows[i] // rows_per_chunk + 1] += 1
    for k in range(n_chunks):
        counts[k + 1] += counts[k]
    order = np.empty(counts[n_chunks], np.int64)
    fill = counts[:n_chunks].copy()
    for i in range(rows.shape[0]):
        if rows[i] >= 0:
            k = rows[i] // rows_per_chunk
            order[fill[k]] = i
            fill[k] += 1
    return order, counts


@njit(nogil=True, cache=True)
def scatter_reads(order, lo, hi, rows, ts, flags, values, row0, val, prov, source_id, first_new):
    # pragma: no cover - compiled
    """Write reads order[lo:hi] into one meter chunk's working arrays (duplicates and conflicts as in
    :func:`map_scatter`); ``val``/``prov`` are the (channel, row, time) arrays of the chunk whose first cube
    row is ``row0``. Returns (duplicates, conflicting reads) seen here.
    """
    dups = 0
    conflicts = 0
    for k in range(lo, hi):
        i = order[k]
        r = rows[i] - row0
        t = ts[i]
        c = flags[i] & 1
        e = (flags[i] >> 1) & 1
        p = prov[c, r, t]
        if (p >> 2) >= first_new:
            if p & 2:
                conflicts += 1
            elif val[c, r, t] == values[i] and (p & 1) == e:
                dups += 1
            else:
                prov[c, r, t] = p | 2
                conflicts += 1
        else:
            val[c, r, t] = values[i]
            prov[c, r, t] = (np.uint32(source_id) << np.uint32(2)) | np.uint32(e)
    return dups, conflicts


@njit(nogil=True, cache=True)
def finalize_chunk(val, prov, quality, orig_val, orig_prov, fresh, first_new, cls, out_quality, counts):
    # pragma: no cover - compiled
    """Settle one meter chunk after every read is in: classify, restore, recompute quality.

    Per cell and channel written by this ingest: conflicted -> previous value and source restored;
    previous value NaN -> new; same value and estimated flag as before -> unchanged (previous source kept);
    else updated. ``counts[f, k]`` counts cells of new file f (source id first_new + f) by class k (0 new,
    1 updated, 2 unchanged). Quality of a cell with a new or updated channel = the worst of its channels
    (0 actual, 1 estimated, 2 missing = NaN never read); a channel with a value but no ingest record does
    not count. Other cells keep their quality. ``fresh``: the chunk is new (every cell was NaN with no
    source; orig_val/orig_prov are not read). Returns (any value changed, cells updated, cells conflicted).
    """
    n_rows = quality.shape[0]
    n_time = quality.shape[1]
    changed = False
    n_updated = 0
    n_conflicted = 0
    for r in range(n_rows):
        for t in range(n_time):
            touched = False
            for c in range(2):
                p = prov[c, r, t]
                k = UNTOUCHED
                if (p >> 2) >= first_new:
                    if fresh:
                        op = np.uint32(0)
                        ov = np.float32(np.nan)
                    else:
                        op = orig_prov[c, r, t]
                        ov = orig_val[c, r, t]
                    if p & 2:
                        k = CONFLICTED
                        n_conflicted += 1
                        val[c, r, t] = ov
                        prov[c, r, t] = op
                    else:
                        f = (p >> 2) - first_new
                        e = p & 1
                        if np.isnan(ov):
                            k = NEW
                        else:
                            oe = (op & 1) if op != 0 else (1 if quality[r, t] == 1 else 0)
                            if ov == val[c, r, t] and oe == e:
                                k = UNCHANGED
                                prov[c, r, t] = op
                            else:
                                k = UPDATED
                                n_updated += 1
                        counts[f, k - 1] += 1
                        if k != UNCHANGED:
                            touched = True
                cls[c, r, t] = k
            q = quality[r, t]
            if touched:
                changed = True
                q = 0
                for c in range(2):
                    p = prov[c, r, t]
                    if p != 0:
                        qc = p & 1
                    elif np.isnan(val[c, r, t]):
                        qc = 2
                    else:
                        continue
                    if qc > q:
                        q = qc
            out_quality[r, t] = q
    return changed, n_updated, n_conflicted
