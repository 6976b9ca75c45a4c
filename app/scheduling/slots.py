"""Free-slot arithmetic: pure functions of weekly hours, absences and bookings.

Weekly hours are wall-clock times in the practitioner's IANA zone, so "Monday 09:00" is 09:00
local on both sides of a daylight-saving change. A candidate start whose wall time does not
exist (spring forward) or exists twice (fall back), or a slot that a change cuts through, is
never offered: this never yields a slot at the wrong time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
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


def kept_free(sessions: Iterable[Interval], buffer: timedelta) -> list[Interval]:
    """A practitioner's sessions as their diary keeps them with a buffer: `buffer` before and
    after each is taken too, so a slot overlaps none of these exactly when it lies at least
    `buffer` from each session (as booking asks)."""
    if not buffer:
        return list(sessions)
    return [Interval(s.start - buffer, s.end + buffer) for s in sessions]


def _days(window: Interval, zone: ZoneInfo) -> Iterator[date]:
    day = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        yield day
        day += timedelta(days=1)


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
    and a day (the free-slot search asks about the same days again and again)."""
    length = duration // MINUTE
    starts = [at_minute(m) for m in day_grid(day, zone, weekly_hours, length, grid // MINUTE)]
    return [Interval(s, s + duration) for s in starts], starts


# Instants as whole minutes since the Unix epoch: the proposal search compares thousands of
# slots with bookings, and integers compare (and bisect) far faster than aware datetimes.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
_EPOCH_DAY = EPOCH.date().toordinal()


def minute_floor(moment: datetime) -> int:
    """The minute `moment` falls in (exact: no floating point)."""
    return (moment - EPOCH) // MINUTE


def minute_ceil(moment: datetime) -> int:
    """The first whole minute at or after `moment`: for a whole-minute start `s`,
    `s >= moment` exactly when `s >= minute_ceil(moment)`, and `s < moment` when
    `s < minute_ceil(moment)`."""
    return -((EPOCH - moment) // MINUTE)


def at_minute(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


@lru_cache(maxsize=8192)
def day_grid(
    day: date,
    zone: ZoneInfo,
    weekly_hours: tuple[WeeklyHours, ...],
    length: int,
    grid: int,
) -> tuple[int, ...]:
    """The starts (minutes since the epoch, sorted, no duplicates) of every slot of `length`
    minutes on the `grid` (minutes from local midnight) inside the weekly hours of one local
    day. On a day the clocks change, a start whose wall time is skipped or doubled, or a slot
    the change cuts through, is left out. Worked out once for a set of hours and a day: the
    practitioners of a clinic mostly share theirs."""
    duration = timedelta(minutes=length)
    midnight = datetime.combine(day, time(), tzinfo=zone).utcoffset()
    next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).utcoffset()
    found: set[int] = set()
    if midnight is not None and midnight == next_midnight and not midnight % MINUTE:
        # One offset all day: a wall time is one instant, and a slot's length its wall span.
        base = (day.toordinal() - _EPOCH_DAY) * 1440 - midnight // MINUTE
        for hours in weekly_hours:
            if hours.weekday == day.weekday():
                found.update(
                    base + wall.hour * 60 + wall.minute
                    for wall in _grid_times(hours, duration, timedelta(minutes=grid))
                )
        return tuple(sorted(found))
    for hours in weekly_hours:
        if hours.weekday != day.weekday():
            continue
        for wall in _grid_times(hours, duration, timedelta(minutes=grid)):
            start = local_instant(day, wall, zone)
            if start is None:
                continue
            end_wall = (datetime.combine(day, wall) + duration).time()
            if local_instant(day, end_wall, zone) != start + duration:
                continue  # a daylight-saving change falls inside the slot
            found.add(minute_floor(start))
    return tuple(sorted(found))


def days_apart(first: datetime, second: datetime, zone: ZoneInfo) -> int:
    """Calendar days between two instants on the clock of `zone`: a visit 14 days after a
    Monday 09:00 is the Monday two weeks on, whatever the clock did in between."""
    return abs((first.astimezone(zone).date() - second.astimezone(zone).date()).days)


# What a daylight-saving change may take from a span of whole calendar days.
CLOCK_CHANGE = timedelta(hours=1)


def far_enough(first: datetime, second: datetime, *, min_days: int, zone: ZoneInfo) -> bool:
    """The interval rule between two treatments: at least `min_days` calendar days apart in
    `zone` (where the session takes place), and never less than that many times 24 hours
    minus the hour a daylight-saving change may take away."""
    if min_days <= 0:
        return True
    # In UTC: two times of one zone would subtract by their wall clocks.
    elapsed = abs(first.astimezone(UTC) - second.astimezone(UTC))
    enough_time = elapsed >= timedelta(days=min_days) - CLOCK_CHANGE
    return enough_time and days_apart(first, second, zone) >= min_days
