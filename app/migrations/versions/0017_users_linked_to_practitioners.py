"""users: practitioner_id, so that evaluations and clearances are signed by their author

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No account is linked yet: an admin links each clinician to their practitioner.
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('practitioner_id', sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f('fk_users_practitioner_id_practitioners'), 'practitioners',
            ['practitioner_id'], ['id'],
        )
        batch.create_unique_constraint(op.f('uq_users_practitioner_id'), ['practitioner_id'])


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint(op.f('uq_users_practitioner_id'), type_='unique')
        batch.drop_constraint(op.f('fk_users_practitioner_id_practitioners'), type_='foreignkey')
        batch.drop_column('practitioner_id')
