"""evaluations: a recorded weight is positive, as on patients

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evaluations') as batch:
        batch.create_check_constraint(op.f('ck_evaluations_weight_positive'), 'weight_kg > 0')


def downgrade() -> None:
    with op.batch_alter_table('evaluations') as batch:
        batch.drop_constraint(op.f('ck_evaluations_weight_positive'), type_='check')
