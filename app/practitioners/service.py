"""Practitioners, their weekly hours and their time off."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, time

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from app.errors import NotFound, VersionMismatch
from app.models import Practitioner, TimeOff, WeeklyAvailability, utcnow
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.practitioners.schemas import (
    AvailabilityInterval,
    PractitionerCreate,
    PractitionerUpdate,
    TimeOffCreate,
)

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


def get_practitioner(*, session: Session, practitioner_id: uuid.UUID) -> Practitioner:
    practitioner = session.scalar(_with_availability().where(Practitioner.id == practitioner_id))
    if practitioner is None:
        raise NotFound(f"No practitioner with id {practitioner_id}.")
    return practitioner


def create_practitioner(
    *, session: Session, data: PractitionerCreate, default_time_zone: str
) -> Practitioner:
    practitioner = Practitioner(
        name=data.name,
        name_key=data.name.casefold(),
        time_zone=data.time_zone or default_time_zone,
        active=data.active,
        availability=_intervals(data.availability),
    )
    session.add(practitioner)
    session.flush()
    return practitioner


def update_practitioner(
    *,
    session: Session,
    practitioner_id: uuid.UUID,
    changes: PractitionerUpdate,
    expected_version: int | None = None,
) -> Practitioner:
    practitioner = get_practitioner(session=session, practitioner_id=practitioner_id)
    if expected_version is not None and expected_version != practitioner.version:
        raise VersionMismatch(
            f"Practitioner is at version {practitioner.version}, not {expected_version}.",
            current_version=practitioner.version,
        )
    if changes.name is not None:
        practitioner.name = changes.name
        practitioner.name_key = changes.name.casefold()
    if changes.time_zone is not None:
        practitioner.time_zone = changes.time_zone
    if changes.active is not None:
        practitioner.active = changes.active
    if changes.availability is not None:
        practitioner.availability = _intervals(changes.availability)
    if changes.model_fields_set:
        practitioner.updated_at = utcnow()  # bumps `version` even when only hours changed
    session.flush()
    return practitioner


def list_practitioners(
    *,
    session: Session,
    active: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Practitioner], str | None]:
    """Practitioners ordered by name, a page at a time."""
    query = _with_availability()
    if active is not None:
        query = query.where(Practitioner.active.is_(active))
    return paginate(session, query, _BY_NAME, limit=limit, cursor=cursor)


def add_time_off(*, session: Session, practitioner_id: uuid.UUID, data: TimeOffCreate) -> TimeOff:
    practitioner = get_practitioner(session=session, practitioner_id=practitioner_id)
    time_off = TimeOff(
        practitioner_id=practitioner.id, start_at=data.start, end_at=data.end, reason=data.reason
    )
    session.add(time_off)
    session.flush()
    return time_off


def list_time_off(
    *,
    session: Session,
    practitioner_id: uuid.UUID,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[TimeOff], str | None]:
    """Absences overlapping [`window_start`, `window_end`), ordered by start."""
    get_practitioner(session=session, practitioner_id=practitioner_id)
    query = select(TimeOff).where(TimeOff.practitioner_id == practitioner_id)
    if window_start is not None:
        query = query.where(TimeOff.end_at > window_start)
    if window_end is not None:
        query = query.where(TimeOff.start_at < window_end)
    return paginate(session, query, _BY_START, limit=limit, cursor=cursor)
