"""evaluations (outcome and flags computed by the rules) and clearances

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evaluations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('practitioner_id', sa.Uuid(), nullable=False),
    sa.Column('performed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('spider_vein_sites', sa.JSON(), nullable=False),
    sa.Column('ceap_class', sa.String(length=2), nullable=False),
    sa.Column('varicose_veins', sa.String(length=16), nullable=False),
    sa.Column('varicose_treatment_kind', sa.String(length=40), nullable=True),
    sa.Column('varicose_treatment_completed_on', sa.Date(), nullable=True),
    sa.Column('risk_factors', sa.JSON(), nullable=False),
    sa.Column('benefits_and_risks_explained', sa.Boolean(), nullable=False),
    sa.Column('patient_expectations', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('weight_kg', sa.Double(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_evaluations_patient_id_patients')),
    sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'], name=op.f('fk_evaluations_practitioner_id_practitioners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations'))
    )
    op.create_index('ix_evaluations_patient_performed', 'evaluations', ['patient_id', 'performed_at'])

    op.create_table('clearances',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('evaluation_id', sa.Uuid(), nullable=False),
    sa.Column('practitioner_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_clearances_evaluation_id_evaluations')),
    sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'], name=op.f('fk_clearances_practitioner_id_practitioners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clearances')),
    sa.UniqueConstraint('evaluation_id', name=op.f('uq_clearances_evaluation_id'))
    )


def downgrade() -> None:
    op.drop_table('clearances')
    op.drop_index('ix_evaluations_patient_performed', table_name='evaluations')

    op.drop_table('evaluations')
