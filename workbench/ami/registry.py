"""The meter registry (meter master): which physical meter feeds which cube row, with what multiplier, when.

See ``docs/registry.md``. A registry is loaded from a CSV or YAML file and validated on load: every error
names the file, the row and the field. One :class:`Meter` per physical meter; its ``service_point`` is the
cube row its reads land in, so after a meter exchange (two meters on one service point, consecutive install
windows) both meters' reads bill the same account.

The :class:`Meter` record and the registry's vocabulary live in :mod:`workbench.ami.registry_meter`, a row's
pydantic definition in :mod:`workbench.ami.registry_model`, the reading and checking of a file's rows in
:mod:`workbench.ami.registry_rows`.

Install windows are half-open: a meter records from ``install`` (inclusive) to ``removal`` (exclusive),
both local wall-clock times in the meter's ``timezone`` (a date alone means local midnight).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from workbench.ami.registry_meter import (
    _FILE_COLUMNS,
    CHANNELS,
    COLUMNS,
    CUSTOMER_CLASSES,
    Meter,
    RegistryError,
    default_max_kw,
)
from workbench.ami.registry_rows import _validate_meters, paused_gc, read_meters


class MeterRegistry:
    """The meters of a utility, validated; look meters up by id with ``registry[meter_id]``."""

    def __init__(self, meters, source: str = "<registry>", *, validate: bool = True):
        self.meters: tuple[Meter, ...] = tuple(meters)
        self.source = str(source)
        self._index = {m.meter_id: i for i, m in enumerate(self.meters)}
        self._by_sp: dict[str, list[Meter]] | None = None
        if validate:
            _validate_meters(self.meters, self.source)

    def __len__(self) -> int:
        return len(self.meters)

    def __iter__(self) -> Iterator[Meter]:
        return iter(self.meters)

    def __contains__(self, meter_id) -> bool:
        return meter_id in self._index

    def __getitem__(self, meter_id: str) -> Meter:
        try:
            return self.meters[self._index[meter_id]]
        except KeyError:
            raise KeyError(f"meter {meter_id!r} is not in the registry {self.source}") from None

    def __repr__(self) -> str:
        return f"MeterRegistry({len(self)} meters, {len(self.service_points())} service points, {self.source})"

    @property
    def meter_ids(self) -> list[str]:
        return [m.meter_id for m in self.meters]

    def service_points(self) -> list[str]:
        """Service points (cube rows) in order of first appearance."""
        return list(dict.fromkeys(m.service_point for m in self.meters))

    def meters_of(self, service_point: str) -> list[Meter]:
        """The meters of one service point, oldest install first."""
        if self._by_sp is None:
            by_sp: dict[str, list[Meter]] = {}
            for m in self.meters:
                by_sp.setdefault(m.service_point, []).append(m)
            self._by_sp = {sp: sorted(ms, key=lambda m: m.install or dt.datetime.min) for sp, ms in by_sp.items()}
        return list(self._by_sp.get(service_point, []))

    def timezones(self) -> set[str]:
        """The distinct non-empty time zones of the meters."""
        return {m.timezone for m in self.meters if m.timezone}

    def with_multiplier_applied(self, applied: bool) -> MeterRegistry:
        """A copy where every meter's ``multiplier_applied`` is ``applied`` (a per-file override)."""
        return MeterRegistry([replace(m, multiplier_applied=applied) for m in self.meters], self.source,
                             validate=False)


# ---------------------------------------------------------------------------------------------------------
# loading


def load_registry(path) -> MeterRegistry:
    """Load and validate a registry from a CSV (``.csv``/``.txt``) or YAML (``.yaml``/``.yml``) file.

    Columns (CSV header, YAML keys): meter_id, service_point (default: meter_id), account (default: the
    service point), customer_class, rate_code, cycle (default 1), nem_program, channels (``delivered``,
    ``received`` or both, separated by ``+``/``;``/space; default: both with a nem_program, else delivered),
    unit (default kWh), ct_ratio, pt_ratio (default 1), multiplier_applied (yes/no, default no),
    install_date, removal_date (ISO date or local date-time; blank = open), timezone (IANA; blank = the
    utility's). Raises :class:`RegistryError` naming the file, row and field.
    """
    path = Path(path)
    if not path.exists():
        raise RegistryError(f"{path}: meter registry not found")
    with paused_gc():
        meters = read_meters(path)
        if not meters:
            raise RegistryError(f"{path}: the registry lists no meters")
        return MeterRegistry(meters, str(path))


# ---------------------------------------------------------------------------------------------------------
# from a cube, to a file


def registry_from_cube(ds) -> MeterRegistry:
    """One meter per cube row, installed throughout, both channels, values already multiplied.

    For cubes built without a registry (e.g. ``workbench sample``): ``ct_ratio`` is the cube's
    ``multiplier`` and ``multiplier_applied`` is True, as the cube stores energy with CT × PT applied. Files
    holding raw (secondary) meter values need ``multiplier_applied=False`` at ingest.
    """
    ids = [str(v) for v in ds["meter"].values]
    cols = {name: ds[name].values for name in ("account", "customer_class", "rate_code", "multiplier", "cycle",
                                                "nem_program")}
    meters = []
    for i, mid in enumerate(ids):
        meters.append(Meter(
            meter_id=mid, service_point=mid, account=str(cols["account"][i]),
            customer_class=str(cols["customer_class"][i]), rate_code=str(cols["rate_code"][i]),
            cycle=int(cols["cycle"][i]), nem_program=str(cols["nem_program"][i]), channels=CHANNELS,
            ct_ratio=float(cols["multiplier"][i]) or 1.0, multiplier_applied=True,
            timezone=str(ds.attrs.get("timezone", "")), row=i + 1,
        ))
    return MeterRegistry(meters, "<cube>", validate=False)


def write_registry_csv(registry, path) -> Path:
    """Write a registry (a :class:`MeterRegistry` or an iterable of :class:`Meter`) as CSV; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(_FILE_COLUMNS)
        for m in registry:
            writer.writerow([
                m.meter_id, m.service_point, m.account, m.customer_class, m.rate_code, m.cycle, m.nem_program,
                "+".join(m.channels), m.unit, _num(m.ct_ratio), _num(m.pt_ratio),
                "yes" if m.multiplier_applied else "no",
                _when(m.install), _when(m.removal), m.timezone, "" if m.max_kw is None else _num(m.max_kw),
            ])
    return path


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.date().isoformat() if value.time() == dt.time() else value.isoformat()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


__all__ = [
    "COLUMNS",
    "CUSTOMER_CLASSES",
    "Meter",
    "MeterRegistry",
    "RegistryError",
    "default_max_kw",
    "load_registry",
    "registry_from_cube",
    "write_registry_csv",
]
