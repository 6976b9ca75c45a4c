"""Practitioners, their weekly hours and their time off."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.db import hold_lock
from app.errors import DomainError, NotFound, Versions, require_version
from app.models import Practitioner, TimeOff, TreatmentSession, WeeklyAvailability, utcnow
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


def _intervals(availability: Sequence[AvailabilityInterval]) -> list[WeeklyAvailability]:
    """Rows for the schedule, in the order reads return them (weekday, then start)."""
    ordered = sorted(availability, key=lambda i: (i.weekday, i.start))
    return [
        WeeklyAvailability(
            weekday=i.weekday,
            start_time=time.fromisoformat(i.start),
            end_time=time.fromisoformat(i.end),
        )
        for i in ordered
    ]


def weekly_hours(practitioner: Practitioner) -> list[WeeklyHours]:
    return [WeeklyHours(a.weekday, a.start_time, a.end_time) for a in practitioner.availability]


@dataclass(frozen=True)
class Calendar:
    """A practitioner as a booking checks them: whether they practise, on which clock, and
    when. Read as plain columns by booking's one query (`app.sessions.booking`), where a
    `Practitioner` with its hours would cost an ORM load on every booking."""

    id: uuid.UUID
    active: bool
    time_zone: str
    hours: tuple[WeeklyHours, ...]


def calendar_conflict(
    practitioner: Practitioner | Calendar, slot: Interval, absences: Sequence[TimeOff]
) -> InactivePractitioner | OutsideAvailability | None:
    """Why the practitioner cannot see a patient in `slot` (not active, outside their weekly
    hours, away), or None: booking raises it, a booked session's review shows it.
    `absences`: their time off overlapping the slot (more does no harm)."""
    if not practitioner.active:
        return InactivePractitioner(f"Practitioner {practitioner.id} is not active.")
    zone = ZoneInfo(practitioner.time_zone)
    hours = practitioner.hours if isinstance(practitioner, Calendar) else weekly_hours(practitioner)
    if not within_weekly_hours(slot, weekly_hours=hours, zone=zone):
        return OutsideAvailability(
            f"{slot.start.astimezone(zone):%a %d %b %H:%M}-{slot.end.astimezone(zone):%H:%M} "
            f"({practitioner.time_zone}) is outside the practitioner's weekly hours."
        )
    away = next((a for a in absences if a.start_at < slot.end and a.end_at > slot.start), None)
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
        availability=_intervals(data.availability),
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
    if changes.name is not None:
        practitioner.name = changes.name
        practitioner.name_key = changes.name.casefold()
    if changes.time_zone is not None:
        practitioner.time_zone = changes.time_zone
    if changes.active is not None:
        practitioner.active = changes.active
    if changes.availability is not None:
        practitioner.availability = _intervals(changes.availability)
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
    longer see as booked."""
    query = select(TreatmentSession).where(
        TreatmentSession.practitioner_id == practitioner.id,
        TreatmentSession.awaiting_treatment(now),
    )
    if within is not None:
        query = query.where(TreatmentSession.overlapping(within.start, within.end))
    upcoming = db.scalars(query.order_by(TreatmentSession.start_at)).all()
    if not upcoming:
        return []
    absences = db.scalars(
        select(TimeOff).where(
            TimeOff.practitioner_id == practitioner.id,
            TimeOff.start_at < upcoming[-1].end_at,
            TimeOff.end_at > upcoming[0].start_at,
        )
    ).all()
    return [
        s
        for s in upcoming
        if calendar_conflict(practitioner, Interval(s.start_at, s.end_at), absences)
    ]


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
