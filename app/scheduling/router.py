"""Free slots and follow-up proposals."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from app.auditing import Resource
from app.errors import DomainError, NotFound
from app.plans.service import UnknownPlan
from app.practitioners.hours import Interval
from app.practitioners.service import InactivePractitioner
from app.roles import Permission
from app.scheduling import service
from app.scheduling.schemas import (
    LONGEST_MINUTES,
    SHORTEST_MINUTES,
    ProposalCreate,
    ProposalsRead,
    SlotRead,
    SlotsRead,
    proposals_read,
)
from app.schemas import Instant
from app.web.access import AuditDep, requires
from app.web.clock import Now
from app.web.db import Db, ReadDb
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1", tags=["scheduling"], route_class=ApiRoute)

MAX_RANGE = timedelta(days=31)


class InvalidRange(DomainError):
    status = 422
    code = "invalid-range"
    title = "Invalid time range"


@router.get(
    "/practitioners/{practitioner_id}/slots",
    summary="Free slots of a practitioner",
    dependencies=[requires(Permission.CALENDARS_READ)],
    responses=problem_responses(NotFound, InvalidRange),
    response_description="The practitioner's free slots in the range",
)
def list_free_slots(
    practitioner_id: uuid.UUID,
    db: ReadDb,
    policy: Policy,
    now: Now,
    from_: Annotated[Instant, Query(alias="from", description="RFC 3339 with offset")],
    to: Annotated[Instant, Query(description="RFC 3339 with offset; at most 31 days after from")],
    duration_minutes: Annotated[int, Query(ge=SHORTEST_MINUTES, le=LONGEST_MINUTES)] = 45,
) -> SlotsRead:
    """Times a session of `duration_minutes` could start: inside the practitioner's weekly hours
    at a location (on its clock, daylight saving included), outside time off and booked
    sessions, with a room of that location free then (in use, not closed, no other session
    or hold in it), on the clinic's grid, and not in the past. Each slot names its location.
    A slot held for another patient (`/holds`) is not free until its hold expires. The
    practitioner's buffer (`effective_buffer_minutes`) is kept free before and after each
    session and hold, and no slot starts sooner than their minimum notice
    (`effective_min_notice_minutes`): every slot offered can be booked as it stands."""
    if to <= from_ or to - from_ > MAX_RANGE:
        raise InvalidRange("`to` must come after `from`, at most 31 days later.")
    window = Interval(max(from_, now), to)
    found = service.find_free_slots(
        db=db,
        practitioner_id=practitioner_id,
        window=window if window.start < window.end else Interval(to, to),
        duration=timedelta(minutes=duration_minutes),
        grid=policy.scheduling.grid,
        now=now,
        margins=policy.scheduling.margins,
    )
    return SlotsRead(
        practitioner_id=practitioner_id,
        time_zone=found.calendar.time_zone,
        duration_minutes=duration_minutes,
        slots=[
            SlotRead(start=f.slot.start, end=f.slot.end, location_id=f.location_id)
            for f in found.slots
        ],
    )


@router.post(
    "/scheduling/proposals",
    summary="Propose follow-up visits",
    dependencies=[requires(Permission.PROPOSALS)],
    responses=problem_responses(NotFound, UnknownPlan, InactivePractitioner),
    response_description="Proposed visits about a month apart, or the flags that block booking",
)
def propose_follow_ups(
    body: ProposalCreate, db: Db, audit: AuditDep, policy: Policy, now: Now
) -> ProposalsRead:
    """Proposed visits about a month apart: the first at the earliest free slot on or after
    `earliest`, each next one at the free slot nearest the previous visit + `interval_days`
    within the clinic's tolerance (±7 days by default; ties go to the earlier slot). A visit
    with no free slot in its window is listed in `unplaced`, not moved.

    A proposal is advice, not a reservation. When the patient may not be booked (untreated
    varicose veins, a missing or expired evaluation, a contraindication, ...) the answer is
    `blocked: true` with the `flags` that explain why, and no proposals.
    """
    outcome = service.propose(
        db=db,
        request=service.ProposalRequest(
            patient_id=body.patient_id,
            practitioner_id=body.practitioner_id,
            plan_id=body.plan_id,
            sessions=body.sessions,
            interval_days=body.interval_days,
            earliest=body.earliest,
            duration=timedelta(minutes=body.duration_minutes),
        ),
        rules=policy.scheduling,
        now=now,
    )
    # A proposal discloses the patient's eligibility and their booked sessions.
    audit.record("propose", Resource.PATIENT, body.patient_id, patient_id=body.patient_id)
    return proposals_read(outcome)
