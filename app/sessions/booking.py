"""Booking and moving a session: the only ways a session takes its time in the calendar.

Overlaps are refused by the database itself: on PostgreSQL by exclusion constraints, on SQLite
by the write lock every writing request takes before its first read (see `app.db`). No
in-process lock is involved.

Booking is the busiest write, so its statements are built once and run as plain Core
statements: once the locks are held, one query reads everything the checks ask
(`app.sessions.slot_checks`), and the session, its first event and its outbox events (the
booking's and its reminders', `app.events.reminders`) are written as plain inserts (on
PostgreSQL, one statement), with no ORM unit of work.

A session takes a room of the location whose hours hold the slot: the one named, or the
first free one (`slot_checks._room`). The room is chosen by reading, so bookings that could
want one room wait for each other first (`app.locations.service.room_locks`, in the booking's
one lock statement); the database refuses two sessions in one room all the same.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    exists,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from app.db import hold_lock
from app.errors import NotFound, Versions
from app.evaluations.service import Eligibility, current_eligibility
from app.events.outbox import OUTBOX, announce, event_row
from app.events.reminders import remind, reminder_rows, withdraw_reminders
from app.locations.service import ROOM_CHANGES, room_locks
from app.models import (
    SessionEvent,
    TreatmentPlan,
    TreatmentSession,
    UTCDateTime,
    utcnow,
)
from app.patients.service import PatientArchived, patient_lock
from app.plans.service import active_plan
from app.policy import BookingRules
from app.practitioners.hours import Interval
from app.practitioners.service import (
    practitioner_lock,
)
from app.sessions.errors import (
    EligibilityBlocked,
    HeldForOffer,
    HoldExpired,
    HoldMismatch,
    PlanFull,
    RoomTaken,
    SlotTaken,
    UnknownPatient,
)
from app.sessions.freed import OFFERS, free_slot
from app.sessions.lifecycle import SessionAction, load_locked, require
from app.sessions.schemas import RescheduleBody, SessionCreate
from app.sessions.slot_checks import check_slot
from app.vocabulary import (
    EventType,
    OfferStatus,
    SessionStatus,
    SlotFreedBy,
)

_SESSIONS: Table = TreatmentSession.metadata.tables[TreatmentSession.__tablename__]
_EVENTS: Table = SessionEvent.metadata.tables[SessionEvent.__tablename__]
_NOW = bindparam("now", type_=UTCDateTime())


def _refused_overlap(exc: IntegrityError) -> SlotTaken | RoomTaken | None:
    # 23P01: an exclusion constraint refused an overlap a concurrent booking just made: in
    # the room (migration 0028), or of the practitioner or the patient.
    if getattr(exc.orig, "sqlstate", None) != "23P01":
        return None
    diagnosis = getattr(exc.orig, "diag", None)
    if getattr(diagnosis, "constraint_name", None) == ROOM_OVERLAP:
        return RoomTaken("Another session was booked in that room at that time meanwhile.")
    return SlotTaken("Another session was booked at that time meanwhile.")


# PostgreSQL's exclusion constraint over each room's time (migration 0028).
ROOM_OVERLAP = "ex_treatment_sessions_room_id_overlap"


def _flush_booking(db: Session) -> None:
    try:
        db.flush()
    except IntegrityError as exc:
        refusal = _refused_overlap(exc)
        if refusal is not None:
            raise refusal from None
        raise


def eligible_for(
    db: Session, patient_id: uuid.UUID, slot: Interval, now: datetime, doing: str
) -> Eligibility:
    """The patient's standing, if it lets a session of `slot` go ahead: an archived patient is
    `PatientArchived` (booking and moving alike), any other obstacle `EligibilityBlocked`."""
    standing = current_eligibility(db=db, patient_id=patient_id, now=now)
    if standing.outcome.value == PatientArchived.code:
        raise PatientArchived(f"Patient {patient_id} is archived.", discloses=patient_id)
    obstacles = standing.obstacles(slot.end)
    if obstacles:
        raise EligibilityBlocked.because(patient_id, standing, obstacles, doing)
    return standing


@dataclass(frozen=True)
class FirstEvent:
    """A booked session's first event, as written: the columns of `SessionEvent`."""

    id: uuid.UUID
    session_id: uuid.UUID
    action: str
    from_status: SessionStatus | None
    to_status: SessionStatus
    old_start_at: datetime | None
    old_end_at: datetime | None
    old_practitioner_id: uuid.UUID | None
    reason: str | None
    at: datetime
    within_notice: bool = False


