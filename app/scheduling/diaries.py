"""Practitioners' diaries for placement: free slots found in whole minutes, lazily.

A proposal looks at a few slots near the ones it takes, among the diaries of every practitioner
over months. So nothing is worked out for a window as a whole: grid starts come one by one in
the order placement asks for them (by start, or nearest a target), each checked against the
bookings and time off (read a stretch at a time, only where a start is looked at), the rooms
of the location (a slot needs one free, neither taken nor closed) and the patient's own
sessions, as integers (minutes since the epoch) compared by bisection. A practitioner's
buffer is kept free around each of their sessions (each is stored widened by it), and no start
sooner than their minimum notice is offered, exactly as booking checks. A `Candidate` is made
only for a free slot placement actually looks at.

Pure: the bookings come from a function the caller passes (`load`).
"""

from __future__ import annotations

import bisect
import heapq
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import chain, groupby
from operator import itemgetter
from zoneinfo import ZoneInfo

from app.practitioners.hours import Interval, WeeklyHours
from app.scheduling.proposals import Candidate, Diary, Echoes, day_start
from app.scheduling.slots import EPOCH, MINUTE, at_minute, day_grid, minute_ceil, minute_floor


@dataclass(frozen=True)
class Calendar:
    """A practitioner as placement sees them at one location: its zone and their weekly hours
    there (a practitioner at two sites has two), the minutes they keep free before and after
    each session (`buffer`) and the least notice, in minutes, a booking with them needs
    (`notice`)."""

    id: uuid.UUID
    zone: ZoneInfo
    hours: tuple[WeeklyHours, ...]
    location_id: uuid.UUID | None = None
    buffer: int = 0
    notice: int = 0


# Who is busy over a window: (practitioner id, room id, start, end, whether it is a session or
# hold) of each booking or hold (both ids), time off (no room) or room closure (no
# practitioner). A practitioner's buffer is kept around their sessions and holds only.
# Read over one or more windows at once (sorted), in one statement.
Load = Callable[
    [Sequence[Interval]],
    Iterable[tuple[uuid.UUID | None, uuid.UUID | None, datetime, datetime, bool]],
]


_DAY = 1440  # minutes


class Busy:
    """Intervals in minutes, merged and sorted: "does [start, end) overlap one?" by bisection.
    Intervals may be added again (stretches read twice overlap): merging absorbs them."""

    def __init__(self) -> None:
        self._raw: list[tuple[int, int]] = []
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, intervals: Iterable[tuple[int, int]]) -> None:
        self._raw.extend(intervals)
        self._raw.sort()
        merged: list[tuple[int, int]] = []
        for start, end in self._raw:
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        self._raw = merged
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self._starts, end) - 1
        return index >= 0 and self._ends[index] > start


