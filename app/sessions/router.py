"""Session routes: booking, the life cycle, completion and the calendar list."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from app.auditing import Access, AuditTrail, Resource
from app.errors import InvalidCursor, NotFound, VersionMismatch
from app.evaluations.schemas import FlagRead
from app.models import TreatmentSession
from app.policy import BookingRules
from app.roles import Permission
from app.scheduling.schemas import proposals_read
from app.schemas import AffectedSession, Instant
from app.sessions import booking, completion, errors, freed, lifecycle, listing
from app.sessions.lifecycle import SessionAction
from app.sessions.review import review
from app.sessions.schemas import (
    CompletionCreate,
    CompletionResult,
    ReasonBody,
    RescheduleBody,
    SessionCreate,
    SessionPage,
    SessionRead,
)
from app.vocabulary import Flag, SessionStatus
from app.web.access import AuditDep, ClinicalDetail, holds, require_also, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import Cursor, ExpectedVersion, Limit, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"], route_class=ApiRoute)

# Whether the caller may read evaluations' outcomes: a refused booking or treatment names the
# flags, and a session the reasons it needs review, only then.
SeesEligibility = Annotated[bool, holds(Permission.EVALUATIONS_READ_OUTCOME)]


def _audited(
    audit: AuditTrail, action: str, session: TreatmentSession | booking.BookedSession
) -> None:
    audit.record(action, Resource.SESSION, session.id, patient_id=session.patient_id)


def _audited_booking(
    audit: AuditTrail,
    action: str,
    session: TreatmentSession | booking.BookedSession,
    now: datetime,
) -> None:
    """The event of a booking or a move; one inside the practitioner's minimum notice says so
    (`<action>-within-notice`, and how far ahead the session starts)."""
    if not session.events[-1].within_notice:
        _audited(audit, action, session)
        return
    ahead = (session.start_at - now) // timedelta(minutes=1)
    audit.record(
        f"{action}-within-notice",
        Resource.SESSION,
        session.id,
        patient_id=session.patient_id,
        detail=f"inside the practitioner's minimum notice (within_notice): starts {ahead} "
        "minutes ahead",
    )


def _view(
    session: TreatmentSession | booking.BookedSession,
    reasons: tuple[Flag, ...],
    *,
    clinical: bool,
    sees_reasons: bool,
) -> SessionRead:
    """The session, whether it needs review and (for roles that read eligibility) why; its
    treatment record and the reasons written in it (free text) only for roles that may read
    clinical detail."""
    read = SessionRead.model_validate(session)
    hidden = (
        {}
        if clinical
        else {
            "completion": None,
            "cancel_reason": None,
            "history": [event.model_copy(update={"reason": None}) for event in read.history],
        }
    )
    return read.model_copy(update={**_review_fields(reasons, sees_reasons=sees_reasons), **hidden})


def _listed(
    page: listing.Listed, session: Any, *, clinical: bool, sees_reasons: bool
) -> SessionRead:
    """A listed session as the caller's role sees it: without `clinical:read`, no treatment
    record and no reason written as free text ("pregnancy test positive, defer"). The view is
    the page's own fresh dict, completed in place rather than copied for each field."""
    view = page.view(session)
    if not clinical:
        view["completion"] = None
        view["cancel_reason"] = None
        for event in view["events"]:
            event["reason"] = None
    view.update(_review_fields(page.reasons[session.id], sees_reasons=sees_reasons))
    return SessionRead.model_validate(view)


def _review_fields(reasons: tuple[Flag, ...], *, sees_reasons: bool) -> dict[str, object]:
    return {
        "needs_review": bool(reasons),
        "review_reasons": [FlagRead.model_validate(r) for r in reasons] if sees_reasons else None,
    }


