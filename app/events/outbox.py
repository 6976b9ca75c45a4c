"""The transactional outbox: an event row written in the transaction of the change it tells of.

`announce` is called by the services (never the routers), after the change is flushed: the REST
and FHIR routes pass through the same services, so every path announces the same events, and a
change rolled back takes its event with it. One plain insert, its statement built once: no ORM
unit of work on the booking path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from app.models import OutboxEvent, UTCDateTime, WebhookDelivery, utcnow, uuid7
from app.vocabulary import DeliveryStatus, EventType

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
    reminder_offset_hours: int | None = None,
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
        "reminder_offset_hours": reminder_offset_hours,
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


@dataclass(frozen=True)
class Backlog:
    """What is still to be told: deliveries not yet made (and events not yet fanned out),
    and how long the oldest of them has waited."""

    undelivered: int
    oldest_seconds: float | None


_DELIVERIES = WebhookDelivery.__table__
_PENDING = _DELIVERIES.c.status == DeliveryStatus.PENDING
_DUE_UNDISPATCHED = and_(
    OUTBOX.c.dispatched_at.is_(None),
    or_(OUTBOX.c.due_at.is_(None), OUTBOX.c.due_at <= bindparam("now", type_=UTCDateTime())),
)
# One round trip: the pending deliveries (an index range) and the events not yet fanned out
# (a partial index), each counted with its oldest event's time.
_BACKLOG = select(
    select(func.count())
    .select_from(_DELIVERIES)
    .where(_PENDING)
    .scalar_subquery()
    .label("deliveries"),
    select(func.min(OUTBOX.c.occurred_at))
    .select_from(_DELIVERIES.join(OUTBOX, OUTBOX.c.seq == _DELIVERIES.c.event_seq))
    .where(_PENDING)
    .scalar_subquery()
    .label("oldest_delivery"),
    select(func.count()).where(_DUE_UNDISPATCHED).scalar_subquery().label("events"),
    select(func.min(OUTBOX.c.occurred_at))
    .where(_DUE_UNDISPATCHED)
    .scalar_subquery()
    .label("oldest_event"),
)


async def outbox_backlog(engine: AsyncEngine) -> Backlog:
    """The backlog (a driver error propagates: the database is not there)."""
    now = utcnow()
    async with engine.connect() as connection:
        row = (await connection.execute(_BACKLOG, {"now": now})).one()
    oldest = [t for t in (row.oldest_delivery, row.oldest_event) if t is not None]
    # An event's time is the clinic's clock: never "older" than now.
    age = max(0.0, (now - min(oldest)).total_seconds()) if oldest else None
    return Backlog(undelivered=row.deliveries + row.events, oldest_seconds=age)
