"""Export values: a 576-value table (month × weekday/weekend × hour) or a time series, per interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

from workbench.calendar import HOLIDAY, WEEKEND, LocalTime
from workbench.calendar.timestamps import parse_timestamps
from workbench.errors import WorkbenchError
from workbench.tariffs.prices import prices_for_intervals


class ExportValueError(WorkbenchError):
    """An export-value file is not a 576-value table or a usable series."""


def read_export_values(path, base_dir=None):
    """Read a table (``month, day_type, hour, value|export_rate``) or a series (``timestamp, export_rate``).

    Returns ``("table", (12, 2, 24) array)`` or ``("series", (utc datetime64[m], values))``.
    """
    file = Path(path)
    if not file.is_absolute() and base_dir is not None:
        file = Path(base_dir) / file
    if not file.exists():
        raise ExportValueError(f"{file}: export-value file not found")
    try:
        table = pacsv.read_csv(file, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    except Exception as exc:
        raise ExportValueError(f"{file}: cannot read as CSV: {exc}") from None
    columns = table.column_names
    value_col = next((c for c in ("export_rate", "value", "price") if c in columns), None)
    if value_col is None:
        raise ExportValueError(f"{file}: no value column; expected 'export_rate' ($/kWh) (found {columns})")
    try:
        values = np.asarray(table.column(value_col).to_numpy(zero_copy_only=False), dtype=float)
    except (TypeError, ValueError):
        raise ExportValueError(f"{file}: column {value_col!r} must hold numbers [$/kWh]") from None
    if np.isnan(values).any():
        raise ExportValueError(f"{file}: row {int(np.argmax(np.isnan(values))) + 2}: {value_col} is empty")
    if {"month", "day_type", "hour"} <= set(columns):
        if len(values) != 576:
            raise ExportValueError(
                f"{file}: an export-value table needs 576 rows (12 months x weekday/weekend x 24 hours), "
                f"found {len(values)}"
            )
        grid = np.full((12, 2, 24), np.nan)
        months = table.column("month").to_numpy(zero_copy_only=False)
        hours = table.column("hour").to_numpy(zero_copy_only=False)
        days = [str(d).strip().lower() for d in table.column("day_type").to_pylist()]
        for row, (mo, day, hour, value) in enumerate(zip(months, days, hours, values, strict=True)):
            if not (1 <= int(mo) <= 12 and 0 <= int(hour) <= 23 and day in ("weekday", "weekend")):
                raise ExportValueError(
                    f"{file}: row {row + 2}: month {mo}, day_type {day!r}, hour {hour} out of range "
                    "(month 1-12, day_type weekday|weekend, hour 0-23)"
                )
            grid[int(mo) - 1, 0 if day == "weekday" else 1, int(hour)] = value
        if np.isnan(grid).any():
            mo, d, h = np.argwhere(np.isnan(grid))[0]
            raise ExportValueError(f"{file}: no value for month {mo + 1}, {('weekday', 'weekend')[d]}, hour {h}")
        return "table", grid
    if "timestamp" in columns:
        utc, _ = parse_timestamps([str(x) for x in table.column("timestamp").to_pylist()], str(file))
        order = np.argsort(utc, kind="stable")
        return "series", (utc[order], values[order])
    raise ExportValueError(
        f"{file}: expected columns month, day_type, hour, export_rate (a 576-value table) or timestamp, "
        f"export_rate (a series); found {columns}"
    )


def export_prices(values, utc: np.ndarray, local: LocalTime, step_minutes: int, source: str) -> np.ndarray:
    """(T,) export value [$/kWh] in force at each interval start."""
    kind, data = values
    if kind == "table":
        day = np.where((local.day_type == WEEKEND) | (local.day_type == HOLIDAY), 1, 0)
        return data[local.month.astype(int) - 1, day, local.minute.astype(int) // 60]
    return prices_for_intervals(data, utc, step_minutes, source)
