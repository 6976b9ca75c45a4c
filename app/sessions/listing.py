"""The calendar as lists: sessions filtered, ordered by start, a page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import AWAITING_TREATMENT, TreatmentSession
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate, paginate_kept
from app.sessions.review import review
from app.vocabulary import SessionStatus

_BY_START = Keyset(
    columns=(TreatmentSession.start_at, TreatmentSession.id),
    parsers=(cursor_datetime, cursor_uuid),
)


def list_sessions(
    *,
    db: Session,
    now: datetime,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    statuses: Sequence[SessionStatus] = (),
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    needs_review: bool | None = None,
    min_gap_days: int = 0,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[TreatmentSession], str | None]:
    """Sessions ordered by start, filtered, a page at a time. `needs_review=True`: only the
    booked and checked-in ones that no longer pass the booking checks (False: all others)."""
    query = select(TreatmentSession).options(
        selectinload(TreatmentSession.completion), selectinload(TreatmentSession.events)
    )
    if practitioner_id is not None:
        query = query.where(TreatmentSession.practitioner_id == practitioner_id)
    if patient_id is not None:
        query = query.where(TreatmentSession.patient_id == patient_id)
    if plan_id is not None:
        query = query.where(TreatmentSession.plan_id == plan_id)
    if statuses:
        query = query.where(TreatmentSession.status.in_(statuses))
    if window_start is not None:
        query = query.where(TreatmentSession.ending_after(window_start))
    if window_end is not None:
        query = query.where(TreatmentSession.start_at < window_end)
    if needs_review is None:
        return paginate(db, query, _BY_START, limit=limit, cursor=cursor)
    if needs_review:
        query = query.where(TreatmentSession.status.in_(AWAITING_TREATMENT))

    def keep(batch: Sequence[TreatmentSession]) -> list[bool]:
        reasons = review(db=db, sessions=batch, now=now, min_gap_days=min_gap_days)
        return [bool(reasons[session.id]) is needs_review for session in batch]

    return paginate_kept(db, query, _BY_START, keep=keep, limit=limit, cursor=cursor)
