"""practitioners' calendar feeds: a hash of each secret feed token, one live per practitioner

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text('revoked_at IS NULL')


def upgrade() -> None:
    op.create_table(
        'calendar_feeds',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('practitioner_id', sa.Uuid(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['practitioner_id'],
            ['practitioners.id'],
            name=op.f('fk_calendar_feeds_practitioner_id_practitioners'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
    )
    op.create_index(
        'ix_calendar_feeds_live_practitioner',
        'calendar_feeds',
        ['practitioner_id'],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def downgrade() -> None:
    # Feeds are no clinical record: their subscribers lose them with the table.
    op.drop_index('ix_calendar_feeds_live_practitioner', table_name='calendar_feeds')
    op.drop_table('calendar_feeds')
