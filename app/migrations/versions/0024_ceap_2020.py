"""CEAP 2020 clinical classes on evaluations

`evaluations.ceap_class` widens from two characters to four and the database holds its
values: the 2020 classes (C0, C1, C2, C2r, C3, C4a, C4b, C4c, C5, C6, C6r), each alone or with
s (symptomatic) or a (asymptomatic) appended (`C2ra`), and the bare C4 of the evaluations
recorded before them. Those rows are not rewritten: a stored C4 stays C4 (skin changes, subclass
not recorded), C0 to C3, C5 and C6 mean what they meant.

Downgrade only when nothing would be lost: refused while an evaluation holds a value of the
2020 classes the earlier vocabulary (C0 to C6) cannot say, or the flag `venous-work-up-needed`
the earlier code cannot read. Rewriting such a record to its pre-2020 class (C2r to C2, C4as
to C4) would change what a clinician recorded; the refusal names how many evaluations stand in
the way.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ('C0', 'C1', 'C2', 'C3', 'C4', 'C5', 'C6')
_CLASSES_2020 = ('C0', 'C1', 'C2', 'C2r', 'C3', 'C4a', 'C4b', 'C4c', 'C5', 'C6', 'C6r')
_VALUES = (*(c + m for c in _CLASSES_2020 for m in ('', 's', 'a')), 'C4')
_CEAP_CLASS = 'ceap_class IN (' + ', '.join(f"'{v}'" for v in _VALUES) + ')'
_NEW_FLAG = 'venous-work-up-needed'


def upgrade() -> None:
    with op.batch_alter_table('evaluations') as batch:
        batch.alter_column(
            'ceap_class',
            existing_type=sa.String(length=2),
            type_=sa.String(length=4),
            existing_nullable=False,
        )
        batch.create_check_constraint(op.f('ck_evaluations_ceap_class'), _CEAP_CLASS)


def downgrade() -> None:
    evaluations = sa.table(
        'evaluations', sa.column('ceap_class', sa.String()), sa.column('flags', sa.JSON())
    )
    rows = op.get_bind().execute(sa.select(evaluations.c.ceap_class, evaluations.c.flags))
    held = sum(
        1
        for row in rows
        if row.ceap_class not in _BEFORE or any(f['code'] == _NEW_FLAG for f in row.flags)
    )
    if held:
        raise RuntimeError(
            f'{held} evaluation(s) hold a CEAP 2020 class (C2r, C4a-C4c, C6r, an s/a modifier) '
            f'or the flag {_NEW_FLAG}: the revision before 0024 cannot read them, and '
            'rewriting them would change clinical records. Downgrade refused.'
        )
    with op.batch_alter_table('evaluations') as batch:
        batch.drop_constraint(op.f('ck_evaluations_ceap_class'), type_='check')
        batch.alter_column(
            'ceap_class',
            existing_type=sa.String(length=4),
            type_=sa.String(length=2),
            existing_nullable=False,
        )
