"""the waitlist: patients waiting for an earlier visit, freed slots, and the offers between them

- `waitlist_entries`: a patient's window (earliest and latest day), the practitioners,
  locations and weekdays they prefer, the course it is for, and how the entry ended (booked,
  removed with a reason, lapsed). One entry on the list a patient (a partial unique index).
- `waitlist_freed_slots`: a slot a cancelled, missed or moved session gave back, while it is
  offered round the list.
- `waitlist_offers`: a freed slot offered to one patient and held for them (its id is the
  hold's, then the session's); what became of it. The database refuses two standing offers of
  one slot, or to one entry.
- A downgrade drops the three tables, with the list in them (no clinical record: the
  sessions booked through offers stay).

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0030'
down_revision: str | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ON_THE_LIST = sa.text("status IN ('waiting', 'offered')")
_STANDING = sa.text("status = 'offered'")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        'waitlist_entries',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('plan_id', sa.Uuid(), nullable=True),
        sa.Column('earliest_date', sa.Date(), nullable=False),
        sa.Column('latest_date', sa.Date(), nullable=False),
        sa.Column('practitioner_ids', sa.JSON(), nullable=False),
        sa.Column('location_ids', sa.JSON(), nullable=False),
        sa.Column('weekdays', sa.JSON(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('removal_reason', sa.String(length=24), nullable=True),
        sa.Column('booked_session_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.CheckConstraint(
            _one_of('status', ('waiting', 'offered', 'booked', 'removed', 'lapsed')),
            name=op.f('ck_waitlist_entries_waitlist_status'),
        ),
        sa.CheckConstraint(
            _one_of(
                'removal_reason',
                (
                    'patient-request',
                    'booked-elsewhere',
                    'not-suitable',
                    'added-in-error',
                    'other',
                ),
            ),
            name=op.f('ck_waitlist_entries_waitlist_removal'),
        ),
        sa.CheckConstraint(
            'earliest_date <= latest_date', name=op.f('ck_waitlist_entries_window_in_order')
        ),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patients.id'], name=op.f('fk_waitlist_entries_patient_id_patients')
        ),
        sa.ForeignKeyConstraint(
            ['plan_id'],
            ['treatment_plans.id'],
            name=op.f('fk_waitlist_entries_plan_id_treatment_plans'),
        ),
        sa.ForeignKeyConstraint(
            ['booked_session_id'],
            ['treatment_sessions.id'],
            name=op.f('fk_waitlist_entries_booked_session_id_treatment_sessions'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    )
    op.create_index(
        'uq_waitlist_entries_patient_on_list',
        'waitlist_entries',
        ['patient_id'],
        unique=True,
        postgresql_where=_ON_THE_LIST,
        sqlite_where=_ON_THE_LIST,
    )
    op.create_index(
        'ix_waitlist_entries_status_created', 'waitlist_entries', ['status', 'created_at', 'id']
    )
    op.create_index(
        'ix_waitlist_entries_patient_created',
        'waitlist_entries',
        ['patient_id', 'created_at', 'id'],
    )
    op.create_table(
        'waitlist_freed_slots',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('session_id', sa.Uuid(), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('practitioner_id', sa.Uuid(), nullable=False),
        sa.Column('location_id', sa.Uuid(), nullable=True),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('freed_by', sa.String(length=24), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            _one_of('freed_by', ('cancel', 'no-show', 'reschedule')),
            name=op.f('ck_waitlist_freed_slots_slot_freed_by'),
        ),
        sa.CheckConstraint(
            _one_of('status', ('open', 'offered', 'filled', 'unfilled')),
            name=op.f('ck_waitlist_freed_slots_freed_slot_status'),
        ),
        sa.CheckConstraint(
            'start_at < end_at', name=op.f('ck_waitlist_freed_slots_start_before_end')
        ),
        sa.ForeignKeyConstraint(
            ['session_id'],
            ['treatment_sessions.id'],
            name=op.f('fk_waitlist_freed_slots_session_id_treatment_sessions'),
        ),
        sa.ForeignKeyConstraint(
            ['patient_id'],
            ['patients.id'],
            name=op.f('fk_waitlist_freed_slots_patient_id_patients'),
        ),
        sa.ForeignKeyConstraint(
            ['practitioner_id'],
            ['practitioners.id'],
            name=op.f('fk_waitlist_freed_slots_practitioner_id_practitioners'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_freed_slots')),
    )
    op.create_index(
        'ix_waitlist_freed_slots_status_start', 'waitlist_freed_slots', ['status', 'start_at']
    )
    op.create_table(
        'waitlist_offers',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('entry_id', sa.Uuid(), nullable=False),
        sa.Column('freed_slot_id', sa.Uuid(), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('plan_id', sa.Uuid(), nullable=True),
        sa.Column('practitioner_id', sa.Uuid(), nullable=False),
        sa.Column('location_id', sa.Uuid(), nullable=True),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('refusal_code', sa.String(length=40), nullable=True),
        sa.Column('session_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.CheckConstraint(
            _one_of(
                'status', ('offered', 'accepted', 'declined', 'expired', 'refused', 'withdrawn')
            ),
            name=op.f('ck_waitlist_offers_offer_status'),
        ),
        sa.CheckConstraint('start_at < end_at', name=op.f('ck_waitlist_offers_start_before_end')),
        sa.ForeignKeyConstraint(
            ['entry_id'],
            ['waitlist_entries.id'],
            name=op.f('fk_waitlist_offers_entry_id_waitlist_entries'),
        ),
        sa.ForeignKeyConstraint(
            ['freed_slot_id'],
            ['waitlist_freed_slots.id'],
            name=op.f('fk_waitlist_offers_freed_slot_id_waitlist_freed_slots'),
        ),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patients.id'], name=op.f('fk_waitlist_offers_patient_id_patients')
        ),
        sa.ForeignKeyConstraint(
            ['plan_id'],
            ['treatment_plans.id'],
            name=op.f('fk_waitlist_offers_plan_id_treatment_plans'),
        ),
        sa.ForeignKeyConstraint(
            ['practitioner_id'],
            ['practitioners.id'],
            name=op.f('fk_waitlist_offers_practitioner_id_practitioners'),
        ),
        sa.ForeignKeyConstraint(
            ['session_id'],
            ['treatment_sessions.id'],
            name=op.f('fk_waitlist_offers_session_id_treatment_sessions'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_offers')),
    )
    op.create_index(
        'uq_waitlist_offers_slot_patient',
        'waitlist_offers',
        ['freed_slot_id', 'patient_id'],
        unique=True,
    )
    op.create_index(
        'uq_waitlist_offers_standing_slot',
        'waitlist_offers',
        ['freed_slot_id'],
        unique=True,
        postgresql_where=_STANDING,
        sqlite_where=_STANDING,
    )
    op.create_index(
        'uq_waitlist_offers_standing_entry',
        'waitlist_offers',
        ['entry_id'],
        unique=True,
        postgresql_where=_STANDING,
        sqlite_where=_STANDING,
    )
    op.create_index(
        'ix_waitlist_offers_status_expires', 'waitlist_offers', ['status', 'expires_at']
    )
    op.create_index('ix_waitlist_offers_created', 'waitlist_offers', ['created_at', 'id'])
    op.create_index(
        'ix_waitlist_offers_entry_created', 'waitlist_offers', ['entry_id', 'created_at', 'id']
    )


def downgrade() -> None:
    # The list goes with its tables; sessions booked through offers stay in the calendar.
    op.drop_table('waitlist_offers')
    op.drop_table('waitlist_freed_slots')
    op.drop_table('waitlist_entries')
