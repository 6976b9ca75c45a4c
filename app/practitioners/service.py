"""Practitioners, their weekly hours and their time off."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.db import hold_lock
from app.errors import DomainError, InvalidField, NotFound, Versions, require_version
from app.locations.service import UnknownLocation, default_location, unknown_locations
from app.models import (
    Location,
    Practitioner,
    TimeOff,
    TreatmentSession,
    WeeklyAvailability,
    utcnow,
)
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.practitioners.hours import Interval, WeeklyHours, within_weekly_hours
from app.practitioners.schemas import (
    AvailabilityInterval,
    PractitionerCreate,
    PractitionerUpdate,
    TimeOffCreate,
)


class UnknownPractitioner(DomainError):
    status = 422
    code = "unknown-practitioner"
    title = "No such practitioner"


class InactivePractitioner(DomainError):
    status = 422
    code = "inactive-practitioner"
    title = "The practitioner is not active"


class OutsideAvailability(DomainError):
    status = 422
    code = "outside-availability"
    title = "Outside the practitioner's hours"


_BY_NAME = Keyset(columns=(Practitioner.name_key, Practitioner.id), parsers=(str, cursor_uuid))
_BY_START = Keyset(columns=(TimeOff.start_at, TimeOff.id), parsers=(cursor_datetime, cursor_uuid))


def _with_availability() -> Select[Practitioner]:
    return select(Practitioner).options(selectinload(Practitioner.availability))


def _intervals(
    db: Session, availability: Sequence[AvailabilityInterval], time_zone: str
) -> list[WeeklyAvailability]:
    """Rows for the schedule, in the order reads return them (weekday, then start); hours
    that name no location are at the clinic's first location in `time_zone`."""
    named = [i.location_id for i in availability if i.location_id is not None]
    unknown = unknown_locations(db, named) if named else []
    if unknown:
        at = next(n for n, i in enumerate(availability) if i.location_id == unknown[0])
        raise UnknownLocation(
            f"No location with id {unknown[0]}.", field=f"availability.{at}.location_id"
        )
    fallback = (
        default_location(db, time_zone)
        if any(i.location_id is None for i in availability)
        else None
    )
    ordered = sorted(availability, key=lambda i: (i.weekday, i.start))
    rows = [
        WeeklyAvailability(
            weekday=i.weekday,
            start_time=time.fromisoformat(i.start),
            end_time=time.fromisoformat(i.end),
            location_id=i.location_id or fallback,
        )
        for i in ordered
    ]
    _refuse_meeting_elsewhere(db, rows)
    return rows


# How far ahead hours at two sites are checked for meeting in real time: a year and a week
# covers every daylight-saving regime of the zones involved.
_MEETING_REACH_DAYS = 371


def _refuse_meeting_elsewhere(db: Session, rows: Sequence[WeeklyAvailability]) -> None:
    """Hours at two locations whose clocks differ must not meet in real time on any day of
    the coming year (one practitioner cannot be at two sites at once; read on the wall clock
    alone, Paris 14:00-18:00 and New York 08:00-12:00 would both stand, and Paris 08:00-11:00
    beside New York 09:00-17:00 would be refused though they never meet). Same-location
    overlaps are refused by the schema."""
    sites = {row.location_id for row in rows}
    if len(sites) < 2:
        return
    found = select(Location.id, Location.time_zone).where(Location.id.in_(sites))
    zones: dict[uuid.UUID, str] = dict(db.execute(found).all())
    # One clock: a week tells. Several: every daylight-saving regime of the year ahead.
    days = 7 if len(set(zones.values())) == 1 else _MEETING_REACH_DAYS
    today = datetime.now(UTC).date()
    for offset in range(days):
        day = today + timedelta(days=offset)
        spans = []
        for row in rows:
            if row.weekday != day.weekday():
                continue
            zone = ZoneInfo(zones[row.location_id])
            start = datetime.combine(day, row.start_time, zone).astimezone(UTC)
            end = datetime.combine(day, row.end_time, zone).astimezone(UTC)
            spans.append((start, end, row))
        spans.sort(key=lambda span: span[0])
        reach: tuple[datetime, WeeklyAvailability] | None = None  # the latest end so far
        for start, end, second in spans:
            if (
                reach is not None
                and start < reach[0]
                and reach[1].location_id != second.location_id
            ):
                first = reach[1]
                raise InvalidField(
                    ("body", "availability"),
                    f"the hours {first.start_time:%H:%M}-{first.end_time:%H:%M} at location "
                    f"{first.location_id} and {second.start_time:%H:%M}-"
                    f"{second.end_time:%H:%M} at location {second.location_id} meet on "
                    f"{day.isoformat()}: a practitioner is at one site at a time",
                )
            if reach is None or end > reach[0]:
                reach = (end, second)


