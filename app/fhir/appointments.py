"""Appointment: every treatment session as an EHR's calendar reads it, and a proposal (`$find`)
as a `proposed` Appointment. A session's statuses are FHIR's already (`app.vocabulary`):

| session | Appointment.status |
|---|---|
| booked, arrived, fulfilled, cancelled, noshow, entered-in-error | the same |
| a hold (`$hold`, `POST /api/v1/holds`) until it expires | pending |
| a proposal (nothing stored) | proposed |

An expired hold is gone: never shown, read or found, whether or not its row is deleted yet.

The patient, the practitioner and the room (a `Location/<room id>`, its name as the display)
are its participants; the course it belongs to is its `supportingInformation` (R4's `basedOn`
takes a ServiceRequest only). A proposal names no room: one is chosen when it is booked. Why
it was cancelled is free text, clinical: shown only to roles that may read clinical detail, as
`/api/v1` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.fhir.capability import Interaction
from app.fhir.codes import visit_type
from app.fhir.criteria import Criteria
from app.fhir.datatypes import instant, meta, reference
from app.fhir.search import SearchQuery
from app.fhir.search import instant as instant_param
from app.fhir.search import reference as reference_param
from app.fhir.search import token as token_param
from app.models import Room, TreatmentSession
from app.sessions import listing
from app.sessions.review import Booked
from app.vocabulary import SessionStatus

# Each session status as an Appointment's (a test holds every status to a row here).
APPOINTMENT_STATUS: dict[SessionStatus, str] = {
    SessionStatus.BOOKED: "booked",
    SessionStatus.ARRIVED: "arrived",
    SessionStatus.FULFILLED: "fulfilled",
    SessionStatus.CANCELLED: "cancelled",
    SessionStatus.NOSHOW: "noshow",
    SessionStatus.ENTERED_IN_ERROR: "entered-in-error",
    SessionStatus.PENDING: "pending",
}
PROPOSED = "proposed"
# FHIR's other Appointment statuses: no session has them (a search for them matches none).
_OTHER_STATUSES = frozenset({"proposed", "checked-in", "waitlist"})
_STATUSES = {shown: status for status, shown in APPOINTMENT_STATUS.items()}

READ = Interaction("Appointment", "read", id_param="session_id")
SEARCH = Interaction(
    "Appointment",
    "search-type",
    search=(
        reference_param("patient", "Patient", "The patient: `Patient/<id>` or `<id>`."),
        reference_param(
            "practitioner", "Practitioner", "The practitioner: `Practitioner/<id>` or `<id>`."
        ),
        instant_param(
            "date",
            "When it starts, compared with eq, ge, gt, le or lt; repeat for a window "
            "(`date=ge2027-01-04&date=lt2027-01-11`). A value covers the time it names: a "
            "date is that whole day in the clinic's time zone (`date=le2027-01-04` includes "
            "the 4th), a date-time with its offset its minute or second.",
            ("eq", "ge", "gt", "le", "lt"),
        ),
        token_param(
            "status",
            "booked, arrived, fulfilled, cancelled, noshow, entered-in-error, or pending (a "
            "hold not yet expired); comma-separated for any of several.",
        ),
    ),
)


class StoredSession(Booked, Protocol):
    """What an Appointment shows of a session: a `TreatmentSession`, or a listed row."""

    @property
    def cancel_reason(self) -> str | None: ...
    @property
    def version(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def room_names(db: Session, room_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the rooms sessions take place in (an Appointment's room participant
    shows its name), read in one statement."""
    wanted = set(room_ids)
    if not wanted:
        return {}
    rows = db.execute(select(Room.id, Room.name).where(Room.id.in_(wanted)))
    return {row.id: row.name for row in rows}


