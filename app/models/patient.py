"""Patients and the identifiers other systems (EHRs) know them by."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Entity, UTCDateTime, text_enum


class Sex(enum.StrEnum):
    """Administrative sex, as in FHIR's AdministrativeGender."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Patient(Entity, Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_name_order", "family_key", "given_key", "id"),
        CheckConstraint("weight_kg > 0", name="weight_positive"),
    )

    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    # Case-folded copies of the names: the list's sort order and its case-insensitive search.
    # Case folding can triple a name's length ("ß" -> "ss", "ΐ" -> 3 characters).
    given_key: Mapped[str] = mapped_column(String(300))
    family_key: Mapped[str] = mapped_column(String(300))
    birth_date: Mapped[date]
    sex: Mapped[Sex] = mapped_column(text_enum(Sex, "sex", length=16))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    weight_kg: Mapped[float | None]
    archived: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    identifiers: Mapped[list[PatientIdentifier]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="(PatientIdentifier.system, PatientIdentifier.value)",
    )


class PatientWeight(Base):
    """Each weight the patient's record has held, and when it was entered. Anyone who may edit
    the record may enter one; for the dose limit it can only ever lower a clinician's weight
    (`app.sessions.completion`), so the lowest since a clinician weighed counts, whatever was
    entered after it: raising or clearing the record's weight loosens nothing."""

    __tablename__ = "patient_weights"
    __table_args__ = (
        Index("ix_patient_weights_patient_recorded", "patient_id", "recorded_at"),
        CheckConstraint("weight_kg > 0", name="weight_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    weight_kg: Mapped[float]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PatientIdentifier(Base):
    """An identifier such as an EHR's medical record number; one (system, value), one patient."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("system", "value"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(100))

    patient: Mapped[Patient] = relationship(back_populates="identifiers", lazy="raise")
