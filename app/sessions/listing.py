"""The calendar as lists: sessions filtered, ordered by start, a page at a time.

A calendar is read far more often than it changes, so a page is read as plain rows (no ORM
objects): the sessions with their completion records, then their histories, two statements
whatever the page's size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from app.models import AWAITING_TREATMENT, CompletionRecord, SessionEvent, TreatmentSession
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate, paginate_kept
from app.sessions.review import review
from app.vocabulary import SessionStatus

_SESSIONS = TreatmentSession.metadata.tables[TreatmentSession.__tablename__]
_COMPLETIONS = TreatmentSession.metadata.tables[CompletionRecord.__tablename__]
_EVENTS = TreatmentSession.metadata.tables[SessionEvent.__tablename__]

# A session's completion record (at most one) comes with it, its columns named so: they never
# clash with the session's own.
_COMPLETION_FIELDS = tuple(
    column.key for column in _COMPLETIONS.c if column.key not in {"id", "session_id"}
)
_PAGE = select(
    _SESSIONS,
    _COMPLETIONS.c.id.label("completion_id"),
    *(_COMPLETIONS.c[key].label(f"completion_{key}") for key in _COMPLETION_FIELDS),
).select_from(_SESSIONS.outerjoin(_COMPLETIONS, _COMPLETIONS.c.session_id == _SESSIONS.c.id))
_HISTORIES = (
    select(_EVENTS)
    .where(_EVENTS.c.session_id.in_(bindparam("session_ids", expanding=True)))
    .order_by(_EVENTS.c.at)
)

_BY_START = Keyset(
    columns=(TreatmentSession.start_at, TreatmentSession.id),
    parsers=(cursor_datetime, cursor_uuid),
)


@dataclass(frozen=True)
class Listed:
    """A page of sessions as rows (with the attributes of `TreatmentSession`'s columns), with
    each one's completion record and history."""

    sessions: Sequence[Row[Any]]
    completions: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    events: dict[uuid.UUID, list[Row[Any]]] = field(default_factory=dict)

    def view(self, session: Row[Any]) -> dict[str, Any]:
        """The session as `SessionRead` reads it."""
        completion = self.completions.get(session.id)
        return {
            **session._mapping,
            "completion": completion,
            "events": [event._mapping for event in self.events.get(session.id, ())],
        }


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
) -> tuple[Listed, str | None]:
    """Sessions ordered by start, filtered, a page at a time. `needs_review=True`: only the
    booked and checked-in ones that no longer pass the booking checks (False: all others)."""
    query = _PAGE
    if practitioner_id is not None:
        query = query.where(_SESSIONS.c.practitioner_id == practitioner_id)
    if patient_id is not None:
        query = query.where(_SESSIONS.c.patient_id == patient_id)
    if plan_id is not None:
        query = query.where(_SESSIONS.c.plan_id == plan_id)
    if statuses:
        query = query.where(_SESSIONS.c.status.in_(statuses))
    if window_start is not None:
        query = query.where(TreatmentSession.ending_after(window_start))
    if window_end is not None:
        query = query.where(_SESSIONS.c.start_at < window_end)
    if needs_review is None:
        page, next_cursor = paginate(db, query, _BY_START, limit=limit, cursor=cursor, rows=True)
    else:
        if needs_review:
            query = query.where(_SESSIONS.c.status.in_(AWAITING_TREATMENT))

        def keep(batch: Sequence[Row[Any]]) -> list[bool]:
            reasons = review(db=db, sessions=batch, now=now, min_gap_days=min_gap_days)
            return [bool(reasons[session.id]) is needs_review for session in batch]

        page, next_cursor = paginate_kept(
            db, query, _BY_START, keep=keep, limit=limit, cursor=cursor, rows=True
        )
    return _with_records(db, page), next_cursor


def _with_records(db: Session, sessions: Sequence[Row[Any]]) -> Listed:
    completions = {
        s.id: {key: s._mapping[f"completion_{key}"] for key in _COMPLETION_FIELDS}
        for s in sessions
        if s.status in _RECORDED and s.completion_id is not None
    }
    events: dict[uuid.UUID, list[Row[Any]]] = {}
    if sessions:
        for row in db.execute(_HISTORIES, {"session_ids": [s.id for s in sessions]}):
            events.setdefault(row.session_id, []).append(row)
    return Listed(sessions, completions, events)


# The statuses a session can hold with a completion record: done, or marked in error after.
_RECORDED = frozenset({SessionStatus.FULFILLED, SessionStatus.ENTERED_IN_ERROR})