@dataclass(frozen=True)
class BookedSession:
    """A session just booked, as written: the columns of `TreatmentSession` and its first
    event, what the answer shows. Plain values: an ORM object for a row already stored would
    cost its instrumentation on every booking."""

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    plan_id: uuid.UUID | None
    location_id: uuid.UUID
    room_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    time_zone: str
    status: SessionStatus
    cancel_reason: str | None
    events: tuple[FirstEvent, ...]
    completion: None = None
    hold_expires_at: None = None


@dataclass(frozen=True)
class Hold:
    """A slot held for a patient until `expires_at` (a `pending` row of the calendar)."""

    id: uuid.UUID
    created_at: datetime
    version: int
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    expires_at: datetime
    plan_id: uuid.UUID | None  # the course it is held for, if named
    location_id: uuid.UUID
    room_id: uuid.UUID  # the room it keeps: booked, the session takes it
    # Placed inside the practitioner's minimum notice, by staff allowed to (not stored: what
    # placing it found).
    within_notice: bool = False
    # A standing waitlist offer: booked or released only as the offer (`app.waitlist.offers`).
    offered: bool = False

    @property
    def slot(self) -> Interval:
        return Interval(self.start_at, self.end_at)


_S = _SESSIONS.c
_LIVE_HOLD = select(
    _S.id,
    _S.created_at,
    _S.version,
    _S.patient_id,
    _S.practitioner_id,
    _S.start_at,
    _S.end_at,
    _S.hold_expires_at.label("expires_at"),
    _S.plan_id,
    _S.location_id,
    _S.room_id,
    # A waitlist offer's hold (the offer has its hold's id) while the offer stands.
    exists().where(OFFERS.c.id == _S.id, OFFERS.c.status == OfferStatus.OFFERED).label("offered"),
).where(
    _S.id == bindparam("hold_id", type_=_S.id.type),
    _S.status == SessionStatus.PENDING,
    _S.hold_expires_at > _NOW,
)


def live_hold(db: Session, hold_id: uuid.UUID, now: datetime) -> Hold | None:
    """The hold of that id, unless it has expired (or was booked, or released)."""
    row = db.connection().execute(_LIVE_HOLD, {"hold_id": hold_id, "now": now}).first()
    return Hold(**row._asdict()) if row is not None else None


@dataclass(frozen=True)
class _Wanted:
    """What a booking asks for: the patient, the practitioner, the time and perhaps the
    room, perhaps held."""

    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    slot: Interval
    room_id: uuid.UUID | None
    hold: Hold | None = None


def _held_for_offer(hold_id: uuid.UUID) -> HeldForOffer:
    return HeldForOffer(
        f"Hold {hold_id} is a waitlist offer: accept or decline it as one "
        f"(/api/v1/waitlist/offers/{hold_id}/accept or /decline), so that the patients after "
        "them on the list are offered the slot in turn.",
        offer_id=str(hold_id),
    )


