"""patients (with identifiers) and practitioners (with availability and time off)

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _entity_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "patients",
        *_entity_columns(),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_key", sa.String(length=100), nullable=False),
        sa.Column("family_key", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column(
            "sex",
            sa.Enum(
                "female", "male", "other", "unknown",
                name="sex", native_enum=False, create_constraint=True, length=16,
            ),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("weight_kg", sa.Double(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("weight_kg > 0", name=op.f("ck_patients_weight_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_index("ix_patients_name_order", "patients", ["family_key", "given_key", "id"])

    op.create_table(
        "patient_identifiers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"],
            name=op.f("fk_patient_identifiers_patient_id_patients"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_identifiers")),
        sa.UniqueConstraint("system", "value", name=op.f("uq_patient_identifiers_system_value")),
    )
    op.create_index(
        op.f("ix_patient_identifiers_patient_id"), "patient_identifiers", ["patient_id"]
    )

    op.create_table(
        "practitioners",
        *_entity_columns(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
    )
    op.create_index("ix_practitioners_name_order", "practitioners", ["name_key", "id"])

    op.create_table(
        "practitioner_availability",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "start_time < end_time", name=op.f("ck_practitioner_availability_start_before_end")
        ),
        sa.CheckConstraint(
            "weekday BETWEEN 0 AND 6", name=op.f("ck_practitioner_availability_weekday_range")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioners.id"],
            name=op.f("fk_practitioner_availability_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioner_availability")),
    )
    op.create_index(
        op.f("ix_practitioner_availability_practitioner_id"),
        "practitioner_availability",
        ["practitioner_id"],
    )

    op.create_table(
        "practitioner_time_off",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("start_at < end_at", name=op.f("ck_practitioner_time_off_start_before_end")),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioners.id"],
            name=op.f("fk_practitioner_time_off_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioner_time_off")),
    )
    op.create_index(
        "ix_practitioner_time_off_practitioner_start",
        "practitioner_time_off",
        ["practitioner_id", "start_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_practitioner_time_off_practitioner_start", table_name="practitioner_time_off")
    op.drop_table("practitioner_time_off")
    op.drop_index(
        op.f("ix_practitioner_availability_practitioner_id"), table_name="practitioner_availability"
    )
    op.drop_table("practitioner_availability")
    op.drop_index("ix_practitioners_name_order", table_name="practitioners")
    op.drop_table("practitioners")
    op.drop_index(op.f("ix_patient_identifiers_patient_id"), table_name="patient_identifiers")
    op.drop_table("patient_identifiers")
    op.drop_index("ix_patients_name_order", table_name="patients")
    op.drop_table("patients")