@dataclass(frozen=True)
class Site:
    """A practitioner's weekly hours at one location, read on the location's clock."""

    location_id: uuid.UUID
    zone: ZoneInfo
    hours: tuple[WeeklyHours, ...]


# A row of weekly hours where they are: (location id, its zone, weekday, start, end).
HoursRow = tuple[uuid.UUID, str, int, time, time]


def sites(rows: Iterable[HoursRow]) -> tuple[Site, ...]:
    """A practitioner's hours, a site per location (in the order of its first row)."""
    found: dict[tuple[uuid.UUID, str], list[WeeklyHours]] = {}
    for location_id, zone, weekday, start, end in rows:
        found.setdefault((location_id, zone), []).append(WeeklyHours(weekday, start, end))
    return tuple(
        Site(location_id, _zone(zone), tuple(hours)) for (location_id, zone), hours in found.items()
    )


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Calendar:
    """A practitioner as a booking checks them: whether they practise, their own zone, and
    their hours at each location. Read as plain columns (`app.sessions.booking` reads it in
    its one query), where a `Practitioner` with its hours would cost an ORM load."""

    id: uuid.UUID
    active: bool
    time_zone: str
    sites: tuple[Site, ...]

    def site_of(self, slot: Interval, location_id: uuid.UUID | None = None) -> Site | None:
        """The location whose hours hold `slot` (of `location_id` only, if given): where
        the practitioner sees patients then."""
        return next(
            (
                site
                for site in self.sites
                if (location_id is None or site.location_id == location_id)
                and within_weekly_hours(slot, weekly_hours=site.hours, zone=site.zone)
            ),
            None,
        )


def calendar_conflict(
    calendar: Calendar,
    slot: Interval,
    absences: Sequence[Interval],
    location_id: uuid.UUID | None = None,
) -> InactivePractitioner | OutsideAvailability | None:
    """Why the practitioner cannot see a patient in `slot` (not active, outside their weekly
    hours, at `location_id` if given, away), or None: booking raises it, a booked session's
    review shows it. `absences`: their time off overlapping the slot (more does no harm)."""
    if not calendar.active:
        return InactivePractitioner(f"Practitioner {calendar.id} is not active.")
    if calendar.site_of(slot, location_id) is None:
        zone = _zone(calendar.time_zone)
        there = " at that location" if calendar.site_of(slot) is not None else ""
        return OutsideAvailability(
            f"{slot.start.astimezone(zone):%a %d %b %H:%M}-{slot.end.astimezone(zone):%H:%M} "
            f"({calendar.time_zone}) is outside the practitioner's weekly hours{there}."
        )
    away = next((a for a in absences if a.overlaps(slot)), None)
    if away is not None:
        return OutsideAvailability("The practitioner is away then (time off).")
    return None


def lock_practitioner(db: Session, practitioner_id: uuid.UUID) -> None:
    """One change to a practitioner's calendar at a time: a booking with them waits for a
    change of their hours, status or time off (and it for the booking), so the change's list of
    stranded sessions always holds the booking or the booking saw the change."""
    hold_lock(db, practitioner_lock(practitioner_id))


def practitioner_lock(practitioner_id: uuid.UUID) -> str:
    """The name of the lock on a practitioner's calendar (`lock_practitioner`)."""
    return f"practitioner:{practitioner_id}"


def get_practitioner(*, db: Session, practitioner_id: uuid.UUID) -> Practitioner:
    # One statement: the practitioner joined with their hours.
    found = select(Practitioner).options(joinedload(Practitioner.availability))
    practitioner = db.scalars(found.where(Practitioner.id == practitioner_id)).unique().first()
    if practitioner is None:
        raise NotFound(f"No practitioner with id {practitioner_id}.")
    return practitioner


def create_practitioner(
    *, db: Session, data: PractitionerCreate, default_time_zone: str
) -> Practitioner:
    practitioner = Practitioner(
        name=data.name,
        name_key=data.name.casefold(),
        time_zone=data.time_zone or default_time_zone,
        active=data.active,
        availability=_intervals(db, data.availability, data.time_zone or default_time_zone),
        buffer_minutes=data.buffer_minutes,
        min_notice_minutes=data.min_notice_minutes,
    )
    db.add(practitioner)
    db.flush()
    return practitioner


@dataclass(frozen=True)
class Updated:
    practitioner: Practitioner
    # Upcoming sessions the practitioner can no longer see as booked; they stay booked.
    stranded: Sequence[TreatmentSession]


