"""Session routes: booking, the life cycle, completion and the calendar list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response, status

from app.audit.service import Access, AuditTrail, Resource
from app.auth.dependencies import AuditDep, CallerFirstRoute, ClinicalDetail, holds, requires
from app.auth.permissions import Permission
from app.config import Settings
from app.db import SessionDep
from app.errors import InvalidCursor, NotFound, problem_responses
from app.evaluations.schemas import FlagRead
from app.models import SessionStatus, TreatmentSession
from app.pagination import Cursor, Limit, Page
from app.scheduling import service as scheduling
from app.scheduling.router import proposals_read, scheduling_rules
from app.schemas import Instant
from app.sessions import service
from app.sessions.dosing import DoseLimits
from app.sessions.schemas import (
    CompletionCreate,
    CompletionResult,
    ReasonBody,
    RescheduleBody,
    SessionCreate,
    SessionRead,
)

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"], route_class=CallerFirstRoute)

# Whether the caller may read evaluations' outcomes: a refused booking names the flags only then.
SeesEligibility = Annotated[bool, holds(Permission.EVALUATIONS_READ_OUTCOME)]


def _rules(request: Request) -> service.BookingRules:
    settings: Settings = request.app.state.settings
    return service.BookingRules(
        min_gap_days=settings.min_session_interval_days,
        clinic_zone=ZoneInfo(settings.clinic_time_zone),
    )


def _audited(audit: AuditTrail, action: str, visit: TreatmentSession) -> TreatmentSession:
    audit.record(action, Resource.SESSION, visit.id, patient_id=visit.patient_id)
    return visit


def _view(visit: TreatmentSession, *, clinical: bool) -> SessionRead:
    """The session; its treatment record only for roles that may read clinical detail."""
    read = SessionRead.model_validate(visit)
    return read if clinical else read.model_copy(update={"completion": None})


def _read(visit: TreatmentSession, response: Response, *, clinical: bool) -> SessionRead:
    response.headers["ETag"] = f'W/"{visit.version}"'
    return _view(visit, clinical=clinical)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Book a session",
    dependencies=[requires(Permission.SESSIONS_BOOK)],
    responses=problem_responses(*service.BOOKING_ERRORS),
)
def book(
    body: SessionCreate,
    session: SessionDep,
    audit: AuditDep,
    request: Request,
    response: Response,
    clinical: ClinicalDetail,
    sees_outcome: SeesEligibility,
) -> SessionRead:
    """Book micro-sclerotherapy. Refused with a stable code when: the patient is unknown
    (`unknown-patient`) or archived (`patient-archived`); there is no valid evaluation or a
    blocking flag stands (409 `eligibility-blocked`, with the outcome and flags for roles that
    may read evaluations' outcomes); the time is outside the practitioner's hours or in their
    time off (422 `outside-availability`); it overlaps a live session of the practitioner or
    the patient (409 `slot-taken`); it is within 14 calendar days of another session of the
    patient (422 `interval-too-short`); it is in the past (422 `in-the-past`). Overlaps are
    refused by the database itself, so two desks booking the same minute cannot both
    succeed."""
    try:
        visit = service.book(
            session=session, data=body, now=datetime.now(UTC), rules=_rules(request)
        )
    except service.EligibilityBlocked as refusal:
        if sees_outcome:
            raise
        raise refusal.without_reasons() from None
    _audited(audit, "book", visit)
    response.headers["Location"] = f"{router.prefix}/{visit.id}"
    return _read(visit, response, clinical=clinical)


@router.get(
    "",
    summary="List sessions",
    dependencies=[requires(Permission.SESSIONS_READ)],
    responses=problem_responses(InvalidCursor),
)
def list_sessions(
    session: SessionDep,
    audit: AuditDep,
    clinical: ClinicalDetail,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    status_: Annotated[
        list[SessionStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    from_: Annotated[Instant | None, Query(alias="from", description="Ending after this")] = None,
    to: Annotated[Instant | None, Query(description="Starting before this")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SessionRead]:
    """The calendar: sessions ordered by start, filtered by practitioner, patient, plan,
    status and time range, a page at a time."""
    items, next_cursor = service.list_sessions(
        session=session,
        practitioner_id=practitioner_id,
        patient_id=patient_id,
        plan_id=plan_id,
        statuses=status_ or (),
        window_start=from_,
        window_end=to,
        limit=limit,
        cursor=cursor,
    )
    audit.record_each("list", Resource.SESSION, (Access(s.id, s.patient_id) for s in items))
    return Page(items=[_view(s, clinical=clinical) for s in items], next_cursor=next_cursor)


@router.get(
    "/{session_id}",
    summary="Read a session",
    dependencies=[requires(Permission.SESSIONS_READ)],
    responses=problem_responses(NotFound),
)
def read_session(
    session_id: uuid.UUID,
    session: SessionDep,
    audit: AuditDep,
    response: Response,
    clinical: ClinicalDetail,
) -> SessionRead:
    """One session with its history and, once fulfilled, its completion record (for roles
    that may read clinical detail)."""
    visit = service.get_session_record(session=session, session_id=session_id)
    return _read(_audited(audit, "read", visit), response, clinical=clinical)


@router.post(
    "/{session_id}/reschedule",
    summary="Move a booked session",
    dependencies=[requires(Permission.SESSIONS_RESCHEDULE)],
    responses=problem_responses(NotFound, service.InvalidTransition, *service.BOOKING_ERRORS),
)
def reschedule(
    session_id: uuid.UUID,
    body: RescheduleBody,
    session: SessionDep,
    audit: AuditDep,
    request: Request,
    response: Response,
    clinical: ClinicalDetail,
) -> SessionRead:
    """Move a booked session to a new time (and optionally another practitioner or length),
    with the same checks as booking. The old time stays in the session's history."""
    visit = service.reschedule(
        session=session,
        session_id=session_id,
        change=body,
        now=datetime.now(UTC),
        rules=_rules(request),
    )
    return _read(_audited(audit, "reschedule", visit), response, clinical=clinical)


_STEP_ERRORS = problem_responses(NotFound, service.InvalidTransition)


@router.post(
    "/{session_id}/check-in",
    summary="Check the patient in",
    dependencies=[requires(Permission.SESSIONS_CHECK_IN)],
    responses=_STEP_ERRORS,
)
def check_in(
    session_id: uuid.UUID,
    session: SessionDep,
    audit: AuditDep,
    response: Response,
    clinical: ClinicalDetail,
) -> SessionRead:
    """The patient has arrived: booked -> arrived."""
    visit = service.step(
        session=session, session_id=session_id, action="check-in", now=datetime.now(UTC)
    )
    return _read(_audited(audit, "check-in", visit), response, clinical=clinical)


@router.post(
    "/{session_id}/cancel",
    summary="Cancel a session",
    dependencies=[requires(Permission.SESSIONS_CANCEL)],
    responses=_STEP_ERRORS,
)
def cancel(
    session_id: uuid.UUID,
    body: ReasonBody,
    session: SessionDep,
    audit: AuditDep,
    response: Response,
    clinical: ClinicalDetail,
) -> SessionRead:
    """Cancel a booked session (booked -> cancelled); the reason is required and kept."""
    visit = service.step(
        session=session,
        session_id=session_id,
        action="cancel",
        now=datetime.now(UTC),
        reason=body.reason,
    )
    return _read(_audited(audit, "cancel", visit), response, clinical=clinical)


@router.post(
    "/{session_id}/no-show",
    summary="Record a no-show",
    dependencies=[requires(Permission.SESSIONS_CHECK_IN)],
    responses=_STEP_ERRORS,
)
def no_show(
    session_id: uuid.UUID,
    session: SessionDep,
    audit: AuditDep,
    response: Response,
    clinical: ClinicalDetail,
) -> SessionRead:
    """The patient did not come (booked -> noshow); only once the start time has passed."""
    visit = service.step(
        session=session, session_id=session_id, action="no-show", now=datetime.now(UTC)
    )
    return _read(_audited(audit, "no-show", visit), response, clinical=clinical)


@router.post(
    "/{session_id}/entered-in-error",
    summary="Mark a session entered in error",
    dependencies=[requires(Permission.SESSIONS_ENTERED_IN_ERROR)],
    responses=_STEP_ERRORS,
)
def entered_in_error(
    session_id: uuid.UUID,
    body: ReasonBody,
    session: SessionDep,
    audit: AuditDep,
    response: Response,
    clinical: ClinicalDetail,
) -> SessionRead:
    """For a session that should never have existed: any status -> entered-in-error. Nothing
    clinical is deleted; the session and its history stay."""
    visit = service.step(
        session=session,
        session_id=session_id,
        action="entered-in-error",
        now=datetime.now(UTC),
        reason=body.reason,
    )
    return _read(_audited(audit, "entered-in-error", visit), response, clinical=clinical)


@router.post(
    "/{session_id}/complete",
    summary="Complete a session",
    dependencies=[requires(Permission.SESSIONS_COMPLETE)],
    responses=problem_responses(
        NotFound, service.InvalidTransition, service.FacialVeinsExcluded, service.DoseLimitExceeded
    ),
)
def complete(
    session_id: uuid.UUID,
    body: CompletionCreate,
    session: SessionDep,
    audit: AuditDep,
    request: Request,
) -> CompletionResult:
    """Record what was done (arrived -> fulfilled): sites (legs only: a face site is a 422
    `facial-veins-excluded`), sclerosant, concentration and volume, anaesthetic (default
    none), compression (default none), complications, aftercare (default: walk, avoid long
    standing or sitting).

    The dose (concentration x volume) is checked against the clinic's limits: polidocanol 2 mg
    per kg of body weight per day, sodium tetradecyl sulfate 300 mg per session (422
    `dose-limit-exceeded`). Without a recorded weight, polidocanol is accepted with a
    `weight-missing` warning. The answer includes the proposal for the next follow-up.
    """
    settings: Settings = request.app.state.settings
    done = service.complete(
        session=session,
        session_id=session_id,
        record=body,
        limits=DoseLimits(
            polidocanol_mg_per_kg_per_day=settings.polidocanol_max_mg_per_kg_per_day,
            sts_mg_per_session=settings.sts_max_mg_per_session,
        ),
        clinic_zone=ZoneInfo(settings.clinic_time_zone),
    )
    _audited(audit, "complete", done.visit)
    follow_up = scheduling.next_follow_up(
        session=session, visit=done.visit, rules=scheduling_rules(settings), now=datetime.now(UTC)
    )
    return CompletionResult(
        session=SessionRead.model_validate(done.visit),
        warnings=[FlagRead.model_validate(w) for w in done.warnings],
        next_follow_up=proposals_read(follow_up) if follow_up else None,
    )
