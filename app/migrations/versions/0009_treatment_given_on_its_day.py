"""when the sclerosant was given, the weight a clinician stated, the former practitioner of a
rescheduled session, and the values an audited change replaced

- `completion_records.administered_at`: the daily dose and the interval between treatments
  count from it; records written before this revision take the time they were recorded.
- `completion_records.weight_kg`: a weight stated by the clinician at completion.
- `session_events.old_practitioner_id`: a reschedule keeps who had the session before.
- `audit_events.changes`: the old and new value of each clinical field an update changed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('completion_records') as batch:
        batch.add_column(
            sa.Column('administered_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column('weight_kg', sa.Double(), nullable=True))
    op.execute('UPDATE completion_records SET administered_at = recorded_at')
    with op.batch_alter_table('completion_records') as batch:
        batch.alter_column(
            'administered_at',
            existing_type=sa.DateTime(timezone=True),
            nullable=False,
        )
        batch.create_check_constraint(op.f('ck_completion_records_weight_positive'), 'weight_kg > 0')
    with op.batch_alter_table('session_events') as batch:
        batch.add_column(sa.Column('old_practitioner_id', sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f('fk_session_events_old_practitioner_id_practitioners'),
            'practitioners',
            ['old_practitioner_id'],
            ['id'],
        )
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('changes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_column('changes')
    with op.batch_alter_table('session_events') as batch:
        batch.drop_constraint(
            op.f('fk_session_events_old_practitioner_id_practitioners'), type_='foreignkey'
        )
        batch.drop_column('old_practitioner_id')
    with op.batch_alter_table('completion_records') as batch:
        batch.drop_constraint(op.f('ck_completion_records_weight_positive'), type_='check')
        batch.drop_column('weight_kg')
        batch.drop_column('administered_at')