def update_practitioner(
    *,
    db: Session,
    practitioner_id: uuid.UUID,
    changes: PractitionerUpdate,
    now: datetime,
    expected_version: Versions | None = None,
) -> Updated:
    """Apply the fields sent. When the change touches whom and when they see (`active`,
    `time_zone`, `availability`), name their upcoming sessions it leaves stranded."""
    lock_practitioner(db, practitioner_id)
    practitioner = get_practitioner(db=db, practitioner_id=practitioner_id)
    require_version("Practitioner", practitioner.version, expected_version)
    # Their hours' locations first (one may be made and flushed): the practitioner's row is
    # then written once, one version more.
    zone = changes.time_zone or practitioner.time_zone
    hours = _intervals(db, changes.availability, zone) if changes.availability is not None else None
    if changes.name is not None:
        practitioner.name = changes.name
        practitioner.name_key = changes.name.casefold()
    if changes.time_zone is not None:
        practitioner.time_zone = changes.time_zone
    if changes.active is not None:
        practitioner.active = changes.active
    if hours is not None:
        practitioner.availability = hours
    # Sent as null: back to the clinic's. Bookings made already stay as they are.
    if "buffer_minutes" in changes.model_fields_set:
        practitioner.buffer_minutes = changes.buffer_minutes
    if "min_notice_minutes" in changes.model_fields_set:
        practitioner.min_notice_minutes = changes.min_notice_minutes
    if changes.model_fields_set:
        practitioner.updated_at = utcnow()  # bumps `version` even when only hours changed
    db.flush()
    if not changes.model_fields_set & {"active", "time_zone", "availability"}:
        return Updated(practitioner, [])
    return Updated(practitioner, _stranded(db, practitioner, now))


def _stranded(
    db: Session, practitioner: Practitioner, now: datetime, within: Interval | None = None
) -> list[TreatmentSession]:
    """The practitioner's upcoming sessions (those in `within`, if given) that they can no
    longer see as booked (where they were booked)."""
    query = select(TreatmentSession).where(
        TreatmentSession.practitioner_id == practitioner.id,
        TreatmentSession.awaiting_treatment(now),
    )
    if within is not None:
        query = query.where(TreatmentSession.overlapping(within.start, within.end))
    upcoming = db.scalars(query.order_by(TreatmentSession.start_at)).all()
    if not upcoming:
        return []
    absences = [
        Interval(start, end)
        for start, end in db.execute(
            select(TimeOff.start_at, TimeOff.end_at).where(
                TimeOff.practitioner_id == practitioner.id,
                TimeOff.start_at < upcoming[-1].end_at,
                TimeOff.end_at > upcoming[0].start_at,
            )
        )
    ]
    calendar = calendar_of(db, practitioner)
    return [
        s
        for s in upcoming
        if calendar_conflict(calendar, Interval(s.start_at, s.end_at), absences, s.location_id)
    ]


_LOCATED_HOURS = (
    select(
        WeeklyAvailability.location_id,
        Location.time_zone,
        WeeklyAvailability.weekday,
        WeeklyAvailability.start_time,
        WeeklyAvailability.end_time,
    )
    .join(Location, Location.id == WeeklyAvailability.location_id)
    .where(WeeklyAvailability.practitioner_id == bindparam("practitioner_id"))
    .order_by(WeeklyAvailability.weekday, WeeklyAvailability.start_time)
)


def calendar_of(db: Session, practitioner: Practitioner) -> Calendar:
    """The practitioner's calendar: their hours with the zones of their locations."""
    rows = db.execute(_LOCATED_HOURS, {"practitioner_id": practitioner.id})
    hours = sites((r[0], r[1], r[2], r[3], r[4]) for r in rows)
    return Calendar(practitioner.id, practitioner.active, practitioner.time_zone, hours)


def list_practitioners(
    *,
    db: Session,
    active: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Practitioner], str | None]:
    """Practitioners ordered by name, a page at a time."""
    query = _with_availability()
    if active is not None:
        query = query.where(Practitioner.active.is_(active))
    return paginate(db, query, _BY_NAME, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class Absence:
    time_off: TimeOff
    # Upcoming sessions booked with the practitioner during it; they stay booked, for review.
    stranded: Sequence[TreatmentSession]


def add_time_off(
    *, db: Session, practitioner_id: uuid.UUID, data: TimeOffCreate, now: datetime
) -> Absence:
    lock_practitioner(db, practitioner_id)
    practitioner = get_practitioner(db=db, practitioner_id=practitioner_id)
    time_off = TimeOff(
        practitioner_id=practitioner.id, start_at=data.start, end_at=data.end, reason=data.reason
    )
    db.add(time_off)
    db.flush()
    return Absence(
        time_off, _stranded(db, practitioner, now, within=Interval(data.start, data.end))
    )


def list_time_off(
    *,
    db: Session,
    practitioner_id: uuid.UUID,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[TimeOff], str | None]:
    """Absences overlapping [`window_start`, `window_end`), ordered by start."""
    get_practitioner(db=db, practitioner_id=practitioner_id)
    query = select(TimeOff).where(TimeOff.practitioner_id == practitioner_id)
    if window_start is not None:
        query = query.where(TimeOff.end_at > window_start)
    if window_end is not None:
        query = query.where(TimeOff.start_at < window_end)
    return paginate(db, query, _BY_START, limit=limit, cursor=cursor)
