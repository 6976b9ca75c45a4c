"""How many requests each caller made in the current window (the per-credential rate limit)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class RequestCount(Base):
    """One row per caller: the window it is counting in, and how many requests so far. A
    request in a later window starts the count again; the database holds it, so every API
    process counts together."""

    __tablename__ = "request_counts"

    caller_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int]
