"""Follow-up proposals: pure placement of a course of visits about `interval_days` apart.

The first visit takes the earliest free slot on or after `earliest` (or, when the course is
under way, the slot nearest its due date). Each next visit aims at the previous one plus the
interval, at the same wall-clock time in the clinic's zone, and takes the free slot nearest
that target within the tolerance, counted in calendar days (ties: the earlier). A visit with no
free slot in its window, or due after the evaluation stops being valid, is reported as
unplaced, never silently moved.

The free slots come from a `Diary` the caller passes, asked for candidates lazily in the order
placement wants them (earliest first, or nearest a target first): placement takes the first
that fits, so a search costs what it looks at, not the size of its window. A plain function
giving the free slots of a window (`free_starting`) will do too (`ListedSlots`).
"""

from __future__ import annotations

import bisect
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from app.practitioners.hours import Interval
from app.scheduling.slots import CLOCK_CHANGE, far_enough

# The first visit of a course is searched this far ahead (by `ListedSlots`, in chunks growing
# from an hour to two weeks).
FIRST_VISIT_HORIZON = timedelta(days=92)
_FIRST_CHUNK, _LARGEST_CHUNK = timedelta(hours=1), timedelta(days=14)

NO_FREE_SLOT = "no free slot in the window"


@dataclass(frozen=True)
class Candidate:
    slot: Interval
    practitioner_id: uuid.UUID
    zone: ZoneInfo  # where the session would take place: its location's time zone
    location_id: uuid.UUID | None = None  # the location, with a room free then


# Free slots starting in [window.start, window.end), any order.
FreeStarting = Callable[[Interval], Sequence[Candidate]]
# Where placement will look after a walk that takes a slot at the given moment: the course's
# later visits. A diary reading bookings as it goes may read there with the walk's first read.
Echoes = Callable[[datetime], Sequence[datetime]]


