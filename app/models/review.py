"""Reviews of a course's treated sites: how each responded, and the complications seen since.

Not to be confused with a booked session that "needs review" (`app.sessions.review`): that is
the booking checks asked again; this is a clinician looking at the legs weeks later.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, text_enum, utcnow
from app.vocabulary import ReviewComplication, Site, TreatmentResponse


class SiteReview(Base):
    """A clinician's look at a course's treated sites, at a later session or a visit of its
    own. Kept as written: a correction is a later review, and the latest one counts."""

    __tablename__ = "site_reviews"
    __table_args__ = (Index("ix_site_reviews_plan_reviewed", "plan_id", "reviewed_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_plans.id"))
    # The plan's patient, so that the audit trail names them without a join.
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    # The later session at which the sites were seen, if it was one.
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_sessions.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sites: Mapped[list[ReviewedSite]] = relationship(
        back_populates="review", lazy="raise", order_by="ReviewedSite.position"
    )


class ReviewedSite(Base):
    """One treated site at a review: its response, and the complications seen there."""

    __tablename__ = "reviewed_sites"
    __table_args__ = (UniqueConstraint("review_id", "site"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("site_reviews.id"))
    # Where it stood in the review as written: shown back in that order.
    position: Mapped[int] = mapped_column(SmallInteger)
    site: Mapped[Site] = mapped_column(text_enum(Site, "site"))
    response: Mapped[TreatmentResponse] = mapped_column(
        text_enum(TreatmentResponse, "treatment_response")
    )

    review: Mapped[SiteReview] = relationship(back_populates="sites", lazy="raise")
    complications: Mapped[list[SiteComplication]] = relationship(
        back_populates="reviewed_site", lazy="raise", order_by="SiteComplication.position"
    )


class SiteComplication(Base):
    """A complication seen at a reviewed site since it was treated, from its onset date."""

    __tablename__ = "site_complications"
    __table_args__ = (
        UniqueConstraint("reviewed_site_id", "code"),
        CheckConstraint("code <> 'other' OR description IS NOT NULL", name="other_described"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    reviewed_site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reviewed_sites.id"))
    position: Mapped[int] = mapped_column(SmallInteger)
    code: Mapped[ReviewComplication] = mapped_column(
        text_enum(ReviewComplication, "review_complication")
    )
    onset_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(String(200))

    reviewed_site: Mapped[ReviewedSite] = relationship(back_populates="complications", lazy="raise")
