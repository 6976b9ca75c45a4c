"""Hold routes: keep a slot for a few minutes while the patient confirms, then book it
(`POST /api/v1/sessions` with `hold_id`) or give it back."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from app.auditing import Resource
from app.errors import NotFound
from app.holds.schemas import HoldCreate, HoldRead
from app.practitioners.hours import Interval
from app.roles import Permission
from app.sessions import booking, errors
from app.web.access import AuditDep, require_also, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import sends
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1/holds", tags=["sessions"], route_class=ApiRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Hold a slot",
    dependencies=[requires(Permission.SESSIONS_BOOK)],
    responses=problem_responses(*errors.HOLD_ERRORS),
    response_description="The hold, and when it expires",
    openapi_extra=sends("Location"),
)
def hold_slot(
    body: HoldCreate,
    request: Request,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    now: Now,
) -> HoldRead:
    """Keep a slot for a patient for a few minutes (`SCLEROSCHED_HOLD_MINUTES`, default 10)
    while they confirm: no one else can book or hold it meanwhile, and it is free again by
    itself once the hold expires. It keeps a room too: the one named (`room_id`), or a free
    room of the location where the practitioner sees patients then. Refused exactly as booking
    it would be (the patient's standing, the practitioner's hours, time off, buffer and
    minimum notice, the room, overlaps, the interval between treatments), with the same codes,
    and `within_notice` as booking takes it. Book it with `POST /api/v1/sessions` and
    `hold_id`: the notice then counts from when the hold was placed, not from its booking."""
    if body.within_notice:
        require_also(request, Permission.SESSIONS_BOOK_WITHIN_NOTICE)
    hold = booking.place_hold(
        db=db,
        patient_id=body.patient_id,
        practitioner_id=body.practitioner_id,
        slot=Interval(body.start, body.start + timedelta(minutes=body.duration_minutes)),
        now=now,
        rules=policy.booking,
        plan_id=body.plan_id,
        room_id=body.room_id,
        within_notice=body.within_notice,
    )
    if hold.within_notice:
        audit.record(
            "hold-within-notice",
            Resource.SESSION,
            hold.id,
            patient_id=hold.patient_id,
            detail="inside the practitioner's minimum notice (within_notice): starts "
            f"{(hold.start_at - now) // timedelta(minutes=1)} minutes ahead",
        )
    else:
        audit.record("hold", Resource.SESSION, hold.id, patient_id=hold.patient_id)
    response.headers["Location"] = f"{router.prefix}/{hold.id}"
    return HoldRead.model_validate(hold)


@router.get(
    "/{hold_id}",
    summary="Read a hold",
    dependencies=[requires(Permission.SESSIONS_READ)],
    responses=problem_responses(NotFound),
    response_description="The hold, while it stands",
)
def read_hold(hold_id: uuid.UUID, db: Db, audit: AuditDep, now: Now) -> HoldRead:
    """A hold until it expires, is booked or is released; then a 404."""
    hold = booking.live_hold(db, hold_id, now)
    if hold is None:
        raise NotFound(f"No hold with id {hold_id} stands.")
    audit.record("read", Resource.SESSION, hold.id, patient_id=hold.patient_id)
    return HoldRead.model_validate(hold)


@router.delete(
    "/{hold_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Release a hold",
    dependencies=[requires(Permission.SESSIONS_BOOK)],
    responses={
        status.HTTP_204_NO_CONTENT: {"description": "Released: the slot is free again"},
        **problem_responses(NotFound, errors.HeldForOffer),
    },
)
def release_hold(hold_id: uuid.UUID, db: Db, audit: AuditDep, now: Now) -> None:
    """Give the held slot back before the hold expires (the patient declined). A hold that is
    a standing waitlist offer is declined as one (`/api/v1/waitlist/offers/{id}/decline`):
    409 `waitlist-offer`."""
    hold = booking.release_hold(db=db, hold_id=hold_id, now=now)
    audit.record("release", Resource.SESSION, hold.id, patient_id=hold.patient_id)
