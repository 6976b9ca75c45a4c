"""The transactional outbox and the webhooks it feeds.

An `OutboxEvent` is written in the same transaction as the change it tells of, so a change
rolled back leaves none and a change committed always has one. The worker (`app.events.worker`)
fans each event out to the subscriptions it matches, one `WebhookDelivery` each, and records
every try in `WebhookAttempt`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Entity, UTCDateTime, text_enum, uuid7
from app.vocabulary import DeliveryStatus, ReminderEmailStatus

# SQLite numbers rows itself only for an INTEGER PRIMARY KEY; PostgreSQL takes a bigserial.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """Something that happened, told to the world by webhooks: the ids of what changed, never
    its content (a receiver reads that with its own credentials)."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        # The events still to fan out: few, whatever the table's size.
        Index(
            "ix_outbox_events_undispatched",
            "seq",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
        # Exactly once per offset: one reminder for a session's offset and start ...
        Index(
            "uq_outbox_events_reminder",
            "session_id",
            "reminder_offset_hours",
            "due_at",
            unique=True,
            postgresql_where=text("reminder_offset_hours IS NOT NULL"),
            sqlite_where=text("reminder_offset_hours IS NOT NULL"),
        ),
        # ... and one still to tell per offset (a reschedule withdraws the old one first).
        Index(
            "uq_outbox_events_pending_reminder",
            "session_id",
            "reminder_offset_hours",
            unique=True,
            postgresql_where=text("reminder_offset_hours IS NOT NULL AND dispatched_at IS NULL"),
            sqlite_where=text("reminder_offset_hours IS NOT NULL AND dispatched_at IS NULL"),
        ),
    )

    # The order the events were written in: one session's events are delivered in it.
    seq: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid7)  # the `webhook-id`
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When it may be told (an event announced ahead, such as a reminder); none: at once.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What it is about (no foreign keys: a hold is deleted when it lapses, its event stays).
    session_id: Mapped[uuid.UUID | None]
    patient_id: Mapped[uuid.UUID | None]
    plan_id: Mapped[uuid.UUID | None]
    evaluation_id: Mapped[uuid.UUID | None]
    # A reminder's offset: told this many hours before the session's start (`due_at`).
    reminder_offset_hours: Mapped[int | None] = mapped_column(SmallInteger)
    # When the worker made its deliveries (one per subscription it matched, maybe none).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookSubscription(Entity, Base):
    """A receiver of events: where to send them, which ones (none listed: all), and the
    secret they are signed with (Standard Webhooks: `whsec_` and base64)."""

    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool]
    # Kept as given: every delivery is signed with it (an HMAC key, not a password to hash).
    secret: Mapped[str] = mapped_column(String(100))


class WebhookDelivery(Base):
    """One event to one subscription, tried until the receiver takes it or retries run out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_seq", "subscription_id"),
        # The worker's question: what is due now?
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # Is an earlier event of this session still pending for this subscription? And the
        # subscription's deliveries, newest first.
        Index(
            "ix_webhook_deliveries_subscription_session",
            "subscription_id",
            "session_id",
            "event_seq",
        ),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    event_seq: Mapped[int] = mapped_column(SEQUENCE, ForeignKey("outbox_events.seq"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    session_id: Mapped[uuid.UUID | None]  # the event's, for the order of one session's events
    status: Mapped[DeliveryStatus] = mapped_column(
        text_enum(DeliveryStatus, "delivery_status", length=16)
    )
    attempts: Mapped[int] = mapped_column(SmallInteger)
    # When it may be tried next; a worker trying it moves it past its own deadline, so a
    # worker that dies leaves it to be tried again then.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(Base):
    """One try of a delivery: when, how long, and what came back (never the body)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_at", "delivery_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int]
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    # What went wrong, in a few words of our own (`timeout`, `refused`): no receiver text.
    error: Mapped[str | None] = mapped_column(String(100))


class ReminderEmail(Base):
    """A reminder's e-mail to the patient (when the clinic sends them): one per reminder event,
    made when the worker tells the reminder, sent at most once."""

    __tablename__ = "reminder_emails"
    # The worker's question: what is due now?
    __table_args__ = (Index("ix_reminder_emails_due", "status", "next_attempt_at"),)

    event_seq: Mapped[int] = mapped_column(
        SEQUENCE, ForeignKey("outbox_events.seq"), primary_key=True, autoincrement=False
    )
    status: Mapped[ReminderEmailStatus] = mapped_column(
        text_enum(ReminderEmailStatus, "reminder_email_status", length=16)
    )
    attempts: Mapped[int] = mapped_column(SmallInteger)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
