"""Compile a validated tariff into schedule arrays and rate tables.

The scan needs, for every interval, which *energy bucket* (season × ToU period) and which *demand bucket*
it falls in; both come from a (month, day type, minute of day) grid looked up with the local time of each
interval. Pricing needs rate tables indexed by those buckets. Nothing here touches interval data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from workbench.calendar import DAY_TYPES, HOLIDAY
from workbench.errors import TariffError
from workbench.tariffs import model as m
from workbench.tariffs.block_units import DEMAND_UNITS, check_limits, limit_units
from workbench.tariffs.prices import read_price_series

MINUTES = 1440
#: charge kinds priced on reactive determinants (workbench.engine.reactive)
REACTIVE_KINDS = ("reactive_demand", "power_factor")


@dataclass
class CompiledCharge:
    """One charge of a version with its rates resolved to arrays.

    kind: customer | energy | energy_blocks | demand | demand_blocks | rtp | rider | minimum | tax |
    reactive_demand | power_factor
    """

    kind: str
    description: str
    spec: object
    rates: np.ndarray | None = None  # energy: (E,), demand: (S,) or (D,), blocks: (..., K)
    limits: np.ndarray | None = None  # blocks: (S, K-1) or (S, K-1) kW
    limit_units: np.ndarray | None = None  # energy blocks: (S, K-1) the unit of each limit (kWh, kWh/kW...)


@dataclass
class CompiledVersion:
    effective: dt.date
    expires: dt.date | None
    charges: list[CompiledCharge]


@dataclass
class CompiledTariff:
    code: str
    name: str
    timezone: str | None
    holidays: str
    season_names: list[str]
    month_season: np.ndarray  # (12,) season index of each month
    tou_names: list[str]
    energy_grid: np.ndarray  # (12, 3, 1440) int16 energy bucket = season * n_tou + tou
    demand_tou_names: list[str]
    demand_grid: np.ndarray  # (12, 3, 1440) int16 demand bucket = season * n_dtou + dtou, -1 none
    demand_interval_minutes: int | None
    demand_method: str
    minimum_kw: float
    ratchet: m.Ratchet | None
    coincident_peaks: list[dt.datetime]
    versions: list[CompiledVersion]
    rtp_prices: object = None  # (utc datetime64[m] array, price array) when a version has an rtp charge
    source_path: str = ""
    extra: dict = field(default_factory=dict)
    demand_unit: str = "kW"  # kVA: demand charges bill sqrt(kW² + kVAR²) of each demand window
    demand_partial: str = "prorate"  # full: a partial period's demand charges are not prorated (demand.partial_periods)

    @property
    def needs_reactive(self) -> bool:
        """Whether billing needs the meter's kVARh reads (kVA demand, $/kVAR, power-factor adjustments)."""
        return (self.demand_unit == "kVA" and self.needs_demand) or any(
            c.kind in REACTIVE_KINDS for v in self.versions for c in v.charges)

    @property
    def needs_demand(self) -> bool:
        """Whether any charge depends on measured demand (demand charges, kWh-per-kW blocks)."""
        for version in self.versions:
            for charge in version.charges:
                if charge.kind in ("demand", "demand_blocks"):
                    return True
                if charge.kind == "energy_blocks" and any(u in DEMAND_UNITS for u in charge.limit_units.flat):
                    return True
        return False

    @property
    def n_energy_buckets(self) -> int:
        return len(self.season_names) * len(self.tou_names)

    @property
    def n_demand_buckets(self) -> int:
        return len(self.season_names) * len(self.demand_tou_names)

    def energy_bucket_label(self, bucket: int) -> str:
        season, tou = divmod(bucket, len(self.tou_names))
        return _label(self.season_names[season], self.tou_names[tou], len(self.season_names), len(self.tou_names))

    def demand_bucket_label(self, bucket: int) -> str:
        n = len(self.demand_tou_names)
        season, tou = divmod(bucket, n)
        return _label(self.season_names[season], self.demand_tou_names[tou], len(self.season_names), n)


def _label(season: str, period: str, n_seasons: int, n_periods: int) -> str:
    parts = [p for p, n in ((season, n_seasons), (period, n_periods)) if n > 1]
    return " ".join(parts).replace("_", "-")


class _Where:
    """Builds error messages that name the file and the field."""

    def __init__(self, source: str):
        self.source = source

    def error(self, path: str, message: str) -> TariffError:
        return TariffError(f"{self.source}: {path}: {message}")