class Diary(ABC):
    """Free slots, given lazily in the order placement looks at them. `pieces`: sorted,
    disjoint windows; a candidate starts inside one of them."""

    @abstractmethod
    def ascending(
        self, pieces: Sequence[Interval], echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        """By start, then practitioner id."""

    @abstractmethod
    def nearest(
        self, pieces: Sequence[Interval], target: datetime, echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        """By distance from `target`, then start (a tie goes to the earlier), then
        practitioner id."""


def _order(candidate: Candidate) -> tuple[datetime, int]:
    return candidate.slot.start, candidate.practitioner_id.int


class ListedSlots(Diary):
    """A diary over a function giving every free slot of a window, asked a window at a time:
    chunks growing from an hour (the earliest free slot is usually near) to two weeks, and
    windows growing around a target (a slot outside `reach` either side of it is at least
    `reach` from it, so those inside nearer than that come first whatever lies beyond)."""

    def __init__(self, free_starting: FreeStarting) -> None:
        self._free_starting = free_starting

    def ascending(
        self, pieces: Sequence[Interval], echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        for piece in pieces:
            low, chunk = piece.start, _FIRST_CHUNK
            while low < piece.end:
                high = min(low + chunk, piece.end)
                yield from sorted(self._free_starting(Interval(low, high)), key=_order)
                low, chunk = high, min(chunk * 2, _LARGEST_CHUNK)

    def nearest(
        self, pieces: Sequence[Interval], target: datetime, echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        def key(c: Candidate) -> tuple[timedelta, datetime, int]:
            return abs(c.slot.start - target), c.slot.start, c.practitioner_id.int

        done = timedelta(0)  # every candidate nearer than this was given
        for reach in (*_NEAREST_REACHES, None):
            found = [
                c
                for piece in pieces
                for window in [_clip(piece, target, reach)]
                if window.start < window.end
                for c in self._free_starting(window)
                if abs(c.slot.start - target) >= done
                and (reach is None or abs(c.slot.start - target) < reach)
            ]
            yield from sorted(found, key=key)
            if reach is not None:
                done = reach


def _clip(piece: Interval, target: datetime, reach: timedelta | None) -> Interval:
    if reach is None:
        return piece
    return Interval(max(piece.start, target - reach), min(piece.end, target + reach))


@dataclass(frozen=True)
class Proposal:
    sequence: int
    slot: Interval
    practitioner_id: uuid.UUID
    target_date: date
    offset_days: int
    location_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Unplaced:
    sequence: int
    target_date: date
    reason: str


@dataclass(frozen=True)
class Course:
    """What to place: `count` visits numbered from `first_sequence`."""

    count: int
    first_sequence: int
    earliest: datetime
    interval_days: int
    tolerance_days: int
    min_gap_days: int
    zone: ZoneInfo
    # When the course is under way: when the next visit is due (previous visit + interval).
    first_target: datetime | None = None
    # The evaluation's validity: no visit may end after it.
    valid_until: datetime | None = None

    def horizon(self) -> Interval:
        """Where its visits can fall: from `earliest`, the first visit's search, then each next
        one's interval and tolerance."""
        start = (
            self.earliest if self.first_target is None else min(self.earliest, self.first_target)
        )
        reach = FIRST_VISIT_HORIZON + timedelta(
            days=(self.count + 1) * (self.interval_days + self.tolerance_days + 1)
        )
        return Interval(start, max(self.earliest, self.first_target or self.earliest) + reach)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant the clinic's day begins (00:00 local, in UTC)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def same_time_days_later(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`days` calendar days later at the same wall-clock time in `zone` (so 09:00 stays 09:00
    across a daylight-saving change)."""
    return (moment.astimezone(zone) + timedelta(days=days)).astimezone(UTC)


def propose_follow_ups(
    *,
    course: Course,
    free_starting: Diary | FreeStarting,
    existing_starts: Sequence[datetime],
) -> tuple[list[Proposal], list[Unplaced]]:
    """Place the course's visits among the free slots `free_starting` gives."""
    diary = free_starting if isinstance(free_starting, Diary) else ListedSlots(free_starting)
    zone = course.zone
    taken: list[Interval] = []
    starts = sorted(existing_starts)
    # Only the treatments this close to a slot can be too close to it.
    near = timedelta(days=course.min_gap_days + 1)
    proposals: list[Proposal] = []
    unplaced: list[Unplaced] = []

    # What `fits` found for a slot and zone (practitioners at one time mostly share both),
    # until the next visit is placed.
    judged: dict[tuple[Interval, ZoneInfo], bool] = {}

    def fits(candidate: Candidate) -> bool:
        """Free for the patient: far enough from their other treatments (counted where the
        session would take place), overlapping none."""
        slot = candidate.slot
        found = judged.get((slot, candidate.zone))
        if found is None:
            low = bisect.bisect_left(starts, slot.start - near)
            high = bisect.bisect_right(starts, slot.start + near)
            found = judged[slot, candidate.zone] = all(
                far_enough(slot.start, s, min_days=course.min_gap_days, zone=candidate.zone)
                for s in starts[low:high]
            ) and not any(slot.overlaps(t) for t in taken)
        return found

    def first_fit(candidates: Iterable[Candidate], *, by_start: bool) -> _Search:
        """The first candidate that fits within the evaluation's validity; and whether one
        that fits was passed over only for falling after it. `by_start`: the candidates come
        by start, so once one that fits was passed over, none starting after the validity
        need be looked at."""
        past_validity, until = False, course.valid_until
        for candidate in candidates:
            if by_start and past_validity and until and candidate.slot.start >= until:
                break
            if fits(candidate):
                if course.valid_until is None or candidate.slot.end <= course.valid_until:
                    return _Search(candidate, past_validity)
                past_validity = True
        return _Search(None, past_validity)

    def echoes(left: int) -> Echoes:
        """Where the `left` visits after one will look if it is taken at a moment: each an
        interval after the one before, at the same wall-clock time."""

        def later(moment: datetime) -> list[datetime]:
            return [
                same_time_days_later(moment, course.interval_days * k, zone)
                for k in range(1, left + 1)
            ]

        return later

    anchor: datetime | None = None  # the previous visit's start (or its target, if unplaced)
    last = course.first_sequence + course.count - 1
    for sequence in range(course.first_sequence, last + 1):
        later = echoes(last - sequence)
        target = (
            same_time_days_later(anchor, course.interval_days, zone)
            if anchor is not None
            else course.first_target
        )
        if target is None:  # the very first visit of a course: the earliest free slot
            found = _earliest(course, diary, starts, first_fit, later)
            first_day = found.choice.slot.start if found.choice else course.earliest
            target_day = first_day.astimezone(zone).date()
        else:
            target_day = target.astimezone(zone).date()
            found = _nearest(course, target, diary, starts, first_fit, later)
        if found.choice is None:
            reason = _past_validity(course) if found.past_validity else NO_FREE_SLOT
            unplaced.append(Unplaced(sequence, target_day, reason))
            anchor = target or course.earliest
            continue
        slot, day = found.choice.slot, found.choice.slot.start.astimezone(zone).date()
        proposals.append(
            Proposal(
                sequence,
                slot,
                found.choice.practitioner_id,
                target_day,
                (day - target_day).days,
                found.choice.location_id,
            )
        )
        taken.append(slot)
        bisect.insort(starts, slot.start)
        judged.clear()
        anchor = slot.start
    return proposals, unplaced


@dataclass(frozen=True)
class _Search:
    choice: Candidate | None
    past_validity: bool  # a slot that fits was passed over for falling after the validity


class _FirstFit(Protocol):
    def __call__(self, candidates: Iterable[Candidate], *, by_start: bool) -> _Search: ...


def _nearest(
    course: Course,
    target: datetime,
    diary: Diary,
    starts: Sequence[datetime],
    first_fit: _FirstFit,
    echoes: Echoes,
) -> _Search:
    """The free slot nearest `target` (ties: the earlier) within the tolerance, counted in
    calendar days on the clinic's clock."""
    zone, day = course.zone, target.astimezone(course.zone).date()
    tolerance = Interval(
        max(day_start(day - timedelta(days=course.tolerance_days), zone), course.earliest),
        day_start(day + timedelta(days=course.tolerance_days + 1), zone),
    )
    pieces = _open(tolerance, starts, course)
    return first_fit(diary.nearest(pieces, target, echoes), by_start=False)


# How far either side of a follow-up's target the search looks, before the whole tolerance.
_NEAREST_REACHES = tuple(timedelta(hours=h) for h in (1, 4, 12, 24, 72))


def _open(window: Interval, starts: Sequence[datetime], course: Course) -> list[Interval]:
    """`window` less the stretches the patient's treatments (`starts`, sorted) surely rule out
    (see `_clear_of`): no slot need be made there, only to be refused."""
    if course.min_gap_days <= 0:
        return [window] if window.start < window.end else []
    sure = _surely_too_close(course)
    pieces, low = [], window.start
    while (low := _clear_of(low, starts, course)) < window.end:
        # The next stretch ruled out begins `sure` before the next treatment past it.
        after = bisect.bisect_right(starts, low + sure)
        high = min(window.end, starts[after] - sure) if after < len(starts) else window.end
        pieces.append(Interval(low, high))
        low = high
    return pieces


def _clear_of(moment: datetime, starts: Sequence[datetime], course: Course) -> datetime:
    """The first time from `moment` on that is not surely too close to one of the patient's
    treatments (`starts`, sorted): within `_surely_too_close` of one, no slot passes the
    interval rule, so none there need be looked at."""
    if course.min_gap_days <= 0:
        return moment
    sure = _surely_too_close(course)
    for start in starts[bisect.bisect_left(starts, moment - sure) :]:
        if start - sure > moment:
            break
        moment = max(moment, start + sure)
    return moment


def _surely_too_close(course: Course) -> timedelta:
    """Less elapsed time than this from a treatment never passes the interval rule (which asks
    for `min_gap_days` x 24 hours less the hour a clock change may take): an hour short of
    that bound, so a slot on it is still looked at whatever the window's edges."""
    return timedelta(days=course.min_gap_days) - 2 * CLOCK_CHANGE


def _earliest(
    course: Course,
    diary: Diary,
    starts: Sequence[datetime],
    first_fit: _FirstFit,
    echoes: Echoes,
) -> _Search:
    """The first slot that fits on or after `earliest` (past the stretches the patient's own
    treatments rule out)."""
    window = Interval(course.earliest, course.earliest + FIRST_VISIT_HORIZON)
    return first_fit(diary.ascending(_open(window, starts, course), echoes), by_start=True)


def _past_validity(course: Course) -> str:
    until = course.valid_until.astimezone(course.zone).date() if course.valid_until else None
    return f"the evaluation is valid until {until}: a new evaluation is needed first"
