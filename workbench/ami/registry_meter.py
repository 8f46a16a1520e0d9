"""One physical meter of the meter registry: the :class:`Meter` record, its limits, the registry's columns.

Holds the registry's vocabulary (customer classes, channels, units, transformer-ratio and kW limits), the
:class:`RegistryError` every registry check raises, the frozen :class:`Meter` record with its multiplier,
physical limit (:func:`default_max_kw`) and install window in UTC, and the file columns (``COLUMNS``) a
registry file may carry. See ``docs/registry.md``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, fields

import numpy as np

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