def _season_index(spec: m.TariffSpec, where: _Where) -> tuple[list[str], np.ndarray]:
    names = list(spec.seasons)
    month_season = np.full(12, -1, dtype=np.int16)
    for i, name in enumerate(names):
        for month in spec.seasons[name]:
            if not 1 <= month <= 12:
                raise where.error(f"seasons.{name}", f"month {month} is not 1-12")
            if month_season[month - 1] >= 0:
                raise where.error(
                    f"seasons.{name}", f"month {month} is already in season {names[month_season[month - 1]]!r}"
                )
            month_season[month - 1] = i
    missing = [i + 1 for i in range(12) if month_season[i] < 0]
    if missing:
        raise where.error("seasons", f"months {missing} are in no season; every month needs exactly one season")
    return names, month_season


def _tou_grid(tou: m.TimeOfUse | None, spec, season_names, month_season, where, path, must_cover):
    """(12, 3, 1440) grid of ToU period index (-1 uncovered); checks overlaps (and coverage)."""
    if tou is None:
        return ["all"], np.zeros((12, 3, MINUTES), dtype=np.int16)
    names = list(tou.periods)
    if not names:
        raise where.error(f"{path}.periods", "no periods defined")
    grid = np.full((12, 3, MINUTES), -1, dtype=np.int16)
    for p, name in enumerate(names):
        for w, window in enumerate(tou.periods[name]):
            wpath = f"{path}.periods.{name}[{w}]"
            seasons = season_names if "all" in window.seasons else window.seasons
            for s in seasons:
                if s not in season_names:
                    raise where.error(f"{wpath}.seasons", f"unknown season {s!r}; seasons are {season_names}")
            months = [mo for mo in range(12) if season_names[month_season[mo]] in seasons]
            days = list(DAY_TYPES.values()) if "all" in window.days else [DAY_TYPES[d] for d in window.days]
            minutes = np.zeros(MINUTES, dtype=bool)
            for text in [window.hours] if isinstance(window.hours, str) else window.hours:
                start, end = m.parse_hours(text)
                if end > start:
                    minutes[start:end] = True
                else:
                    minutes[start:] = True
                    minutes[:end] = True
            for mo in months:
                for d in days:
                    clash = minutes & (grid[mo, d] >= 0)
                    if clash.any():
                        other = names[grid[mo, d][clash][0]]
                        minute = int(np.argmax(clash))
                        raise where.error(
                            wpath,
                            f"overlaps period {other!r} in month {mo + 1} on {_day_name(d)}s at "
                            f"{minute // 60:02d}:{minute % 60:02d}; each time may belong to one period only",
                        )
                    grid[mo, d][minutes] = p
    if must_cover:
        day_types = [0, 1, 2] if spec.holidays != "none" else [0, 1]
        for mo in range(12):
            for d in day_types:
                gap = grid[mo, d] < 0
                if gap.any():
                    minute = int(np.argmax(gap))
                    raise where.error(
                        f"{path}.periods",
                        f"no period covers month {mo + 1} on {_day_name(d)}s at {minute // 60:02d}:{minute % 60:02d}; "
                        "every hour of every day type must belong to exactly one period",
                    )
        if spec.holidays == "none":
            grid[:, HOLIDAY] = grid[:, 0]  # never used; keeps lookups in range
    return names, grid


def _day_name(day_type: int) -> str:
    return {v: k for k, v in DAY_TYPES.items()}[day_type]


def _buckets(grid, month_season, n_periods):
    out = np.where(grid >= 0, month_season[:, None, None] * n_periods + grid, -1)
    return out.astype(np.int16)


def resolve_rate(value, seasons, periods, where, path) -> np.ndarray:
    """A RateSpec to an array (n_seasons, n_periods)."""
    out = np.full((len(seasons), len(periods)), np.nan)
    if isinstance(value, (int, float)):
        out[:] = value
        return out
    keys = set(value)
    if keys <= set(periods):
        for p, name in enumerate(periods):
            if name not in value:
                raise where.error(path, f"no rate for period {name!r}; periods are {periods}")
            if not isinstance(value[name], (int, float)):
                raise where.error(f"{path}.{name}", "expected a number [$]")
            out[:, p] = value[name]
        return out
    if keys <= set(seasons):
        for s, name in enumerate(seasons):
            if name not in value:
                raise where.error(path, f"no rate for season {name!r}; seasons are {seasons}")
            out[s] = resolve_rate(value[name], [name], periods, where, f"{path}.{name}")[0]
        return out
    unknown = sorted(keys - set(periods) - set(seasons))
    raise where.error(path, f"unknown key(s) {unknown}; expected ToU period names {periods} or season names {seasons}")


