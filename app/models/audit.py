"""The audit trail: who did what to which record, when, and whether it was allowed.

Append-only: nothing in the service updates or deletes an event, and a trigger refuses UPDATE
and DELETE on the table (TRUNCATE too on PostgreSQL, where the API's own database role may only
read and add events when the migrations run as another: `app.migrations.roles`).

Tamper-evident: each event carries the hash of the one before it (`app.event_hashes`); the
chain's head is the one row of `audit_chain_head`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, SmallInteger, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, text_enum, utcnow, uuid7

# Ids as a JSON array of strings; JSONB on PostgreSQL, so a GIN index finds a patient in them.
IDS = JSON().with_variant(JSONB(), "postgresql")


class AuditOutcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at", "id"),
        Index("ix_audit_events_patient_at", "patient_id", "at"),
        Index("ix_audit_events_actor_at", "actor_id", "at"),
        Index("ix_audit_events_resource", "resource_type", "resource_id"),
        # "Who saw this patient's data?" also asks the lists (on PostgreSQL, a GIN index).
        Index(
            "ix_audit_events_patient_ids",
            "patient_ids",
            postgresql_using="gin",
            postgresql_ops={"patient_ids": "jsonb_path_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))  # user, api-key, anonymous, ...
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[uuid.UUID | None]
    # No foreign keys: an event outlives nothing, and a denied attempt may name an unknown id.
    patient_id: Mapped[uuid.UUID | None]
    # A list's one event: every record it showed, and every patient they belong to.
    resource_ids: Mapped[list[str] | None] = mapped_column(IDS)
    patient_ids: Mapped[list[str] | None] = mapped_column(IDS)
    request_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[AuditOutcome] = mapped_column(
        text_enum(AuditOutcome, "audit_outcome", length=16)
    )
    detail: Mapped[str | None] = mapped_column(String(200))  # never patient data
    # For an update of clinical data (a weight, a plan's notes): each changed field's value
    # before and after, {"weight_kg": {"old": 60.0, "new": 62.5}}, so no value is ever lost.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The chain (`app.event_hashes`): the event's place in it (1, 2, ...), the hash of the event
    # before it, and its own hash over its fields and that one.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The chain's last link: the one row every new event is linked through. Updating it
    locks it until the transaction ends, so two transactions never link to the same event."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)  # the last event's (0: none yet)
    hash: Mapped[str] = mapped_column(String(64))  # the last event's
    previous_hash: Mapped[str] = mapped_column(String(64))  # the one it linked to
