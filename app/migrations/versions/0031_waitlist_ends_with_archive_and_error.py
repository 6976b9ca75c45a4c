"""the waitlist's two new words: an entry ended by archiving, a slot freed by an error

- `waitlist_entries.removal_reason` may be `patient-archived`: archiving a patient takes them
  off the list (the server's reason; the clinic's own stay as they were).
- `waitlist_freed_slots.freed_by` may be `entered-in-error`: a session still ahead marked
  entered in error gives its slot back, to be offered round the list.
- A downgrade says them in the earlier words: `other` for an entry ended by archiving (its
  patient's record says why), `cancel` for a slot freed by an error (no clinical record: the
  session's own history still names the step).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-09
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0031'
down_revision: str | None = '0030'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REMOVALS = ('patient-request', 'booked-elsewhere', 'not-suitable', 'added-in-error', 'other')
_FREED_BY = ('cancel', 'no-show', 'reschedule')
_REMOVAL_CHECK = 'ck_waitlist_entries_waitlist_removal'
_FREED_BY_CHECK = 'ck_waitlist_freed_slots_slot_freed_by'


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _allow(table: str, check: str, column: str, values: Sequence[str]) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(check), type_='check')
        batch.create_check_constraint(op.f(check), _one_of(column, values))


def upgrade() -> None:
    _allow('waitlist_entries', _REMOVAL_CHECK, 'removal_reason', (*_REMOVALS, 'patient-archived'))
    _allow('waitlist_freed_slots', _FREED_BY_CHECK, 'freed_by', (*_FREED_BY, 'entered-in-error'))


def downgrade() -> None:
    op.execute(
        "UPDATE waitlist_entries SET removal_reason = 'other' "
        "WHERE removal_reason = 'patient-archived'"
    )
    op.execute(
        "UPDATE waitlist_freed_slots SET freed_by = 'cancel' WHERE freed_by = 'entered-in-error'"
    )
    _allow('waitlist_freed_slots', _FREED_BY_CHECK, 'freed_by', _FREED_BY)
    _allow('waitlist_entries', _REMOVAL_CHECK, 'removal_reason', _REMOVALS)
