"""Consent: each patient's informed consent to a procedure (micro-sclerotherapy), in force from
when they signed until they withdrew it.

| consent | Consent.status |
|---|---|
| active | active |
| withdrawn | inactive (`provision.period.end`: when) |

A consent to treatment (`scope` treatment), categorised as a patient consent and by the
procedure consented to, permitting it (`provision.type` permit) over the period it stood. The
patient is who agreed (`performer`); the clinic's form they signed is the source
(`sourceAttachment.title` names its version). The risks explained and a withdrawal's reason
stay in the REST API, for roles that read clinical detail.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.consents.service import search_consents
from app.fhir.capability import Interaction
from app.fhir.codes import CodeSystem, concept
from app.fhir.criteria import Criteria
from app.fhir.datatypes import instant, meta, reference
from app.fhir.search import InvalidSearch, SearchQuery
from app.fhir.search import reference as reference_param
from app.fhir.search import token as token_param
from app.models import Consent
from app.vocabulary import ConsentProcedure, ConsentStatus

# Each consent status as a Consent's (a test holds every status to a row here).
CONSENT_STATUS: dict[ConsentStatus, str] = {
    ConsentStatus.ACTIVE: "active",
    ConsentStatus.WITHDRAWN: "inactive",
}
# FHIR R4's other ConsentState codes: no consent here has them (a search for them matches none).
_OTHER_STATUSES = frozenset({"draft", "proposed", "rejected", "entered-in-error"})
_STATUSES = {shown: status for status, shown in CONSENT_STATUS.items()}

# FHIR R4's Consent Scope Codes (http://hl7.org/fhir/ValueSet/consent-scope, the value set
# Consent.scope is bound to; hl7.org/fhir/R4/valueset-consent-scope.html): `treatment`,
# "Treatment", consent to undergo a specific treatment.
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
# FHIR R4's Consent Category Codes (http://hl7.org/fhir/ValueSet/consent-category, the value
# set Consent.category is bound to; hl7.org/fhir/R4/valueset-consent-category.html) include
# LOINC 59284-0 "Patient Consent", the category of R4's own general consent example
# (hl7.org/fhir/R4/consent-example.json.html).
LOINC = "http://loinc.org"
PATIENT_CONSENT = "59284-0"

_PROCEDURES = {ConsentProcedure.MICRO_SCLEROTHERAPY: "Micro-sclerotherapy"}

READ = Interaction("Consent", "read", id_param="consent_id")
SEARCH = Interaction(
    "Consent",
    "search-type",
    search=(
        reference_param("patient", "Patient", "Required: the patient, `Patient/<id>` or `<id>`."),
        token_param(
            "status",
            "active (it stands) or inactive (withdrawn); comma-separated for either.",
        ),
    ),
)


@dataclass(frozen=True)
class Found:
    """A page of the consents a search matched (newest first), the cursor of the next page,
    and the patient the search asked about (None: none of ours)."""

    consents: Sequence[Consent]
    next_cursor: str | None
    patient_id: uuid.UUID | None


def search(*, db: Session, query: SearchQuery, limit: int, cursor: str | None) -> Found:
    """The patient's consents a Consent search matches, newest first. The patient is
    required: a search never lists every patient's consents."""
    if not query.all("patient"):
        raise InvalidSearch("A Consent search names the patient: `patient=Patient/<id>`.")
    asked = Criteria(query)
    patient_id = asked.one_record("patient")
    statuses = asked.codes("status", _STATUSES, _OTHER_STATUSES)
    if asked.matches_nothing or patient_id is None:
        return Found((), None, patient_id)
    consents, next_cursor = search_consents(
        db=db, patient_id=patient_id, statuses=statuses or (), limit=limit, cursor=cursor
    )
    return Found(consents, next_cursor, patient_id)


def consent_resource(consent: Consent) -> dict[str, Any]:
    """The consent as a Consent: a permit to the procedure over the period it stood."""
    period = {"start": instant(consent.obtained_at)}
    if consent.withdrawn_at is not None:
        period["end"] = instant(consent.withdrawn_at)
    procedure = _PROCEDURES[consent.procedure]
    return {
        "resourceType": "Consent",
        "id": str(consent.id),
        "meta": meta(consent.version, consent.updated_at),
        "status": CONSENT_STATUS[consent.status],
        "scope": {
            "coding": [{"system": CONSENT_SCOPE, "code": "treatment", "display": "Treatment"}]
        },
        "category": [
            {"coding": [{"system": LOINC, "code": PATIENT_CONSENT, "display": "Patient Consent"}]},
            concept(CodeSystem.CONSENT_PROCEDURE, consent.procedure.value, procedure),
        ],
        "patient": reference("Patient", consent.patient_id),
        "dateTime": instant(consent.obtained_at),
        "performer": [reference("Patient", consent.patient_id)],
        "sourceAttachment": {"title": f"Consent form, version {consent.document_version}"},
        # No code names a clinic's own consent form: said in words (the binding is extensible).
        "policyRule": {"text": f"The clinic's informed consent to {procedure.lower()}"},
        "provision": {"type": "permit", "period": period},
    }
