"""What the FHIR interface implements, declared by each route (`Interaction`), and the
CapabilityStatement built from those declarations: a route added later is listed by itself,
and nothing is listed that no route serves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.fhir import FHIR_VERSION, MEDIA_TYPE
from app.fhir.datatypes import instant
from app.fhir.search import SearchParam

InteractionCode = Literal["read", "search-type", "update", "create", "operation"]


@dataclass(frozen=True)
class Interaction:
    """One thing a route does to a resource type: its FHIR interaction code, the search
    parameters it takes, or the operation it is (`$find`: `operation="find"`)."""

    resource: str
    code: InteractionCode
    search: tuple[SearchParam, ...] = ()
    operation: str | None = None
    # An operation's OperationDefinition (canonical URL), as the CapabilityStatement needs.
    definition: str | None = None
    # An operation on one resource (`Appointment/{id}/$x`) rather than on the type.
    on_instance: bool = False
    documentation: str = ""
    # The name of the path's id parameter: `patient_id` makes a refused or failed read of a
    # patient's record audited as the REST API's is (`app.web.access.aimed_at`).
    id_param: str = "id"

    def __post_init__(self) -> None:
        if self.code == "operation" and not (self.operation and self.definition):
            raise ValueError("an operation has a name and an OperationDefinition")

    @property
    def method(self) -> str:
        return {"read": "GET", "search-type": "GET", "update": "PUT"}.get(self.code, "POST")

    @property
    def path(self) -> str:
        """The route's path under the base, which the interaction fixes."""
        if self.code == "operation":
            assert self.operation is not None, "an operation has a name"
            one = f"/{self.resource}/{{{self.id_param}}}"
            where = one if self.on_instance else f"/{self.resource}"
            return f"{where}/${self.operation}"
        if self.code in ("read", "update"):
            return f"/{self.resource}/{{{self.id_param}}}"
        return f"/{self.resource}"


def capability_statement(
    interactions: Iterable[Interaction], *, software_version: str, date: datetime
) -> dict[str, Any]:
    """The server's CapabilityStatement: every resource type a route serves, with its
    interactions, search parameters and operations, and nothing else."""
    by_type: dict[str, list[Interaction]] = {}
    for interaction in interactions:
        by_type.setdefault(interaction.resource, []).append(interaction)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(date),
        "publisher": "sclerosched",
        "kind": "instance",
        "software": {"name": "sclerosched", "version": software_version},
        "implementation": {
            "description": "sclerosched: micro-sclerotherapy courses for vein clinics"
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json", MEDIA_TYPE],
        "rest": [
            {
                "mode": "server",
                "documentation": "Errors are OperationOutcomes whose issue.details.coding "
                "carries the REST API's stable error code; unknown search parameters are "
                "refused (400), never ignored.",
                "security": {
                    "description": "Send `Authorization: Bearer <token or API key>`: staff "
                    "log in at POST /api/v1/auth/token, integrations use an API key. The "
                    "roles and permissions are the REST API's.",
                },
                "resource": [_resource(kind, by_type[kind]) for kind in sorted(by_type)],
            }
        ],
    }


def _resource(kind: str, interactions: list[Interaction]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind}
    codes = sorted({i.code for i in interactions if i.code != "operation"})
    if codes:
        entry["interaction"] = [{"code": code} for code in codes]
    params = {p.name: p for i in interactions for p in i.search}
    if params:
        entry["searchParam"] = [
            {"name": p.name, "type": p.type, "documentation": p.documentation}
            for p in params.values()
        ]
    operations = sorted(
        (i for i in interactions if i.code == "operation"), key=lambda i: str(i.operation)
    )
    if operations:
        entry["operation"] = [{"name": i.operation, "definition": i.definition} for i in operations]
    return entry
