"""Patients' informed consent to a procedure, and its withdrawal.

A consent is never edited but to record that the patient withdrew it: a new form signed is a
new consent. Nothing is deleted: a withdrawn consent stays, with when it ended.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Entity, UTCDateTime, text_enum
from app.vocabulary import ConsentProcedure, ConsentStatus


class Consent(Entity, Base):
    """A patient's informed consent to a procedure: the form they signed (its version), the
    risks explained to them, who took it and when; and, once withdrawn, when and why. Version
    1, then 2 once withdrawn (the ETag a withdrawal's `If-Match` is checked against)."""

    __tablename__ = "consents"
    __table_args__ = (
        # Completion asks for the patient's consents obtained by a moment: newest first.
        Index("ix_consents_patient_obtained", "patient_id", "obtained_at"),
        CheckConstraint("withdrawn_at >= obtained_at", name="withdrawn_after_obtained"),
        CheckConstraint(
            "withdrawn_at IS NOT NULL OR withdrawal_reason IS NULL", name="reason_of_withdrawal"
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    # The clinician who took it: explained the risks and had the form signed.
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    procedure: Mapped[ConsentProcedure] = mapped_column(
        text_enum(ConsentProcedure, "consent_procedure", length=40)
    )
    # The clinic's consent form, as the clinic numbers its versions ("2026-03", "v4").
    document_version: Mapped[str] = mapped_column(String(64))
    risks_explained: Mapped[list[str]] = mapped_column(JSON)  # `ConsentRisk` values
    obtained_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def status(self) -> ConsentStatus:
        return ConsentStatus.WITHDRAWN if self.withdrawn_at is not None else ConsentStatus.ACTIVE
