"""VEE kernels: validate and estimate every interval of every meter in one pass per meter.

Plain numba over numpy arrays (no xarray, no pandas). ``workbench.vee`` prepares the calendar arrays (local
day of each interval, day types, local slot of the day) and the per-meter active ranges, and turns the
outputs into tables.

Per meter, over its row of ``T`` intervals grouped into ``D`` local days:

1. interval checks: IMPLAUSIBLE (an actual read above the meter's physical limit ``limit`` [kWh per interval]
   on either channel: both channels of the interval are withheld, NaN with quality 2 and method WITHHELD, and
   never estimated, so the bill period is held), MISSING (NaN), NEGATIVE, REVERSE_FLOW (received energy on a meter with no net-metering
   program), INACTIVE (a read outside the meter's active range), FLATLINE (a run of identical delivered
   values at least ``flat_len`` long);
2. day checks: SPIKE (an interval above ``spike_ratio`` x the day's third-highest interval and above
   ``spike_min``), ZERO_USE (a day with nothing delivered or received), HIGH_USE / LOW_USE (the day's mean
   kWh per interval vs the mean over the previous ``history_days`` days);
3. estimation of every interval whose rule's action is "estimate", channel by channel: gaps of at most
   ``linear_max`` intervals by linear interpolation between the valid neighbours (a flat fill with the one
   valid neighbour when only one side has one), longer gaps (and short ones with no neighbour) by the mean
   of the same local slot on the ``like_days`` most recent previous days of the same day type within
   ``lookback_days`` days whose read there is actual and unflagged.

Validation rules look only at actual reads (quality 0): estimates already in the cube are never re-flagged,
so running VEE on its own output changes nothing.

The codes (rule bits, methods, parameter indices) are in ``vee_codes.py``, the validation helpers in
``vee_checks.py``, the estimation in ``vee_estimate.py``, the counts read from the outputs in
``vee_counts.py``; this module holds the per-meter pass and its block drivers.
"""

import numpy as np
from numba import njit, prange

from workbench.kernels.vee_checks import _bit, _day_stats, _flatline, _raise, _spike_day
from workbench.kernels.vee_codes import (
    FLATLINE,
    HIGH_USE,
    I_FLAT_LEN,
    I_FLAT_ZERO,
    I_HISTORY,
    I_LIKE_DAYS,
    I_LIKE_ENABLED,
    I_LIKE_MIN,
    I_LINEAR_MAX,
    I_LOOKBACK,
    I_MIN_HISTORY,
    I_ONE_SIDED,
    I_PER_DAY,
    IMPLAUSIBLE,
    INACTIVE,
    LOW_USE,
    METHOD_SOURCE,
    METHOD_WITHHELD,
    MISSING,
    N_RULE_BITS,
    NEGATIVE,
    P_DAY_SHARE,
    P_HIGH,
    P_LOW,
    P_MIN_ADU,
    P_REVERSE_MIN,
    P_SPIKE_MIN,
    P_SPIKE_RATIO,
    P_ZERO_SHARE,
    REVERSE_FLOW,
    SPIKE,
    ZERO_USE,
)
from workbench.kernels.vee_estimate import _estimate_channel


