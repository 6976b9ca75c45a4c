"""the transactional outbox and the webhooks it feeds

- `outbox_events`: what happened (a session booked, an evaluation recorded, ...), written in
  the transaction of the change itself; `seq` numbers them in the order they were written,
  `dispatched_at` says when the worker made their deliveries.
- `webhook_subscriptions`: receivers, the event types each wants (none: all), their secrets.
- `webhook_deliveries`: one event to one subscription, `pending` until delivered or failed.
- `webhook_attempts`: each try of a delivery (when, how long, the response code).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite numbers rows itself only for an INTEGER PRIMARY KEY; PostgreSQL takes a bigserial.
SEQ = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_DELIVERY_STATUSES = "status IN ('pending', 'delivered', 'failed')"
_UNDISPATCHED = sa.text('dispatched_at IS NULL')


def upgrade() -> None:
    op.create_table(
        'outbox_events',
        sa.Column('seq', SEQ, autoincrement=True, nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('session_id', sa.Uuid(), nullable=True),
        sa.Column('patient_id', sa.Uuid(), nullable=True),
        sa.Column('plan_id', sa.Uuid(), nullable=True),
        sa.Column('evaluation_id', sa.Uuid(), nullable=True),
        sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_outbox_events')),
        sa.UniqueConstraint('id', name=op.f('uq_outbox_events_id')),
    )
    op.create_index(
        'ix_outbox_events_undispatched',
        'outbox_events',
        ['seq'],
        postgresql_where=_UNDISPATCHED,
        sqlite_where=_UNDISPATCHED,
    )
    op.create_table(
        'webhook_subscriptions',
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('event_types', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions')),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('event_seq', SEQ, nullable=False),
        sa.Column('subscription_id', sa.Uuid(), nullable=False),
        sa.Column('session_id', sa.Uuid(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.SmallInteger(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_DELIVERY_STATUSES, name=op.f('ck_webhook_deliveries_delivery_status')),
        sa.ForeignKeyConstraint(
            ['event_seq'],
            ['outbox_events.seq'],
            name=op.f('fk_webhook_deliveries_event_seq_outbox_events'),
        ),
        sa.ForeignKeyConstraint(
            ['subscription_id'],
            ['webhook_subscriptions.id'],
            name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint(
            'event_seq',
            'subscription_id',
            name=op.f('uq_webhook_deliveries_event_seq_subscription_id'),
        ),
    )
    op.create_index(
        'ix_webhook_deliveries_due', 'webhook_deliveries', ['status', 'next_attempt_at']
    )
    op.create_index(
        'ix_webhook_deliveries_subscription_session',
        'webhook_deliveries',
        ['subscription_id', 'session_id', 'event_seq'],
    )
    op.create_index(
        'ix_webhook_deliveries_subscription_created',
        'webhook_deliveries',
        ['subscription_id', 'created_at', 'id'],
    )
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('delivery_id', sa.Uuid(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('status_code', sa.SmallInteger(), nullable=True),
        sa.Column('error', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ['delivery_id'],
            ['webhook_deliveries.id'],
            name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    )
    op.create_index(
        'ix_webhook_attempts_delivery_at', 'webhook_attempts', ['delivery_id', 'at']
    )


def downgrade() -> None:
    op.drop_index('ix_webhook_attempts_delivery_at', table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_subscription_created', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_subscription_session', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')
    op.drop_index('ix_outbox_events_undispatched', table_name='outbox_events')
    op.drop_table('outbox_events')
