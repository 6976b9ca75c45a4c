"""logins counted per client address, refusals during a pause counted, logged-out tokens

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('login_failures') as batch:
        batch.add_column(sa.Column('client', sa.String(length=64), nullable=True))
    op.create_index('ix_login_failures_client_at', 'login_failures', ['client', 'at'])
    op.create_table(
        'login_refusals',
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('subject', name=op.f('pk_login_refusals')),
    )
    op.create_table(
        'revoked_tokens',
        sa.Column('token_id', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('token_id', name=op.f('pk_revoked_tokens')),
    )
    op.create_index('ix_revoked_tokens_expires_at', 'revoked_tokens', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_revoked_tokens_expires_at', table_name='revoked_tokens')
    op.drop_table('revoked_tokens')
    op.drop_table('login_refusals')
    op.drop_index('ix_login_failures_client_at', table_name='login_failures')
    with op.batch_alter_table('login_failures') as batch:
        batch.drop_column('client')
