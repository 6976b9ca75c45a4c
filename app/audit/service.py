"""Searching the audit trail (admins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session

from app.auditing import Resource
from app.errors import InvalidQuery
from app.models import AuditEvent, AuditOutcome
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate

_NEWEST_FIRST = Keyset(
    columns=(AuditEvent.at, AuditEvent.id),
    parsers=(cursor_datetime, cursor_uuid),
    descending=True,
)


def _listed(db: Session, ids: Any, wanted: uuid.UUID) -> ColumnElement[bool]:
    """The events whose `ids` (a JSON array) name `wanted`: a list that showed the record."""
    if db.get_bind().dialect.name == "postgresql":
        return ids.op("@>")(func.jsonb_build_array(str(wanted)))  # type: ignore[no-any-return]
    value: ColumnElement[str] = literal_column("value")
    return exists(select(value).select_from(func.json_each(ids)).where(value == str(wanted)))


def list_events(
    *,
    db: Session,
    patient_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    resource_type: Resource | None,
    resource_id: uuid.UUID | None,
    outcome: AuditOutcome | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[AuditEvent], str | None]:
    """Events newest first, filtered by patient, actor, resource, outcome and time range."""
    if since is not None and until is not None and until <= since:
        raise InvalidQuery("`to` must be after `from`.")
    query = select(AuditEvent)
    if patient_id is not None:
        listed = _listed(db, AuditEvent.patient_ids, patient_id)
        query = query.where(or_(AuditEvent.patient_id == patient_id, listed))
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if resource_type is not None:
        query = query.where(AuditEvent.resource_type == resource_type)
    if resource_id is not None:
        query = query.where(AuditEvent.resource_id == resource_id)
    if outcome is not None:
        query = query.where(AuditEvent.outcome == outcome)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    return paginate(db, query, _NEWEST_FIRST, limit=limit, cursor=cursor)
