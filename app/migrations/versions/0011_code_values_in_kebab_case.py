"""code values in kebab-case, as FHIR codes are

One clinical vocabulary (app/vocabulary.py): sites (`left_thigh` -> `left-thigh`), varicose
treatment kinds (`endovenous_thermal_ablation` -> `endovenous-thermal-ablation`), the plan
status `on_hold` -> `on-hold`, and the flag a history of blood clots raises
(`thrombosis-history` -> `history-of-blood-clots`, the risk factor's own words). Stored
evaluations and treatment records are rewritten; the audit trail keeps what was said then.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAGS = {'thrombosis-history': 'history-of-blood-clots'}
_PLAN_STATUSES_BEFORE = ('active', 'on_hold', 'completed', 'cancelled')
_PLAN_STATUSES_AFTER = ('active', 'on-hold', 'completed', 'cancelled')


def _kebab(value: str) -> str:
    return value.replace('_', '-')


def _snake(value: str) -> str:
    return value.replace('-', '_')


def _renamed_flags(flags: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{**flag, 'code': names.get(flag['code'], flag['code'])} for flag in flags]


def _rewrite(code: Callable[[str], str], flag_names: dict[str, str]) -> None:
    bind = op.get_bind()
    evaluations = sa.table(
        'evaluations',
        sa.column('id', sa.Uuid()),
        sa.column('spider_vein_sites', sa.JSON()),
        sa.column('varicose_treatment_kind', sa.String()),
        sa.column('flags', sa.JSON()),
    )
    for row in bind.execute(sa.select(evaluations)).all():
        bind.execute(
            evaluations.update()
            .where(evaluations.c.id == row.id)
            .values(
                spider_vein_sites=[code(site) for site in row.spider_vein_sites],
                varicose_treatment_kind=(
                    code(row.varicose_treatment_kind) if row.varicose_treatment_kind else None
                ),
                flags=_renamed_flags(row.flags, flag_names),
            )
        )
    records = sa.table(
        'completion_records',
        sa.column('id', sa.Uuid()),
        sa.column('treated_sites', sa.JSON()),
        sa.column('warnings', sa.JSON()),
    )
    for row in bind.execute(sa.select(records)).all():
        bind.execute(
            records.update()
            .where(records.c.id == row.id)
            .values(
                treated_sites=[code(site) for site in row.treated_sites],
                warnings=_renamed_flags(row.warnings, flag_names),
            )
        )


def _plan_statuses(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    name = op.f('ck_treatment_plans_plan_status')
    with op.batch_alter_table('treatment_plans') as batch:
        batch.drop_constraint(name, type_='check')
    for old, new in zip(before, after, strict=True):
        if old != new:
            op.execute(
                sa.text('UPDATE treatment_plans SET status = :new WHERE status = :old').bindparams(
                    new=new, old=old
                )
            )
    allowed = ', '.join(f"'{value}'" for value in after)
    with op.batch_alter_table('treatment_plans') as batch:
        batch.create_check_constraint(name, f'status IN ({allowed})')


def upgrade() -> None:
    _rewrite(_kebab, _FLAGS)
    _plan_statuses(_PLAN_STATUSES_BEFORE, _PLAN_STATUSES_AFTER)


def downgrade() -> None:
    _plan_statuses(_PLAN_STATUSES_AFTER, _PLAN_STATUSES_BEFORE)
    _rewrite(_snake, {new: old for old, new in _FLAGS.items()})
