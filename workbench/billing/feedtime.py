"""Whose clock a feed's times are read on: the feed's own LocalTimeParameters, the data's written UTC
offsets, and the tariff's time zone; a disagreement is a loud warning naming both (docs/bill-command.md).

Green Button's LocalTimeParameters give a standard offset (``tzOffset`` [s]), a DST offset and DST rules
(ESPI's 32-bit rule codes: month in bits 28-31, weekday in bits 17-19, hour in bits 12-16). The United States
rules (second Sunday of March / first Sunday of November at 02:00, written ``360E2000`` / ``B40E2000``) with
a US standard offset name a US zone; no DST (``dstOffset`` 0) names a fixed offset (``Etc/GMT+8``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

US_ZONES = {-18000: "America/New_York", -21600: "America/Chicago", -25200: "America/Denver",
            -28800: "America/Los_Angeles", -32400: "America/Anchorage", -36000: "America/Adak"}


def _rule(text) -> tuple[int, int, int] | None:
    try:
        code = int(str(text).strip(), 16)
    except ValueError:
        return None
    return code >> 28, (code >> 17) & 7, (code >> 12) & 31  # month, weekday (7 Sunday), hour


def feed_zone(local_time: dict | None) -> tuple[str | None, str]:
    """(IANA zone or None, how the feed says it) of Green Button LocalTimeParameters."""
    if not local_time:
        return None, ""
    try:
        offset = int(local_time.get("tzOffset"))
        dst = int(local_time.get("dstOffset") or 0)
    except (TypeError, ValueError):
        return None, f"LocalTimeParameters {local_time}"
    hours = offset / 3600
    said = f"UTC{'+' if offset >= 0 else '-'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    if dst == 0 or not local_time.get("dstStartRule"):
        said += " without daylight saving"
        if offset % 3600 == 0:
            return (f"Etc/GMT{'+' if hours <= 0 else '-'}{abs(int(hours))}" if offset else "UTC"), said
        return None, said
    said += f" with daylight saving (rules {local_time.get('dstStartRule')}/{local_time.get('dstEndRule')})"
    us = _rule(local_time.get("dstStartRule")) == (3, 7, 2) and _rule(local_time.get("dstEndRule")) == (11, 7, 2)
    if us and dst == 3600 and offset in US_ZONES:
        return US_ZONES[offset], said
    return None, said


def zone_offsets(utc: np.ndarray, zone: str) -> np.ndarray:
    """UTC offset [minutes] of ``zone`` at each naive-UTC instant."""
    idx = pd.DatetimeIndex(np.asarray(utc).astype("datetime64[ns]")).tz_localize("UTC")
    local = idx.tz_convert(zone).tz_localize(None)
    return ((local - idx.tz_localize(None)) // pd.Timedelta(minutes=1)).to_numpy().astype(np.int64)


def offset_text(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(int(minutes)) // 60:02d}:{abs(int(minutes)) % 60:02d}"


def zone_warnings(source: str, utc: np.ndarray, written: np.ndarray | None, feed: tuple[str | None, str],
                  zone: str | None, whose: str) -> list[str]:
    """Warnings when the data's own clock (written offsets, the feed's zone) disagrees with ``zone``."""
    if zone is None or len(utc) == 0:
        return []
    ours = zone_offsets(utc, zone)
    out = []
    if written is not None:
        differ = written != ours
        if differ.any():
            i = int(np.argmax(differ))
            seen = ", ".join(offset_text(o) for o in np.unique(written[differ])[:3])
            out.append(f"{source}: {int(differ.sum()):,} of {len(utc):,} timestamps are written in {seen} but "
                       f"{whose} time zone {zone} is {offset_text(ours[i])} at those times (first {utc[i]}Z); the "
                       f"bills use {zone}'s local days and hours; pass --timezone if the tariff applies elsewhere")
    name, said = feed
    if said and name is None:
        out.append(f"{source}: the feed's LocalTimeParameters ({said}) name no time zone workbench knows; the "
                   f"bills use {whose} time zone {zone}")
    elif name is not None:
        theirs = zone_offsets(utc, name)
        differ = theirs != ours
        if differ.any():
            i = int(np.argmax(differ))
            out.append(f"{source}: the feed's LocalTimeParameters say {said} ({name}, {offset_text(theirs[i])}) "
                       f"but {whose} time zone {zone} is {offset_text(ours[i])} (first at {utc[i]}Z); the bills "
                       f"use {zone}'s local days and hours; pass --timezone {name} if the tariff applies there")
    return out
