"""A session's life cycle (FHIR Appointment statuses): which step may follow which, the day a
session's patient may be checked in and treated, and the steps that change nothing else
(check-in, cancel, no-show, entered in error)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.errors import NotFound, Versions, require_version
from app.events.outbox import announce
from app.events.reminders import withdraw_reminders
from app.models import LIVE_STATUSES, CompletionRecord, SessionEvent, TreatmentSession, utcnow
from app.patients.service import lock_patient
from app.plans.service import settle_completion
from app.practitioners.hours import Interval, local_day
from app.sessions.errors import CheckInNotOpen, InvalidTransition
from app.sessions.freed import free_slot
from app.vocabulary import EventType, SessionStatus, SlotFreedBy


class SessionAction(enum.StrEnum):
    """What can happen to a session; each is kept in its history under this name."""

    BOOK = "book"
    RESCHEDULE = "reschedule"
    CHECK_IN = "check-in"
    COMPLETE = "complete"
    CANCEL = "cancel"
    NO_SHOW = "no-show"
    ENTERED_IN_ERROR = "entered-in-error"


# The outbox event each step announces (`app.events.outbox`).
ANNOUNCED: dict[SessionAction, EventType] = {
    SessionAction.BOOK: EventType.SESSION_BOOKED,
    SessionAction.RESCHEDULE: EventType.SESSION_RESCHEDULED,
    SessionAction.CHECK_IN: EventType.SESSION_CHECKED_IN,
    SessionAction.COMPLETE: EventType.SESSION_COMPLETED,
    SessionAction.CANCEL: EventType.SESSION_CANCELLED,
    SessionAction.NO_SHOW: EventType.SESSION_NO_SHOW,
    SessionAction.ENTERED_IN_ERROR: EventType.SESSION_ENTERED_IN_ERROR,
}


# The steps that give a live session's slot back, to be offered round the waitlist (if it is
# still ahead): entered in error too, but only from a live status (a cancelled or missed
# session gave its slot back already).
FREES_ITS_SLOT: dict[SessionAction, SlotFreedBy] = {
    SessionAction.CANCEL: SlotFreedBy.CANCEL,
    SessionAction.NO_SHOW: SlotFreedBy.NO_SHOW,
    SessionAction.ENTERED_IN_ERROR: SlotFreedBy.ENTERED_IN_ERROR,
}


# Which statuses each step may start from, and the status it leads to. Booking starts from no
# status at all; entered in error from any but itself.
TRANSITIONS: dict[SessionAction, tuple[frozenset[SessionStatus], SessionStatus]] = {
    SessionAction.RESCHEDULE: (frozenset({SessionStatus.BOOKED}), SessionStatus.BOOKED),
    SessionAction.CHECK_IN: (frozenset({SessionStatus.BOOKED}), SessionStatus.ARRIVED),
    SessionAction.COMPLETE: (frozenset({SessionStatus.ARRIVED}), SessionStatus.FULFILLED),
    SessionAction.CANCEL: (frozenset({SessionStatus.BOOKED}), SessionStatus.CANCELLED),
    SessionAction.NO_SHOW: (frozenset({SessionStatus.BOOKED}), SessionStatus.NOSHOW),
    SessionAction.ENTERED_IN_ERROR: (
        frozenset(SessionStatus) - {SessionStatus.ENTERED_IN_ERROR, SessionStatus.PENDING},
        SessionStatus.ENTERED_IN_ERROR,
    ),
}


def load(db: Session, session_id: uuid.UUID) -> TreatmentSession:
    """The session of that id; a hold is none (`app.sessions.booking.live_hold`)."""
    found = db.scalar(
        select(TreatmentSession)
        .options(
            selectinload(TreatmentSession.completion).selectinload(CompletionRecord.injections),
            selectinload(TreatmentSession.events),
        )
        .where(TreatmentSession.id == session_id, TreatmentSession.status != SessionStatus.PENDING)
    )
    if found is None:
        raise NotFound(f"No session with id {session_id}.")
    return found


def load_locked(db: Session, session_id: uuid.UUID) -> TreatmentSession:
    """The session, read once its patient's lock is held: what a concurrent change to the
    patient's care committed meanwhile (a completion, a move) is then seen."""
    patient_id = db.scalar(
        select(TreatmentSession.patient_id).where(TreatmentSession.id == session_id)
    )
    if patient_id is None:
        raise NotFound(f"No session with id {session_id}.")
    lock_patient(db, patient_id)
    return load(db, session_id)


