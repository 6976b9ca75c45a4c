"""How an audit event reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.auditing import ActorKind, Resource
from app.models import AuditOutcome
from app.pagination import Page
from app.schemas import ReadModel


class AuditEventRead(ReadModel):
    id: uuid.UUID
    at: datetime
    actor_kind: ActorKind
    actor_id: uuid.UUID | None = Field(description="The user's or API key's id")
    actor_name: str = Field(description="Username, key name, or the name tried at a login")
    role: str | None
    action: str = Field(examples=["read", "search", "book", "complete", "log-in"])
    resource_type: Resource
    resource_id: uuid.UUID | None
    patient_id: uuid.UUID | None = Field(
        description="The patient the record belongs to (a list's: when all it showed are one "
        "patient's)"
    )
    resource_ids: list[uuid.UUID] | None = Field(
        description="A list's event: every record it showed (null for other events)"
    )
    patient_ids: list[uuid.UUID] | None = Field(
        description="A list's event: every patient whose records it showed (null for other "
        "events); searching by `patient_id` finds these lists too"
    )
    request_id: str
    outcome: AuditOutcome
    detail: str | None = Field(
        description="Why an attempt was denied (`role receptionist lacks ...`, `404 not-found`, "
        "`409 eligibility-blocked`), what a search looked by (`by name`, `by identifier`; never "
        "the value sought), or whose name a record made on another's behalf is in (`on behalf "
        "of practitioner <id>`)"
    )
    changes: dict[str, dict[str, Any]] | None = Field(
        description="For an update of clinical data: each changed field's `old` and `new` value",
        examples=[{"weight_kg": {"old": 61.0, "new": 62.5}}],
    )


class AuditEventPage(Page[AuditEventRead]):
    """A page of audit events."""
