"""Free-slot arithmetic: pure functions of weekly hours, absences and bookings.

Weekly hours are wall-clock times in the practitioner's IANA zone, so "Monday 09:00" is 09:00
local on both sides of a daylight-saving change. A candidate start whose wall time does not
exist (spring forward) or exists twice (fall back), or a slot that a change cuts through, is
never offered: this never yields a slot at the wrong time.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from operator import attrgetter
from zoneinfo import ZoneInfo

from app.practitioners.hours import Interval, WeeklyHours, local_instant

DEFAULT_GRID = timedelta(minutes=15)


class BusyIndex:
    """Sorted busy intervals, answering "does this overlap anything?" in O(log n)."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        merged: list[Interval] = []
        for interval in sorted(intervals, key=_start_end):
            if merged and interval.start <= merged[-1].end:
                last = merged[-1]
                merged[-1] = Interval(last.start, max(last.end, interval.end))
            else:
                merged.append(interval)
        self._intervals = merged
        self._starts = [i.start for i in merged]

    def overlaps(self, interval: Interval) -> bool:
        # The only candidate is the last merged interval starting before `interval` ends.
        index = bisect.bisect_left(self._starts, interval.end) - 1
        return index >= 0 and self._intervals[index].end > interval.start


_start_end = attrgetter("start", "end")


def _days(window: Interval, zone: ZoneInfo) -> Iterator[date]:
    day = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        yield day
        day += timedelta(days=1)


def _resolver(day: date, zone: ZoneInfo) -> tuple[Callable[[time], datetime | None], bool]:
    """Wall time -> instant for one day, and whether the day has one fixed offset (most days:
    no clock change, so every wall time is one instant and a slot's length is its wall span)."""
    midnight = datetime.combine(day, time(), tzinfo=zone).utcoffset()
    next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).utcoffset()
    if midnight is None or midnight != next_midnight:
        return (lambda wall: local_instant(day, wall, zone)), False
    return (lambda wall: (datetime.combine(day, wall) - midnight).replace(tzinfo=UTC)), True


@lru_cache(maxsize=1024)
def _grid_times(hours: WeeklyHours, duration: timedelta, grid: timedelta) -> tuple[time, ...]:
    """Wall-clock starts on the grid (counted from midnight) whose slot ends by `hours.end`,
    worked out once for each block of weekly hours."""
    step = int(grid.total_seconds() // 60)
    begin = hours.start.hour * 60 + hours.start.minute
    end = hours.end.hour * 60 + hours.end.minute
    minute = -(-begin // step) * step  # the first grid line at or after the start
    length = int(duration.total_seconds() // 60)
    starts = []
    while minute + length <= end:
        starts.append(time(minute // 60, minute % 60))
        minute += step
    return tuple(starts)


def free_slots(
    *,
    weekly_hours: Sequence[WeeklyHours],
    zone: ZoneInfo,
    busy: Iterable[Interval] | BusyIndex,
    duration: timedelta,
    window: Interval,
    grid: timedelta = DEFAULT_GRID,
) -> list[Interval]:
    """Every slot of `duration` starting on the grid inside weekly hours, within `window`, and
    overlapping nothing in `busy` (bookings, time off; an index of them may be reused across
    windows). Sorted by start; no duplicates."""
    index = busy if isinstance(busy, BusyIndex) else BusyIndex(busy)
    hours = tuple(weekly_hours)
    found: list[Interval] = []
    for day in _days(window, zone):
        slots, starts = _day_slots(day, zone, hours, duration, grid)
        first = bisect.bisect_left(starts, window.start)
        for slot in slots[first:]:
            if slot.end > window.end:
                break
            if not index.overlaps(slot):
                found.append(slot)
    return found  # in order already: day after day, each day's slots sorted


@lru_cache(maxsize=8192)
def _day_slots(
    day: date,
    zone: ZoneInfo,
    weekly_hours: tuple[WeeklyHours, ...],
    duration: timedelta,
    grid: timedelta,
) -> tuple[list[Interval], list[datetime]]:
    """Every slot of one local day, sorted, and their starts: worked out once for a calendar
    and a day (proposals ask about the same days again and again)."""
    found: set[Interval] = set()
    resolve, fixed_offset = _resolver(day, zone)
    for hours in weekly_hours:
        if hours.weekday != day.weekday():
            continue
        for wall in _grid_times(hours, duration, grid):
            start = resolve(wall)
            if start is None:
                continue
            slot = Interval(start, start + duration)
            end_wall = (datetime.combine(day, wall) + duration).time()
            if not fixed_offset and resolve(end_wall) != slot.end:
                continue  # a daylight-saving change falls inside the slot
            found.add(slot)
    slots = sorted(found)
    return slots, [s.start for s in slots]


def days_apart(first: datetime, second: datetime, zone: ZoneInfo) -> int:
    """Calendar days between two instants on the clock of `zone`: a visit 14 days after a
    Monday 09:00 is the Monday two weeks on, whatever the clock did in between."""
    return abs((first.astimezone(zone).date() - second.astimezone(zone).date()).days)


# What a daylight-saving change may take from a span of whole calendar days.
_CLOCK_CHANGE = timedelta(hours=1)


def far_enough(first: datetime, second: datetime, *, min_days: int, zone: ZoneInfo) -> bool:
    """The interval rule between two treatments: at least `min_days` calendar days apart in
    `zone` (where the session takes place), and never less than that many times 24 hours
    minus the hour a daylight-saving change may take away."""
    if min_days <= 0:
        return True
    # In UTC: two times of one zone would subtract by their wall clocks.
    elapsed = abs(first.astimezone(UTC) - second.astimezone(UTC))
    enough_time = elapsed >= timedelta(days=min_days) - _CLOCK_CHANGE
    return enough_time and days_apart(first, second, zone) >= min_days