def _offer_freed_slot(db: Session, session_id: uuid.UUID, now: datetime, policy: Policy) -> None:
    """The slot the step gave back goes round the waitlist at once (else the next sweep offers
    it): to the best-placed waiting patient whom every booking check allows there."""
    freed.offer_freed(db, session_id, now, policy.booking, policy.waitlist)


def _read(
    db: Session,
    session: TreatmentSession | booking.BookedSession,
    response: Response,
    now: datetime,
    rules: BookingRules,
    *,
    clinical: bool,
    sees_reasons: bool,
    checked: bool = False,
) -> SessionRead:
    """`checked`: the session has just passed the booking checks (booked or moved): nothing
    to review."""
    set_etag(response, session.version)
    reasons = (
        ()
        if checked
        else review(db=db, sessions=[session], now=now, min_gap_days=rules.min_gap_days)[session.id]
    )
    return _view(session, reasons, clinical=clinical, sees_reasons=sees_reasons)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Book a session",
    dependencies=[requires(Permission.SESSIONS_BOOK)],
    responses=problem_responses(*errors.BOOKING_ERRORS),
    response_description="The session booked",
    openapi_extra=sends("ETag", "Location"),
)
def book_session(
    body: SessionCreate,
    request: Request,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    clinical: ClinicalDetail,
    sees_outcome: SeesEligibility,
    now: Now,
) -> SessionRead:
    """Book micro-sclerotherapy. Refused with a stable code when: the patient is unknown
    (`unknown-patient`) or archived (`patient-archived`); there is no valid evaluation or a
    blocking flag stands (409 `eligibility-blocked`, with the outcome and flags for roles that
    may read evaluations' outcomes); the time is outside the practitioner's hours or in their
    time off (422 `outside-availability`); it overlaps a live session of the practitioner or
    the patient (409 `slot-taken`); it is within 14 calendar days (where the session takes
    place) of another treatment of the patient, given or booked (422 `interval-too-short`);
    it is in the past (422 `in-the-past`); it starts or ends within the practitioner's buffer
    of another of their sessions or holds (409 `buffer-conflict`); it starts sooner than their
    minimum notice (422 `too-short-notice`, with `earliest_start`).

    The session takes a room of the location where the practitioner sees patients then (their
    hours there): `room_id`, or else a free active room of that location. A room with another
    session (or hold) then, or no free room at all, is 409 `room-taken`; an unknown room 422
    `unknown-room`; a room of another location 422 `room-elsewhere`; one out of use 422
    `inactive-room`; one closed then 422 `room-closed`. Overlaps are refused by the database
    itself, so two desks booking the same minute (or room) cannot both succeed.

    Staff with `sessions:book-within-notice` may book inside the notice with
    `"within_notice": true` (audited as `book-within-notice`; the booked event says
    `within_notice`); it lifts nothing else. Sent by a role without it: 403."""
    if body.within_notice:
        require_also(request, Permission.SESSIONS_BOOK_WITHIN_NOTICE)
    session = booking.book(db=db, data=body, now=now, rules=policy.booking)
    _audited_booking(audit, "book", session, now)
    response.headers["Location"] = f"{router.prefix}/{session.id}"
    return _read(
        db,
        session,
        response,
        now,
        policy.booking,
        clinical=clinical,
        sees_reasons=sees_outcome,
        checked=True,
    )


