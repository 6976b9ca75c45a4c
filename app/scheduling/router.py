"""Free slots and follow-up proposals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request

from app.auditing import Resource
from app.config import Settings
from app.errors import DomainError, NotFound
from app.evaluations.schemas import FlagRead
from app.plans.service import UnknownPlan
from app.practitioners.hours import Interval
from app.practitioners.service import InactivePractitioner
from app.roles import Permission
from app.scheduling import service
from app.scheduling.schemas import (
    LONGEST_MINUTES,
    SHORTEST_MINUTES,
    ProposalCreate,
    ProposalRead,
    ProposalsRead,
    SlotRead,
    SlotsRead,
    UnplacedRead,
)
from app.schemas import Instant
from app.web.access import AuditDep, CallerFirstRoute, requires
from app.web.db import Db, ReadDb
from app.web.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["scheduling"], route_class=CallerFirstRoute)

MAX_RANGE = timedelta(days=31)


class InvalidRange(DomainError):
    status = 422
    code = "invalid-range"
    title = "Invalid time range"


def scheduling_rules(settings: Settings) -> service.SchedulingRules:
    return service.SchedulingRules(
        grid=timedelta(minutes=settings.slot_grid_minutes),
        tolerance_days=settings.proposal_tolerance_days,
        min_gap_days=settings.min_session_interval_days,
        clinic_zone=ZoneInfo(settings.clinic_time_zone),
    )


def proposals_read(outcome: service.ProposalOutcome) -> ProposalsRead:
    return ProposalsRead(
        blocked=outcome.blocked,
        flags=[FlagRead.model_validate(f) for f in outcome.flags],
        proposals=[
            ProposalRead(
                sequence=p.sequence,
                start=p.slot.start,
                end=p.slot.end,
                practitioner_id=p.practitioner_id,
                target_date=p.target_date,
                offset_days=p.offset_days,
            )
            for p in outcome.proposals
        ],
        unplaced=[UnplacedRead.model_validate(u) for u in outcome.unplaced],
    )


@router.get(
    "/practitioners/{practitioner_id}/slots",
    summary="Free slots of a practitioner",
    dependencies=[requires(Permission.CALENDARS_READ)],
    responses=problem_responses(NotFound, InvalidRange),
)
def free_slots(
    practitioner_id: uuid.UUID,
    db: ReadDb,
    request: Request,
    from_: Annotated[Instant, Query(alias="from", description="RFC 3339 with offset")],
    to: Annotated[Instant, Query(description="RFC 3339 with offset; at most 31 days after from")],
    duration_minutes: Annotated[int, Query(ge=SHORTEST_MINUTES, le=LONGEST_MINUTES)] = 45,
) -> SlotsRead:
    """Times a session of `duration_minutes` could start: inside the practitioner's weekly hours
    (their time zone, daylight saving included), outside time off and booked sessions, on the
    clinic's grid, and not in the past."""
    if to <= from_ or to - from_ > MAX_RANGE:
        raise InvalidRange("`to` must come after `from`, at most 31 days later.")
    settings: Settings = request.app.state.settings
    window = Interval(max(from_, datetime.now(UTC)), to)
    practitioner, slots = service.find_free_slots(
        db=db,
        practitioner_id=practitioner_id,
        window=window if window.start < window.end else Interval(to, to),
        duration=timedelta(minutes=duration_minutes),
        grid=timedelta(minutes=settings.slot_grid_minutes),
    )
    return SlotsRead(
        practitioner_id=practitioner.id,
        time_zone=practitioner.time_zone,
        duration_minutes=duration_minutes,
        slots=[SlotRead(start=s.start, end=s.end) for s in slots],
    )


@router.post(
    "/scheduling/proposals",
    summary="Propose follow-up visits",
    dependencies=[requires(Permission.PROPOSALS)],
    responses=problem_responses(NotFound, UnknownPlan, InactivePractitioner),
)
def propose(body: ProposalCreate, db: Db, audit: AuditDep, request: Request) -> ProposalsRead:
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
        rules=scheduling_rules(request.app.state.settings),
        now=datetime.now(UTC),
    )
    # A proposal discloses the patient's eligibility and their booked sessions.
    audit.record("propose", Resource.PATIENT, body.patient_id, patient_id=body.patient_id)
    return proposals_read(outcome)
