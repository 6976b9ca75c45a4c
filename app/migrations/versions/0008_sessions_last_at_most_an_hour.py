"""treatment sessions last at most an hour, checked by the database

The procedure takes under an hour, and the searches for overlapping sessions rely on it: they
bound the start time from both sides. The CHECK is written per database (date arithmetic
differs); like the exclusion constraints of 0003, the models name it in a comment only.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = 'ck_treatment_sessions_at_most_an_hour'
_CONDITION = {
    'postgresql': "end_at - start_at <= interval '60 minutes'",
    'sqlite': "strftime('%s', end_at) - strftime('%s', start_at) <= 3600",
}


def upgrade() -> None:
    condition = _CONDITION[op.get_bind().dialect.name]
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.create_check_constraint(op.f(_NAME), condition)


def downgrade() -> None:
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.drop_constraint(op.f(_NAME), type_='check')
