"""The meter registry (meter master): which physical meter feeds which cube row, with what multiplier, when.

See ``docs/registry.md``. A registry is loaded from a CSV or YAML file and validated on load: every error
names the file, the row and the field. One :class:`Meter` per physical meter; its ``service_point`` is the
cube row its reads land in, so after a meter exchange (two meters on one service point, consecutive install
windows) both meters' reads bill the same account.

Install windows are half-open: a meter records from ``install`` (inclusive) to ``removal`` (exclusive),
both local wall-clock times in the meter's ``timezone`` (a date alone means local midnight).
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from workbench.ami.readers._text import bounded_lines
from workbench.errors import WorkbenchError

CUSTOMER_CLASSES = ("RES", "SGS", "LGS")
CHANNELS = ("delivered", "received")
UNITS = {"kwh": "kWh", "wh": "Wh", "mwh": "MWh"}
#: the most a service of each class can draw or feed when the registry gives no ``max_kw`` [kW]: a 400 A
#: 240 V residential service (96 kVA), a self-contained CL320 meter at 480 V three-phase (266 kVA), a large
#: customer's transformer-rated service; a meter with CT x PT > 1 at least ``MAX_KW_PER_MULTIPLIER`` x
#: the multiplier (a class-20 meter: 20 A x 480 V x sqrt(3) = 16.6 kVA on the secondary side)
DEFAULT_MAX_KW = {"RES": 100.0, "SGS": 300.0, "LGS": 1000.0}
MAX_KW_PER_MULTIPLIER = 20.0
#: no instrument transformer has a larger ratio (a 50,000:5 A CT is 10,000; a 500 kV PT is ~4,500)
MAX_RATIO = 10_000.0
#: no single service point draws more [kW] (a 1 GW interconnection)
MAX_SERVICE_KW = 1e6
_YES = {"yes", "y", "true", "t", "1"}
_NO = {"no", "n", "false", "f", "0", ""}
#: attributes every meter of one service point must agree on (the cube holds one value per row)
ROW_ATTRIBUTES = ("account", "customer_class", "rate_code", "cycle", "nem_program")


class RegistryError(WorkbenchError):
    """The meter registry file is invalid (the message names the file, row and field)."""


@dataclass(frozen=True)
class Meter:
    """One physical meter.

    Attributes
    ----------
    meter_id : the id interval files use for this meter.
    service_point : the cube row (``meter`` coordinate) its reads land in.
    account : the billing account of the service point.
    customer_class : ``RES``, ``SGS`` or ``LGS``.
    rate_code : tariff code (``tariffs/<code>.yaml``).
    cycle : bill cycle (read route), >= 1.
    nem_program : net-metering program code, ``""`` for none.
    channels : the channels the meter records, a subset of ``("delivered", "received")``.
    unit : unit of the meter's values when a file does not say (kWh, Wh, MWh).
    ct_ratio, pt_ratio : current and potential transformer ratios (> 0); the multiplier is their product.
    multiplier_applied : True if the source values already include CT × PT (then they are not applied again).
    install, removal : install window [local wall-clock time], None = open-ended.
    timezone : IANA zone of ``install``/``removal`` ("" = the utility's time zone).
    max_kw : the most the service can draw or feed [kW], None = the class default (:func:`default_max_kw`);
        VEE's IMPLAUSIBLE rule withholds a read above it.
    row : line (CSV) or entry number (YAML) in the registry file.
    """

    meter_id: str
    service_point: str
    account: str
    customer_class: str
    rate_code: str
    cycle: int = 1
    nem_program: str = ""
    channels: tuple[str, ...] = ("delivered",)
    unit: str = "kWh"
    ct_ratio: float = 1.0
    pt_ratio: float = 1.0
    multiplier_applied: bool = False
    install: dt.datetime | None = None
    removal: dt.datetime | None = None
    timezone: str = ""
    max_kw: float | None = None
    row: int = 0

    @property
    def multiplier(self) -> float:
        """CT ratio × PT ratio."""
        return self.ct_ratio * self.pt_ratio

    @property
    def limit_kw(self) -> float:
        """``max_kw``, or the class default for the meter's multiplier."""
        return self.max_kw if self.max_kw is not None else default_max_kw(self.customer_class, self.multiplier)

    def window_utc(self, default_tz: str) -> tuple[np.datetime64 | None, np.datetime64 | None]:
        """The install window as naive UTC datetime64[us] (None = open-ended)."""
        tz = zoneinfo.ZoneInfo(self.timezone or default_tz)
        return _to_utc(self.install, tz), _to_utc(self.removal, tz)


def default_max_kw(customer_class: str, multiplier: float = 1.0) -> float:
    """The physical limit of a service without ``max_kw`` [kW]: the class default, at least
    ``MAX_KW_PER_MULTIPLIER`` x CT x PT for a transformer-rated meter (docs/registry.md)."""
    base = DEFAULT_MAX_KW.get(str(customer_class).upper(), max(DEFAULT_MAX_KW.values()))
    return max(base, MAX_KW_PER_MULTIPLIER * float(multiplier)) if multiplier > 1 else base


def _to_utc(local: dt.datetime | None, tz) -> np.datetime64 | None:
    if local is None:
        return None
    utc = local.replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)
    return np.datetime64(utc, "us")


