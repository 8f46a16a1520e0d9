"""Real-time price series for RTP tariffs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

from workbench.calendar.timestamps import parse_timestamps
from workbench.errors import TariffError
from workbench.tariffs.checks import MAX_PRICE, warn

#: a year of 5-minute prices is ~4 MB; a much bigger file is not a price file
MAX_PRICE_FILE_BYTES = 100_000_000


def read_price_series(path: str, base_dir=None, source: str = "<tariff>"):
    """Read a CSV of ``timestamp`` (ISO 8601 with offset, interval start) and ``price`` [$/kWh].

    Returns ``(start_utc datetime64[m] array, price float64 array)`` sorted by time. Each price holds from its
    timestamp to the next one (hourly or sub-hourly).
    """
    file = Path(path)
    if not file.is_absolute() and base_dir is not None:
        file = Path(base_dir) / file
    if not file.exists():
        raise TariffError(f"{source}: real-time price file {file} not found (the 'prices' field of the rtp charge)")
    if not file.is_file():
        raise TariffError(f"{file}: is not a file; expected the real-time price CSV (the 'prices' field of the rtp "
                          f"charge of {source})")
    if file.stat().st_size > MAX_PRICE_FILE_BYTES:
        raise TariffError(f"{file}: the real-time price file is larger than {MAX_PRICE_FILE_BYTES // 1_000_000} MB; "
                          "a year of 5-minute prices is about 4 MB (is this the right file?)")
    try:
        options = pacsv.ConvertOptions(column_types={"timestamp": "string"}, null_values=[""], strings_can_be_null=True)
        table = pacsv.read_csv(file, convert_options=options)
    except Exception as exc:  # pyarrow's messages name the row; keep them
        raise TariffError(f"{file}: cannot read price file: {exc}") from None
    for column in ("timestamp", "price"):
        if column not in table.column_names:
            raise TariffError(f"{file}: missing column {column!r}; expected columns timestamp, price")
    utc, _ = parse_timestamps(table.column("timestamp").to_pylist(), str(file))
    raw = table.column("price").to_pylist()
    price = np.array([_number(v) for v in raw], dtype=float)
    if not np.isfinite(price).all():
        row = int(np.argmax(~np.isfinite(price)))
        shown = "empty" if raw[row] is None else repr(raw[row])
        raise TariffError(f"{file}: row {row + 2}: price is {shown}; expected a number of $/kWh")
    if len(price) and (np.abs(price) >= MAX_PRICE).any():
        row = int(np.argmax(np.abs(price) >= MAX_PRICE))
        raise TariffError(f"{file}: row {row + 2}: price {price[row]:g} $/kWh is beyond any market's price; "
                          "check the number")
    if len(price) and np.median(np.abs(price)) > 1.0:
        warn(f"{file}: the median price is {np.median(np.abs(price)):g} $/kWh, billed as written; prices in "
             "$/MWh? (divide by 1000: the file's prices are $/kWh)")
    order = np.argsort(utc, kind="stable")
    utc, price = utc[order], price[order]
    if len(utc) > 1 and (np.diff(utc.astype("int64")) == 0).any():
        row = int(np.argmax(np.diff(utc.astype("int64")) == 0)) + 2
        raise TariffError(f"{file}: duplicate timestamp {utc[row - 1]}Z")
    return utc, price


def _number(value) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def prices_for_intervals(series, interval_utc: np.ndarray, step_minutes: int, source: str) -> np.ndarray:
    """The price in force at each interval start; an error if the series does not cover the data."""
    starts, price = series
    t = np.asarray(interval_utc, dtype="datetime64[m]")
    if len(t) == 0:
        return np.zeros(0)
    last_cover = starts[-1] + (starts[-1] - starts[-2] if len(starts) > 1 else np.timedelta64(60, "m"))
    if t[0] < starts[0] or t[-1] >= last_cover:
        raise TariffError(
            f"{source}: real-time prices cover {starts[0]}Z to {last_cover}Z but the intervals run from "
            f"{t[0]}Z to {t[-1] + np.timedelta64(step_minutes, 'm')}Z; extend the price file"
        )
    idx = np.searchsorted(starts, t, side="right") - 1
    return price[idx]
