"""one audit event per list, naming every record and patient it showed

- `audit_events.resource_ids`, `audit_events.patient_ids`: a list's one event names every
  record it showed and every patient they belong to (JSONB on PostgreSQL, with a GIN index, so
  the trail still answers "who saw this patient's data" at once). Events written before this
  revision, one per record listed, stay as they are.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDS = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('resource_ids', IDS, nullable=True))
        batch.add_column(sa.Column('patient_ids', IDS, nullable=True))
    op.create_index(
        'ix_audit_events_patient_ids',
        'audit_events',
        ['patient_ids'],
        unique=False,
        postgresql_using='gin',
        postgresql_ops={'patient_ids': 'jsonb_path_ops'},
    )


def downgrade() -> None:
    op.drop_index('ix_audit_events_patient_ids', table_name='audit_events')
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_column('patient_ids')
        batch.drop_column('resource_ids')