def _wanted(
    db: Session, data: SessionCreate, now: datetime, *, accepting_offer: bool = False
) -> _Wanted:
    if data.hold_id is None:
        # The schema refuses a booking without a hold that names none of these.
        assert data.patient_id is not None
        assert data.practitioner_id is not None
        assert data.start is not None
        end = data.start + timedelta(minutes=data.duration_minutes)
        slot = Interval(data.start, end)
        return _Wanted(data.patient_id, data.practitioner_id, slot, data.room_id)
    hold = live_hold(db, data.hold_id, now)
    if hold is None:
        raise HoldExpired(
            f"No hold with id {data.hold_id} stands: it expired, was booked or was released. "
            "Hold the slot again."
        )
    if hold.offered and not accepting_offer:
        raise _held_for_offer(hold.id)
    sent = data.model_fields_set
    differs = [
        name
        for name, held in (
            ("patient_id", hold.patient_id),
            ("practitioner_id", hold.practitioner_id),
            ("start", hold.start_at),
            ("duration_minutes", (hold.end_at - hold.start_at) // timedelta(minutes=1)),
            # A hold for a course is booked into it (a booking naming none takes the hold's).
            ("plan_id", hold.plan_id if hold.plan_id is not None else data.plan_id),
            ("room_id", hold.room_id),
        )
        if name in sent and getattr(data, name) != held
    ]
    if differs:
        raise HoldMismatch(f"The hold is not for the {', '.join(differs)} sent.", fields=differs)
    return _Wanted(hold.patient_id, hold.practitioner_id, hold.slot, hold.room_id, hold)


def book(
    *,
    db: Session,
    data: SessionCreate,
    now: datetime,
    rules: BookingRules,
    accepting_offer: bool = False,
) -> BookedSession:
    """Put a session in the calendar, or refuse with the reason. Booking a hold (`hold_id`)
    turns the held row into the session, with every check a booking makes, made again; a
    hold that is a waitlist offer only when `accepting_offer` (`app.waitlist.offers`)."""
    wanted = _wanted(db, data, now, accepting_offer=accepting_offer)
    # The patient's care, the practitioner's calendar, then the rooms' hours (the order every
    # change takes them).
    hold_lock(
        db,
        patient_lock(wanted.patient_id),
        practitioner_lock(wanted.practitioner_id),
        *room_locks(wanted.slot.start, wanted.slot.end),
        shared=(ROOM_CHANGES,),
    )
    if wanted.hold is not None:
        # Read again under the locks: a concurrent booking of the same hold went first.
        wanted = _wanted(db, data, now, accepting_offer=accepting_offer)
    patient_id, slot = wanted.patient_id, wanted.slot
    try:
        eligible_for(db, patient_id, slot, now, "booked")
    except NotFound:
        raise UnknownPatient(f"No patient with id {patient_id}.") from None
    held_for = wanted.hold.plan_id if wanted.hold else None
    plan = _bookable_plan(db, data.plan_id or held_for, patient_id)
    hold = wanted.hold
    # An offer is of a time, not of a room: one closed or taken out of use since the offer
    # was made gives way to another free room of the site (the held one first, if it can).
    offer = hold if hold is not None and hold.offered else None
    place = check_slot(
        db=db,
        patient_id=patient_id,
        practitioner_id=wanted.practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        moving=hold.id if hold else None,
        locked=True,
        room_id=None if offer else wanted.room_id,
        prefer=offer.room_id if offer else None,
        within_notice=data.within_notice,
        # A hold keeps the notice it was placed with: it is not refused for the minutes the
        # patient took to confirm.
        notice_from=min(now, hold.expires_at - rules.hold_lifetime) if hold else now,
    )
    session_id, created = (hold.id, hold.created_at) if hold else (uuid.uuid4(), utcnow())
    first = FirstEvent(
        id=uuid.uuid4(),
        session_id=session_id,
        action=SessionAction.BOOK.value,
        from_status=SessionStatus.PENDING if hold else None,
        to_status=SessionStatus.BOOKED,
        old_start_at=None,
        old_end_at=None,
        old_practitioner_id=None,
        reason=None,
        at=now,
        within_notice=place.within_notice,
    )
    booked = BookedSession(
        id=session_id,
        created_at=created,
        updated_at=utcnow(),
        version=hold.version + 1 if hold else 1,
        patient_id=patient_id,
        practitioner_id=wanted.practitioner_id,
        plan_id=plan.id if plan else None,
        location_id=place.location_id,
        room_id=place.room_id,
        start_at=slot.start,
        end_at=slot.end,
        time_zone=place.time_zone,
        status=SessionStatus.BOOKED,
        cancel_reason=None,
        events=(first,),
    )
    if hold:
        _book_hold(db, booked, rules.reminder_offsets_hours)
    else:
        _write_booking(db, booked, rules.reminder_offsets_hours)
    place.leave_waitlist(db, booked.id, slot.start, now)
    return booked


_BOOK_HOLD = (
    update(_SESSIONS)
    .where(_S.id == bindparam("hold_id", type_=_S.id.type), _S.status == SessionStatus.PENDING)
    .values(
        status=SessionStatus.BOOKED,
        hold_expires_at=None,
        plan_id=bindparam("the_plan", type_=_S.plan_id.type),
        time_zone=bindparam("the_zone", type_=_S.time_zone.type),
        location_id=bindparam("the_location", type_=_S.location_id.type),
        room_id=bindparam("the_room", type_=_S.room_id.type),
        updated_at=bindparam("the_time", type_=_S.updated_at.type),
        version=bindparam("the_version", type_=_S.version.type),
    )
)


def _book_hold(db: Session, booked: BookedSession, reminders: Sequence[int]) -> None:
    """The held row becomes the session (its slot never free meanwhile), and its first
    event, its outbox event and its reminders are written."""
    connection = db.connection()
    taken = connection.execute(
        _BOOK_HOLD,
        {
            "hold_id": booked.id,
            "the_plan": booked.plan_id,
            "the_zone": booked.time_zone,
            "the_location": booked.location_id,
            "the_room": booked.room_id,
            "the_time": booked.updated_at,
            "the_version": booked.version,
        },
    )
    if taken.rowcount != 1:  # released meanwhile (a release does not wait for the locks)
        raise HoldExpired(f"The hold {booked.id} was released meanwhile: hold the slot again.")
    connection.execute(_INSERT_EVENT, {c.key: getattr(booked.events[0], c.key) for c in _EVENTS.c})
    connection.execute(_INSERT_OUTBOX, _announced(booked, reminders))


def place_hold(
    *,
    db: Session,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    slot: Interval,
    now: datetime,
    rules: BookingRules,
    plan_id: uuid.UUID | None = None,
    room_id: uuid.UUID | None = None,
    within_notice: bool = False,
    expires_at: datetime | None = None,
) -> Hold:
    """Keep `slot` for the patient until `expires_at` (default: `now` + the clinic's hold
    lifetime; a waitlist offer's lasts as long as the offer), for the course `plan_id` if
    named, in the room `room_id` (else a free one), if it could be booked now: every check
    booking makes is made (the patient's standing, the plan, the practitioner's hours, time
    off, buffer and notice, the room, overlaps, the interval between treatments), and a held
    slot and its room are taken for everyone else, by the database as a booking is.
    `within_notice`: as for booking (`check_slot`)."""
    hold_lock(
        db,
        patient_lock(patient_id),
        practitioner_lock(practitioner_id),
        *room_locks(slot.start, slot.end),
        shared=(ROOM_CHANGES,),
    )
    try:
        eligible_for(db, patient_id, slot, now, "held")
    except NotFound:
        raise UnknownPatient(f"No patient with id {patient_id}.") from None
    plan = _bookable_plan(db, plan_id, patient_id)
    place = check_slot(
        db=db,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        locked=True,
        room_id=room_id,
        within_notice=within_notice,
    )
    created = utcnow()
    hold = Hold(
        id=uuid.uuid4(),
        created_at=created,
        version=1,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        start_at=slot.start,
        end_at=slot.end,
        expires_at=expires_at or now + rules.hold_lifetime,
        plan_id=plan.id if plan else None,
        location_id=place.location_id,
        room_id=place.room_id,
        within_notice=place.within_notice,
    )
    row: dict[str, Any] = {c.key: None for c in _SESSIONS.c}
    row.update(
        id=hold.id,
        created_at=created,
        updated_at=created,
        version=1,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        start_at=slot.start,
        end_at=slot.end,
        time_zone=place.time_zone,
        status=SessionStatus.PENDING,
        hold_expires_at=hold.expires_at,
        plan_id=hold.plan_id,
        location_id=place.location_id,
        room_id=place.room_id,
    )
    try:
        db.connection().execute(_INSERT_SESSION, row)
    except IntegrityError as exc:
        refusal = _refused_overlap(exc)
        if refusal is not None:
            raise refusal from None
        raise
    announce(
        db,
        EventType.HOLD_CREATED,
        at=now,
        session_id=hold.id,
        patient_id=patient_id,
    )
    return hold


_RELEASE_HOLD = delete(_SESSIONS).where(
    _S.id == bindparam("hold_id", type_=_S.id.type), _S.status == SessionStatus.PENDING
)


def release_hold(*, db: Session, hold_id: uuid.UUID, now: datetime) -> Hold:
    """Give the held slot back before the hold expires."""
    hold = live_hold(db, hold_id, now)
    if hold is not None and hold.offered:
        raise _held_for_offer(hold.id)
    # Only the request that deletes the row released it: a concurrent release or booking of
    # the same hold that went first leaves nothing to delete.
    if hold is None or db.connection().execute(_RELEASE_HOLD, {"hold_id": hold_id}).rowcount != 1:
        raise NotFound(f"No hold with id {hold_id} stands.")
    return hold


# Plain inserts, every column given: no ORM unit of work for the one write booking makes.
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_EVENT = insert(_EVENTS)
_INSERT_OUTBOX = insert(OUTBOX)
# The outbox's columns a booking gives (its `seq` the database numbers).
_OUTBOX_COLUMNS = [c for c in OUTBOX.c if c.key != "seq"]
# PostgreSQL: all three in one statement (one round trip), the event inserted from the
# session's returned id, so it follows it. Parameters named apart (`session_id`, `event_id`,
# `outbox_id`).
_BOOKED = (
    insert(_SESSIONS)
    .values({c.key: bindparam(f"session_{c.key}", type_=c.type) for c in _SESSIONS.c})
    .returning(_SESSIONS.c.id)
    .cte("booked")
)


@functools.cache
def _insert_booking(announced: int) -> Insert:
    """The booking's statement for `announced` outbox rows (`session.booked`, then the
    reminders still ahead, numbered in that order), their parameters numbered (`outbox0_id`,
    `outbox1_id`, ...). The rows come from a UNION ALL of one-row selects rather than a
    multi-row VALUES, which has no cache key: a statement compiled anew on every booking costs
    milliseconds of CPU."""
    keys = [c.key for c in _OUTBOX_COLUMNS]
    rows = [
        select(*(bindparam(f"outbox{n}_{c.key}", type_=c.type) for c in _OUTBOX_COLUMNS))
        for n in range(announced)
    ]
    outbox = (
        insert(OUTBOX)
        .from_select(keys, rows[0] if announced == 1 else union_all(*rows))
        .cte("announced")
    )
    return (
        insert(_EVENTS)
        .from_select(
            [c.key for c in _EVENTS.c],
            select(
                *(
                    _BOOKED.c.id
                    if c.key == "session_id"
                    else bindparam(f"event_{c.key}", type_=c.type)
                    for c in _EVENTS.c
                )
            ),
        )
        .add_cte(_BOOKED)
        .add_cte(outbox)
    )


def _announced(booked: BookedSession, reminders: Sequence[int]) -> list[dict[str, Any]]:
    """The booking's outbox events: `session.booked`, then its reminders still ahead."""
    now = booked.events[0].at
    return [
        event_row(
            EventType.SESSION_BOOKED,
            at=now,
            session_id=booked.id,
            patient_id=booked.patient_id,
            plan_id=booked.plan_id,
        ),
        *reminder_rows(
            session_id=booked.id,
            patient_id=booked.patient_id,
            plan_id=booked.plan_id,
            start=booked.start_at,
            offsets_hours=reminders,
            now=now,
        ),
    ]


def _write_booking(db: Session, booked: BookedSession, reminders: Sequence[int]) -> None:
    """The session, its first event and its outbox events (with its reminders), every column
    given; an overlap a concurrent booking made meanwhile is a `SlotTaken` (PostgreSQL's
    exclusion constraints)."""
    session_row = {c.key: getattr(booked, c.key) for c in _SESSIONS.c}
    history_row = {c.key: getattr(booked.events[0], c.key) for c in _EVENTS.c}
    outbox_rows = _announced(booked, reminders)
    connection = db.connection()
    try:
        if connection.dialect.name == "postgresql":
            params = {f"session_{k}": v for k, v in session_row.items()}
            params.update((f"event_{k}", v) for k, v in history_row.items() if k != "session_id")
            for n, row in enumerate(outbox_rows):
                params.update((f"outbox{n}_{k}", v) for k, v in row.items())
            connection.execute(_insert_booking(len(outbox_rows)), params)
        else:
            connection.execute(_INSERT_SESSION, session_row)
            connection.execute(_INSERT_EVENT, history_row)
            connection.execute(_INSERT_OUTBOX, outbox_rows)
    except IntegrityError as exc:
        refusal = _refused_overlap(exc)
        if refusal is not None:
            raise refusal from None
        raise


def _bookable_plan(
    db: Session, plan_id: uuid.UUID | None, patient_id: uuid.UUID
) -> TreatmentPlan | None:
    if plan_id is None:
        return None
    plan = active_plan(db=db, plan_id=plan_id, patient_id=patient_id)
    if plan.sessions_live >= plan.planned_sessions:
        raise PlanFull(f"The plan's {plan.planned_sessions} sessions are all booked or done.")
    return plan


def reschedule(
    *,
    db: Session,
    session_id: uuid.UUID,
    change: RescheduleBody,
    now: datetime,
    rules: BookingRules,
    expected_version: Versions | None = None,
) -> TreatmentSession:
    """Move a booked session, with the same checks as booking; the old time and practitioner
    are kept in its history. It keeps its room where that room is free at the new time,
    unless the change names another."""
    session = load_locked(db, session_id)
    require(session, SessionAction.RESCHEDULE, expected_version)
    duration = (
        timedelta(minutes=change.duration_minutes)
        if change.duration_minutes
        else session.end_at - session.start_at
    )
    slot = Interval(change.start, change.start + duration)
    practitioner_id = change.practitioner_id or session.practitioner_id
    eligible_for(db, session.patient_id, slot, now, "booked")
    place = check_slot(
        db=db,
        patient_id=session.patient_id,
        practitioner_id=practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        moving=session.id,
        room_id=change.room_id,
        prefer=session.room_id,
        within_notice=change.within_notice,
    )
    left = Interval(session.start_at, session.end_at)
    left_with, left_zone = session.practitioner_id, session.time_zone
    left_site = session.location_id
    session.events.append(
        SessionEvent(
            action=SessionAction.RESCHEDULE.value,
            from_status=session.status,
            to_status=session.status,
            old_start_at=session.start_at,
            old_end_at=session.end_at,
            old_practitioner_id=session.practitioner_id,
            reason=change.reason,
            at=now,
            within_notice=place.within_notice,
        )
    )
    session.start_at, session.end_at, session.time_zone = slot.start, slot.end, place.time_zone
    session.location_id, session.room_id = place.location_id, place.room_id
    session.practitioner_id = practitioner_id
    session.updated_at = utcnow()
    _flush_booking(db)
    place.leave_waitlist(db, session.id, slot.start, now)
    if left_with != practitioner_id or not left.overlaps(slot):  # not merely shifted a little
        free_slot(
            db,
            session_id=session.id,
            patient_id=session.patient_id,
            slot=left,
            practitioner_id=left_with,
            location_id=left_site,
            time_zone=left_zone,
            freed_by=SlotFreedBy.RESCHEDULE,
            now=now,
        )
    announce(
        db,
        EventType.SESSION_RESCHEDULED,
        at=now,
        session_id=session.id,
        patient_id=session.patient_id,
        plan_id=session.plan_id,
    )
    # The reminders follow the session: those of the old time not told yet give way.
    withdraw_reminders(db, session_id=session.id)
    remind(
        db,
        session_id=session.id,
        patient_id=session.patient_id,
        plan_id=session.plan_id,
        start=session.start_at,
        offsets_hours=rules.reminder_offsets_hours,
        now=now,
    )
    return session