@njit(cache=True, nogil=True)
def vee_meter(d_in, r_in, q_in, f_prior, m_prior, day_of, day_start, day_kind, slot, slot_pos, a0, a1, nem, limit,
              enabled, estimate, fp, ip, d_out, r_out, q_out, f_out, m_out, new_d, new_r, day_counts, day_total,
              day_ref):
    """VEE of one meter's row; see the module docstring.

    ``d_out``, ``r_out``, ``q_out``, ``day_total``, ``day_ref`` may be uninitialised; ``f_out``, ``m_out``,
    ``new_d``, ``new_r`` and ``day_counts`` must be zero (the kernel writes them only where something happens,
    so clean data never touches their pages).
    """
    n_t = d_in.shape[0]
    n_days = day_kind.shape[0]
    d_out[:] = d_in
    r_out[:] = r_in
    q_out[:] = q_in
    if f_prior.shape[0] > 0:
        f_out[:] = f_prior
        m_out[:] = m_prior
    bad_d = np.zeros(n_t, np.bool_)
    bad_r = np.zeros(n_t, np.bool_)
    on = np.zeros(N_RULE_BITS, np.bool_)
    est = np.zeros(N_RULE_BITS, np.bool_)
    for b in range(N_RULE_BITS):
        on[b] = (enabled >> np.uint32(b)) & np.uint32(1)
        est[b] = on[b] and ((estimate >> np.uint32(b)) & np.uint32(1))
    flat_len = ip[I_FLAT_LEN] if on[FLATLINE] else n_t + 1
    flat_zero = ip[I_FLAT_ZERO] != 0
    reverse_min = fp[P_REVERSE_MIN] if on[REVERSE_FLOW] and not nem else np.inf
    lim = limit if on[IMPLAUSIBLE] else np.inf
    n_bad = 0

    # --- 1. one pass over the intervals, day by day: find the reads that are not clean and the flatline
    # runs (handled after the pass, so the hot loop calls nothing), and the day statistics ---
    day_n = np.zeros(n_days, np.int64)  # valid delivered reads (present, >= 0)
    day_sum = np.zeros(n_days)
    top1 = np.full(n_days, -1.0)  # highest valid delivered read
    unclean = np.empty(n_t, np.int64)
    n_unclean = 0
    runs = np.empty((n_t // max(flat_len, 1) + 1, 2), np.int64)
    n_runs = 0
    run_len = 0
    run_val = np.float32(0.0)
    for day in range(n_days):
        s = max(day_start[day], a0)
        e = min(day_start[day + 1], a1)
        n_valid = 0
        total = 0.0
        v1 = -1.0
        for t in range(s, e):
            # branch-free where the data decide (real loads are not predictable); NaN compares False
            d = d_in[t]
            r = r_in[t]
            actual = q_in[t] == 0
            if not (actual & (d >= 0) & (r >= 0) & (r <= reverse_min) & (d <= lim) & (r <= lim)):
                unclean[n_unclean] = t
                n_unclean += 1
            ok = actual & (d == d) & (d <= lim) & (not r > lim)
            same = ok & (d == run_val) & (run_len > 0)
            if run_len >= flat_len and not same and (run_val != 0 or flat_zero):
                runs[n_runs, 0] = t - run_len
                runs[n_runs, 1] = t
                n_runs += 1
            run_len = run_len + 1 if same else (1 if ok else 0)
            run_val = d if ok else run_val
            valid = (d >= 0) & (d <= lim)  # negative, missing and implausible reads are never valid
            n_valid += valid
            total += d if valid else 0.0
            v1 = d if valid & (d > v1) else v1
        day_n[day] = n_valid
        day_sum[day] = total
        top1[day] = v1
    if run_len >= flat_len and (run_val != 0 or flat_zero):
        runs[n_runs, 0] = a1 - run_len
        runs[n_runs, 1] = a1
        n_runs += 1

    if on[INACTIVE]:
        for t in range(n_t):
            if (t < a0 or t >= a1) and (d_in[t] == d_in[t] or r_in[t] == r_in[t]):
                _raise(f_out, day_counts, t, day_of[t], _bit(INACTIVE))
    for i in range(n_unclean):
        t = unclean[i]
        d = d_in[t]
        r = r_in[t]
        q = q_in[t]
        f = np.uint32(0)
        if q == 0 and (d > lim or r > lim):  # withheld: never billed, never estimated (the period is held)
            d_out[t] = np.nan
            r_out[t] = np.nan
            q_out[t] = 2
            new_d[t] = METHOD_WITHHELD
            new_r[t] = METHOD_WITHHELD
            m_out[t] = METHOD_WITHHELD
            _raise(f_out, day_counts, t, day_of[t], _bit(IMPLAUSIBLE))
            continue
        if d != d and f_prior.shape[0] > 0 and (f_prior[t] & _bit(IMPLAUSIBLE)):
            q_out[t] = 2  # withheld by an earlier run: stays withheld
            continue
        if d != d:
            q_out[t] = 2
            if on[MISSING]:
                f |= _bit(MISSING)
                bad_d[t] = est[MISSING]
        elif q == 0 and d < 0 and on[NEGATIVE]:
            f |= _bit(NEGATIVE)
            bad_d[t] = est[NEGATIVE]
        if r != r:
            if on[MISSING]:
                f |= _bit(MISSING)
                bad_r[t] = est[MISSING]
        elif q == 0 and r < 0:
            if on[NEGATIVE]:
                f |= _bit(NEGATIVE)
                bad_r[t] = est[NEGATIVE]
        elif q == 0 and r > reverse_min:
            f |= _bit(REVERSE_FLOW)
        if f:
            _raise(f_out, day_counts, t, day_of[t], f)
        if bad_d[t] or bad_r[t]:
            n_bad += 1
        if q == 1 and f_prior.shape[0] == 0:
            m_out[t] = METHOD_SOURCE
    for i in range(n_runs):
        _flatline(f_out, bad_d, day_of, day_counts, runs[i, 0], runs[i, 1], est[FLATLINE])
        n_bad += runs[i, 1] - runs[i, 0]
        if est[FLATLINE]:  # those reads are no longer valid: the days' statistics again
            for day in range(day_of[runs[i, 0]], day_of[runs[i, 1] - 1] + 1):
                s = max(day_start[day], a0)
                e = min(day_start[day + 1], a1)
                day_n[day], day_sum[day], top1[day], _ = _day_stats(d_in, bad_d, s, e, lim)

    # --- 2. day checks: spikes, zero use, the day's mean for high / low ---
    spike_ratio = fp[P_SPIKE_RATIO]
    spike_min = fp[P_SPIKE_MIN]
    rate = np.full(n_days, np.nan)
    for day in range(n_days):
        s = max(day_start[day], a0)
        e = min(day_start[day + 1], a1)
        day_total[day] = np.nan
        day_ref[day] = np.nan
        if s >= e:
            continue
        full_n = day_start[day + 1] - day_start[day]
        n_valid = day_n[day]
        total = day_sum[day]
        if on[SPIKE] and n_valid >= 3 and top1[day] > spike_min and _spike_day(d_in, bad_d, s, e, top1[day],
                                                                             spike_ratio, lim):
            above = max(spike_ratio * _day_stats(d_in, bad_d, s, e, lim)[3], spike_min)
            if top1[day] > above:
                for t in range(s, e):
                    d = d_in[t]
                    if (q_in[t] == 0 and d > above and d <= lim and not bad_d[t]
                            and (f_out[t] & _bit(IMPLAUSIBLE)) == 0):  # a withheld interval is no spike
                        _raise(f_out, day_counts, t, day, _bit(SPIKE))
                        n_valid -= 1
                        total -= d
                        if est[SPIKE]:
                            bad_d[t] = True
                            n_bad += 1
        if n_valid > 0:
            day_total[day] = total
        all_zero = total == 0.0  # valid delivered reads are >= 0: all zero
        if all_zero and on[ZERO_USE]:
            for t in range(s, e):
                if r_in[t] != 0 and r_in[t] == r_in[t]:
                    all_zero = False
                    break
        if on[ZERO_USE] and all_zero and n_valid > 0 and n_valid >= fp[P_ZERO_SHARE] * full_n:
            for t in range(s, e):
                if q_in[t] == 0 and d_in[t] == d_in[t]:
                    _raise(f_out, day_counts, t, day, _bit(ZERO_USE))
            continue
        if n_valid > 0 and n_valid >= fp[P_DAY_SHARE] * full_n:
            rate[day] = total / n_valid

    # --- 3. high / low use vs the meter's history (mean kWh per interval, so DST days compare fairly) ---
    if on[HIGH_USE] or on[LOW_USE]:
        history = ip[I_HISTORY]
        per_day = ip[I_PER_DAY]
        for day in range(n_days):
            if rate[day] != rate[day]:
                continue
            acc = 0.0
            n_hist = 0
            for h in range(max(0, day - history), day):
                if rate[h] == rate[h]:
                    acc += rate[h]
                    n_hist += 1
            if n_hist < ip[I_MIN_HISTORY] or n_hist == 0:
                continue
            ref = acc / n_hist
            day_ref[day] = ref * per_day
            if ref * per_day < fp[P_MIN_ADU]:
                continue
            bit = -1
            if on[HIGH_USE] and rate[day] > fp[P_HIGH] * ref:
                bit = HIGH_USE
            elif on[LOW_USE] and rate[day] < fp[P_LOW] * ref:
                bit = LOW_USE
            if bit >= 0:
                for t in range(max(day_start[day], a0), min(day_start[day + 1], a1)):
                    if q_in[t] == 0 and d_in[t] == d_in[t]:
                        _raise(f_out, day_counts, t, day, _bit(bit))

    # --- 4. estimation, channel by channel ---
    if n_bad > 0:
        for t in range(a0, a1):  # a withheld read is never estimated, whatever other rule flagged it
            if f_out[t] & _bit(IMPLAUSIBLE):
                bad_d[t] = False
                bad_r[t] = False
        linear_max = ip[I_LINEAR_MAX]
        one_sided = ip[I_ONE_SIDED] != 0
        like_on = ip[I_LIKE_ENABLED] != 0
        _estimate_channel(d_in, d_out, bad_d, q_out, f_out, new_d, m_out, new_d, day_counts, a0, a1, day_of,
                          day_kind, slot, slot_pos, linear_max, one_sided, like_on, ip[I_LIKE_DAYS], ip[I_LIKE_MIN],
                          ip[I_LOOKBACK], True)
        _estimate_channel(r_in, r_out, bad_r, q_out, f_out, new_r, m_out, new_d, day_counts, a0, a1, day_of,
                          day_kind, slot, slot_pos, linear_max, one_sided, like_on, ip[I_LIKE_DAYS], ip[I_LIKE_MIN],
                          ip[I_LOOKBACK], False)


@njit(cache=True, nogil=True, parallel=True)
def vee_block_parallel(d_in, r_in, q_in, f_prior, m_prior, day_of, day_start, day_kind, slot, slot_pos, a0, a1, nem,
                       limit, enabled, estimate, fp, ip, d_out, r_out, q_out, f_out, m_out, new_d, new_r, day_counts,
                       day_total, day_ref):
    """:func:`vee_meter` for every meter (row) of (M, T) arrays, on numba's thread pool; ``day_counts`` is
    (N_DAY_COLS, M, D). The Python layer is :func:`workbench.vee.engine.vee_arrays`."""
    for m in prange(d_in.shape[0]):
        vee_meter(d_in[m], r_in[m], q_in[m], f_prior[m], m_prior[m], day_of, day_start, day_kind, slot, slot_pos,
                  a0[m], a1[m], nem[m], limit[m], enabled, estimate, fp, ip, d_out[m], r_out[m], q_out[m], f_out[m], m_out[m],
                  new_d[m], new_r[m], day_counts[:, m], day_total[m], day_ref[m])


@njit(cache=True, nogil=True)
def vee_block(d_in, r_in, q_in, f_prior, m_prior, day_of, day_start, day_kind, slot, slot_pos, a0, a1, nem, limit,
              enabled, estimate, fp, ip, d_out, r_out, q_out, f_out, m_out, new_d, new_r, day_counts, day_total,
              day_ref):
    """:func:`vee_block_parallel`, serially (inside a dask worker's thread pool)."""
    for m in range(d_in.shape[0]):
        vee_meter(d_in[m], r_in[m], q_in[m], f_prior[m], m_prior[m], day_of, day_start, day_kind, slot, slot_pos,
                  a0[m], a1[m], nem[m], limit[m], enabled, estimate, fp, ip, d_out[m], r_out[m], q_out[m], f_out[m], m_out[m],
                  new_d[m], new_r[m], day_counts[:, m], day_total[m], day_ref[m])