def resolve_blocks(value, seasons, periods, n_blocks, where, path) -> np.ndarray:
    """A BlockRateSpec to an array (n_seasons, n_periods, n_blocks)."""
    out = np.full((len(seasons), len(periods), n_blocks), np.nan)
    if isinstance(value, list):
        if len(value) != n_blocks:
            raise where.error(path, f"{len(value)} rates for {n_blocks} blocks (limits give {n_blocks} blocks)")
        out[:] = value
        return out
    keys = set(value)
    if keys <= set(periods):
        for p, name in enumerate(periods):
            if name not in value:
                raise where.error(path, f"no block rates for period {name!r}")
            out[:, p] = resolve_blocks(value[name], [None], [None], n_blocks, where, f"{path}.{name}")[0, 0]
        return out
    if keys <= set(seasons):
        for s, name in enumerate(seasons):
            if name not in value:
                raise where.error(path, f"no block rates for season {name!r}")
            out[s] = resolve_blocks(value[name], [name], periods, n_blocks, where, f"{path}.{name}")[0]
        return out
    unknown = sorted(keys - set(periods) - set(seasons))
    raise where.error(path, f"unknown key(s) {unknown}; expected period names {periods} or season names {seasons}")


def resolve_limits(value, seasons, where, path, blocks=None) -> np.ndarray:
    """Block limits to (n_seasons, n_blocks - 1), checked increasing (per unit, see ``block_units``) and positive."""
    if isinstance(value, list):
        rows = [value] * len(seasons)
    else:
        unknown = sorted(set(value) - set(seasons))
        if unknown:
            raise where.error(path, f"unknown season(s) {unknown}; seasons are {seasons}")
        missing = [s for s in seasons if s not in value]
        if missing:
            raise where.error(path, f"no block limits for season(s) {missing}")
        rows = [value[s] for s in seasons]
        if len({len(r) for r in rows}) != 1:
            raise where.error(path, "every season needs the same number of blocks")
    n_limits = len(rows[0]) if rows else 0
    units = np.full((len(seasons), n_limits), "kWh", dtype=object)
    if blocks is not None:
        units = limit_units(blocks, seasons, n_limits, where, path.replace(".limits", ".units"))
    check_limits(rows, units, seasons, where, path, keyed=not isinstance(value, list))
    return np.array(rows, dtype=float).reshape(len(seasons), -1)


def compile_tariff(spec: m.TariffSpec, source: str = "<tariff>", base_dir=None) -> CompiledTariff:
    where = _Where(source)
    season_names, month_season = _season_index(spec, where)
    tou_names, tou = _tou_grid(spec.time_of_use, spec, season_names, month_season, where, "time_of_use", True)
    dtou_names, dtou = ["all"], np.zeros((12, 3, MINUTES), dtype=np.int16)
    if spec.demand.time_of_use is not None:
        dtou_names, dtou = _tou_grid(
            spec.demand.time_of_use, spec, season_names, month_season, where, "demand.time_of_use", False
        )
    if (set(tou_names) | set(dtou_names)) & set(season_names) - {"all"}:
        raise where.error("seasons", "season names and ToU period names must differ")
    if spec.demand.interval_minutes not in (None, 1, 5, 10, 15, 30, 60):
        raise where.error("demand.interval_minutes", "expected one of 1, 5, 10, 15, 30, 60")
    if spec.demand.ratchet is not None:
        bad = [mo for mo in spec.demand.ratchet.count_months if not 1 <= mo <= 12]
        if bad:
            raise where.error("demand.ratchet.count_months", f"months {bad} are not 1-12")

    versions = sorted(spec.versions, key=lambda v: v.effective)
    compiled_versions = []
    for i, version in enumerate(versions):
        vpath = f"versions[{spec.versions.index(version)}]"
        expires = version.expires
        if i + 1 < len(versions):
            nxt = versions[i + 1].effective
            if nxt == version.effective:
                raise where.error(f"{vpath}.effective", f"two versions take effect on {nxt}")
            if expires is not None and expires > nxt:
                raise where.error(
                    f"{vpath}.expires",
                    f"version effective {version.effective} expires {expires}, after the next version takes "
                    f"effect on {nxt}: effective dates overlap",
                )
            expires = expires or nxt
        charges = [
            _compile_charge(c, f"{vpath}.charges[{j}]", spec, season_names, tou_names, dtou_names, where)
            for j, c in enumerate(version.charges)
        ]
        compiled_versions.append(CompiledVersion(version.effective, expires, charges))

    rtp = None
    rtp_specs = [c.spec for v in compiled_versions for c in v.charges if c.kind == "rtp"]
    if rtp_specs:
        files = {s.prices for s in rtp_specs}
        if len(files) != 1:
            raise where.error("versions", "all versions must use one real-time price file")
        rtp = read_price_series(files.pop(), base_dir=base_dir, source=source)

    return CompiledTariff(
        code=spec.code,
        name=spec.name,
        timezone=spec.timezone,
        holidays=spec.holidays,
        season_names=season_names,
        month_season=month_season,
        tou_names=tou_names,
        energy_grid=_buckets(tou, month_season, len(tou_names)),
        demand_tou_names=dtou_names,
        demand_grid=_buckets(dtou, month_season, len(dtou_names)),
        demand_interval_minutes=spec.demand.interval_minutes,
        demand_method=spec.demand.method,
        minimum_kw=spec.demand.minimum_kw,
        ratchet=spec.demand.ratchet,
        coincident_peaks=list(spec.demand.coincident_peaks),
        versions=compiled_versions,
        rtp_prices=rtp,
        source_path=source,
        demand_unit=spec.demand.unit,
        demand_partial=spec.demand.partial_periods,
    )


