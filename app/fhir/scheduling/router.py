"""The FHIR scheduling operations (`/fhir/R4/Appointment/$find`, `$hold`, `$book`) and
cancelling an Appointment by `PUT`: HTTP only. Each runs the REST API's own service, so every
gate booking has holds here too; a refusal is an OperationOutcome carrying the REST code (and,
for roles that may read eligibility, one issue per flag that stands in the way)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Response
from sqlalchemy.orm import Session

from app.auditing import Resource
from app.errors import NotFound, require_version
from app.fhir import appointments
from app.fhir.capability import Interaction
from app.fhir.http import FhirResponse, FhirRouter, read, resource_id
from app.fhir.scheduling import service as scheduling
from app.roles import Permission
from app.sessions import booking, lifecycle
from app.sessions.lifecycle import SessionAction
from app.waitlist.offers import OfferRules, offer_slots_freed_by
from app.web.access import AuditDep, ClinicalDetail, holds
from app.web.clock import Now
from app.web.db import Db
from app.web.params import ExpectedVersion
from app.web.policy import Policy

router = FhirRouter()

FIND = Interaction(
    "Appointment",
    "operation",
    operation="find",
    definition=scheduling.FIND_DEFINITION,
    documentation="Proposed Appointments for a patient in a window (IHE ITI-115): the "
    "course's visits about a month apart, or an OperationOutcome with the flags that stand in "
    "the way.",
)
HOLD = Interaction(
    "Appointment",
    "operation",
    operation="hold",
    definition=scheduling.HOLD_DEFINITION,
    documentation="Hold a proposed Appointment (IHE ITI-116): a pending Appointment, the slot "
    "taken for everyone else until it expires.",
)
BOOK = Interaction(
    "Appointment",
    "operation",
    operation="book",
    definition=scheduling.BOOK_DEFINITION,
    documentation="Book a held or proposed Appointment (IHE ITI-117), with every check the "
    "REST booking makes.",
)
UPDATE = Interaction(
    "Appointment",
    "update",
    id_param="session_id",
    documentation="Cancel an Appointment: only `status` may change, to cancelled (`If-Match` "
    "honoured).",
)

Parameters = Annotated[dict[str, Any], Body(description="A FHIR `Parameters` resource")]
# Whether the caller may read evaluations' outcomes: a refusal names the flags only then.
SeesEligibility = Annotated[bool, holds(Permission.EVALUATIONS_READ_OUTCOME)]


def _shown(db: Session, session: appointments.StoredSession, clinical: bool) -> dict[str, Any]:
    """The session as an Appointment, its room named."""
    room = appointments.room_names(db, [session.room_id]).get(session.room_id)
    return appointments.appointment(session, clinical=clinical, room=room)


def _held(db: Session, hold: booking.Hold) -> dict[str, Any]:
    """The hold as its `pending` Appointment, its room named."""
    room = appointments.room_names(db, [hold.room_id]).get(hold.room_id)
    return scheduling.held_appointment(hold, room=room)


@router.serves(FIND, permission=Permission.SESSIONS_BOOK, summary="Find appointments")
def find_appointments(
    body: Parameters, db: Db, audit: AuditDep, policy: Policy, now: Now, sees: SeesEligibility
) -> Response:
    """`$find`: the proposals engine's visits for the patient in the window, as `proposed`
    Appointments (a searchset Bundle; a visit it could not place is a warning in it). A
    patient who may not be booked gets an OperationOutcome instead: 409 `eligibility-blocked`
    (one issue per flag, e.g. `varicose-treatment-first`, for roles that may read
    eligibility), or `patient-archived`."""
    asked = scheduling.find_request(body, zone=policy.scheduling.clinic_zone, now=now)
    found = scheduling.find(db=db, asked=asked, policy=policy, now=now)
    # Proposals disclose the patient's standing and their sessions, as the REST ones do.
    audit.record("propose", Resource.PATIENT, asked.patient_id, patient_id=asked.patient_id)
    return FhirResponse(scheduling.found_bundle(found, now=now, sees_reasons=sees))


@router.serves(HOLD, permission=Permission.SESSIONS_BOOK, summary="Hold an appointment")
def hold_appointment(
    body: Parameters, db: Db, audit: AuditDep, policy: Policy, now: Now
) -> Response:
    """`$hold`: keep a proposed Appointment's slot for the patient for a few minutes
    (`SCLEROSCHED_HOLD_MINUTES`), refused as booking it would be. The answer is the `pending`
    Appointment; book it with `$book` before it expires."""
    asked = scheduling.appointment_request(body, booking=False)
    hold = scheduling.hold(db=db, asked=asked, policy=policy, now=now)
    audit.record("hold", Resource.SESSION, hold.id, patient_id=hold.patient_id)
    return read(_held(db, hold), version=hold.version)


@router.serves(BOOK, permission=Permission.SESSIONS_BOOK, summary="Book an appointment")
def book_appointment(
    body: Parameters,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    now: Now,
    clinical: ClinicalDetail,
) -> Response:
    """`$book`: book a `pending` Appointment (a hold) or a `proposed` one, with every check
    the REST booking makes, made now: the patient's standing, the plan, the practitioner's
    hours and time off, overlaps and the interval between treatments. The answer is the
    `booked` Appointment; a refusal an OperationOutcome with the REST code."""
    asked = scheduling.appointment_request(body, booking=True)
    scheduling.require_named_room(db, asked)
    session = booking.book(
        db=db, data=scheduling.session_create(asked), now=now, rules=policy.booking
    )
    audit.record("book", Resource.SESSION, session.id, patient_id=session.patient_id)
    return read(_shown(db, session, clinical), version=session.version)


@router.serves(UPDATE, permission=Permission.SESSIONS_CANCEL, summary="Cancel an appointment")
def update_appointment(
    session_id: str,
    body: Annotated[dict[str, Any], Body(description="The Appointment, its status cancelled")],
    db: Db,
    audit: AuditDep,
    policy: Policy,
    now: Now,
    clinical: ClinicalDetail,
    if_match: ExpectedVersion,
) -> Response:
    """Cancel an Appointment: the Appointment as read, with `status` cancelled (and a
    `cancelationReason`, kept as the reason). Any other change is refused (422
    `appointment-change-refused`); `If-Match: W/"<versionId>"` is honoured (412 when the
    Appointment changed since). A pending Appointment (a hold) is released."""
    appointment_id = resource_id(session_id, "Appointment")
    hold = booking.live_hold(db, appointment_id, now)
    if hold is not None:
        require_version("Appointment", hold.version, if_match)
        current = _held(db, hold)
        if scheduling.cancellation(body, current, session_id) is None:
            return read(current, version=hold.version)
        booking.release_hold(db=db, hold_id=hold.id, now=now)
        audit.record("release", Resource.SESSION, hold.id, patient_id=hold.patient_id)
        return read({**current, "status": "cancelled"}, version=hold.version)
    try:
        session = lifecycle.get_session_record(db=db, session_id=appointment_id)
    except NotFound:
        raise NotFound(f"No Appointment with id {session_id[:64]}.") from None
    require_version("Appointment", session.version, if_match)  # 412 before any other answer
    current = _shown(db, session, clinical)
    reason = scheduling.cancellation(body, current, session_id)
    if reason is None:
        return read(current, version=session.version)
    session = lifecycle.step(
        db=db,
        session_id=appointment_id,
        action=SessionAction.CANCEL,
        now=now,
        expected_version=if_match,
        check_in_ahead=policy.booking.check_in_ahead,
        reason=reason,
    )
    audit.record("cancel", Resource.SESSION, session.id, patient_id=session.patient_id)
    # Its slot goes round the waitlist at once, as when cancelled through the REST API.
    rules = OfferRules(booking=policy.booking, waitlist=policy.waitlist)
    offer_slots_freed_by(db, session_id=session.id, now=now, rules=rules)
    return read(_shown(db, session, clinical), version=session.version)
