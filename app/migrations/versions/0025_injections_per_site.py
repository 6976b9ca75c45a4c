"""injections per site: a treatment record's lines of injections

- `injection_lines`: one line per sclerosant, concentration, form (liquid or foam, with its
  liquid-to-gas ratio and gas), kind of vein and site, with its volume, how many injections,
  and the drug it gave (`dose_mg`, a foam's from its liquid part).
- Every existing record becomes one line (the line's id is the record's): its sclerosant,
  concentration, volume and dose, given as a liquid (the only form recorded until now, and the
  one its dose was counted as), without a site, a vessel or a count (none was recorded); the
  record keeps its `treated_sites`. The four columns move off `completion_records`.
- Downgrading folds each record's lines back into those columns. A record of several lines
  cannot be written there exactly: it keeps the sum of its volumes and of its doses (every
  milligram still counts against that day), its highest concentration, and polidocanol as
  its sclerosant if any line gave it (the one the daily limit sums), else its first line's.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOVED = ('sclerosant', 'concentration_percent', 'volume_ml', 'dose_mg')


def upgrade() -> None:
    op.create_table(
        'injection_lines',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('completion_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.Column('site', sa.String(length=24), nullable=True),
        sa.Column('vessel', sa.String(length=24), nullable=True),
        sa.Column('sclerosant', sa.String(length=40), nullable=False),
        sa.Column('concentration_percent', sa.Double(), nullable=False),
        sa.Column('form', sa.String(length=24), nullable=False),
        sa.Column('foam_ratio', sa.String(length=8), nullable=True),
        sa.Column('gas', sa.String(length=24), nullable=True),
        sa.Column('volume_ml', sa.Double(), nullable=False),
        sa.Column('count', sa.SmallInteger(), nullable=True),
        sa.Column('dose_mg', sa.Double(), nullable=False),
        sa.CheckConstraint(
            "vessel IN ('telangiectasia', 'reticular')", name=op.f('ck_injection_lines_vessel')
        ),
        sa.CheckConstraint(
            "form IN ('liquid', 'foam')", name=op.f('ck_injection_lines_sclerosant_form')
        ),
        sa.CheckConstraint("gas IN ('air', 'co2-o2')", name=op.f('ck_injection_lines_foam_gas')),
        sa.CheckConstraint(
            'concentration_percent > 0', name=op.f('ck_injection_lines_concentration_positive')
        ),
        sa.CheckConstraint('volume_ml > 0', name=op.f('ck_injection_lines_volume_positive')),
        sa.CheckConstraint('count >= 1', name=op.f('ck_injection_lines_count_positive')),
        sa.CheckConstraint(
            "(form = 'foam') = (foam_ratio IS NOT NULL)",
            name=op.f('ck_injection_lines_foam_has_ratio'),
        ),
        sa.CheckConstraint(
            "(form = 'foam') = (gas IS NOT NULL)", name=op.f('ck_injection_lines_foam_has_gas')
        ),
        sa.ForeignKeyConstraint(
            ['completion_id'],
            ['completion_records.id'],
            name=op.f('fk_injection_lines_completion_id_completion_records'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_injection_lines')),
        sa.UniqueConstraint(
            'completion_id', 'position', name=op.f('uq_injection_lines_completion_id_position')
        ),
    )
    op.execute(
        'INSERT INTO injection_lines (id, completion_id, position, site, vessel, sclerosant,'
        ' concentration_percent, form, foam_ratio, gas, volume_ml, count, dose_mg)'
        " SELECT id, id, 0, NULL, NULL, sclerosant, concentration_percent, 'liquid', NULL,"
        ' NULL, volume_ml, NULL, dose_mg FROM completion_records'
    )
    with op.batch_alter_table('completion_records') as batch:
        for name in _MOVED:
            batch.drop_column(name)


def _of_lines(expression: str, *, where: str = '', order: str = '') -> str:
    """A correlated subquery over the record's lines."""
    return (
        f'(SELECT {expression} FROM injection_lines'
        f' WHERE injection_lines.completion_id = completion_records.id{where}{order})'
    )


def downgrade() -> None:
    with op.batch_alter_table('completion_records') as batch:
        batch.add_column(sa.Column('sclerosant', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('concentration_percent', sa.Double(), nullable=True))
        batch.add_column(sa.Column('volume_ml', sa.Double(), nullable=True))
        batch.add_column(sa.Column('dose_mg', sa.Double(), nullable=True))
    polidocanol = _of_lines('MIN(sclerosant)', where=" AND sclerosant = 'polidocanol'")
    first = _of_lines('sclerosant', order=' ORDER BY position LIMIT 1')
    op.execute(
        f'UPDATE completion_records SET sclerosant = COALESCE({polidocanol}, {first}),'
        f" concentration_percent = {_of_lines('MAX(concentration_percent)')},"
        f" volume_ml = {_of_lines('SUM(volume_ml)')},"
        f" dose_mg = {_of_lines('SUM(dose_mg)')}"
    )
    with op.batch_alter_table('completion_records') as batch:
        batch.alter_column('sclerosant', existing_type=sa.String(length=40), nullable=False)
        for name in _MOVED[1:]:
            batch.alter_column(name, existing_type=sa.Double(), nullable=False)
    op.drop_table('injection_lines')