def _compile_charge(charge, path, spec, seasons, tous, dtous, where) -> CompiledCharge:
    if isinstance(charge, m.EnergyCharge):
        if charge.rates is not None:
            rates = resolve_rate(charge.rates, seasons, tous, where, f"{path}.rates").reshape(-1)
            return CompiledCharge("energy", charge.description, charge, rates=rates)
        limits = resolve_limits(charge.blocks.limits, seasons, where, f"{path}.blocks.limits", charge.blocks)
        n_blocks = limits.shape[1] + 1
        rates = resolve_blocks(charge.blocks.rates, seasons, tous, n_blocks, where, f"{path}.blocks.rates")
        units = limit_units(charge.blocks, seasons, n_blocks - 1, where, f"{path}.blocks.units")
        return CompiledCharge(
            "energy_blocks", charge.description, charge, rates=rates.reshape(-1, n_blocks), limits=limits,
            limit_units=units,
        )
    if isinstance(charge, m.DemandCharge):
        periods = dtous if charge.measure == "tou" else ["all"]
        if charge.measure == "tou" and spec.demand.time_of_use is None:
            raise where.error(f"{path}.measure", "a 'tou' demand charge needs demand.time_of_use periods")
        if charge.measure == "coincident" and not spec.demand.coincident_peaks:
            raise where.error(f"{path}.measure", "a 'coincident' demand charge needs demand.coincident_peaks, or "
                                  "a system-peak file (--system-peaks FILE, docs/coincident-peaks.md)")
        if charge.rates is not None:
            rates = resolve_rate(charge.rates, seasons, periods, where, f"{path}.rates")
            return CompiledCharge("demand", charge.description, charge, rates=rates.reshape(-1))
        limits = resolve_limits(charge.blocks.limits, seasons, where, f"{path}.blocks.limits")
        n_blocks = limits.shape[1] + 1
        rates = resolve_blocks(charge.blocks.rates, seasons, periods, n_blocks, where, f"{path}.blocks.rates")
        return CompiledCharge(
            "demand_blocks", charge.description, charge, rates=rates.reshape(-1, n_blocks), limits=limits
        )
    if isinstance(charge, m.CustomerCharge):
        return CompiledCharge("customer", charge.description, charge)
    if isinstance(charge, m.RealTimeCharge):
        return CompiledCharge("rtp", charge.description, charge)
    if isinstance(charge, m.Rider):
        if isinstance(charge.rate, dict):
            bad = [k for k in charge.rate if not 1 <= k <= 12]
            if bad or len(charge.rate) != 12:
                raise where.error(f"{path}.rate", "a monthly rider rate needs one value for each month 1-12")
        return CompiledCharge("rider", charge.description, charge)
    if isinstance(charge, m.Minimum):
        return CompiledCharge("minimum", charge.description, charge)
    if isinstance(charge, m.Tax):
        return CompiledCharge("tax", charge.description, charge)
    if isinstance(charge, m.ReactiveDemandCharge):
        return CompiledCharge("reactive_demand", charge.description, charge)
    if isinstance(charge, m.PowerFactorCharge):
        return CompiledCharge("power_factor", charge.description, charge)
    raise where.error(path, f"unsupported charge {charge!r}")
