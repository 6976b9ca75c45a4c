"""buffers between a practitioner's sessions, and the minimum notice a booking needs

- `practitioners.buffer_minutes`: minutes kept free before and after each of their sessions
  (0 to 120); null, as every practitioner starts: the clinic's setting.
- `practitioners.min_notice_minutes`: no booking with them starts sooner than this from now
  (0 to 43200, 30 days); null: the clinic's setting.
- `session_events.within_notice`: the session was booked or moved inside that notice, by staff
  allowed to; false for every event before this revision.

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0029'
down_revision: str | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('practitioners') as batch:
        batch.add_column(sa.Column('buffer_minutes', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('min_notice_minutes', sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f('ck_practitioners_buffer_range'), 'buffer_minutes BETWEEN 0 AND 120'
        )
        batch.create_check_constraint(
            op.f('ck_practitioners_notice_range'), 'min_notice_minutes BETWEEN 0 AND 43200'
        )
    with op.batch_alter_table('session_events') as batch:
        batch.add_column(
            sa.Column('within_notice', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('session_events') as batch:
        batch.drop_column('within_notice')
    with op.batch_alter_table('practitioners') as batch:
        batch.drop_constraint(op.f('ck_practitioners_notice_range'), type_='check')
        batch.drop_constraint(op.f('ck_practitioners_buffer_range'), type_='check')
        batch.drop_column('min_notice_minutes')
        batch.drop_column('buffer_minutes')
