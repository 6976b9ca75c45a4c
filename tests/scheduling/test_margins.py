"""Buffers and notice in the pure core: a practitioner's buffer is kept free around each of
their sessions (not around time off), and no start sooner than their notice is offered; the
lazy diaries proposals walk agree with the plain listing the free-slot search makes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.policy import Margins
from app.practitioners.hours import Interval, WeeklyHours
from app.scheduling.diaries import Calendar, Diaries
from app.scheduling.proposals import Candidate, ListedSlots
from app.scheduling.slots import free_slots, kept_free

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
HOURS_9_12 = tuple(WeeklyHours(d, time(9), time(12)) for d in range(7))
A, B = uuid.UUID(int=1), uuid.UUID(int=2)
DAY = date(2027, 3, 22)  # a Monday
HOUR, GRID = timedelta(hours=1), timedelta(minutes=30)


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = PARIS) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def test_a_practitioners_own_margins_stand_before_the_clinics() -> None:
    clinic = Margins(buffer_minutes=10, min_notice_minutes=60)
    assert clinic.own(None, None) == clinic
    assert clinic.own(0, None) == Margins(0, 60)
    assert clinic.own(None, 0) == Margins(10, 0)
    assert clinic.own(15, 1440).buffer == timedelta(minutes=15)
    assert clinic.own(15, 1440).notice == timedelta(days=1)


def test_kept_free_widens_each_session_by_the_buffer() -> None:
    session = Interval(local(DAY, 10), local(DAY, 10, 45))
    assert kept_free([session], timedelta(0)) == [session]
    assert kept_free([session], timedelta(minutes=15)) == [
        Interval(local(DAY, 9, 45), local(DAY, 11))
    ]


def _listed(busy: list[Interval], buffer: timedelta, start: datetime) -> list[datetime]:
    """The free-slot search's answer for a morning, from `start`."""
    return [
        slot.start
        for slot in free_slots(
            weekly_hours=HOURS_9_12,
            zone=PARIS,
            busy=kept_free(busy, buffer),
            duration=timedelta(minutes=45),
            window=Interval(start, local(DAY, 12)),
            grid=timedelta(minutes=15),
        )
    ]


def test_a_buffer_takes_the_slots_either_side_of_a_session() -> None:
    session = [Interval(local(DAY, 10), local(DAY, 10, 45))]
    morning = local(DAY, 0)
    assert _listed(session, timedelta(0), morning) == [
        local(DAY, 9),
        local(DAY, 9, 15),
        *(local(DAY, 10, m) for m in (45,)),
        *(local(DAY, 11, m) for m in (0, 15)),
    ]
    # 15 minutes kept free: a slot must end by 09:45 and start from 11:00.
    assert _listed(session, timedelta(minutes=15), morning) == [
        local(DAY, 9),
        local(DAY, 11),
        local(DAY, 11, 15),
    ]


def diaries(
    calendars: list[Calendar],
    sessions: list[tuple[uuid.UUID, datetime, datetime]],
    away: list[tuple[uuid.UUID, datetime, datetime]],
    now: datetime | None,
    reads: list[Interval] | None = None,
) -> Diaries:
    def load(
        windows: Sequence[Interval],
    ) -> list[tuple[uuid.UUID | None, uuid.UUID | None, datetime, datetime, bool]]:
        if reads is not None:
            reads.extend(windows)
        rows = [(p, None, s, e, True) for p, s, e in sessions]
        rows += [(p, None, s, e, False) for p, s, e in away]
        return [b for b in rows if any(b[2] < w.end and b[3] > w.start for w in windows)]

    return Diaries(
        calendars=calendars,
        own=[],
        duration=HOUR,
        grid=GRID,
        until=local(DAY + timedelta(days=60), 0),
        load=load,
        now=now,
    )


def starts(found: list[Candidate]) -> list[tuple[datetime, uuid.UUID]]:
    return [(c.slot.start, c.practitioner_id) for c in found]


WHOLE_DAY = [Interval(local(DAY, 0), local(DAY + timedelta(days=1), 0))]


def test_the_diaries_keep_a_buffer_around_sessions_not_around_time_off() -> None:
    calendars = [Calendar(A, PARIS, HOURS_9_12, buffer=30), Calendar(B, PARIS, HOURS_9_12)]
    session = [(A, local(DAY, 10), local(DAY, 10, 30)), (B, local(DAY, 10), local(DAY, 10, 30))]
    found = starts(list(diaries(calendars, session, [], None).ascending(WHOLE_DAY)))
    # B (no buffer) is free until 10:00 and from 10:30; A keeps 30 minutes either side.
    assert found == [
        (local(DAY, 9), B),
        (local(DAY, 10, 30), B),
        (local(DAY, 11), A),
        (local(DAY, 11), B),
    ]
    off = [(A, local(DAY, 10), local(DAY, 10, 30))]
    found = starts(list(diaries(calendars, [], off, None).ascending(WHOLE_DAY)))
    assert (local(DAY, 9), A) in found
    assert (local(DAY, 10, 30), A) in found


