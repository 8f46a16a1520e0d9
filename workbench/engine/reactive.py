"""Reactive power in the bill: kVA demand, $/kVAR reactive demand and power-factor adjustments.

The reactive scan (:mod:`workbench.kernels.reactive_scan`) runs only for a tariff that needs it
(``CompiledTariff.needs_reactive``); its determinants ride on :class:`workbench.engine.pricing.Determinants`
as ``reactive``. A meter with no kVARh reads, or a bill period with missing kVARh intervals, is refused with a
reason (:func:`reactive_refusals`): it is never billed as if its power factor were 1.

Power factor (``docs/reactive-power.md``): PF = kW / sqrt(kW² + kVAR²). ``basis: period`` takes kW and kVAR
from the period's kWh and kVARh (the same ratio); ``basis: peak`` from the demand window of the kW peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.kernels.reactive_scan import REACTIVE_OUTPUTS, scan_reactive


@dataclass
class ReactiveDeterminants:
    """(M, B) arrays of the reactive scan; ``has_channel`` (M,) whether the meter records kVARh at all."""

    kvarh: np.ndarray
    max_kvar: np.ndarray
    kw_at_peak: np.ndarray
    kvar_at_peak: np.ndarray
    peak_kva: np.ndarray
    tou_peak_kva: np.ndarray
    kvar_missing: np.ndarray
    has_channel: np.ndarray

    def take(self, rows) -> ReactiveDeterminants:
        return ReactiveDeterminants(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


def reactive_determinants(tariff, schedule, delivered, reactive, bounds, parallel=True) -> ReactiveDeterminants | None:
    """The reactive determinants of ``(meter, time)`` arrays, or None when the tariff needs none (no cost).

    ``reactive``: (M, T) kVARh per interval with NaN for no read, or None (no meter records kVARh).
    """
    if not tariff.needs_reactive:
        return None
    delivered = np.asarray(delivered)
    if reactive is None:
        reactive = np.full(delivered.shape, np.nan)
    out = scan_reactive(delivered, reactive, bounds, schedule.demand_bucket, tariff.n_demand_buckets,
                        block_pos=schedule.block_pos, window=schedule.window, rolling=schedule.rolling,
                        kw_factor=schedule.kw_factor, parallel=parallel)
    has = ~np.isnan(np.asarray(reactive)).all(axis=1) if np.asarray(reactive).shape[1] else np.zeros(len(delivered), bool)
    return ReactiveDeterminants(**{k: out[k] for k in REACTIVE_OUTPUTS}, has_channel=has)


def reactive_refusals(tariff, rdet: ReactiveDeterminants | None, periods, labels) -> dict[int, str]:
    """{meter row: reason} of the meters this tariff cannot bill for lack of kVARh reads (valid periods only)."""
    if not tariff.needs_reactive:
        return {}
    what = _needs(tariff)
    out = {}
    n = periods.valid.shape[0]
    for m in range(n):
        label = labels[m] if labels is not None else f"meter row {m}"
        if rdet is None or not rdet.has_channel[m]:
            out[m] = (f"{label}: tariff {tariff.code} bills {what}, which needs the meter's reactive channel "
                      "(kVARh reads); the meter has none: add its kVARh reads, or bill it on a tariff without "
                      "reactive charges")
            continue
        gaps = np.flatnonzero(periods.valid[m] & (rdet.kvar_missing[m] > 0))
        if len(gaps):
            b = int(gaps[0])
            out[m] = (f"{label}: tariff {tariff.code} bills {what}, but the reactive channel (kVARh) misses "
                      f"{int(rdet.kvar_missing[m, b])} interval(s) in the bill period {periods.start[m, b]} to "
                      f"{periods.end[m, b]} (end exclusive); estimate them (VEE) or fix the feed")
    return out


def _needs(tariff) -> str:
    kinds = []
    if tariff.demand_unit == "kVA" and tariff.needs_demand:
        kinds.append("demand in kVA")
    for version in tariff.versions:
        for c in version.charges:
            name = {"reactive_demand": "a $/kVAR reactive demand charge",
                    "power_factor": "a power-factor adjustment"}.get(c.kind)
            if name and name not in kinds:
                kinds.append(name)
    return " and ".join(kinds)


def _tan(pf: float) -> float:
    """kVAR per kW at power factor ``pf``: tan(acos(pf))."""
    return float(np.sqrt(max(1.0 - pf * pf, 0.0)) / pf)


def kw_kvar(spec, det) -> tuple[np.ndarray, np.ndarray]:
    """(M, B) the kW and kVAR a power-factor charge compares (see the module docstring for ``basis``)."""
    r = det.reactive
    kw = r.kw_at_peak
    if spec.basis == "peak":
        return kw, r.kvar_at_peak
    kwh = det.delivered_kwh
    ratio = np.divide(r.kvarh, kwh, out=np.zeros_like(kwh), where=kwh > 0)
    return kw, kw * ratio


def actual_pf(spec, det) -> np.ndarray:
    """(M, B) the actual power factor (1 where there is no kW and no kVAR)."""
    r = det.reactive
    if spec.basis == "peak":
        p, q = r.kw_at_peak, r.kvar_at_peak
    else:
        p, q = det.delivered_kwh, r.kvarh
    s = np.hypot(p, q)
    return np.divide(p, s, out=np.ones_like(s), where=s > 0)


def demand_multiplier(version, det, shape) -> tuple[np.ndarray, object]:
    """(M, B) factor on billing demand of the version's ``demand_multiplier`` power-factor charge (1 if none)."""
    for charge in version.charges:
        if charge.kind == "power_factor" and charge.spec.method == "demand_multiplier":
            spec = charge.spec
            pf = actual_pf(spec, det)
            target = spec.target if spec.target is not None else spec.threshold
            factor = np.where(pf < spec.threshold, target / np.maximum(pf, 1e-6), 1.0)
            return np.broadcast_to(factor, shape), charge
    return np.ones(shape), None


def price_reactive(tariff, charge, det, ctx, add, pf_factor) -> None:
    """Line items of one reactive charge through ``add(description, category, unit, quantity, rate)``."""
    spec = charge.spec
    r = det.reactive
    if charge.kind == "reactive_demand":
        kvar = r.max_kvar if spec.measure == "max" else r.kvar_at_peak
        add(spec.description, "demand", "kVAR", kvar, spec.rate)
    elif spec.method == "excess_kvar":
        kw, kvar = kw_kvar(spec, det)
        excess = np.maximum(kvar - kw * _tan(spec.threshold), 0.0)
        add(f"{spec.description} (kVAR above PF {spec.threshold:g})", "demand", "kVAR", excess, spec.rate)
    else:
        # informational, $0: the actual PF where billing demand was scaled (the demand lines carry the money)
        pf = actual_pf(spec, det)
        scaled = pf_factor != 1.0
        add(f"{spec.description}: power factor (billing demand × target / actual)", "demand", "PF",
            np.where(scaled, pf, 0.0), np.where(scaled, pf_factor, 0.0), np.zeros(pf.shape))
