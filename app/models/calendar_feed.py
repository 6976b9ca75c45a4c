"""Practitioners' calendar feeds: the secret URL a calendar app subscribes to."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class CalendarFeed(Base):
    """One token of a practitioner's feed. Only a hash of the token is kept. Rotating makes a
    new row and revokes the old one, so the audit trail names the very token that read."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        # At most one live feed per practitioner: two rotations at once cannot both win.
        Index(
            "ix_calendar_feeds_live_practitioner",
            "practitioner_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256, hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
