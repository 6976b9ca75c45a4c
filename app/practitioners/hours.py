"""A practitioner's weekly hours and days, read on their own clock: pure time arithmetic.

Weekly hours are wall-clock times in the practitioner's IANA zone, so "Monday 09:00" is 09:00
local on both sides of a daylight-saving change. A wall time that is skipped (spring forward)
or happens twice (fall back) is never taken for an instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Interval:
    """[start, end) in aware UTC datetimes."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class WeeklyHours:
    weekday: int  # 0 = Monday
    start: time
    end: time


@lru_cache(maxsize=8192)
def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime | None:
    """The one UTC instant at which the clock in `zone` reads `day` `wall`, or None when the
    wall time is skipped (spring forward) or happens twice (fall back). Kept: a calendar asks
    it of the same days and hours again and again (a day's sessions, each time it is read)."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        return None  # ambiguous, or nonexistent: either way not one instant
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return instant


def within_weekly_hours(
    interval: Interval, *, weekly_hours: Sequence[WeeklyHours], zone: ZoneInfo
) -> bool:
    """The interval lies inside one weekly-hours block, read on the practitioner's clock."""
    start_local = interval.start.astimezone(zone)
    end_local = interval.end.astimezone(zone)
    day = start_local.date()
    if local_instant(day, start_local.time(), zone) != interval.start:
        return False
    if end_local.date() != day or local_instant(day, end_local.time(), zone) != interval.end:
        return False
    return any(
        h.weekday == day.weekday() and h.start <= start_local.time() and end_local.time() <= h.end
        for h in weekly_hours
    )


def local_day(moment: datetime, zone: ZoneInfo) -> Interval:
    """The calendar day, on the clock of `zone`, that `moment` falls on: from its midnight to
    the next (23 or 25 hours on a day the clocks change)."""
    day = moment.astimezone(zone).date()
    return Interval(_midnight(day, zone), _midnight(day + timedelta(days=1), zone))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
