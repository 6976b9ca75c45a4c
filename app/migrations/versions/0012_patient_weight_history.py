"""every weight the patient's record has held

- `patient_weights`: each weight entered on the patient's record, with when. The dose limit
  takes the lowest of them since a clinician weighed, so a later edit that raises or clears
  the record's weight never loosens it. Existing records start their history with the weight
  they hold, as of their last change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    weights = op.create_table(
        'patient_weights',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('weight_kg', sa.Double(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('weight_kg > 0', name=op.f('ck_patient_weights_weight_positive')),
        sa.ForeignKeyConstraint(
            ['patient_id'],
            ['patients.id'],
            name=op.f('fk_patient_weights_patient_id_patients'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_weights')),
    )
    op.create_index(
        'ix_patient_weights_patient_recorded',
        'patient_weights',
        ['patient_id', 'recorded_at'],
        unique=False,
    )
    patients = sa.table(
        'patients',
        sa.column('id', sa.Uuid()),
        sa.column('weight_kg', sa.Double()),
        sa.column('updated_at', sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(patients.c.id, patients.c.weight_kg, patients.c.updated_at).where(
            patients.c.weight_kg.is_not(None)
        )
    )
    history = [
        {'id': uuid.uuid4(), 'patient_id': pid, 'weight_kg': kg, 'recorded_at': at}
        for pid, kg, at in rows
    ]
    if history:
        op.bulk_insert(weights, history)


def downgrade() -> None:
    op.drop_index('ix_patient_weights_patient_recorded', table_name='patient_weights')
    op.drop_table('patient_weights')
