"""Local days, like-day types and interval slots of a cube's time axis; meters' active ranges.

VEE works in the utility's local days (a spring-forward day has 92 intervals of 15 minutes, a fall-back day
100), so a day check never mistakes a DST day for a day with missing or extra reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.calendar import holiday_dates, local_time, local_wall_times
from workbench.vee.rules import VeeError

WEEKDAY, SATURDAY, SUNDAY_HOLIDAY = 0, 1, 2
DAY_KIND_NAMES = ("weekday", "Saturday", "Sunday/holiday")


@dataclass(frozen=True)
class VeeCalendar:
    """Local calendar of a time axis of T intervals over D local days.

    days : (D,) datetime64[D] local dates
    day_of : (T,) int32 local day index of each interval
    day_start : (D + 1,) int64 first interval of each day (last: T)
    day_kind : (D,) int8 WEEKDAY, SATURDAY or SUNDAY_HOLIDAY
    slot : (T,) int16 local slot of the day (local minute // step)
    slot_pos : (D, S) int64 interval of each (day, slot), first occurrence; -1 when the day lacks it
    step_minutes : int
    """

    days: np.ndarray
    day_of: np.ndarray
    day_start: np.ndarray
    day_kind: np.ndarray
    slot: np.ndarray
    slot_pos: np.ndarray
    step_minutes: int

    @property
    def intervals_per_day(self) -> int:
        return 1440 // self.step_minutes

    @property
    def day_lengths(self) -> np.ndarray:
        """(D,) intervals of each local day present on the axis (92 / 96 / 100 at 15 minutes, fewer at the ends)."""
        return np.diff(self.day_start)


def vee_calendar(time: np.ndarray, timezone: str, step_minutes: int, holiday_calendar: str = "US") -> VeeCalendar:
    """The :class:`VeeCalendar` of naive-UTC interval starts ``time`` in ``timezone``."""
    step = int(step_minutes)
    if step <= 0 or 1440 % step:
        raise VeeError(f"interval cube: step_minutes {step_minutes} does not divide a day; VEE needs it to")
    utc = np.asarray(time).astype("datetime64[m]")
    lt = local_time(local_wall_times(utc, timezone))
    day0 = int(lt.day[0])
    day_of = (lt.day - day0).astype(np.int32)
    n_days = int(day_of[-1]) + 1 if day_of.size else 0
    day_start = np.searchsorted(day_of, np.arange(n_days + 1)).astype(np.int64)
    days = (np.arange(n_days) + day0).astype("datetime64[D]")
    weekday = (np.arange(n_days) + day0 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    kind = np.where(weekday == 6, SUNDAY_HOLIDAY, np.where(weekday == 5, SATURDAY, WEEKDAY)).astype(np.int8)
    if holiday_calendar != "none" and n_days:
        years = range(days[0].astype(object).year, days[-1].astype(object).year + 1)
        hol = [d for y in years for d in holiday_dates(holiday_calendar, y)]
        if hol:
            kind[np.isin(days, np.array(hol, dtype="datetime64[D]"))] = SUNDAY_HOLIDAY
    slot = (lt.minute // step).astype(np.int16)
    n_slots = 1440 // step
    slot_pos = np.full((n_days, n_slots), -1, dtype=np.int64)
    key = day_of.astype(np.int64) * n_slots + slot
    _, first = np.unique(key, return_index=True)
    slot_pos.reshape(-1)[key[first]] = first
    return VeeCalendar(days, day_of, day_start, kind, slot, slot_pos, step)


# ---------------------------------------------------------------------------------------------------------
# meters' active ranges (install / removal) from the meter registry


def _registry_frame(registry) -> pd.DataFrame:
    """A registry as a DataFrame with columns meter, install, removal (see :func:`active_ranges`)."""
    if isinstance(registry, dict):
        rows = [(m, *(v if isinstance(v, tuple | list) else (v, None))) for m, v in registry.items()]
        return pd.DataFrame(rows, columns=["meter", "install", "removal"])
    frame = registry
    for attr in ("to_pandas", "to_frame", "to_dataframe"):
        if not isinstance(frame, pd.DataFrame) and callable(getattr(frame, attr, None)):
            frame = getattr(frame, attr)()
    if not isinstance(frame, pd.DataFrame) and isinstance(getattr(frame, "meters", None), pd.DataFrame):
        frame = frame.meters
    if not isinstance(frame, pd.DataFrame):
        raise VeeError(
            f"meter registry: expected a table with columns meter, install_date, removal_date, got "
            f"{type(registry).__name__}"
        )
    cols = {c.lower(): c for c in frame.columns}

    def pick(*names):
        for n in names:
            if n in cols:
                return frame[cols[n]]
        return pd.Series([None] * len(frame), index=frame.index)

    if "meter" not in cols and "meter_id" not in cols:
        raise VeeError(f"meter registry: no 'meter' column (columns: {list(frame.columns)})")
    return pd.DataFrame({
        "meter": pick("meter", "meter_id").astype(str).to_numpy(),
        "install": pick("install_date", "installed", "install", "installed_at").to_numpy(dtype=object),
        "removal": pick("removal_date", "removed", "removal", "removed_at").to_numpy(dtype=object),
    })


def _instant_utc(value, timezone: str, *, end: bool, meter: str, what: str):
    """UTC instant (naive datetime64[ns]) of a registry value; None when open-ended.

    A date (``datetime.date``, ``"2025-03-15"``) is a local day: an install starts at its local midnight, a
    removal ends at the next local midnight (the meter reads through its removal day). A timestamp is an
    instant; a naive one is local time.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    try:
        if isinstance(value, str) and len(value.strip()) == 10 or (
            isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        ) or (isinstance(value, np.datetime64) and np.datetime_data(value.dtype)[0] == "D"):
            day = pd.Timestamp(str(value)[:10])
            if end:
                day += pd.Timedelta(days=1)
            stamp = day.tz_localize(timezone, nonexistent="shift_forward", ambiguous=False)
        else:
            stamp = pd.Timestamp(value)
            if pd.isna(stamp):
                return None
            if stamp.tzinfo is None:
                stamp = stamp.tz_localize(timezone, nonexistent="shift_forward", ambiguous=False)
    except (ValueError, TypeError) as exc:
        raise VeeError(f"meter registry: meter {meter}: {what} {value!r} is not a date or a timestamp ({exc})") from None
    return np.datetime64(stamp.tz_convert("UTC").tz_localize(None).to_datetime64(), "ns")


def _windows(registry, timezone: str) -> list[tuple[str, np.datetime64 | None, np.datetime64 | None]]:
    """(cube row, first active instant, end) in naive UTC, one per registry entry."""
    entries = list(registry) if hasattr(registry, "meters_of") else None
    if entries is not None and all(hasattr(m, "window_utc") for m in entries):
        # workbench.ami.registry.MeterRegistry: half-open install windows of physical meters, each on its
        # service point (the cube row)
        return [(str(m.service_point), *m.window_utc(timezone)) for m in entries]
    frame = _registry_frame(registry)
    out = []
    for meter, install, removal in frame.itertuples(index=False):
        start = _instant_utc(install, timezone, end=False, meter=meter, what="install date")
        stop = _instant_utc(removal, timezone, end=True, meter=meter, what="removal date")
        if start is not None and stop is not None and stop < start:
            raise VeeError(f"meter registry: meter {meter}: removal {removal} is before install {install}")
        out.append((meter, start, stop))
    return out


def active_ranges(meters: np.ndarray, time: np.ndarray, registry, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """(M,) first and one-past-last active interval of each meter under ``registry`` (None: all active).

    ``registry``: a :class:`workbench.ami.registry.MeterRegistry` (each physical meter's half-open install
    window, on its service point's cube row), or a table with columns ``meter``, ``install_date``,
    ``removal_date`` (a DataFrame, anything with ``to_pandas()``/``to_frame()``, a ``.meters`` DataFrame; also
    accepted: install/installed, removal/removed) or a dict ``{meter: (install, removal)}``, None meaning
    open-ended. A cube row the registry does not list is active throughout; a row with several meters (a
    meter exchange) is active from the earliest install to the latest removal.
    """
    n_meters, n_t = len(meters), len(time)
    a0 = np.zeros(n_meters, np.int64)
    a1 = np.full(n_meters, n_t, np.int64)
    if registry is None:
        return a0, a1
    index = {m: i for i, m in enumerate(np.asarray(meters).astype(str))}
    t = np.asarray(time).astype("datetime64[ns]")
    seen: set[int] = set()
    for meter, start, stop in _windows(registry, timezone):
        i = index.get(meter)
        if i is None:
            continue
        lo = 0 if start is None else int(np.searchsorted(t, np.datetime64(start, "ns"), "left"))
        hi = n_t if stop is None else int(np.searchsorted(t, np.datetime64(stop, "ns"), "left"))
        if i in seen:
            lo, hi = min(lo, a0[i]), max(hi, a1[i])
        seen.add(i)
        a0[i], a1[i] = lo, hi
    return a0, a1
