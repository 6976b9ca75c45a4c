"""session reminders in the outbox

- `outbox_events.reminder_offset_hours`: a `session.reminder` event's offset (told that many
  hours before the session's start, its `due_at`); none for every other event.
- Exactly once per offset, held by the database: one reminder per session, offset and start,
  and one still to tell per session and offset.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REMINDER = sa.text('reminder_offset_hours IS NOT NULL')
_PENDING_REMINDER = sa.text('reminder_offset_hours IS NOT NULL AND dispatched_at IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('outbox_events') as batch:
        batch.add_column(sa.Column('reminder_offset_hours', sa.SmallInteger(), nullable=True))
    op.create_index(
        'uq_outbox_events_reminder',
        'outbox_events',
        ['session_id', 'reminder_offset_hours', 'due_at'],
        unique=True,
        postgresql_where=_REMINDER,
        sqlite_where=_REMINDER,
    )
    op.create_index(
        'uq_outbox_events_pending_reminder',
        'outbox_events',
        ['session_id', 'reminder_offset_hours'],
        unique=True,
        postgresql_where=_PENDING_REMINDER,
        sqlite_where=_PENDING_REMINDER,
    )


def downgrade() -> None:
    op.drop_index('uq_outbox_events_pending_reminder', table_name='outbox_events')
    op.drop_index('uq_outbox_events_reminder', table_name='outbox_events')
    with op.batch_alter_table('outbox_events') as batch:
        batch.drop_column('reminder_offset_hours')
