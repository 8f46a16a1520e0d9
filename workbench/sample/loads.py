"""The sample utility's loads: each meter's daily shapes and its 15-minute delivered and received kWh.

Load shapes by class (residential daily bumps, small-commercial and large C&I occupancy, with cooling and
heating coefficients), day factors (day-to-day variation, vacations, plant shutdowns), interval noise and
demand peaks, scaled to each meter's kWh/day; rooftop PV netted per interval and the values rounded to what
the meter counts (secondary Wh x multiplier). ``_block`` gives a block of meters' (delivered, received).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from workbench.sample.meters import _Meters
from workbench.sample.year import _Year

# ---------------------------------------------------------------------------------------------------------
# load shapes


def _bump(h: np.ndarray, mu, sigma) -> np.ndarray:
    """Circular Gaussian bump on the 24-hour clock; h (96,), mu and sigma (n,) or scalars -> (n, 96)."""
    mu = np.asarray(mu, dtype=np.float64).reshape(-1, 1)
    d = (h[None, :] - mu + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / np.asarray(sigma, dtype=np.float64).reshape(-1, 1)) ** 2)


def _occ(h: np.ndarray, o, c) -> np.ndarray:
    """Occupancy (0..1) between opening hour o and closing hour c with smooth ramps -> (n, 96)."""
    o = np.asarray(o, dtype=np.float64).reshape(-1, 1)
    c = np.asarray(c, dtype=np.float64).reshape(-1, 1)
    return 1.0 / (1.0 + np.exp(-(h - o) / 0.35)) / (1.0 + np.exp(-(c - h) / 0.35))


_HOURS = (np.arange(96) + 0.5) / 4.0  # interval centres, local clock hours


@dataclass
class _Shapes:
    shape: np.ndarray  # (n, 288) base load by day type and interval of day
    cool: np.ndarray  # (n, 288) cooling coefficient per °C above Tc
    heat: np.ndarray  # (n, 288) heating coefficient per °C below Th
    tc: np.ndarray  # (n,)
    th: np.ndarray  # (n,)
    sig_i: np.ndarray  # interval noise
    sig_h: np.ndarray  # hourly noise
    sig_d: np.ndarray  # day-to-day noise


def _res_shapes(U: np.ndarray) -> _Shapes:
    h = _HOURS
    n = U.shape[0]
    b = 0.25 + 0.35 * U[:, 4]
    am = 0.3 + 0.6 * U[:, 5]
    ad = 0.1 + 0.3 * U[:, 6]
    ae = 0.8 + 1.0 * U[:, 7]
    sm = np.clip(0.8 * ndtri(U[:, 8]), -2.0, 2.0)
    se = np.clip(0.8 * ndtri(U[:, 9]), -2.0, 2.0)
    ev = np.where(U[:, 10] < 0.04, 1.5 + 1.5 * U[:, 11], 0.0)[:, None] * _bump(h, 0.5 + 1.5 * U[:, 12], 1.2)
    col = lambda x: x[:, None]  # noqa: E731
    wd = (
        col(b)
        + col(am) * _bump(h, 7 + sm, 1.0)
        + col(ad) * _bump(h, 13, 3.0)
        + col(ae) * _bump(h, 19 + se, 2.0)
    )
    we = (
        col(b)
        + 0.8 * col(am) * _bump(h, 9 + sm, 1.5)
        + 2.5 * col(ad) * _bump(h, 13, 3.0)
        + col(ae) * _bump(h, 19 + se, 2.2)
    )
    shape = np.concatenate([wd + ev, we + ev, we + ev], axis=1)
    heat_type = U[:, 13]
    hc = np.where(
        heat_type < 0.55,
        0.05 + 0.05 * U[:, 14],
        np.where(heat_type < 0.65, 0.10 + 0.08 * U[:, 14], 0.005 + 0.01 * U[:, 14]),
    )
    cc = 0.04 + 0.08 * U[:, 16]
    cool_wd = col(cc) * (0.5 + 0.8 * _bump(h, np.full(n, 17.0), 4.0))
    cool_we = col(cc) * (0.7 + 0.6 * _bump(h, np.full(n, 15.0), 5.0))
    heat_d = col(hc) * (0.8 + 0.4 * _bump(h, 7 + sm, 2.0) + 0.2 * _bump(h, np.full(n, 20.0), 3.0))
    return _Shapes(
        shape=shape,
        cool=np.concatenate([cool_wd, cool_we, cool_we], axis=1),
        heat=np.concatenate([heat_d, heat_d, heat_d], axis=1),
        tc=19.0 + 4.0 * U[:, 17],
        th=13.0 + 4.0 * U[:, 15],
        sig_i=0.22 + 0.15 * U[:, 18],
        sig_h=0.12 + 0.10 * U[:, 19],
        sig_d=0.10 + 0.06 * U[:, 20],
    )


def _sgs_shapes(U: np.ndarray) -> _Shapes:
    h = _HOURS
    o = 6.0 + 3.5 * U[:, 4]
    c = np.minimum(o + 8.0 + 5.0 * U[:, 5], 23.0)
    b = 0.15 + 0.30 * U[:, 6]
    wk = U[:, 7]  # < 0.5 closed weekends, < 0.8 open Saturday, else open every day
    lunch = 1.0 + (0.15 * U[:, 8])[:, None] * _bump(h, np.full(len(o), 12.5), 1.5)
    occ_wd = _occ(h, o, c)
    occ_sat = np.where((wk >= 0.5)[:, None], 0.7 * _occ(h, o + 1.0, c - 2.0), 0.0)
    occ_sun = np.where((wk >= 0.8)[:, None], 0.6 * _occ(h, o + 2.0, c - 2.0), 0.0)
    occ = np.concatenate([occ_wd, occ_sat, occ_sun], axis=1)
    lunch3 = np.concatenate([lunch, lunch, lunch], axis=1)
    cc = (0.03 + 0.05 * U[:, 9])[:, None]
    hc = (0.01 + 0.04 * U[:, 11])[:, None]
    return _Shapes(
        shape=b[:, None] + occ * lunch3,
        cool=cc * (0.25 + 0.75 * occ),
        heat=hc * (0.4 + 0.6 * occ),
        tc=16.0 + 4.0 * U[:, 10],
        th=10.0 + 4.0 * U[:, 12],
        sig_i=0.06 + 0.06 * U[:, 13],
        sig_h=0.04 + 0.04 * U[:, 14],
        sig_d=0.05 + 0.04 * U[:, 15],
    )


def _lgs_kind(U: np.ndarray) -> np.ndarray:
    """0 one-shift plant, 1 two-shift plant, 2 continuous process, 3 office / campus."""
    return np.searchsorted([0.30, 0.55, 0.75], U[:, 4], side="right")


def _lgs_shapes(U: np.ndarray) -> _Shapes:
    h = _HOURS
    n = U.shape[0]
    kind = _lgs_kind(U)
    o = np.select(
        [kind == 0, kind == 1, kind == 3],
        [6.0 + 1.5 * U[:, 5], 5.5 + 1.5 * U[:, 5], 7.0 + 1.5 * U[:, 5]],
        0.0,
    )
    c = np.select(
        [kind == 0, kind == 1, kind == 3], [o + 9.0 + U[:, 6], o + 16.0 + U[:, 6], 18.0 + 2.0 * U[:, 6]], 24.0
    )
    b = np.select(
        [kind == 2, kind == 3], [0.70 + 0.20 * U[:, 7], 0.25 + 0.25 * U[:, 7]], 0.35 + 0.25 * U[:, 7]
    )
    occ_wd = _occ(h, o, np.minimum(c, 23.9))
    cont = 1.0 - 0.08 * (
        _bump(h, np.full(n, 7.0), 0.5) + _bump(h, np.full(n, 15.0), 0.5) + _bump(h, np.full(n, 23.0), 0.5)
    )
    occ_wd = np.where((kind == 2)[:, None], cont, occ_wd)
    sat_open = ((kind <= 1) & (U[:, 8] >= 0.6))[:, None]
    occ_sat = np.where((kind == 2)[:, None], 0.95 * cont, np.where(sat_open, 0.6 * occ_wd, 0.0))
    occ_sun = np.where((kind == 2)[:, None], 0.95 * cont, 0.0)
    occ = np.concatenate([occ_wd, occ_sat, occ_sun], axis=1)
    cc = (0.02 + 0.03 * U[:, 9])[:, None]
    hc = (0.005 + 0.015 * U[:, 11])[:, None]
    return _Shapes(
        shape=b[:, None] + (1.0 - b[:, None]) * occ,
        cool=cc * (0.3 + 0.7 * occ),
        heat=hc * (0.5 + 0.5 * occ),
        tc=15.0 + 4.0 * U[:, 10],
        th=10.0 + 4.0 * U[:, 12],
        sig_i=0.03 + 0.03 * U[:, 13],
        sig_h=0.02 + 0.02 * U[:, 14],
        sig_d=0.03 + 0.03 * U[:, 15],
    )


def _shapes(m: _Meters) -> _Shapes:
    n = m.cls.size
    out = _Shapes(
        shape=np.empty((n, 288)),
        cool=np.empty((n, 288)),
        heat=np.empty((n, 288)),
        tc=np.empty(n),
        th=np.empty(n),
        sig_i=np.empty(n),
        sig_h=np.empty(n),
        sig_d=np.empty(n),
    )
    for code, fn in ((0, _res_shapes), (1, _sgs_shapes), (2, _lgs_shapes)):
        sel = m.cls == code
        if sel.any():
            part = fn(m.U[sel])
            for k, v in part.__dict__.items():
                getattr(out, k)[sel] = v
    return out


# ---------------------------------------------------------------------------------------------------------
# interval data


def _day_factors(yr: _Year, cls: int, U: np.ndarray, sig_d: float, rng: np.random.Generator) -> np.ndarray:
    # always drawn for the whole year (the same draws for a span as for the year), then cut to the span
    span, yr = yr, (yr.full or yr)
    n_days = yr.n_days
    f = np.exp(sig_d * rng.standard_normal(n_days) - 0.5 * sig_d * sig_d)
    if cls == 0:
        f *= yr.season
        for _ in range(int(rng.integers(0, 4))):  # vacations: 0-3 trips of 2-10 days
            start = int(rng.integers(0, n_days))
            f[start : start + int(rng.integers(2, 11))] *= 0.35
    elif cls == 2 and _lgs_kind(U[None, :])[0] <= 1:
        if U[16] < 0.5:  # year-end plant shutdown
            f[n_days - 8 :] *= 0.45
        if U[17] < 0.3:  # Independence Day week shutdown
            f[181:188] *= 0.5
    if span.full is not None:
        f = f[span.day0 : span.day0 + span.n_days]
    return f.astype(np.float32)


def _block(yr: _Year, m: _Meters, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Delivered and received kWh (n, T) float32 for the meters in ``m``."""
    n = m.cls.size
    n_t = yr.time.size
    sh = _shapes(m)
    f32 = np.float32
    temp = yr.temp

    load = np.take(sh.shape.astype(f32), yr.key, axis=1)
    w = np.take(sh.cool.astype(f32), yr.key, axis=1)
    d = temp[None, :] - sh.tc.astype(f32)[:, None]
    np.maximum(d, 0, out=d)
    w *= d
    load += w
    np.take(sh.heat.astype(f32), yr.key, axis=1, out=w)
    np.subtract(sh.th.astype(f32)[:, None], temp[None, :], out=d)
    np.maximum(d, 0, out=d)
    w *= d
    load += w

    days = np.empty((n, yr.n_days), dtype=f32)
    z = d  # reuse: interval noise
    zh = np.empty((n, n_t // 4), dtype=f32)
    spikes = []
    for r in range(n):
        rng = np.random.default_rng([seed, int(m.idx[r]), 1])
        cls = int(m.cls[r])
        days[r] = _day_factors(yr, cls, m.U[r], float(sh.sig_d[r]), rng)
        if cls > 0:  # short demand peaks (motor starts, process loads)
            k = int(rng.integers(20, 61)) if cls == 1 else int(rng.integers(40, 121))
            where = rng.integers(0, n_t if yr.full is None else yr.full.time.size, k)
            amp = rng.uniform(0.10, 0.40, k).astype(f32)
            if yr.full is not None:  # the year's peaks that fall in the span
                inside = (where >= yr.t0) & (where < yr.t0 + n_t)
                where, amp = where[inside] - yr.t0, amp[inside]
            spikes.append((r, where, amp))
        rng.standard_normal(dtype=f32, out=z[r])
        rng.standard_normal(dtype=f32, out=zh[r])
    load *= np.take(days, yr.day, axis=1)
    z *= sh.sig_i.astype(f32)[:, None]
    zh *= sh.sig_h.astype(f32)[:, None]
    z.reshape(n, n_t // 4, 4)[...] += zh[:, :, None]
    z -= (0.5 * (sh.sig_i**2 + sh.sig_h**2)).astype(f32)[:, None]
    np.exp(z, out=z)
    load *= z
    for r, where, amp in spikes:
        load[r, where] *= 1 + amp

    # scale to each customer's kWh/day (row by row: the result must not depend on the block)
    total = np.array([load[r].sum(dtype=np.float64) for r in range(n)])
    load *= (m.kwh_day * yr.n_days / total).astype(f32)[:, None]

    received = np.zeros((n, n_t), dtype=f32)
    for r in np.flatnonzero(m.solar_kw > 0):
        pv = yr.pv_per_kw[m.orient[r]] * f32(m.solar_kw[r] * m.shade[r])
        net = load[r] - pv
        np.maximum(net, 0, out=load[r])
        np.maximum(-net, 0, out=received[r])

    # the meter counts secondary Wh; the cube holds kWh x multiplier
    for arr in (load, received):
        arr *= (1000.0 / m.multiplier).astype(f32)[:, None]
        np.rint(arr, out=arr)
        arr *= m.multiplier[:, None]
        arr /= f32(1000.0)
    return load, received