@router.get(
    "",
    summary="List sessions",
    dependencies=[requires(Permission.SESSIONS_READ)],
    responses=problem_responses(InvalidCursor),
    response_description="A page of sessions",
)
def list_sessions(
    db: Db,
    cursor: Cursor,
    audit: AuditDep,
    policy: Policy,
    clinical: ClinicalDetail,
    sees_reasons: SeesEligibility,
    now: Now,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    status_: Annotated[
        list[SessionStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    from_: Annotated[Instant | None, Query(alias="from", description="Ending after this")] = None,
    to: Annotated[Instant | None, Query(description="Starting before this")] = None,
    needs_review: Annotated[
        bool | None,
        Query(
            description="true: only booked or checked-in sessions that no longer pass the "
            "booking checks (the patient's standing, the practitioner, the time); false: the "
            "others"
        ),
    ] = None,
    limit: Limit = 50,
) -> SessionPage:
    """The calendar: sessions ordered by start, filtered by practitioner, patient, plan,
    status, time range and whether they need review, a page at a time. Each says whether it
    needs review, and why to roles that may read eligibility."""
    rules = policy.booking
    page, next_cursor = listing.list_sessions(
        db=db,
        now=now,
        practitioner_id=practitioner_id,
        patient_id=patient_id,
        plan_id=plan_id,
        statuses=status_ or (),
        window_start=from_,
        window_end=to,
        needs_review=needs_review,
        min_gap_days=rules.min_gap_days,
        limit=limit,
        cursor=cursor.after,
        completions=clinical,
    )
    sessions = page.sessions
    audit.record_list(
        Resource.SESSION, (Access(s.id, s.patient_id) for s in sessions), of_patient=patient_id
    )
    return SessionPage(
        items=[_listed(page, s, clinical=clinical, sees_reasons=sees_reasons) for s in sessions],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/{session_id}",
    summary="Read a session",
    dependencies=[requires(Permission.SESSIONS_READ)],
    responses=problem_responses(NotFound),
    response_description="The session with its history",
    openapi_extra=sends("ETag"),
)
def read_session(
    session_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    clinical: ClinicalDetail,
    sees_reasons: SeesEligibility,
    now: Now,
) -> SessionRead:
    """One session with its history, whether it needs review (and why, for roles that may read
    eligibility) and, once fulfilled, its completion record; the record and the reasons
    written in its history and cancellation (free text) only for roles that may read clinical
    detail."""
    session = lifecycle.get_session_record(db=db, session_id=session_id)
    _audited(audit, "read", session)
    return _read(
        db, session, response, now, policy.booking, clinical=clinical, sees_reasons=sees_reasons
    )


@router.post(
    "/{session_id}/reschedule",
    summary="Move a booked session",
    dependencies=[requires(Permission.SESSIONS_RESCHEDULE)],
    responses=problem_responses(
        NotFound, VersionMismatch, errors.InvalidTransition, *errors.BOOKING_ERRORS
    ),
    response_description="The session at its new time",
    openapi_extra=sends("ETag"),
)
def reschedule_session(
    session_id: uuid.UUID,
    body: RescheduleBody,
    request: Request,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    clinical: ClinicalDetail,
    sees_outcome: SeesEligibility,
    now: Now,
    if_match: ExpectedVersion,
) -> SessionRead:
    """Move a booked session to a new time (and optionally another practitioner, length or
    room), with the same checks as booking (buffer and minimum notice included:
    `within_notice` as for booking). It keeps its room if that room is free then and at the
    location where the practitioner sees patients at the new time, else takes a free one
    there. The old time and practitioner stay in its history."""
    if body.within_notice:
        require_also(request, Permission.SESSIONS_BOOK_WITHIN_NOTICE)
    session = booking.reschedule(
        db=db,
        session_id=session_id,
        change=body,
        now=now,
        expected_version=if_match,
        rules=policy.booking,
    )
    _audited_booking(audit, "reschedule", session, now)
    _offer_freed_slot(db, session.id, now, policy)
    return _read(
        db,
        session,
        response,
        now,
        policy.booking,
        clinical=clinical,
        sees_reasons=sees_outcome,
        checked=True,
    )


_STEP_ERRORS = problem_responses(NotFound, VersionMismatch, errors.InvalidTransition)


@router.post(
    "/{session_id}/check-in",
    summary="Check the patient in",
    dependencies=[requires(Permission.SESSIONS_CHECK_IN)],
    responses=problem_responses(
        NotFound, VersionMismatch, errors.InvalidTransition, errors.CheckInNotOpen
    ),
    response_description="The session, the patient arrived",
    openapi_extra=sends("ETag"),
)
def check_in_session(
    session_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    clinical: ClinicalDetail,
    sees_reasons: SeesEligibility,
    now: Now,
    if_match: ExpectedVersion,
) -> SessionRead:
    """The patient has arrived: booked -> arrived. Check-in opens on the session's day (in
    the practitioner's time zone; the clinic may open it some hours earlier) and closes at the
    end of that day (409 `check-in-not-open`). A session that needs review is checked in all
    the same, with `needs_review: true` and the reasons: the clinician decides, and completion
    refuses to treat a patient the rules forbid."""
    session = lifecycle.step(
        db=db,
        session_id=session_id,
        action=SessionAction.CHECK_IN,
        now=now,
        expected_version=if_match,
        check_in_ahead=policy.booking.check_in_ahead,
    )
    _audited(audit, "check-in", session)
    return _read(
        db, session, response, now, policy.booking, clinical=clinical, sees_reasons=sees_reasons
    )


@router.post(
    "/{session_id}/cancel",
    summary="Cancel a session",
    dependencies=[requires(Permission.SESSIONS_CANCEL)],
    responses=_STEP_ERRORS,
    response_description="The session, cancelled",
    openapi_extra=sends("ETag"),
)
def cancel_session(
    session_id: uuid.UUID,
    body: ReasonBody,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    clinical: ClinicalDetail,
    sees_reasons: SeesEligibility,
    now: Now,
    if_match: ExpectedVersion,
) -> SessionRead:
    """Cancel a booked session (booked -> cancelled); the reason is required and kept."""
    session = lifecycle.step(
        db=db,
        session_id=session_id,
        action=SessionAction.CANCEL,
        now=now,
        expected_version=if_match,
        check_in_ahead=policy.booking.check_in_ahead,
        reason=body.reason,
    )
    _audited(audit, "cancel", session)
    _offer_freed_slot(db, session.id, now, policy)
    return _read(
        db, session, response, now, policy.booking, clinical=clinical, sees_reasons=sees_reasons
    )


@router.post(
    "/{session_id}/no-show",
    summary="Record a no-show",
    dependencies=[requires(Permission.SESSIONS_CHECK_IN)],
    responses=_STEP_ERRORS,
    response_description="The session, recorded as a no-show",
    openapi_extra=sends("ETag"),
)
def record_no_show(
    session_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    clinical: ClinicalDetail,
    sees_reasons: SeesEligibility,
    now: Now,
    if_match: ExpectedVersion,
) -> SessionRead:
    """The patient did not come (booked -> noshow); only once the start time has passed."""
    session = lifecycle.step(
        db=db,
        session_id=session_id,
        action=SessionAction.NO_SHOW,
        now=now,
        expected_version=if_match,
        check_in_ahead=policy.booking.check_in_ahead,
    )
    _audited(audit, "no-show", session)
    _offer_freed_slot(db, session.id, now, policy)
    return _read(
        db, session, response, now, policy.booking, clinical=clinical, sees_reasons=sees_reasons
    )


@router.post(
    "/{session_id}/entered-in-error",
    summary="Mark a session entered in error",
    dependencies=[requires(Permission.SESSIONS_ENTERED_IN_ERROR)],
    responses=_STEP_ERRORS,
    response_description="The session, marked entered in error",
    openapi_extra=sends("ETag"),
)
def mark_entered_in_error(
    session_id: uuid.UUID,
    body: ReasonBody,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    clinical: ClinicalDetail,
    sees_reasons: SeesEligibility,
    now: Now,
    if_match: ExpectedVersion,
) -> SessionRead:
    """For a session that should never have existed: any status -> entered-in-error, by a
    clinical role, with the reason. Nothing clinical is deleted; the session and its history
    stay. A treatment that was given still counts for that day's dose and for the interval
    before the next one. A session still ahead that held its slot (booked, arrived or
    fulfilled) gives it back: it is offered round the waitlist at once, as a cancelled one's
    is."""
    session = lifecycle.step(
        db=db,
        session_id=session_id,
        action=SessionAction.ENTERED_IN_ERROR,
        now=now,
        expected_version=if_match,
        check_in_ahead=policy.booking.check_in_ahead,
        reason=body.reason,
    )
    _audited(audit, "entered-in-error", session)
    _offer_freed_slot(db, session.id, now, policy)
    return _read(
        db, session, response, now, policy.booking, clinical=clinical, sees_reasons=sees_reasons
    )


@router.post(
    "/{session_id}/complete",
    summary="Complete a session",
    dependencies=[requires(Permission.SESSIONS_COMPLETE)],
    responses=problem_responses(NotFound, VersionMismatch, *errors.COMPLETION_ERRORS),
    response_description="The treatment record, with the proposal for the course's next visit",
    openapi_extra=sends("ETag"),
)
def complete_session(
    session_id: uuid.UUID,
    body: CompletionCreate,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    sees_outcome: SeesEligibility,
    now: Now,
    if_match: ExpectedVersion,
) -> CompletionResult:
    """Record what was done (arrived -> fulfilled): the injections given, a line per site,
    vessel (telangiectasia, reticular), sclerosant, concentration and form (liquid, or foam
    with its liquid-to-gas ratio and gas), with the volume and the number of injections;
    anaesthetic (default none), compression (default none), complications, aftercare
    (default: walk, avoid long standing or sitting), and when it was given (`administered_at`,
    default now: after the check-in, on the session's day). The single-agent body of earlier
    versions (`treated_sites`, `sclerosant`, `concentration_percent`, `volume_ml`) is still
    accepted, deprecated, and recorded as one liquid line without a site; sending both forms
    is a 422.

    Nothing is recorded unless every rule holds at that moment:
    - the patient's standing, as booking asks it (a current, unexpired evaluation, nothing
      absolute or blocking, relative contraindications cleared): else 409
      `eligibility-blocked` with the reasons, or `patient-archived`;
    - the patient's informed consent to micro-sclerotherapy, obtained by then and not
      withdrawn by then (`POST /api/v1/patients/{id}/consents`): else 409 `consent-missing`;
    - the sites: legs only (422 `facial-veins-excluded`), each assessed by the current
      evaluation (422 `site-not-evaluated`);
    - 14 calendar days since the last treatment given (422 `interval-too-short`);
    - the doses (concentration x the liquid given: a foam's liquid part only) against the
      hard limits (422 `dose-limit-exceeded`, naming the `limit`, the `total` in its `unit`,
      what is `allowed` and the `source`): polidocanol 2 mg per kg per day, by the weight a
      clinician recorded (`weight_kg` here, else the current evaluation's; without one the
      check is not done and a `weight-missing` warning says so), counted over the day it was
      given; sodium tetradecyl sulfate 300 mg per session; foam 10 mL per session and per day.
      Liquid polidocanol outside Asclera's US label (0.5% for telangiectasia, 1% for reticular
      veins, 0.1 to 0.3 mL per injection, 10 mL per session) is recorded with a warning.

    The answer includes the proposal for the next follow-up.
    """
    done = completion.complete(
        db=db,
        session_id=session_id,
        record=body,
        limits=policy.doses,
        rules=policy.booking,
        scheduling=policy.scheduling,
        now=now,
        expected_version=if_match,
    )
    _audited(audit, "complete", done.session)
    return CompletionResult(
        session=_view(done.session, (), clinical=True, sees_reasons=sees_outcome),
        warnings=[FlagRead.model_validate(w) for w in done.warnings],
        affected_sessions=[AffectedSession.model_validate(s) for s in done.stranded],
        next_follow_up=proposals_read(done.next_follow_up) if done.next_follow_up else None,
    )