COLUMNS = tuple(f.name for f in fields(Meter) if f.name != "row")
_FILE_COLUMNS = tuple(c if c not in ("install", "removal") else f"{c}_date" for c in COLUMNS)
_REQUIRED = ("meter_id", "customer_class", "rate_code")


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
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        records = _yaml_records(path)
        where = "entry"
    else:
        records = _csv_records(path)
        where = "line"
    meters = [_parse_record(path, where, row, rec) for row, rec in records]
    if not meters:
        raise RegistryError(f"{path}: the registry lists no meters")
    return MeterRegistry(meters, str(path))


def _csv_records(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(bounded_lines(f, path))
            header = next(reader, None)
            if not header:
                raise RegistryError(f"{path}: the file is empty (expected a header line with meter_id, ...)")
            header = [h.strip().lower() for h in header]
            _check_columns(path, header)
            out = []
            for line_no, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise RegistryError(
                        f"{path}: line {line_no}: {len(values)} fields, but the header has {len(header)}"
                    )
                out.append((line_no, dict(zip(header, values, strict=True))))
            return out
    except UnicodeDecodeError as e:
        raise RegistryError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the registry as CSV "
                            "UTF-8") from None
    except csv.Error as e:
        raise RegistryError(f"{path}: not a readable CSV ({e})") from None


def _yaml_records(path: Path):
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise RegistryError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the registry as "
                            "UTF-8") from None
    except yaml.YAMLError as e:
        raise RegistryError(f"{path}: not valid YAML: {e}") from None
    if isinstance(doc, dict):
        doc = doc.get("meters")
    if not isinstance(doc, list):
        raise RegistryError(f"{path}: expected a list of meters (or a mapping with a 'meters' list)")
    out = []
    for i, rec in enumerate(doc, start=1):
        if not isinstance(rec, dict):
            raise RegistryError(f"{path}: entry {i}: expected a mapping of fields, got {type(rec).__name__}")
        rec = {str(k).strip().lower(): ("" if v is None else v) for k, v in rec.items()}
        _check_columns(path, list(rec), where=f"entry {i}: ")
        out.append((i, rec))
    return out


def _check_columns(path, names, where=""):
    unknown = [n for n in names if n not in _FILE_COLUMNS]
    if unknown:
        raise RegistryError(
            f"{path}: {where}unknown column(s) {unknown}; the registry's columns are {list(_FILE_COLUMNS)}"
        )
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        raise RegistryError(f"{path}: {where}required column(s) {missing} missing")


