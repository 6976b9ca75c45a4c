"""reviews of a course's treated sites: the response of each, the complications seen since

- `site_reviews`: a clinician's review of a plan's treated sites (when, by whom, at which
  later session if any).
- `reviewed_sites`: each site of a review and its response (`none`, `partial`, `good`,
  `cleared`), one row per site.
- `site_complications`: the complications seen at a reviewed site, each with its onset date,
  one row per code; `other` carries a description.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SITES = (
    'left-thigh', 'right-thigh', 'left-knee', 'right-knee', 'left-calf', 'right-calf',
    'left-ankle-foot', 'right-ankle-foot', 'face',
)
_RESPONSES = ('none', 'partial', 'good', 'cleared')
_COMPLICATIONS = (
    'hyperpigmentation', 'matting', 'ulceration', 'thrombophlebitis', 'allergic-reaction',
    'extravasation', 'other',
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def upgrade() -> None:
    op.create_table(
        'site_reviews',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('plan_id', sa.Uuid(), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('practitioner_id', sa.Uuid(), nullable=False),
        sa.Column('session_id', sa.Uuid(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['plan_id'], ['treatment_plans.id'], name=op.f('fk_site_reviews_plan_id_treatment_plans')
        ),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patients.id'], name=op.f('fk_site_reviews_patient_id_patients')
        ),
        sa.ForeignKeyConstraint(
            ['practitioner_id'],
            ['practitioners.id'],
            name=op.f('fk_site_reviews_practitioner_id_practitioners'),
        ),
        sa.ForeignKeyConstraint(
            ['session_id'],
            ['treatment_sessions.id'],
            name=op.f('fk_site_reviews_session_id_treatment_sessions'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_site_reviews')),
    )
    op.create_index(
        'ix_site_reviews_plan_reviewed', 'site_reviews', ['plan_id', 'reviewed_at', 'id']
    )
    op.create_table(
        'reviewed_sites',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('review_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.Column('site', _enum(_SITES, 'site'), nullable=False),
        sa.Column('response', _enum(_RESPONSES, 'treatment_response'), nullable=False),
        sa.ForeignKeyConstraint(
            ['review_id'], ['site_reviews.id'], name=op.f('fk_reviewed_sites_review_id_site_reviews')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reviewed_sites')),
        sa.UniqueConstraint('review_id', 'site', name=op.f('uq_reviewed_sites_review_id_site')),
    )
    op.create_table(
        'site_complications',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('reviewed_site_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.Column('code', _enum(_COMPLICATIONS, 'review_complication'), nullable=False),
        sa.Column('onset_date', sa.Date(), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "code <> 'other' OR description IS NOT NULL",
            name=op.f('ck_site_complications_other_described'),
        ),
        sa.ForeignKeyConstraint(
            ['reviewed_site_id'],
            ['reviewed_sites.id'],
            name=op.f('fk_site_complications_reviewed_site_id_reviewed_sites'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_site_complications')),
        sa.UniqueConstraint(
            'reviewed_site_id', 'code', name=op.f('uq_site_complications_reviewed_site_id_code')
        ),
    )


def downgrade() -> None:
    # The reviews go with their tables: a clinic going back exports them first.
    op.drop_table('site_complications')
    op.drop_table('reviewed_sites')
    op.drop_index('ix_site_reviews_plan_reviewed', table_name='site_reviews')
    op.drop_table('site_reviews')
