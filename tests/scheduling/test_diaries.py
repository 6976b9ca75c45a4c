"""The diaries placement walks: grid starts in whole minutes, free slots lazily, in order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.practitioners.hours import Interval, WeeklyHours
from app.scheduling.diaries import Calendar, Diaries
from app.scheduling.proposals import Candidate, ListedSlots
from app.scheduling.slots import at_minute, day_grid, free_slots, minute_ceil, minute_floor

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
MINUTES = timedelta(minutes=1)
HOURS_9_12 = tuple(WeeklyHours(d, time(9), time(12)) for d in range(7))


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = PARIS) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "floor", "ceil"),
    [
        (datetime(1970, 1, 1, 0, 1, tzinfo=UTC), 1, 1),
        (datetime(1970, 1, 1, 0, 1, 0, 1, tzinfo=UTC), 1, 2),
        (datetime(1970, 1, 1, 0, 1, 59, 999999, tzinfo=UTC), 1, 2),
        (datetime(1969, 12, 31, 23, 59, 30, tzinfo=UTC), -1, 0),
    ],
)
def test_minutes_round_exactly(moment: datetime, floor: int, ceil: int) -> None:
    assert (minute_floor(moment), minute_ceil(moment)) == (floor, ceil)
    assert at_minute(floor) <= moment <= at_minute(ceil)


@pytest.mark.parametrize(
    ("day", "hours", "length", "expected"),
    [
        # An ordinary day: every grid line whose slot ends by noon.
        (date(2027, 3, 22), HOURS_9_12, 60, [(9, 0), (9, 30), (10, 0), (10, 30), (11, 0)]),
        # Spring forward (02:00 -> 03:00): 02:xx does not exist, a slot across it is left out.
        (date(2027, 3, 28), (WeeklyHours(6, time(1), time(4)),), 60, [(3, 0)]),
        # Fall back (03:00 -> 02:00): 02:xx happens twice, nothing there is offered.
        (
            date(2027, 10, 31),
            (WeeklyHours(6, time(1), time(4, 30)),),
            60,
            [(3, 0), (3, 30)],
        ),
        # Two blocks of hours overlapping: each start once.
        (
            date(2027, 3, 22),
            (WeeklyHours(0, time(9), time(10)), WeeklyHours(0, time(9, 30), time(10, 30))),
            30,
            [(9, 0), (9, 30), (10, 0)],
        ),
        # No hours that weekday.
        (date(2027, 3, 23), (WeeklyHours(0, time(9), time(12)),), 30, []),
    ],
)
def test_day_grid(
    day: date,
    hours: tuple[WeeklyHours, ...],
    length: int,
    expected: list[tuple[int, int]],
) -> None:
    starts = day_grid(day, PARIS, hours, length, 30)
    assert [at_minute(s) for s in starts] == [local(day, h, m) for h, m in expected]


A, B = uuid.UUID(int=1), uuid.UUID(int=2)
DAY = date(2027, 3, 22)  # a Monday


def diaries(
    busy: list[tuple[uuid.UUID, datetime, datetime]],
    *,
    own: list[Interval] | None = None,
    calendars: list[Calendar] | None = None,
    reads: list[Interval] | None = None,
    away: list[tuple[uuid.UUID, datetime, datetime]] | None = None,
    now: datetime | None = None,
    loads: list[int] | None = None,
) -> Diaries:
    """`busy`: sessions (a buffer is kept around them); `away`: time off. `reads`: the windows
    read; `loads`: how many windows each statement read."""

    def load(
        windows: Sequence[Interval],
    ) -> list[tuple[uuid.UUID | None, uuid.UUID | None, datetime, datetime, bool]]:
        if reads is not None:
            reads.extend(windows)
        if loads is not None:
            loads.append(len(windows))
        rows = [(p, None, s, e, True) for p, s, e in busy]
        rows += [(p, None, s, e, False) for p, s, e in away or []]
        return [b for b in rows if any(b[2] < w.end and b[3] > w.start for w in windows)]

    return Diaries(
        calendars=calendars or [Calendar(B, PARIS, HOURS_9_12), Calendar(A, PARIS, HOURS_9_12)],
        own=own or [],
        duration=timedelta(hours=1),
        grid=timedelta(minutes=30),
        until=local(DAY + timedelta(days=60), 0),
        load=load,
        now=now,
    )


def starts(found: list[Candidate]) -> list[tuple[datetime, uuid.UUID]]:
    return [(c.slot.start, c.practitioner_id) for c in found]


WHOLE_DAY = [Interval(local(DAY, 0), local(DAY + timedelta(days=1), 0))]


@pytest.mark.parametrize(
    ("case", "busy", "own", "expected"),
    [
        (
            "a session crossing midnight blocks the next morning's first slot",
            [(A, local(DAY, 8, 45) - timedelta(hours=10), local(DAY, 9, 30))],
            [],
            [(9, 0, B), (9, 30, A), (9, 30, B)],
        ),
        (
            "a session covering part of the day",
            [(B, local(DAY, 9, 15), local(DAY, 10, 15))],
            [],
            [(9, 0, A), (9, 30, A), (10, 0, A), (10, 30, A), (10, 30, B)],
        ),
        (
            "the patient's own session rules out every practitioner",
            [],
            [Interval(local(DAY, 9), local(DAY, 10))],
            [(10, 0, A), (10, 0, B)],
        ),
    ],
)
def test_ascending(
    case: str,
    busy: list[tuple[uuid.UUID, datetime, datetime]],
    own: list[Interval],
    expected: list[tuple[int, int, uuid.UUID]],
) -> None:
    found = list(diaries(busy, own=own).ascending(WHOLE_DAY))
    assert starts(found)[: len(expected)] == [(local(DAY, h, m), p) for h, m, p in expected]


def test_nearest_goes_outward_ties_to_the_earlier_then_by_id() -> None:
    found = diaries([]).nearest(WHOLE_DAY, local(DAY, 10, 15))
    assert starts([next(found) for _ in range(6)]) == [
        (local(DAY, 10), A),
        (local(DAY, 10), B),
        (local(DAY, 10, 30), A),
        (local(DAY, 10, 30), B),
        (local(DAY, 9, 30), A),
        (local(DAY, 9, 30), B),
    ]


def test_bookings_are_read_only_around_where_the_walk_looks() -> None:
    reads: list[Interval] = []
    month = [Interval(local(DAY, 0), local(DAY + timedelta(days=30), 0))]
    found = diaries([], reads=reads).nearest(month, local(DAY + timedelta(days=14), 10))
    assert next(found).slot.start == local(DAY + timedelta(days=14), 10)
    assert len(reads) == 1
    assert reads[0].end - reads[0].start <= timedelta(hours=4)


def test_the_first_read_takes_in_where_placement_will_look_next() -> None:
    """A course's visits a month apart: the stretch around each later one is read with the
    first, in one statement, and a walk there reads nothing more; what it finds is what it
    would have found reading there on its own."""
    month, hour = timedelta(days=28), timedelta(hours=1)
    later = local(DAY + month, 9)
    busy = [(A, later, later + timedelta(hours=1)), (B, later - timedelta(hours=5), later)]

    def echoes(first: datetime) -> list[datetime]:
        return [first + month, first + 2 * month]

    loads: list[int] = []
    walked = diaries(busy, loads=loads)
    alone = diaries(busy)
    first = next(walked.ascending(WHOLE_DAY, echoes))
    assert first.slot.start == local(DAY, 9)
    assert loads == [3]  # the first stretch and its two echoes, in one statement
    window = [Interval(local(DAY + month, 0), local(DAY + month + timedelta(days=1), 0))]
    near = list(islice(walked.nearest(window, later), 3))
    assert loads == [3]  # read already
    assert starts(near) == starts(list(islice(alone.nearest(window, later), 3)))
    assert starts(near) == [(later, B), (later + timedelta(minutes=30), B), (later + hour, A)]
    far = DAY + 2 * month + timedelta(days=3)  # no echo there: read when looked at
    next(walked.ascending([Interval(local(far, 0), local(far, 12))]))
    assert loads == [3, 1]


def test_practitioners_in_other_zones_come_in_order_of_start() -> None:
    calendars = [Calendar(B, NEW_YORK, HOURS_9_12), Calendar(A, PARIS, HOURS_9_12)]
    found = list(diaries([], calendars=calendars).ascending(WHOLE_DAY))
    assert [c.slot.start for c in found] == sorted(c.slot.start for c in found)
    assert {c.practitioner_id for c in found} == {A, B}
    assert all(c.zone == (PARIS if c.practitioner_id == A else NEW_YORK) for c in found)


def test_with_rooms_a_slot_needs_a_free_room_of_its_calendars_location() -> None:
    """Two practitioners at one site with one room, A also at a site of its own: A's room
    closed at 9:00 and B's session in the shared room at 10:00 leave A only its own site at 9,
    and each the shared room where it is free."""
    shared, own, room_1, room_2 = (uuid.UUID(int=n) for n in (101, 102, 201, 202))
    mornings = tuple(WeeklyHours(d, time(9), time(11)) for d in range(7))
    calendars = [
        Calendar(A, PARIS, mornings, shared),
        Calendar(B, PARIS, mornings, shared),
        Calendar(A, PARIS, tuple(WeeklyHours(d, time(9), time(10)) for d in range(7)), own),
    ]
    rows = [
        (B, room_1, local(DAY, 10), local(DAY, 11), True),  # B's session in the shared room
        (None, room_1, local(DAY, 9), local(DAY, 9, 30), False),  # the shared room closed at 9
    ]

    def load(
        windows: Sequence[Interval],
    ) -> list[tuple[uuid.UUID | None, uuid.UUID, datetime, datetime, bool]]:
        return [r for r in rows if any(r[2] < w.end and r[3] > w.start for w in windows)]

    walked = Diaries(
        calendars=calendars,
        own=[],
        duration=timedelta(hours=1),
        grid=timedelta(minutes=30),
        until=local(DAY + timedelta(days=1), 0),
        load=load,
        rooms={shared: [room_1], own: [room_2]},
    )
    day = [Interval(local(DAY, 0), local(DAY, 12))]
    found = [(c.slot.start, c.practitioner_id, c.location_id) for c in walked.ascending(day)]
    # 9:00: the shared room closed, A at its own site; 9:30 and 10:00: the shared room taken
    # by B's session (and B busy), A's own site closing at 10.
    assert found == [(local(DAY, 9), A, own)]


# The diaries give what listing every free slot of the window and sorting would.
instants = st.integers(min_value=0, max_value=14 * 96).map(
    lambda q: local(date(2027, 3, 20), 0) + q * timedelta(minutes=15)
)
bookings = st.lists(
    st.tuples(st.sampled_from([A, B]), instants, st.integers(1, 16)).map(
        lambda b: (b[0], b[1], b[1] + b[2] * timedelta(minutes=15) + 7 * MINUTES)
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(busy=bookings, target=instants, span=st.integers(1, 10))
def test_diaries_agree_with_the_listing(
    busy: list[tuple[uuid.UUID, datetime, datetime]], target: datetime, span: int
) -> None:
    calendars = [Calendar(A, PARIS, HOURS_9_12), Calendar(B, NEW_YORK, HOURS_9_12)]
    start = local(date(2027, 3, 20), 0)
    pieces = [Interval(start, start + timedelta(days=span))]

    def free_starting(window: Interval) -> list[Candidate]:
        wanted = Interval(window.start, window.end + timedelta(hours=1))
        return [
            Candidate(slot, c.id, c.zone)
            for c in calendars
            for slot in free_slots(
                weekly_hours=c.hours,
                zone=c.zone,
                busy=[Interval(s, e) for p, s, e in busy if p == c.id],
                duration=timedelta(hours=1),
                window=wanted,
                grid=timedelta(minutes=30),
            )
            if slot.start < window.end
        ]

    listed = ListedSlots(free_starting)
    walked = diaries(busy, calendars=calendars)
    assert starts(list(walked.ascending(pieces))) == starts(list(listed.ascending(pieces)))
    assert starts(list(walked.nearest(pieces, target))) == starts(
        list(listed.nearest(pieces, target))
    )