def _parse_record(path, where, row, rec: dict) -> Meter:
    def err(field, msg):
        return RegistryError(f"{path}: {where} {row}: {field}: {msg}")

    def text(field, default=""):
        value = rec.get(field, "")
        value = "" if value is None else str(value).strip()
        return value or default

    meter_id = text("meter_id")
    if not meter_id:
        raise err("meter_id", "empty (every meter needs an id)")
    service_point = text("service_point", meter_id)
    cls = text("customer_class").upper()
    if cls not in CUSTOMER_CLASSES:
        raise err("customer_class", f"{text('customer_class')!r} is not one of {list(CUSTOMER_CLASSES)}")
    rate_code = text("rate_code")
    if not rate_code:
        raise err("rate_code", "empty (the tariff code the meter is billed on, e.g. RES-TOU)")
    nem_program = text("nem_program")
    cycle_text = text("cycle", "1")
    try:
        cycle = int(float(cycle_text))
        if cycle != float(cycle_text) or not 1 <= cycle <= 32767:
            raise ValueError
    except (ValueError, OverflowError):
        raise err("cycle", f"{cycle_text!r} is not a bill cycle number (a whole number >= 1)") from None
    channels_text = text("channels", "delivered+received" if nem_program else "delivered")
    tokens = [t for t in channels_text.replace(";", " ").replace("+", " ").replace(",", " ").split() if t]
    channels = []
    for t in tokens:
        if t.lower() not in CHANNELS:
            raise err("channels", f"{t!r} is not a channel: use delivered, received or delivered+received")
        channels.append(t.lower())
    channels = tuple(c for c in CHANNELS if c in channels)
    if not channels:
        raise err("channels", "empty: use delivered, received or delivered+received")
    unit = UNITS.get(text("unit", "kWh").lower())
    if unit is None:
        raise err("unit", f"{text('unit')!r} is not an energy unit (kWh, Wh or MWh)")
    ratios = {}
    for field in ("ct_ratio", "pt_ratio"):
        raw = text(field, "1")
        try:
            value = float(raw)
        except ValueError:
            raise err(field, f"{raw!r} is not a number") from None
        if not np.isfinite(value) or value <= 0:
            raise err(field, f"{raw} must be a positive number (1 for a self-contained meter)")
        if value > MAX_RATIO:
            raise err(field, f"{raw} is beyond any instrument transformer's ratio (at most {MAX_RATIO:,.0f}; "
                             "write the ratio, e.g. 80 for 400:5)")
        ratios[field] = value
    max_kw = None
    raw = text("max_kw")
    if raw:
        try:
            max_kw = float(raw)
        except ValueError:
            raise err("max_kw", f"{raw!r} is not a number of kW") from None
        if not np.isfinite(max_kw) or not 0 < max_kw <= MAX_SERVICE_KW:
            raise err("max_kw", f"{raw} must be a number of kW above 0 and at most {MAX_SERVICE_KW:,.0f} (blank: "
                                "the class default)")
    applied_text = text("multiplier_applied").lower()
    if applied_text in _YES:
        applied = True
    elif applied_text in _NO:
        applied = False
    else:
        raise err("multiplier_applied", f"{text('multiplier_applied')!r}: say yes or no")
    tz = text("timezone")
    if tz:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise err("timezone", f"{tz!r} is not an IANA time zone (e.g. America/New_York)") from None
    install = _parse_when(rec.get("install_date"), lambda m: err("install_date", m))
    removal = _parse_when(rec.get("removal_date"), lambda m: err("removal_date", m))
    if install is not None and removal is not None and removal <= install:
        raise err("removal_date", f"{removal} is not after install_date {install}")
    return Meter(
        meter_id=meter_id, service_point=service_point, account=text("account", service_point),
        customer_class=cls, rate_code=rate_code, cycle=cycle, nem_program=nem_program, channels=channels,
        unit=unit, ct_ratio=ratios["ct_ratio"], pt_ratio=ratios["pt_ratio"], multiplier_applied=applied,
        install=install, removal=removal, timezone=tz, max_kw=max_kw, row=row,
    )


def _parse_when(value, err) -> dt.datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else _aware_error(err, value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = str(value).strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise err(f"{text!r} is not a date like 2025-03-14 (or a local time like 2025-03-14T10:30)") from None
    if parsed.tzinfo is not None:
        return _aware_error(err, text)
    return parsed


def _aware_error(err, value):
    raise err(f"{value!r} has a UTC offset; write the local date or time (the meter's timezone applies)")


def _validate_meters(meters, source) -> None:
    seen: dict[str, Meter] = {}
    for m in meters:
        if m.meter_id in seen:
            raise RegistryError(
                f"{source}: row {m.row}: meter_id: {m.meter_id!r} is listed twice (also row {seen[m.meter_id].row})"
            )
        seen[m.meter_id] = m
    by_sp: dict[str, list[Meter]] = {}
    for m in meters:
        by_sp.setdefault(m.service_point, []).append(m)
    for sp, ms in by_sp.items():
        first = ms[0]
        for m in ms[1:]:
            for attr in ROW_ATTRIBUTES:
                if getattr(m, attr) != getattr(first, attr):
                    raise RegistryError(
                        f"{source}: row {m.row}: {attr}: {getattr(m, attr)!r} differs from row {first.row} "
                        f"({getattr(first, attr)!r}), another meter on service point {sp!r}; the meters of one "
                        "service point bill one account and must agree"
                    )
        if len(ms) > 1:
            ordered = sorted(ms, key=lambda m: m.install or dt.datetime.min)
            for a, b in zip(ordered, ordered[1:], strict=False):
                a_end = a.removal or dt.datetime.max
                if b.install is None or a_end > b.install:
                    raise RegistryError(
                        f"{source}: rows {a.row} and {b.row}: meters {a.meter_id!r} and {b.meter_id!r} are both "
                        f"installed on service point {sp!r} at the same time (install {a.install or 'open'} to "
                        f"{a.removal or 'open'} and {b.install or 'open'} to {b.removal or 'open'}); give the "
                        "old meter a removal_date on or before the new meter's install_date"
                    )


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
