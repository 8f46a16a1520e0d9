"""Sanity of a tariff's numbers and of the file it comes in: what a typo in a price would cost, refused or said.

A price that is not a finite number, or beyond any tariff's (|price| >= 1,000,000), is an error naming the
file and the field. A negative price is an error unless the charge says ``allow_negative: true`` (a credit).
A price that is possible but implausible (more than $1/kWh, $200/kW, $10,000 a month...) is billed, with a
``warning:`` line on stderr that names the file, the field and the likely intent ("did you mean 0.095?").
A percent in (0, 1) is a warning too: ``percent: 0.07`` is 0.07 %, not 7 %.

Files: a folder, a file over 5 MB, a file that is not UTF-8 text are errors naming the file, before any parsing.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from workbench.errors import TariffError

log = logging.getLogger(__name__)

#: no tariff price reaches this [$ per unit]: a larger number is a typo or garbage, never billed
MAX_PRICE = 1e6
#: a tariff (or URDB JSON) file is small; a bigger one is the wrong file (and would take minutes to parse)
MAX_TARIFF_BYTES = 5_000_000

# what each kind of price is per, and above what it is implausible (billed, with a warning)
UNITS = {"energy": "$/kWh", "rider": "$/kWh", "demand": "$/kW", "customer": "$", "minimum": "$", "reactive": "$/kVAR"}
PLAUSIBLE = {"energy": 1.0, "rider": 1.0, "demand": 200.0, "reactive": 50.0}
# fixed amounts: the implausible level by what they are charged per
PLAUSIBLE_FIXED = {"month": 10_000.0, "bill": 10_000.0, "day": 10_000.0 / 30, "year": 120_000.0}


def warn(message: str) -> None:
    """A warning a user must see: one line on stderr starting ``warning:``."""
    log.warning(f"warning: {message}")


def read_tariff_text(path, what: str = "tariff") -> str:
    """The text of a tariff (or program) file: a regular file of at most 5 MB of UTF-8, else one error line."""
    path = Path(path)
    if not path.exists():
        raise TariffError(f"{path}: {what} file not found")
    if path.is_dir():
        raise TariffError(f"{path}: is a folder; expected a {what} file (.yaml, or .json for URDB)")
    if not path.is_file():
        raise TariffError(f"{path}: is not a regular file; expected a {what} file (.yaml, or .json for URDB)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TARIFF_BYTES + 1)
    except OSError as exc:
        raise TariffError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from None
    if len(data) > MAX_TARIFF_BYTES:
        raise TariffError(f"{path}: the {what} file is larger than {MAX_TARIFF_BYTES // 1_000_000} MB; a {what} "
                          "file is a few kB of YAML or JSON (is this the right file?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TariffError(f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text; save the {what} "
                          "file as UTF-8") from None


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def _intent(value: float, limit: float, unit: str) -> str:
    """'did you mean ...?' for a price above ``limit``: the usual slips of a decimal point or a unit."""
    guesses = []
    for factor, why in ((10, "a misplaced decimal point"), (100, "cents written as dollars"),
                        (1000, f"per thousand written as {unit}")):
        if value / factor <= limit:
            guesses.append(f"{_fmt(value / factor)} ({why})")
        if len(guesses) == 2:
            break
    return f"; did you mean {' or '.join(guesses)}?" if guesses else ""


def check_price(value, where: str, kind: str, *, per: str | None = None, allow_negative: bool = False,
                credit_hint: str = "add 'allow_negative: true' to the charge (docs/tariff-format.md)",
                warnings: bool = True) -> float:
    """Refuse a non-finite, absurd or (unless allowed) negative price; warn on an implausible one.

    ``where`` names the file and field (``"t.yaml: versions[0].charges[1].rates.summer"``); ``kind`` is one of
    :data:`UNITS`; ``per`` what a fixed amount is charged per (month, day, bill, year).
    """
    unit = UNITS[kind] if per is None else f"$ per {per}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TariffError(f"{where}: {value!r} is not a number; expected a price in {unit}")
    value = float(value)
    if not math.isfinite(value):
        raise TariffError(f"{where}: {value} is not a price; expected a finite number of {unit}")
    if abs(value) >= MAX_PRICE:
        raise TariffError(f"{where}: {_fmt(value)} {unit} is beyond any tariff's price (less than "
                          f"{MAX_PRICE:,.0f}); check the number")
    if value < 0 and not allow_negative:
        raise TariffError(f"{where}: negative price {_fmt(value)} {unit}; a credit must say so: {credit_hint}")
    if not warnings:
        return value
    if per is None:
        limit = PLAUSIBLE[kind]
        if value > limit:
            warn(f"{where}: {_fmt(value)} {unit} is more than {limit:g} {unit}, billed as written"
                 f"{_intent(value, limit, unit)}")
    else:
        limit = PLAUSIBLE_FIXED[per]
        if value > limit:
            hint = "; did you mean per: month?" if per == "day" else _intent(value, limit, "$")
            warn(f"{where}: {_fmt(value)} {unit} is more than {limit:,.0f} {unit}, billed as written{hint}")
        elif kind == "customer" and per in ("month", "bill") and 0 < value < 1:
            warn(f"{where}: {_fmt(value)} {unit} is under $1 a {per}, billed as written; did you mean per: day?")
    return value


def check_percent(value: float, where: str) -> None:
    """A percent is 0-100 (the model refuses others); one in (0, 1) is most likely a fraction meant as %."""
    if 0 < value < 1:
        warn(f"{where}: percent {_fmt(value)} is {_fmt(value)}%, billed as written; for {_fmt(value * 100)}% "
             f"write {_fmt(value * 100)}")


def _numbers(value, path):
    """(path, number) of every number in a nested dict/list, paths like ``rates.summer[2]``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def _charge_prices(charge):
    """(field, value, kind, per) of the prices of one charge (model objects of workbench.tariffs.model)."""
    kind = charge.type
    if kind in ("customer", "minimum"):
        yield "amount", charge.amount, kind, charge.per
    elif kind in ("energy", "demand"):
        if charge.rates is not None:
            yield "rates", charge.rates, kind, None
        else:
            yield "blocks.rates", charge.blocks.rates, kind, None
    elif kind == "rtp":
        yield "adder", charge.adder, "energy", None
    elif kind == "rider":
        yield "rate", charge.rate, "rider", None
    elif kind in ("reactive_demand", "power_factor") and charge.rate:
        yield "rate", charge.rate, "reactive", None


def check_spec(spec, source: str, *, warnings: bool = True) -> None:
    """Every number of a validated :class:`~workbench.tariffs.model.TariffSpec` finite, every price sane.

    ``warnings=False`` leaves the implausible-price warnings to the caller (the URDB import warns in URDB's
    own field names).
    """
    for i, version in enumerate(spec.versions):
        for j, charge in enumerate(version.charges):
            base = f"versions[{i}].charges[{j}]"
            if charge.type == "tax":
                if warnings:
                    check_percent(charge.percent, f"{source}: {base}.percent")
                continue
            for field, prices, kind, per in _charge_prices(charge):
                for sub, value in _numbers(prices, f"{base}.{field}"):
                    check_price(value, f"{source}: {sub}", kind, per=per, warnings=warnings,
                                allow_negative=getattr(charge, "allow_negative", False))
    for path, value in _numbers(spec.model_dump(), ""):  # limits, kW, history...: finite too
        if not math.isfinite(value):
            raise TariffError(f"{source}: {path.lstrip('.')}: {value} is not a number; expected a finite number")
    if warnings and spec.demand.ratchet is not None:
        check_percent(spec.demand.ratchet.percent, f"{source}: demand.ratchet.percent")

