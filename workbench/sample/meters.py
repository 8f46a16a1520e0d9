"""The sample utility's meters: who they are, before any interval is drawn.

Each meter's class (RES, SGS, LGS), bill cycle, kWh/day target, CT x PT multiplier, rooftop PV (size,
orientation, shading), rate code and net-metering program, drawn from its own random stream seeded by
``(seed, meter index)``; and the meter and account ids (:func:`meter_ids`, :func:`account_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from workbench.sample.year import N_CYCLES, PV_ORIENTATIONS

#: (class, share of meters)
CLASS_SHARES = (("RES", 0.85), ("SGS", 0.12), ("LGS", 0.03))
#: share of residential customers with rooftop PV (all on NEM2 and RES-TOU)
SOLAR_SHARE = 0.05
#: residential rate codes and their shares (non-solar customers)
RES_RATES = (("RES-FLAT", 0.30), ("RES-TIER", 0.40), ("RES-TOU", 0.30))
#: large C&I rate codes and their shares
LGS_RATES = (("LGS-TOU", 0.80), ("RTP", 0.20))
#: CT ratio × PT ratio of large C&I meters, paired by size quartile
LGS_MULTIPLIERS = ((40, 80), (80, 120), (120, 200), (200, 400))

_CLASS_CODES = {"RES": 0, "SGS": 1, "LGS": 2}
_N_UNIFORMS = 32  # parameter draws per meter (fixed, so streams never shift)


def _uniforms(seed: int, start: int, stop: int) -> np.ndarray:
    out = np.empty((stop - start, _N_UNIFORMS), dtype=np.float64)
    for r, i in enumerate(range(start, stop)):
        out[r] = np.random.default_rng([seed, i, 0]).random(_N_UNIFORMS)
    return np.clip(out, 1e-9, 1 - 1e-9)


def _classes(seed: int, idx: np.ndarray) -> np.ndarray:
    """Class codes by a golden-ratio (Weyl) sequence: exact shares for any prefix of meters."""
    offset = (seed * 0.7548776662466927) % 1.0
    u = (idx * 0.6180339887498949 + offset) % 1.0
    bounds = np.cumsum([s for _, s in CLASS_SHARES])
    return np.searchsorted(bounds, u, side="right").clip(0, 2).astype(np.int8)


def _pick(u: np.ndarray, table) -> np.ndarray:
    bounds = np.cumsum([s for *_, s in table])
    return np.searchsorted(bounds / bounds[-1], u, side="right").clip(0, len(table) - 1)


@dataclass
class _Meters:
    idx: np.ndarray  # (n,) meter index
    U: np.ndarray  # (n, _N_UNIFORMS)
    cls: np.ndarray  # (n,) int8 0 RES, 1 SGS, 2 LGS
    cycle: np.ndarray  # int16
    kwh_day: np.ndarray  # float64 target kWh/day (load)
    multiplier: np.ndarray  # float32
    solar_kw: np.ndarray  # float64 kW DC (0 = none)
    orient: np.ndarray  # intp
    shade: np.ndarray  # float64
    rate_code: np.ndarray  # str
    nem_program: np.ndarray  # str

    def take(self, sl: slice) -> _Meters:
        return _Meters(**{k: v[sl] for k, v in self.__dict__.items()})


def _meters(seed: int, n: int) -> _Meters:
    idx = np.arange(n, dtype=np.int64)
    U = _uniforms(seed, 0, n)
    cls = _classes(seed, idx)
    res, sgs, lgs = cls == 0, cls == 1, cls == 2
    cycle = (1 + np.floor(U[:, 0] * N_CYCLES)).astype(np.int16)

    kwh_day = np.where(
        res,
        np.clip(np.exp(np.log(24.0) + 0.35 * ndtri(U[:, 3])), 10.0, 42.0),
        np.where(sgs, 20.0 * 15.0 ** U[:, 3], 2000.0 * 15.0 ** U[:, 3]),
    )
    quart = np.minimum((U[:, 3] * 4).astype(np.intp), 3)
    mult_lgs = np.array(LGS_MULTIPLIERS, dtype=np.float32)[quart, (U[:, 18] >= 0.5).astype(np.intp)]
    multiplier = np.where(lgs, mult_lgs, np.float32(1.0)).astype(np.float32)

    solar = res & (U[:, 1] < SOLAR_SHARE)
    size = np.clip((0.6 + 0.5 * U[:, 21]) * kwh_day * 365.0 / 1350.0, 3.0, 12.0)
    solar_kw = np.where(solar, np.round(size, 1), 0.0)
    orient = _pick(U[:, 22], PV_ORIENTATIONS)
    shade = 0.85 + 0.15 * U[:, 23]

    res_codes = np.array([c for c, _ in RES_RATES], dtype=object)[_pick(U[:, 2], RES_RATES)]
    lgs_codes = np.array([c for c, _ in LGS_RATES], dtype=object)[_pick(U[:, 2], LGS_RATES)]
    rate_code = np.where(
        res, np.where(solar, "RES-TOU", res_codes), np.where(sgs, "GS-TOU-DEMAND", lgs_codes)
    )
    nem = np.where(solar, "NEM2", "")
    return _Meters(
        idx=idx,
        U=U,
        cls=cls,
        cycle=cycle,
        kwh_day=kwh_day,
        multiplier=multiplier,
        solar_kw=solar_kw,
        orient=orient,
        shade=shade,
        rate_code=rate_code.astype(str),
        nem_program=nem.astype(str),
    )


def meter_ids(n: int) -> np.ndarray:
    return np.array([f"M{i + 1:06d}" for i in range(n)], dtype=object)


def account_ids(n: int) -> np.ndarray:
    """``A`` + 7 digits; a fixed permutation of 1,000,000..9,999,999 (unique for any n <= 9,000,000)."""
    i = np.arange(n, dtype=np.int64)
    return np.array([f"A{1_000_000 + v}" for v in (i * 3_456_791 + 271_828) % 9_000_000], dtype=object)


#: share of large C&I meters that record kVARh (most CT-metered C&I meters do), and their power factors (uniform)
REACTIVE_SHARE_LGS = 0.8
POWER_FACTOR_RANGE = (0.80, 0.98)


def reactive_meters(seed: int, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(has_reactive, power factor) per meter: 80 % of the large C&I meters record lagging kVARh, each at its own
    power factor in :data:`POWER_FACTOR_RANGE`; from a stream of their own (seed, meter index, 0x5246), so the
    energy draws do not shift. Power factor is NaN for meters without kVARh."""
    has = np.zeros(len(classes), bool)
    pf = np.full(len(classes), np.nan)
    lo, hi = POWER_FACTOR_RANGE
    for i in np.flatnonzero(np.asarray(classes) == "LGS"):
        u = np.random.default_rng([seed, int(i), 0x5246]).random(2)
        if u[0] < REACTIVE_SHARE_LGS:
            has[i], pf[i] = True, lo + (hi - lo) * u[1]
    return has, pf


def reactive_kvarh(delivered: np.ndarray, pf: float, seed: int, index: int) -> np.ndarray:
    """One meter's kVARh per interval: kWh × tan(acos(PF)) with ±10 % interval noise (its own stream), >= 0."""
    noise = np.random.default_rng([seed, index, 0x5247]).normal(1.0, 0.1, delivered.shape)
    tan = np.sqrt(1.0 - pf * pf) / pf
    return np.maximum(delivered * tan * noise, 0.0).astype(np.float32)
