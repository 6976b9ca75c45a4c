"""FHIR Schedule: one per practitioner, under the practitioner's own id, for the one visit
type the clinic books; its slots are computed (`app.fhir.slots`). No web framework."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.fhir.capability import Interaction
from app.fhir.codes import visit_type
from app.fhir.datatypes import instant, meta, reference
from app.fhir.search import reference as reference_param
from app.fhir.search import token
from app.models import Practitioner

# How far ahead a schedule's slots are offered: from now to this far. The REST API's free-slot
# search looks at any 31 days asked for; the FHIR interface offers the coming quarter, which
# holds a whole usual course (three visits about 28 days apart).
PLANNING_HORIZON = timedelta(days=90)

READ = Interaction("Schedule", "read", id_param="practitioner_id")
SEARCH = Interaction(
    "Schedule",
    "search-type",
    search=(
        reference_param(
            "actor", "Practitioner", "The practitioner: `Practitioner/<id>` or `<id>`."
        ),
        token("active", "true: the schedules of practitioners who see patients; false: others."),
    ),
)


def schedule_resource(practitioner: Practitioner, *, now: datetime) -> dict[str, Any]:
    """The practitioner's Schedule (same id): whether they see patients, and the horizon
    their slots are offered for."""
    return {
        "resourceType": "Schedule",
        "id": str(practitioner.id),
        "meta": meta(practitioner.version, practitioner.updated_at),
        "active": practitioner.active,
        "serviceType": [visit_type()],
        "actor": [reference("Practitioner", practitioner.id, practitioner.name)],
        "planningHorizon": {"start": instant(now), "end": instant(now + PLANNING_HORIZON)},
        "comment": f"Weekly hours on the clock of {practitioner.time_zone}.",
    }