class Diaries(Diary):
    """The free slots of `calendars` for a patient (`own`: their sessions, which no slot may
    overlap), of `duration`, on the clinic's `grid`, ending by `until`; with `rooms` (the
    active rooms of each location), only where a room of the calendar's location is free; the
    practitioners' notices counted from `now` (none: no notice asked).

    A walk's first read also reads where placement says it will look next (`echoes`): a
    course's visits a month apart would each cost a statement of their own."""

    # Bookings are read where a walk looks: two hours around its first start (in a full
    # diary some practitioner is free near the target; each row read costs more than a grid
    # start), then stretches doubling to a week ahead of (or behind) it.
    _FIRST_READ, _LONGEST_READ = 120, 7 * _DAY

    def __init__(
        self,
        *,
        calendars: Sequence[Calendar],
        own: Iterable[Interval],
        duration: timedelta,
        grid: timedelta,
        until: datetime,
        load: Load,
        rooms: Mapping[uuid.UUID, Sequence[uuid.UUID]] | None = None,
        now: datetime | None = None,
    ) -> None:
        self._calendars = sorted(
            calendars, key=lambda c: (c.id.int, c.location_id.int if c.location_id else 0)
        )
        # A practitioner's bookings and time off, shared by their calendars at each site. The
        # maps are keyed by the ids' integers: a UUID's own hash is Python code, and `_cover`
        # looks up every row read.
        self._busy_of: dict[int, Busy] = {c.id.int: Busy() for c in self._calendars}
        self._busy = [self._busy_of[c.id.int] for c in self._calendars]
        # The buffer each practitioner keeps around their sessions (one, whatever the site).
        self._buffer_of: dict[int, int] = {c.id.int: c.buffer for c in self._calendars}
        self._widest = max(self._buffer_of.values(), default=0)  # bookings are read this wider
        self._diary_of = {key: (busy, self._buffer_of[key]) for key, busy in self._busy_of.items()}
        # Each calendar's first start allowed by the practitioner's notice.
        first = -_INFINITY if now is None else minute_ceil(now)
        self._earliest = [first + c.notice for c in self._calendars]
        self._latest_earliest = max(self._earliest, default=-_INFINITY)
        # Each calendar's rooms (None: rooms are not looked at), a room's bookings shared.
        self._room_busy: dict[int, Busy] = {
            room.int: Busy() for ids in (rooms or {}).values() for room in ids
        }
        # One list of rooms a location, shared by its calendars: whether one of them is free
        # at a start is worked out once for them all (`_free`).
        at_site = {
            site: [self._room_busy[room.int] for room in ids] for site, ids in (rooms or {}).items()
        }
        self._rooms: list[list[Busy] | None] = [
            None if rooms is None else at_site.get(c.location_id or _NOWHERE, [])
            for c in self._calendars
        ]
        self._own = Busy()
        self._own.add((minute_floor(i.start), minute_ceil(i.end)) for i in own)
        self._length, self._grid = duration // MINUTE, grid // MINUTE
        self._last_start = minute_floor(until) - self._length  # the slot ends by `until`
        self._load = load
        self._read: list[tuple[int, int]] = []  # stretches read, merged
        # Practitioners sharing a zone and hours share a grid (indexes in id order).
        groups: dict[tuple[ZoneInfo, tuple[WeeklyHours, ...]], list[int]] = {}
        for i, calendar in enumerate(self._calendars):
            groups.setdefault((calendar.zone, calendar.hours), []).append(i)
        self._groups = list(groups.items())

    def ascending(
        self, pieces: Sequence[Interval], echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        for piece in pieces:
            low, high = self._bounds(piece)
            starts = self._starts(low, high, descending=False)
            yield from self._free(starts, around=None, echoes=echoes)
            echoes = None  # they go with the walk's first piece: it looks first

    def nearest(
        self, pieces: Sequence[Interval], target: datetime, echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        at = minute_ceil(target)
        after = chain.from_iterable(
            self._starts(max(low, at), high, descending=False)
            for low, high in map(self._bounds, pieces)
        )
        before = chain.from_iterable(
            self._starts(low, min(high, at), descending=True)
            for low, high in map(self._bounds, reversed(pieces))
        )
        return self._free(_by_distance(after, before, target), around=at, echoes=echoes)

    def _bounds(self, piece: Interval) -> tuple[int, int]:
        """The whole-minute starts in `piece`: [low, high)."""
        return minute_ceil(piece.start), min(minute_ceil(piece.end), self._last_start + 1)

    def _starts(self, low: int, high: int, *, descending: bool) -> Iterator[tuple[int, int]]:
        """(start, group) of every grid start in [low, high), by start (groups in order)."""
        if low >= high:
            return iter(())
        walks = [
            _group_starts(zone, hours, self._length, self._grid, g, low, high, descending)
            for g, ((zone, hours), _) in enumerate(self._groups)
        ]
        return walks[0] if len(walks) == 1 else heapq.merge(*walks, reverse=descending)

    def _free(
        self, starts: Iterator[tuple[int, int]], *, around: int | None, echoes: Echoes | None
    ) -> Iterator[Candidate]:
        """The free slots at each start, by practitioner id; starts in the order given: by
        start, or going outward `around` a target. `echoes`: read with the walk's first read,
        from where it looks first (its target, else its first start)."""
        length, span = self._length, self._FIRST_READ
        later: Sequence[datetime] | None = None if echoes else ()  # worked out at the first look
        for start, same in groupby(starts, key=itemgetter(0)):
            end = start + length
            if self._own.overlaps(start, end):
                continue
            groups = [g for _, g in same]
            members = (
                self._groups[groups[0]][1]
                if len(groups) == 1
                else sorted(i for g in groups for i in self._groups[g][1])
            )
            if later is None and echoes is not None:
                later = echoes(at_minute(start if around is None else around))
            if self._cover(start, end, around is not None, span, later or ()):
                span = min(span * 2, self._LONGEST_READ)
                later = ()  # read with the walk's first read
            slot: Interval | None = None
            # Whether a room is free at this start, judged once for a location's rooms (the
            # calendars at a start mostly share one location).
            judged: list[Busy] | None = None
            room_free = False
            notice = start < self._latest_earliest  # else every notice is met
            for i in members:
                if (notice and start < self._earliest[i]) or self._busy[i].overlaps(start, end):
                    continue
                rooms = self._rooms[i]
                if rooms is not None:
                    if rooms is not judged:
                        judged = rooms
                        room_free = any(not room.overlaps(start, end) for room in rooms)
                    if not room_free:
                        continue
                slot = slot or Interval(at_minute(start), at_minute(end))
                calendar = self._calendars[i]
                yield Candidate(slot, calendar.id, calendar.zone, calendar.location_id)

    def _cover(
        self, start: int, end: int, around: bool, span: int, later: Sequence[datetime] = ()
    ) -> bool:
        """Read the bookings over [start, end) unless read already (then False), and `span`
        minutes more: ahead of a walk by start, or half either side of one going outward. Read
        wider by the widest buffer, so that a session near a slot is known with the buffer
        around it. `later`: where placement will look next, read with it (as much either
        side of each), where not read already."""
        if self._covered(start, end):
            return False
        if around:
            low, high = start - span // 2, end + span // 2
        else:
            low, high = start, end + span
        stretches = [(low, high)]
        for moment in later:
            at = minute_ceil(moment)
            if not self._covered(at, at + self._length):
                stretches.append((at - span // 2, at + self._length + span // 2))
        stretches = _merged(stretches)
        widest = self._widest
        windows = [Interval(at_minute(a - widest), at_minute(b + widest)) for a, b in stretches]
        rows: dict[Busy, list[tuple[int, int]]] = {}
        diary_of, room_busy = self._diary_of, self._room_busy
        for practitioner_id, room_id, busy_start, busy_end, session in self._load(windows):
            # Whole minutes, as `minute_floor` and `minute_ceil` (inline: run for every row).
            first, last = (busy_start - EPOCH) // MINUTE, -((EPOCH - busy_end) // MINUTE)
            if practitioner_id is not None:
                found = diary_of.get(practitioner_id.int)
                if found is not None:
                    practitioner, buffer = found
                    kept = buffer if session else 0
                    rows.setdefault(practitioner, []).append((first - kept, last + kept))
            if room_id is not None:
                room = room_busy.get(room_id.int)
                if room is not None:
                    rows.setdefault(room, []).append((first, last))
        for busy, intervals in rows.items():
            busy.add(intervals)
        self._read = _merged([*self._read, *stretches])
        return True

    def _covered(self, start: int, end: int) -> bool:
        """Whether [start, end) was read already."""
        index = bisect.bisect_right(self._read, (start, _INFINITY)) - 1
        return index >= 0 and self._read[index][1] >= end


_INFINITY = 1 << 62
_NOWHERE = uuid.UUID(int=0)


def _merged(stretches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(stretches):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _by_distance(
    after: Iterator[tuple[int, int]], before: Iterator[tuple[int, int]], target: datetime
) -> Iterator[tuple[int, int]]:
    """Starts at or after the target (ascending) and before it (descending) merged nearest
    first; at equal distance the earlier (before) first. Exact: compared in microseconds."""
    at = (target - _EPOCH) // _MICROSECOND
    a, b = next(after, None), next(before, None)
    while a is not None or b is not None:
        if b is not None and (a is None or at - b[0] * 60_000_000 <= a[0] * 60_000_000 - at):
            yield b
            b = next(before, None)
        else:
            assert a is not None
            yield a
            a = next(after, None)


_EPOCH = at_minute(0)
_MICROSECOND = timedelta(microseconds=1)


def _group_starts(
    zone: ZoneInfo,
    hours: tuple[WeeklyHours, ...],
    length: int,
    grid: int,
    group: int,
    low: int,
    high: int,
    descending: bool,
) -> Iterator[tuple[int, int]]:
    """(start, group) of the grid starts in [low, high), local day after local day (a slot
    starts on its own local day, so the walk begins on the day `low` falls on)."""
    if not descending:
        day = at_minute(low).astimezone(zone).date()
        while _midnight(day, zone) < high:
            starts = day_grid(day, zone, hours, length, grid)
            for start in starts[bisect.bisect_left(starts, low) :]:
                if start >= high:
                    return
                yield start, group
            day += timedelta(days=1)
    else:
        day = at_minute(high - 1).astimezone(zone).date()
        while _midnight(day + timedelta(days=1), zone) > low:
            starts = day_grid(day, zone, hours, length, grid)
            for start in reversed(starts[: bisect.bisect_left(starts, high)]):
                if start < low:
                    return
                yield start, group
            day -= timedelta(days=1)


@lru_cache(maxsize=4096)
def _midnight(day: date, zone: ZoneInfo) -> int:
    """The minute the local day begins."""
    return minute_floor(day_start(day, zone))
