"""Session reminders: one `session.reminder` outbox event per offset (a clinic setting, e.g. 48
and 2 hours before the start), written ahead with its `due_at`, so the worker tells it then.

Written in the transaction of the booking (booking a hold included); a reschedule withdraws the
reminders not yet told and writes those of the new time; a cancellation, a no-show, a check-in
or an entry in error withdraws them. Only the offsets still ahead are written: a late booking
gets no reminder that is already past. The database holds "exactly once per offset" (the unique
indexes of `OutboxEvent`), not only this code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.orm import Session

from app.events.outbox import OUTBOX, event_row
from app.vocabulary import EventType

_INSERT = OUTBOX.insert()
# The reminders of a session not told yet (those told stay: they were sent).
_WITHDRAW = delete(OUTBOX).where(
    OUTBOX.c.session_id == bindparam("session_id", type_=OUTBOX.c.session_id.type),
    OUTBOX.c.type == EventType.SESSION_REMINDER.value,
    OUTBOX.c.dispatched_at.is_(None),
)


def reminder_rows(
    *,
    session_id: uuid.UUID,
    patient_id: uuid.UUID,
    plan_id: uuid.UUID | None,
    start: datetime,
    offsets_hours: Sequence[int],
    now: datetime,
) -> list[dict[str, Any]]:
    """The reminders of a session starting at `start`: one per offset still ahead of `now`,
    the earliest first. Each is "told" at its due time, the moment it is about."""
    rows = []
    for hours in sorted(offsets_hours, reverse=True):
        due = start - timedelta(hours=hours)
        if due > now:
            rows.append(
                event_row(
                    EventType.SESSION_REMINDER,
                    at=due,
                    due_at=due,
                    session_id=session_id,
                    patient_id=patient_id,
                    plan_id=plan_id,
                    reminder_offset_hours=hours,
                )
            )
    return rows


def remind(
    db: Session,
    *,
    session_id: uuid.UUID,
    patient_id: uuid.UUID,
    plan_id: uuid.UUID | None,
    start: datetime,
    offsets_hours: Sequence[int],
    now: datetime,
) -> None:
    """Write the session's reminders still ahead (one statement; none if none is ahead)."""
    rows = reminder_rows(
        session_id=session_id,
        patient_id=patient_id,
        plan_id=plan_id,
        start=start,
        offsets_hours=offsets_hours,
        now=now,
    )
    if rows:
        db.connection().execute(_INSERT, rows)


def withdraw_reminders(db: Session, *, session_id: uuid.UUID) -> None:
    """Remove the session's reminders not yet told (it moved, or will not take place)."""
    db.connection().execute(_WITHDRAW, {"session_id": session_id})
