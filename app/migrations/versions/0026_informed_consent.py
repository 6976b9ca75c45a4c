"""patients' informed consent to micro-sclerotherapy, and its withdrawal

- `consents`: the form's version, the procedure, the risks explained, who took it and when;
  once withdrawn, when and why (a withdrawal never before the consent, and a reason only with
  a withdrawal, held by the database).
- Completing a session needs the patient's consent standing when the sclerosant was given
  (`app.consents.service.require_consent`): treatments recorded before this revision are
  kept as they are.
- A downgrade drops the table and the consents in it: back the database up first.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROCEDURES = "procedure IN ('micro-sclerotherapy')"


def upgrade() -> None:
    op.create_table(
        'consents',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('practitioner_id', sa.Uuid(), nullable=False),
        sa.Column('procedure', sa.String(length=40), nullable=False),
        sa.Column('document_version', sa.String(length=64), nullable=False),
        sa.Column('risks_explained', sa.JSON(), nullable=False),
        sa.Column('obtained_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawal_reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.CheckConstraint(_PROCEDURES, name=op.f('ck_consents_consent_procedure')),
        sa.CheckConstraint(
            'withdrawn_at >= obtained_at', name=op.f('ck_consents_withdrawn_after_obtained')
        ),
        sa.CheckConstraint(
            'withdrawn_at IS NOT NULL OR withdrawal_reason IS NULL',
            name=op.f('ck_consents_reason_of_withdrawal'),
        ),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patients.id'], name=op.f('fk_consents_patient_id_patients')
        ),
        sa.ForeignKeyConstraint(
            ['practitioner_id'],
            ['practitioners.id'],
            name=op.f('fk_consents_practitioner_id_practitioners'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consents')),
    )
    op.create_index('ix_consents_patient_obtained', 'consents', ['patient_id', 'obtained_at'])


def downgrade() -> None:
    op.drop_index('ix_consents_patient_obtained', table_name='consents')
    op.drop_table('consents')
