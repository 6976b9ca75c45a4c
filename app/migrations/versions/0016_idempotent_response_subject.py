"""what each kept answer was about (resource and patient), so that a replay is audited against it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('idempotent_responses') as batch_op:
        batch_op.add_column(sa.Column('resource_type', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('resource_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('patient_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('idempotent_responses') as batch_op:
        batch_op.drop_column('patient_id')
        batch_op.drop_column('resource_id')
        batch_op.drop_column('resource_type')
