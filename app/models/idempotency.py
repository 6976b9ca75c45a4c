"""Responses kept for retries: an `Idempotency-Key` and what its first request was answered."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class IdempotentResponse(Base):
    """The answer to a caller's request sent with an `Idempotency-Key`: a retry of the same
    request gets it again instead of a second change. Kept in the database, so every API
    process sees it, until `expires_at`."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (
        UniqueConstraint("caller_id", "key"),
        Index("ix_idempotent_responses_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    caller_id: Mapped[uuid.UUID]  # the user or API key: a key is the caller's own
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the method, the path with its query and the body: the same key with another
    # request is refused, never answered with this one's response.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    headers: Mapped[list[list[str]]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # What the write was about, as its audit event named it: a replay is recorded against it.
    resource_type: Mapped[str | None] = mapped_column(String(40))
    resource_id: Mapped[uuid.UUID | None]
    patient_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def header_pairs(self) -> list[tuple[str, str]]:
        pairs: list[Any] = self.headers
        return [(str(name), str(value)) for name, value in pairs]
