"""Pricing's helpers that keep no engine state: the charge memo (re-price only what changed), rider rates by
month, the charges a partial period prorates like demand, each version's share of a period's days, the annual
minimum's December period and a tariff's in-force dates.

:class:`ChargeMemo` lets :func:`workbench.engine.pricing.price` reuse the line items of a charge it priced
before on the same determinants: a charge's lines depend only on the determinants, the tariff's structure
(seasons, ToU and demand periods, billing demand rules), the version's dates and weight and the charge itself
(its kind, description, spec, rates and limits). Minimums and taxes weigh the other charges' amounts and are
always recomputed. Keys are digests of those inputs, so a memo never returns lines of another price.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle

import numpy as np


def rider_rates(rate: dict) -> np.ndarray:
    """(12,) a monthly rider's rate [$/kWh] by month 1-12 (NaN for a month it does not name), for array lookup."""
    return np.array([rate.get(month) for month in range(1, 13)], dtype=float)


def _digest(*parts) -> bytes:
    return hashlib.blake2b(pickle.dumps(parts, protocol=5), digest_size=16).digest()


class ChargeMemo:
    """Line items of charges priced on ONE set of determinants and bill periods (keep one memo per set).

    ``max_bytes`` bounds the memory its (M, B) arrays hold; the least recently used entries go first.
    """

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = max_bytes
        self._lines: dict = {}
        self._sizes: dict = {}
        self._tariff_keys: dict = {}
        self.hits = self.misses = 0

    def _tariff_key(self, tariff) -> bytes:
        # by id, but the tariff itself is kept with its key, so an id is never reused while in the table
        found = self._tariff_keys.get(id(tariff))
        if found is None or found[0] is not tariff:
            key = _digest(tariff.code, tariff.season_names, tariff.month_season.tobytes(), tariff.tou_names,
                          tariff.demand_tou_names, tariff.n_energy_buckets, tariff.n_demand_buckets,
                          tariff.minimum_kw, tariff.ratchet, tariff.demand_unit, tariff.demand_partial)
            if len(self._tariff_keys) > 64:
                self._tariff_keys.clear()
            found = self._tariff_keys[id(tariff)] = (tariff, key)
        return found[1]

    def version_key(self, tariff, version, tag: str, weight) -> bytes:
        """What a version's charges share: the tariff's structure, the version's dates and weight."""
        # the weight is the share of each period's days in the version's dates: fixed by the dates, since a
        # memo belongs to one set of bill periods
        return _digest(self._tariff_key(tariff), version.effective, version.expires, tag, weight is None)

    @staticmethod
    def charge_key(charge, prices: bool = True) -> bytes:
        """A charge's identity; ``prices=False``: all but its prices (what a block split depends on)."""
        if not prices:
            blocks = getattr(charge.spec, "blocks", None)
            return _digest(charge.kind, None if blocks is None else (blocks.unit, blocks.units, blocks.scope),
                           *(None if a is None else (a.shape, a.tolist()) for a in (charge.limits, charge.limit_units)))
        arrays = tuple(None if a is None else (a.dtype.str, a.shape, a.tolist() if a.dtype == object
                                               else np.ascontiguousarray(a).tobytes())
                       for a in (charge.rates, charge.limits, charge.limit_units))
        return _digest(charge.kind, charge.description, charge.spec, arrays)

    def context(self, tariff, build):
        """The pricing context of ``tariff``'s structure on these determinants (built once by ``build()``)."""
        key = (b"context", self._tariff_key(tariff))
        found = self._lines.get(key)
        if found is None:
            found = build()
            self.put(key, found)
        return found

    def tariff_key(self, tariff) -> bytes:
        """The whole tariff's identity for pricing: its structure and every version's dates and charges."""
        return _digest(self._tariff_key(tariff), [(v.effective, v.expires, [self.charge_key(c) for c in v.charges])
                                                  for v in tariff.versions])

    def get(self, key):
        part = self._lines.pop(key, None)
        if part is None:
            self.misses += 1
            return None
        self.hits += 1
        self._lines[key] = part  # the most recently used goes last
        return part

    def put(self, key, part) -> None:
        size = _nbytes(part)
        while self._lines and sum(self._sizes.values()) + size > self.max_bytes:
            oldest = next(iter(self._lines))
            del self._lines[oldest], self._sizes[oldest]
        self._lines[key] = part
        self._sizes[key] = size

    def clear(self) -> None:
        self._lines.clear()
        self._sizes.clear()
        self._tariff_keys.clear()


def _nbytes(value) -> int:
    """Bytes of the numpy arrays ``value`` owns (broadcast views and views of other arrays count nothing)."""
    if isinstance(value, np.ndarray):
        return value.nbytes if value.base is None else 0
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(_nbytes(getattr(value, name)) for name in value.__dataclass_fields__)
    return 0


def _is_demand(charge) -> bool:
    """A charge on a demand per bill period ($/kW, $/kVA, $/kVAR): prorated on a partial period."""
    return charge.kind in ("demand", "demand_blocks", "reactive_demand") or (
        charge.kind == "power_factor" and charge.spec.method == "excess_kvar")


def _version_weights(tariff, periods):
    """Each version's share of each period's days (M, B), the versions in force, and the periods none covers."""
    days = np.maximum(periods.days, 1)
    weights = [periods.overlap_days(v.effective, v.expires) / days for v in tariff.versions]
    active = [i for i, w in enumerate(weights) if (w > 0).any()]
    uncovered = periods.valid & (np.sum(weights, axis=0) < 1 - 1e-9)
    return weights, active, uncovered


def _annual_shortfall(amount, billed, periods):
    """(M, B) the annual minimum's top-up, on the bill period of each year that ends in December."""
    last_day = periods.end - 1
    year = last_day.astype("datetime64[Y]").astype(int)
    december = (last_day.astype("datetime64[M]").astype(int) % 12 == 11) & periods.valid
    out = np.zeros(billed.shape)
    for y in np.unique(year[december]):
        in_year = (year == y) & periods.valid
        total = np.where(in_year, billed, 0.0).sum(axis=1, keepdims=True)
        target = december & (year == y)
        # the last December-ending period of the year carries the top-up
        last = target & (np.cumsum(target[:, ::-1], axis=1)[:, ::-1] == 1)
        out = np.where(last, np.maximum(amount - total, 0.0), out)
    return out


def _in_force(tariff) -> str:
    """'from 2017-01-01' or 'from 2020-01-01 to 2020-12-31' (inclusive), with any gaps between versions."""
    spans = sorted((v.effective, v.expires) for v in tariff.versions)
    parts = []
    for start, end in spans:
        if parts and parts[-1][1] == start:
            parts[-1][1] = end
        else:
            parts.append([start, end])
    return " and ".join(f"from {a}" + (f" to {b - dt.timedelta(days=1)}" if b is not None else "") for a, b in parts)
