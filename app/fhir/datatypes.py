"""FHIR data types as the resources here write them: instants, `meta`, references."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def instant(moment: datetime) -> str:
    """A FHIR `instant` (also a valid `dateTime`): UTC, with seconds, `Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def meta(version: int, updated_at: datetime) -> dict[str, Any]:
    """A stored record's `meta`: its version (the `ETag` of a read names it too) and when it
    last changed."""
    return {"versionId": str(version), "lastUpdated": instant(updated_at)}


def reference(
    resource_type: str, resource_id: uuid.UUID | str, display: str | None = None
) -> dict[str, str]:
    """A relative reference, `Practitioner/<id>`."""
    found = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        found["display"] = display
    return found
