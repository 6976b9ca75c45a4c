"""Webhook subscriptions and deliveries as the API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from app.pagination import Page
from app.schemas import Boolean, InputModel, ReadModel, Stored, not_nullable
from app.vocabulary import DeliveryStatus, EventType


def _distinct(types: list[EventType]) -> list[EventType]:
    if len(set(types)) != len(types):
        raise ValueError("each event type once")
    return types


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=10, max_length=2048),
    Field(
        description="Where events are POSTed: https:// (in production, to a public address)",
        examples=["https://ehr.clinic.example/hooks/sclerosched"],
    ),
]
EventTypes = Annotated[
    list[EventType],
    AfterValidator(_distinct),
    Field(
        max_length=len(EventType),
        description="The event types sent (empty: every type)",
        examples=[["session.booked", "session.cancelled"]],
    ),
]


class WebhookCreate(InputModel):
    url: Url
    event_types: EventTypes = []
    active: Boolean = True


class WebhookUpdate(InputModel):
    """Partial update: what is sent changes, what is left out stays."""

    model_config = ConfigDict(json_schema_extra=not_nullable("url", "event_types", "active"))

    url: Url | None = None
    event_types: EventTypes | None = None
    active: Boolean | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> WebhookUpdate:
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave the field out to keep it")
        return self


class WebhookRead(Stored):
    id: uuid.UUID
    url: str
    event_types: list[EventType] = Field(description="The event types sent (empty: every type)")
    active: bool


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, `whsec_...`), shown this once: "
        "the receiver verifies each delivery's `webhook-signature` with it",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookPage(Page[WebhookRead]):
    """A page of webhook subscriptions."""


class AttemptRead(ReadModel):
    at: datetime
    duration_ms: int = Field(description="How long the receiver took to answer (or fail)")
    status_code: int | None = Field(description="The receiver's HTTP status; null: no answer")
    error: str | None = Field(
        description="Why the attempt failed, when no answer came (`timeout`, `connection`, "
        "`target-refused`)"
    )


class DeliveryRead(ReadModel):
    id: uuid.UUID
    event_id: uuid.UUID = Field(description="The event's id: the `webhook-id` header")
    event_type: EventType
    occurred_at: datetime
    status: DeliveryStatus
    next_attempt_at: datetime | None = Field(description="When it is tried next, if pending")
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[AttemptRead] = Field(description="Every try, oldest first")


class DeliveryPage(Page[DeliveryRead]):
    """A page of a webhook's deliveries."""
