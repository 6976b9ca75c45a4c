"""The transactional outbox: an event row written in the transaction of the change it tells of.

`announce` is called by the services (never the routers), after the change is flushed: the REST
and FHIR routes pass through the same services, so every path announces the same events, and a
change rolled back takes its event with it. One plain insert, its statement built once: no ORM
unit of work on the booking path.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from app.models import OutboxEvent, uuid7
from app.vocabulary import EventType

OUTBOX: Table = OutboxEvent.metadata.tables[OutboxEvent.__tablename__]
_ANNOUNCE = insert(OUTBOX)


def event_row(
    kind: EventType,
    *,
    at: datetime,
    session_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    evaluation_id: uuid.UUID | None = None,
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """An event's columns (every one but `seq`, which the database numbers)."""
    return {
        "id": uuid7(),
        "type": kind.value,
        "occurred_at": at,
        "due_at": due_at,
        "session_id": session_id,
        "patient_id": patient_id,
        "plan_id": plan_id,
        "evaluation_id": evaluation_id,
        "dispatched_at": None,
    }


def announce(
    db: Session,
    kind: EventType,
    *,
    at: datetime,
    session_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    evaluation_id: uuid.UUID | None = None,
) -> None:
    """Write the event in `db`'s transaction: committed with the change, or not at all."""
    row = event_row(
        kind,
        at=at,
        session_id=session_id,
        patient_id=patient_id,
        plan_id=plan_id,
        evaluation_id=evaluation_id,
    )
    db.connection().execute(_ANNOUNCE, row)
