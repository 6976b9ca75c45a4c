"""name keys wide enough for case folding (which can triple a name's length)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WIDTHS = {
    'patients': {'given_key': (100, 300), 'family_key': (100, 300)},
    'practitioners': {'name_key': (200, 600)},
}


def _resize(to_new: bool) -> None:
    for table, columns in _WIDTHS.items():
        with op.batch_alter_table(table) as batch:
            for column, (old, new) in columns.items():
                before, after = (old, new) if to_new else (new, old)
                batch.alter_column(
                    column,
                    existing_type=sa.String(length=before),
                    type_=sa.String(length=after),
                    existing_nullable=False,
                )


def upgrade() -> None:
    _resize(to_new=True)


def downgrade() -> None:
    # Keys longer than the old width would not fit: cut them (they are derived data).
    for table, columns in _WIDTHS.items():
        for column, (old, _) in columns.items():
            op.execute(
                sa.text(f"UPDATE {table} SET {column} = substr({column}, 1, {old}) "
                        f"WHERE length({column}) > {old}")
            )
    _resize(to_new=False)
