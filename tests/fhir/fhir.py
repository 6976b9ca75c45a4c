"""Helpers of the FHIR tests: every answer the server sends is checked to be FHIR JSON and to
parse with `fhir.resources`' R4B models (each Bundle entry's resource too)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.fhir.codes import CodeSystem
from app.models import AuditEvent

BASE = "/fhir/R4"
MODELS: dict[str, type[FHIRResourceModel]] = {
    "Appointment": Appointment,
    "Bundle": Bundle,
    "CapabilityStatement": CapabilityStatement,
    "CarePlan": CarePlan,
    "Consent": Consent,
    "Flag": Flag,
    "OperationOutcome": OperationOutcome,
    "Parameters": Parameters,
    "Patient": Patient,
    "Practitioner": Practitioner,
    "Procedure": Procedure,
    "Schedule": Schedule,
    "Slot": Slot,
}
# FHIR R4's IssueType codes (hl7.org/fhir/R4/valueset-issue-type.html).
ISSUE_TYPES = frozenset(
    [
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational",
    ]
)


def parses(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once its R4B model has read it (and, in a Bundle, each entry's)."""
    kind = resource["resourceType"]
    assert kind in MODELS, f"no model for {kind} in the tests: add it"
    MODELS[kind].model_validate(resource)
    for entry in resource.get("entry", []) if kind == "Bundle" else []:
        parses(entry["resource"])
    return resource


def fhir(response: Any, status: int = 200) -> dict[str, Any]:
    """The answer's resource: the status expected, FHIR JSON, parsed by its R4B model."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json", response.headers
    body: dict[str, Any] = response.json()
    return parses(body)


def outcome(response: Any, status: int, code: str, issue_type: str | None = None) -> dict[str, Any]:
    """The answer is an OperationOutcome of this status, whose first issue carries the REST
    API's stable `code` (and, if given, this FHIR IssueType)."""
    body = fhir(response, status)
    assert body["resourceType"] == "OperationOutcome", body
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["code"] in ISSUE_TYPES, issue
    if issue_type is not None:
        assert issue["code"] == issue_type, issue
    assert issue["details"]["coding"][0] == {"system": CodeSystem.ERROR_CODE.value, "code": code}
    assert issue["diagnostics"]
    return body


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of a searchset Bundle, each checked to be a match with its absolute URL."""
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    found = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        assert entry["search"] == {"mode": "match"}
        assert entry["fullUrl"].startswith("http")
        assert entry["fullUrl"].endswith(f"{BASE}/{resource['resourceType']}/{resource['id']}")
        found.append(resource)
    return found


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle["link"] if x["relation"] == relation), None)


class Trail:
    """The audit events written since the last call, read from the table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen = len(self._events())

    def _events(self) -> list[AuditEvent]:
        with Session(self.engine) as db:
            return list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))

    def added(self) -> list[tuple[Any, ...]]:
        """Each new event as (action, resource type, resource id, patient id, outcome,
        detail, resource ids, patient ids)."""
        events = self._events()
        new, self.seen = events[self.seen :], len(events)
        return [
            (
                e.action,
                e.resource_type,
                e.resource_id and str(e.resource_id),
                e.patient_id and str(e.patient_id),
                e.outcome.value,
                e.detail,
                sorted(str(i) for i in e.resource_ids or []),
                sorted(str(i) for i in e.patient_ids or []),
            )
            for e in new
        ]
