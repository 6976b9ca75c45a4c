"""responses kept for retries sent with an Idempotency-Key

- `idempotent_responses`: per caller and key, the fingerprint of the first request and its
  answer (status, headers, body), until it expires.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'idempotent_responses',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('caller_id', sa.Uuid(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotent_responses')),
        sa.UniqueConstraint(
            'caller_id', 'key', name=op.f('uq_idempotent_responses_caller_id_key')
        ),
    )
    op.create_index(
        'ix_idempotent_responses_expires_at', 'idempotent_responses', ['expires_at']
    )


def downgrade() -> None:
    op.drop_index('ix_idempotent_responses_expires_at', table_name='idempotent_responses')
    op.drop_table('idempotent_responses')
