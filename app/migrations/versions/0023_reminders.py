"""session reminders in the outbox

- `outbox_events.reminder_offset_hours`: a `session.reminder` event's offset (told that many
  hours before the session's start, its `due_at`); none for every other event.
- Exactly once per offset, held by the database: one reminder per session, offset and start,
  and one still to tell per session and offset.
- `reminder_emails`: a reminder's e-mail to the patient (when the clinic sends them), one per
  reminder event, and how sending it went.

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
SEQ = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_EMAIL_STATUSES = "status IN ('pending', 'sending', 'sent', 'skipped', 'failed')"


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
    op.create_table(
        'reminder_emails',
        sa.Column('event_seq', SEQ, autoincrement=False, nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.SmallInteger(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_EMAIL_STATUSES, name=op.f('ck_reminder_emails_reminder_email_status')),
        sa.ForeignKeyConstraint(
            ['event_seq'],
            ['outbox_events.seq'],
            name=op.f('fk_reminder_emails_event_seq_outbox_events'),
        ),
        sa.PrimaryKeyConstraint('event_seq', name=op.f('pk_reminder_emails')),
    )
    op.create_index(
        'ix_reminder_emails_due', 'reminder_emails', ['status', 'next_attempt_at']
    )


def downgrade() -> None:
    op.drop_index('ix_reminder_emails_due', table_name='reminder_emails')
    op.drop_table('reminder_emails')
    op.drop_index('uq_outbox_events_pending_reminder', table_name='outbox_events')
    op.drop_index('uq_outbox_events_reminder', table_name='outbox_events')
    with op.batch_alter_table('outbox_events') as batch:
        batch.drop_column('reminder_offset_hours')
