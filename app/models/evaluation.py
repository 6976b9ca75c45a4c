"""Pre-treatment evaluations and the clinician clearances of their relative flags.

An evaluation is never edited: a correction is a new evaluation, and the newest supersedes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow
from app.vocabulary import CEAP_CLASS_VALUES


class Evaluation(Base):
    __tablename__ = "evaluations"

    @property
    def version(self) -> int:
        """An evaluation never changes but for its clearance: version 1, then 2 once cleared
        (the ETag a clearance's `If-Match` is checked against)."""
        return 1 if self.clearance is None else 2

    __table_args__ = (
        Index("ix_evaluations_patient_performed", "patient_id", "performed_at"),
        CheckConstraint("weight_kg > 0", name="weight_positive"),
        CheckConstraint(
            "ceap_class IN (" + ", ".join(f"'{v}'" for v in CEAP_CLASS_VALUES) + ")",
            name="ceap_class",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    performed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    spider_vein_sites: Mapped[list[str]] = mapped_column(JSON)
    # A 2020 class with its s/a modifier if recorded (`C2ra`), or the bare C4 of before.
    ceap_class: Mapped[str] = mapped_column(String(4))
    varicose_veins: Mapped[str] = mapped_column(String(16))
    varicose_treatment_kind: Mapped[str | None] = mapped_column(String(40))
    varicose_treatment_completed_on: Mapped[date | None]
    # {factor: true | false | null}; null is "not known", which the rules refuse to guess.
    risk_factors: Mapped[dict[str, bool | None]] = mapped_column(JSON)
    benefits_and_risks_explained: Mapped[bool]
    patient_expectations: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    weight_kg: Mapped[float | None]
    # Computed by the rules when the evaluation is recorded; never sent by a client.
    outcome: Mapped[str] = mapped_column(String(32))
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    clearance: Mapped[Clearance | None] = relationship(back_populates="evaluation", lazy="raise")

    @property
    def varicose_treatment(self) -> dict[str, Any] | None:
        if self.varicose_treatment_kind is None:
            return None
        return {
            "kind": self.varicose_treatment_kind,
            "completed_on": self.varicose_treatment_completed_on,
        }


class Clearance(Base):
    """A clinician's documented decision to treat despite relative flags (relative
    contraindications, a venous work-up)."""

    __tablename__ = "clearances"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # One clearance an evaluation: a second one is refused by the database as well.
    evaluation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluations.id"), unique=True)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    evaluation: Mapped[Evaluation] = relationship(back_populates="clearance", lazy="raise")
