"""slot holds: a slot kept for a few minutes while a patient confirms

A hold is a row of `treatment_sessions` with the status `pending` and the moment it expires
(`hold_expires_at`, set on holds only). Held, the slot is taken for everyone else, as a booking
is: on PostgreSQL the exclusion constraints over each practitioner's and each patient's time
now cover `pending` rows too. A constraint cannot look at the clock, so a hold past its expiry
still stands in the table until whatever takes its slot first deletes it, in its transaction.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ('booked', 'arrived', 'fulfilled', 'cancelled', 'noshow', 'entered-in-error')
_STATUS_CHECK = 'ck_treatment_sessions_session_status'
_HOLDS_EXPIRE = 'ck_treatment_sessions_holds_expire'
_CALENDAR_BEFORE = "('booked', 'arrived', 'fulfilled')"
_CALENDAR_AFTER = "('booked', 'arrived', 'fulfilled', 'pending')"


def _listed(statuses: Sequence[str]) -> str:
    return 'status IN (' + ', '.join(f"'{status}'" for status in statuses) + ')'


def _overlaps(calendar: str) -> None:
    """PostgreSQL's exclusion constraints, over the statuses `calendar` names."""
    if op.get_bind().dialect.name != 'postgresql':
        return
    for column in ('practitioner_id', 'patient_id'):
        name = f'ex_treatment_sessions_{column}_overlap'
        op.execute(f'ALTER TABLE treatment_sessions DROP CONSTRAINT {name}')
        op.execute(
            f'ALTER TABLE treatment_sessions ADD CONSTRAINT {name} '
            f"EXCLUDE USING gist ({column} WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            f'WHERE (status IN {calendar})'
        )


def upgrade() -> None:
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.add_column(sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f(_STATUS_CHECK), type_='check')
        batch.create_check_constraint(op.f(_STATUS_CHECK), _listed((*_STATUSES, 'pending')))
        batch.create_check_constraint(
            op.f(_HOLDS_EXPIRE), "(status = 'pending') = (hold_expires_at IS NOT NULL)"
        )
    _overlaps(_CALENDAR_AFTER)


def downgrade() -> None:
    # Holds are no clinical record: they go with the column that says when they end.
    op.execute("DELETE FROM treatment_sessions WHERE status = 'pending'")
    _overlaps(_CALENDAR_BEFORE)
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.drop_constraint(op.f(_HOLDS_EXPIRE), type_='check')
        batch.drop_constraint(op.f(_STATUS_CHECK), type_='check')
        batch.create_check_constraint(op.f(_STATUS_CHECK), _listed(_STATUSES))
        batch.drop_column('hold_expires_at')
