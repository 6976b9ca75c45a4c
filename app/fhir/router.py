"""The FHIR R4 routes (`/fhir/R4`): HTTP only. Each declares what it implements
(`FhirRouter.serves`), and the CapabilityStatement lists exactly those declarations; the
mapping to resources and the queries live in the resource modules beside this one."""

from __future__ import annotations

from fastapi import Request, Response

from app import __version__
from app.fhir.capability import capability_statement
from app.web.clock import Now
from app.web.fhir import FhirResponse, FhirRouter, declared_interactions

router = FhirRouter()


@router.get("/metadata", response_class=FhirResponse, include_in_schema=False)
def read_capability_statement(request: Request, now: Now) -> Response:
    """The server's CapabilityStatement: open without credentials, as FHIR servers are. It
    lists every resource, interaction, search parameter and operation a route serves."""
    statement = capability_statement(
        declared_interactions(request.app), software_version=__version__, date=now
    )
    return FhirResponse(statement)