def test_the_diaries_offer_nothing_sooner_than_a_practitioners_notice() -> None:
    calendars = [Calendar(A, PARIS, HOURS_9_12, notice=90), Calendar(B, PARIS, HOURS_9_12)]
    now = local(DAY, 8, 50)
    found = starts(list(diaries(calendars, [], [], now).ascending(WHOLE_DAY)))
    # A: nothing before 10:20, so 10:30 first; B: no notice, 09:00 first.
    assert found[:3] == [(local(DAY, 9), B), (local(DAY, 9, 30), B), (local(DAY, 10), B)]
    assert found[3:5] == [(local(DAY, 10, 30), A), (local(DAY, 10, 30), B)]


def test_the_diaries_read_bookings_wider_by_the_widest_buffer() -> None:
    reads: list[Interval] = []
    calendars = [Calendar(A, PARIS, HOURS_9_12, buffer=45)]
    # A session ending 45 minutes before 10:00, outside a read of two hours from 10:00.
    session = [(A, local(DAY, 8), local(DAY, 9, 15))]
    walk = diaries(calendars, session, [], None, reads).ascending(
        [Interval(local(DAY, 10), local(DAY, 12))]
    )
    assert next(walk).slot.start == local(DAY, 10)
    assert reads[0].start == local(DAY, 9, 15)
    walk = diaries(calendars, session, [], None).ascending(
        [Interval(local(DAY, 9, 30), local(DAY, 12))]
    )
    assert next(walk).slot.start == local(DAY, 10)  # 09:30 is within 45 minutes of 09:15


# The diaries give what listing every free slot of the window and sorting would, buffers and
# notice included (the listing being what the free-slot search does).
instants = st.integers(min_value=0, max_value=14 * 96).map(
    lambda q: local(date(2027, 3, 20), 0) + q * timedelta(minutes=15)
)
bookings = st.lists(
    st.tuples(st.sampled_from([A, B]), instants, st.integers(1, 16)).map(
        lambda b: (b[0], b[1], b[1] + b[2] * timedelta(minutes=15) + timedelta(minutes=7))
    ),
    max_size=20,
)
margins = st.tuples(st.sampled_from([0, 5, 15, 60, 120]), st.sampled_from([0, 30, 1440, 4000]))


@settings(max_examples=60, deadline=None)
@given(
    sessions=bookings,
    away=bookings,
    target=instants,
    span=st.integers(1, 8),
    of_a=margins,
    of_b=margins,
    now=instants,
)
def test_diaries_keep_buffers_and_notice_as_the_listing_does(
    sessions: list[tuple[uuid.UUID, datetime, datetime]],
    away: list[tuple[uuid.UUID, datetime, datetime]],
    target: datetime,
    span: int,
    of_a: tuple[int, int],
    of_b: tuple[int, int],
    now: datetime,
) -> None:
    calendars = [
        Calendar(A, PARIS, HOURS_9_12, None, *of_a),
        Calendar(B, NEW_YORK, HOURS_9_12, None, *of_b),
    ]
    start = local(date(2027, 3, 20), 0)
    pieces = [Interval(start, start + timedelta(days=span))]

    def free_starting(window: Interval) -> list[Candidate]:
        found = []
        for c in calendars:
            buffer, first = timedelta(minutes=c.buffer), now + timedelta(minutes=c.notice)
            wanted = Interval(max(window.start, first), window.end + HOUR)
            theirs = [Interval(s, e) for p, s, e in sessions if p == c.id]
            off = [Interval(s, e) for p, s, e in away if p == c.id]
            found += [
                Candidate(slot, c.id, c.zone)
                for slot in free_slots(
                    weekly_hours=c.hours,
                    zone=c.zone,
                    busy=[*off, *kept_free(theirs, buffer)],
                    duration=HOUR,
                    window=wanted,
                    grid=GRID,
                )
                if slot.start < window.end
            ]
        return found

    listed = ListedSlots(free_starting)
    walked = diaries(calendars, sessions, away, now)
    assert starts(list(walked.ascending(pieces))) == starts(list(listed.ascending(pieces)))
    walked = diaries(calendars, sessions, away, now)
    assert starts(list(walked.nearest(pieces, target))) == starts(
        list(listed.nearest(pieces, target))
    )