def get_session_record(*, db: Session, session_id: uuid.UUID) -> TreatmentSession:
    return load(db, session_id)


def require(
    session: TreatmentSession, action: SessionAction, expected_version: Versions | None = None
) -> SessionStatus:
    """The status `action` leads to, if the session is still at the version the client read
    (`If-Match`, else 412) and its status allows it (else 409)."""
    require_version("Session", session.version, expected_version)
    allowed, target = TRANSITIONS[action]
    if session.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action.value} a session that is {session.status.value}.",
            session_status=session.status.value,
        )
    return target


@dataclass(frozen=True)
class TreatmentDay:
    """When a session's patient may be checked in and treated: from `opens` (the start of the
    session's local day, or earlier by the clinic's setting) to the end of that day."""

    opens: datetime
    closes: datetime
    zone: ZoneInfo


def treatment_day(session: TreatmentSession, check_in_ahead: timedelta) -> TreatmentDay:
    """The session's day, where it takes place (its zone when booked, whatever the
    practitioner's profile says since)."""
    zone = ZoneInfo(session.time_zone)
    day = local_day(session.start_at, zone)
    return TreatmentDay(min(day.start, session.start_at - check_in_ahead), day.end, zone)


def step(
    *,
    db: Session,
    session_id: uuid.UUID,
    action: SessionAction,
    now: datetime,
    check_in_ahead: timedelta,
    reason: str | None = None,
    expected_version: Versions | None = None,
) -> TreatmentSession:
    """Check-in, cancel, no-show or entered in error: the steps that record nothing else."""
    session = load(db, session_id)
    target = require(session, action, expected_version)
    if action is SessionAction.NO_SHOW and now < session.start_at:
        raise InvalidTransition(
            "A no-show is recorded only after the start time.", session_status=session.status.value
        )
    if action is SessionAction.CHECK_IN:
        day = treatment_day(session, check_in_ahead)
        if not day.opens <= now < day.closes:
            local = session.start_at.astimezone(day.zone)
            raise CheckInNotOpen(
                f"The session is on {local:%A %d %B %Y} ({day.zone.key}): check-in opens at "
                f"{day.opens.astimezone(day.zone):%d %b %H:%M} and closes at the end of that day.",
                opens=day.opens.isoformat(),
                closes=day.closes.isoformat(),
            )
    was_fulfilled = session.status is SessionStatus.FULFILLED
    held_its_slot = session.status in LIVE_STATUSES
    record_step(session, action, target, now, reason=reason)
    if action is SessionAction.CANCEL:
        session.cancel_reason = reason
    db.flush()
    announce_step(db, session, action, now)
    # Checked in, cancelled, missed or entered in error: nothing left to remind of.
    withdraw_reminders(db, session_id=session.id)
    freed_by = FREES_ITS_SLOT.get(action)
    if freed_by is not None and held_its_slot:  # offered round the waitlist (`app.waitlist`)
        free_slot(
            db,
            session_id=session.id,
            patient_id=session.patient_id,
            slot=Interval(session.start_at, session.end_at),
            practitioner_id=session.practitioner_id,
            location_id=session.location_id,
            time_zone=session.time_zone,
            freed_by=freed_by,
            now=now,
        )
    if was_fulfilled:  # entered in error: the course has one fulfilled session fewer
        settle_completion(db=db, plan_id=session.plan_id, now=now, session_id=session.id)
    return session


def announce_step(
    db: Session, session: TreatmentSession, action: SessionAction, now: datetime
) -> None:
    """The step's outbox event, once the step is flushed (its row locked: one session's events
    are numbered in the order they happened)."""
    announce(
        db,
        ANNOUNCED[action],
        at=now,
        session_id=session.id,
        patient_id=session.patient_id,
        plan_id=session.plan_id,
    )


def record_step(
    session: TreatmentSession,
    action: SessionAction,
    target: SessionStatus,
    now: datetime,
    *,
    reason: str | None = None,
) -> None:
    """The step in the session's history, and its new status."""
    session.events.append(
        SessionEvent(
            action=action.value,
            from_status=session.status,
            to_status=target,
            reason=reason,
            at=now,
        )
    )
    session.status = target
    session.updated_at = utcnow()
