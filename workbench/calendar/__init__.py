"""Local time, seasons, day types and holidays.

The cube's time axis is UTC. Local time exists only where a tariff needs it: this module turns UTC interval
starts into the local attributes a tariff schedule is written in (month, day type, minute of the day, local
date), DST included: on the spring-forward day a 15-minute series has 92 local intervals, on the fall-back
day 100, and each gets the local clock time it really had.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import holidays as holidays_lib
import numpy as np
import pandas as pd

from workbench.errors import TariffError

WEEKDAY, WEEKEND, HOLIDAY = 0, 1, 2
DAY_TYPES = {"weekday": WEEKDAY, "weekend": WEEKEND, "holiday": HOLIDAY}

# NERC's six holidays, the calendar most US ToU tariffs name ("off-peak on NERC holidays"): New Year's Day,
# Memorial Day, Independence Day, Labor Day, Thanksgiving, Christmas; a Sunday holiday moves to Monday.
_NERC_NAMES = ("New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving", "Christmas Day")

HOLIDAY_CALENDARS = ("none", "NERC", "US")


@lru_cache(maxsize=64)
def holiday_dates(calendar: str, year: int) -> frozenset:
    """Local dates that are holidays under a named calendar in one year.

    Parameters
    ----------
    calendar : {"none", "NERC", "US"}
        ``US`` is the federal calendar with observed days, ``NERC`` the six NERC off-peak holidays
        (observed on Monday when on a Sunday, as NERC does; a Saturday holiday is not moved).
    """
    if calendar == "none":
        return frozenset()
    if calendar == "US":
        return frozenset(holidays_lib.US(years=year, observed=True).keys())
    if calendar == "NERC":
        days = set()
        for day, name in holidays_lib.US(years=year, observed=False).items():
            if any(name.startswith(n) for n in _NERC_NAMES):
                days.add(day + pd.Timedelta(days=1) if day.weekday() == 6 else day)
        return frozenset(days)
    raise TariffError(f"unknown holiday calendar {calendar!r}; expected one of {', '.join(HOLIDAY_CALENDARS)}")


@dataclass(frozen=True)
class LocalTime:
    """Local attributes of each interval start.

    Attributes
    ----------
    month : int8 array, 1..12
    day_type : int8 array, WEEKDAY / WEEKEND / HOLIDAY
    minute : int16 array, minute of the local day 0..1439
    day : int32 array, local date as days since 1970-01-01 (monotonic non-decreasing)
    """

    month: np.ndarray
    day_type: np.ndarray
    minute: np.ndarray
    day: np.ndarray


def local_wall_times(utc_times: np.ndarray, timezone: str | None, offsets_minutes: np.ndarray | None = None):
    """Naive local wall-clock datetime64[m] for UTC instants.

    ``timezone`` is an IANA name; when it is None, ``offsets_minutes`` (each timestamp's own UTC offset, as
    written in its source) gives local time, which is how a URDB tariff without a time zone is applied.
    """
    utc = np.asarray(utc_times, dtype="datetime64[m]")
    if timezone is not None:
        idx = pd.DatetimeIndex(utc.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(timezone)
        return idx.tz_localize(None).to_numpy().astype("datetime64[m]")
    if offsets_minutes is None:
        return utc
    return utc + np.asarray(offsets_minutes, dtype="int64").astype("timedelta64[m]")


def local_time(local_wall: np.ndarray, holiday_calendar: str = "none") -> LocalTime:
    """Month, day type, minute of day and local day for naive local wall times."""
    wall = np.asarray(local_wall, dtype="datetime64[m]")
    day = wall.astype("datetime64[D]")
    minute = (wall - day).astype("int64").astype(np.int16)
    months = (day.astype("datetime64[M]").astype("int64") % 12 + 1).astype(np.int8)
    # 1970-01-01 was a Thursday: weekday (Mon=0) = (days + 3) % 7
    day_int = day.astype("int64")
    weekday = (day_int + 3) % 7
    day_type = np.where(weekday >= 5, WEEKEND, WEEKDAY).astype(np.int8)
    if holiday_calendar != "none" and len(day):
        years = range(int(str(day[0])[:4]), int(str(day[-1])[:4]) + 1)
        hol = sorted(d for y in years for d in holiday_dates(holiday_calendar, y))
        if hol:
            hol_days = np.array(hol, dtype="datetime64[D]").astype("int64")
            day_type[np.isin(day_int, hol_days)] = HOLIDAY
    return LocalTime(month=months, day_type=day_type, minute=minute, day=day_int.astype(np.int32))