def appointment(session: StoredSession, *, clinical: bool, room: str | None) -> dict[str, Any]:
    """The session as an Appointment, its room's name (`room`) as that participant's display;
    why it was cancelled only for `clinical` callers (those that may read clinical detail)."""
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(session.id),
        "meta": meta(session.version, session.updated_at),
        "status": APPOINTMENT_STATUS[session.status],
    }
    if clinical and session.status is SessionStatus.CANCELLED and session.cancel_reason:
        resource["cancelationReason"] = {"text": session.cancel_reason}
    resource.update(
        _visit(
            session.patient_id,
            session.practitioner_id,
            session.start_at,
            session.end_at,
            taken="accepted",
        )
    )
    resource["participant"].append(
        {
            "actor": reference("Location", session.room_id, room),
            "required": "required",
            "status": "accepted",
        }
    )
    resource["created"] = instant(session.created_at)
    if session.plan_id is not None:
        resource["supportingInformation"] = [reference("CarePlan", session.plan_id)]
    return resource


def proposed_appointment(
    *, patient_id: uuid.UUID, practitioner_id: uuid.UUID, start: datetime, end: datetime
) -> dict[str, Any]:
    """A proposal as an Appointment: `proposed`, without an id (nothing is stored), its
    participants yet to accept it."""
    return {
        "resourceType": "Appointment",
        "status": PROPOSED,
        **_visit(patient_id, practitioner_id, start, end, taken="needs-action"),
    }


def _visit(
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    taken: str,
) -> dict[str, Any]:
    """What every Appointment says: the visit type, when, and who (`taken`: each
    participant's answer)."""
    return {
        "serviceType": [visit_type()],
        "appointmentType": visit_type(),
        "start": instant(start),
        "end": instant(end),
        "minutesDuration": round((end - start).total_seconds() / 60),
        "participant": [
            {"actor": reference(kind, actor), "required": "required", "status": taken}
            for kind, actor in (("Patient", patient_id), ("Practitioner", practitioner_id))
        ],
    }


@dataclass(frozen=True)
class Found:
    """A page of the sessions a search matched, the cursor of the next page, and the patient
    the search asked about (the audit trail names them even when none matched)."""

    sessions: Sequence[StoredSession]
    next_cursor: str | None
    patient_id: uuid.UUID | None


def search_sessions(
    *, db: Session, query: SearchQuery, now: datetime, limit: int, cursor: str | None
) -> Found:
    """The sessions an Appointment search matches, by start, a page at a time."""
    asked = Criteria(query)
    patient_id = asked.one_record("patient")
    practitioner_id = asked.one_record("practitioner")
    starts_from, starts_before = asked.time_window("date")
    statuses = asked.codes("status", _STATUSES, _OTHER_STATUSES)
    if asked.matches_nothing:
        return Found((), None, patient_id)
    sessions, next_cursor = find_sessions(
        db=db,
        now=now,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        statuses=sorted(statuses or ()),
        starts_from=starts_from,
        starts_before=starts_before,
        limit=limit,
        cursor=cursor,
    )
    return Found(sessions, next_cursor, patient_id)


def get_session(*, db: Session, session_id: uuid.UUID, now: datetime) -> TreatmentSession:
    """The session (or hold not yet expired) an Appointment shows, or `NotFound`."""
    session = db.get(TreatmentSession, session_id)
    if session is None or _expired(session, now):
        raise NotFound(f"No Appointment with id {session_id}.")
    return session


def _expired(session: TreatmentSession, now: datetime) -> bool:
    """A hold past its time: gone, though its row may wait to be deleted."""
    expires_at = session.hold_expires_at
    return session.status is SessionStatus.PENDING and (expires_at is None or expires_at <= now)


def find_sessions(
    *,
    db: Session,
    now: datetime,
    patient_id: uuid.UUID | None,
    practitioner_id: uuid.UUID | None,
    statuses: Sequence[SessionStatus],
    starts_from: datetime | None,
    starts_before: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[StoredSession], str | None]:
    """The sessions an Appointment search matches, by start, a page at a time: the calendar's
    own list (`app.sessions.listing`), holds not yet expired included, without what an
    Appointment does not show (treatment records, histories, reasons for review), none of
    them read."""
    page, next_cursor = listing.list_sessions(
        db=db,
        now=now,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        statuses=statuses,
        starts_from=starts_from,
        starts_before=starts_before,
        limit=limit,
        cursor=cursor,
        completions=False,
        reviewed=False,
        histories=False,
        holds=True,
    )
    return page.sessions, next_cursor
