"""treatment sessions keep the time zone they take place in

A session's day (when its patient may be checked in and treated, and the day its dose and the
14-day rule count) is the day where it takes place: the practitioner's zone when it was booked
or moved. Changing the practitioner's zone later must not move it. Existing sessions take their
practitioner's zone today.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.execute(
        'UPDATE treatment_sessions SET time_zone = (SELECT practitioners.time_zone '
        'FROM practitioners WHERE practitioners.id = treatment_sessions.practitioner_id)'
    )
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.alter_column('time_zone', existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.drop_column('time_zone')
