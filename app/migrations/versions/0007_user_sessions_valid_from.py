"""users: sessions_valid_from, so switching an account off ends its tokens for good

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('sessions_valid_from', sa.DateTime(timezone=True), nullable=True))
    # Until now a password change was the only thing that ended a user's tokens.
    op.execute(sa.text("UPDATE users SET sessions_valid_from = password_changed_at"))
    with op.batch_alter_table('users') as batch:
        batch.alter_column(
            'sessions_valid_from', existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('sessions_valid_from')
