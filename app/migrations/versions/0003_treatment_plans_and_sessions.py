"""treatment plans, sessions (no overlaps on PostgreSQL by exclusion), events, completions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('treatment_plans',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('evaluation_id', sa.Uuid(), nullable=False),
    sa.Column('planned_sessions', sa.SmallInteger(), nullable=False),
    sa.Column('interval_days', sa.SmallInteger(), nullable=False),
    sa.Column('status', sa.Enum('active', 'on_hold', 'completed', 'cancelled', name='plan_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('interval_days BETWEEN 14 AND 56', name=op.f('ck_treatment_plans_interval_days_range')),
    sa.CheckConstraint('planned_sessions BETWEEN 1 AND 10', name=op.f('ck_treatment_plans_planned_sessions_range')),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_treatment_plans_evaluation_id_evaluations')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_plans_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_plans'))
    )
    op.create_index(op.f('ix_treatment_plans_patient_id'), 'treatment_plans', ['patient_id'])

    op.create_table('treatment_sessions',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('practitioner_id', sa.Uuid(), nullable=False),
    sa.Column('plan_id', sa.Uuid(), nullable=True),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('booked', 'arrived', 'fulfilled', 'cancelled', 'noshow', 'entered-in-error', name='session_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('start_at < end_at', name=op.f('ck_treatment_sessions_start_before_end')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_sessions_patient_id_patients')),
    sa.ForeignKeyConstraint(['plan_id'], ['treatment_plans.id'], name=op.f('fk_treatment_sessions_plan_id_treatment_plans')),
    sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'], name=op.f('fk_treatment_sessions_practitioner_id_practitioners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_sessions'))
    )
    op.create_index('ix_treatment_sessions_patient_start', 'treatment_sessions', ['patient_id', 'start_at'])
    op.create_index(op.f('ix_treatment_sessions_plan_id'), 'treatment_sessions', ['plan_id'])
    op.create_index('ix_treatment_sessions_practitioner_start', 'treatment_sessions', ['practitioner_id', 'start_at'])
    op.create_index('ix_treatment_sessions_start', 'treatment_sessions', ['start_at', 'id'])
    if op.get_bind().dialect.name == "postgresql":
        # The database itself refuses overlapping live sessions, whatever the API processes do.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for column in ("practitioner_id", "patient_id"):
            op.execute(
                f"ALTER TABLE treatment_sessions ADD CONSTRAINT ex_treatment_sessions_{column}_overlap "
                f"EXCLUDE USING gist ({column} WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
                "WHERE (status IN ('booked', 'arrived', 'fulfilled'))"
            )

    op.create_table('completion_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('treated_sites', sa.JSON(), nullable=False),
    sa.Column('sclerosant', sa.String(length=40), nullable=False),
    sa.Column('concentration_percent', sa.Double(), nullable=False),
    sa.Column('volume_ml', sa.Double(), nullable=False),
    sa.Column('dose_mg', sa.Double(), nullable=False),
    sa.Column('anaesthetic', sa.String(length=24), nullable=False),
    sa.Column('compression', sa.Boolean(), nullable=False),
    sa.Column('complications', sa.JSON(), nullable=False),
    sa.Column('aftercare', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'], name=op.f('fk_completion_records_session_id_treatment_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_completion_records')),
    sa.UniqueConstraint('session_id', name=op.f('uq_completion_records_session_id'))
    )
    op.create_table('session_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=False),
    sa.Column('old_start_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('old_end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'], name=op.f('fk_session_events_session_id_treatment_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_events'))
    )
    op.create_index(op.f('ix_session_events_session_id'), 'session_events', ['session_id'])



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in ("practitioner_id", "patient_id"):
            op.execute(
                f"ALTER TABLE treatment_sessions DROP CONSTRAINT ex_treatment_sessions_{column}_overlap"
            )
    op.drop_index(op.f('ix_session_events_session_id'), table_name='session_events')

    op.drop_table('session_events')
    op.drop_table('completion_records')
    op.drop_index('ix_treatment_sessions_start', table_name='treatment_sessions')
    op.drop_index('ix_treatment_sessions_practitioner_start', table_name='treatment_sessions')
    op.drop_index(op.f('ix_treatment_sessions_plan_id'), table_name='treatment_sessions')
    op.drop_index('ix_treatment_sessions_patient_start', table_name='treatment_sessions')

    op.drop_table('treatment_sessions')
    op.drop_index(op.f('ix_treatment_plans_patient_id'), table_name='treatment_plans')

    op.drop_table('treatment_plans')
