"""`/fhir/R4/Consent`: a patient's informed consent as FHIR R4 writes it, read and searched by
patient with the REST API's permission (never an integration key's) and its audit events; every
answer parsed by fhir.resources' R4B models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from app.fhir.consents import CONSENT_STATUS
from app.roles import Role
from app.vocabulary import ConsentStatus
from tests.factories import consented, new_patient
from tests.fhir.clinical import clinic, events_of, ids, instant, parsed
from tests.fhir.fhir import BASE, entries, fhir, link, outcome
from tests.sessions.clinic import Clinic, ok

__all__ = ["clinic"]  # fixtures


def _consent(clinic: Clinic, **changes: Any) -> tuple[str, dict[str, Any]]:
    """A patient of the clinic's and their consent, signed two days ago."""
    patient: str = new_patient(clinic.client)["id"]
    signed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    changes.setdefault("obtained_at", signed)
    return patient, consented(clinic.client, patient, clinic.doctor["id"], **changes)


def test_every_consent_status_is_a_consent_state() -> None:
    assert CONSENT_STATUS == {ConsentStatus.ACTIVE: "active", ConsentStatus.WITHDRAWN: "inactive"}


def test_a_consent_is_a_treatment_permit_over_the_period_it_stood(clinic: Clinic) -> None:
    patient, consent = _consent(clinic, document_version="CF-12")
    answer = clinic.client.get(f"{BASE}/Consent/{consent['id']}")
    resource = fhir(answer)
    assert answer.headers["etag"] == 'W/"1"'
    model = parsed(resource)
    assert (model.id, model.status, model.meta.versionId) == (consent["id"], "active", "1")
    [scope] = model.scope.coding
    assert (scope.system, scope.code) == (
        "http://terminology.hl7.org/CodeSystem/consentscope",
        "treatment",
    )
    assert [(c.coding[0].system, c.coding[0].code) for c in model.category] == [
        ("http://loinc.org", "59284-0"),
        ("https://sclerosched.org/fhir/CodeSystem/consent-procedure", "micro-sclerotherapy"),
    ]
    assert model.patient.reference == f"Patient/{patient}"
    assert [p.reference for p in model.performer] == [f"Patient/{patient}"]
    assert model.dateTime == instant(consent["obtained_at"])
    assert model.sourceAttachment.title == "Consent form, version CF-12"
    assert model.policyRule.text
    assert model.provision.type == "permit"
    assert (model.provision.period.start, model.provision.period.end) == (
        instant(consent["obtained_at"]),
        None,
    )
    # What only clinical roles read over REST is not here.
    assert "hyperpigmentation" not in str(resource)

    withdrawn = ok(
        clinic.client.post(
            f"/api/v1/consents/{consent['id']}/withdraw", json={"reason": "Moving abroad"}
        )
    )
    after = parsed(fhir(clinic.client.get(f"{BASE}/Consent/{consent['id']}")))
    assert (after.status, after.meta.versionId) == ("inactive", "2")
    assert after.provision.period.end == instant(withdrawn["withdrawn_at"])
    assert "Moving abroad" not in str(after.model_dump())


def test_a_patient_s_consents_are_searched_newest_first_by_status(clinic: Clinic) -> None:
    patient, old = _consent(clinic)
    newer = consented(clinic.client, patient, clinic.doctor["id"])
    ok(clinic.client.post(f"/api/v1/consents/{old['id']}/withdraw", json={}))
    other, _ = _consent(clinic)  # another patient's: never in this patient's search

    def search(**params: str) -> dict[str, Any]:
        return fhir(clinic.client.get(f"{BASE}/Consent", params={"patient": patient, **params}))

    assert ids(search()) == [newer["id"], old["id"]]
    assert ids(search(status="active")) == [newer["id"]]
    assert ids(search(status="inactive")) == [old["id"]]
    assert ids(search(status="active,inactive")) == [newer["id"], old["id"]]
    assert ids(search(status="draft")) == []
    page = search(_count="1")
    assert ids(page) == [newer["id"]]
    following = link(page, "next")
    assert following is not None
    rest = fhir(clinic.client.get(following))
    assert (ids(rest), link(rest, "next")) == ([old["id"]], None)
    others = {"patient": f"Patient/{other}"}
    by_reference = fhir(clinic.client.get(f"{BASE}/Consent", params=others))
    assert [r["patient"]["reference"] for r in entries(by_reference)] == [f"Patient/{other}"]
    # Each search a list event naming the patient; each read its read.
    lists = [e for e in events_of(clinic.client, patient) if e["action"] == "list"]
    assert {e["resource_type"] for e in lists} == {"consent"}
    assert len(lists) == 7


def test_an_unknown_patient_has_no_consents_and_an_unknown_id_is_a_404(clinic: Clinic) -> None:
    nobody = str(uuid4())
    assert fhir(clinic.client.get(f"{BASE}/Consent", params={"patient": nobody}))["total"] == 0
    for consent_id in (str(uuid4()), "not-a-consent", "x" * 64):
        outcome(clinic.client.get(f"{BASE}/Consent/{consent_id}"), 404, "not-found", "not-found")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "active"},
        {"patient": "x", "status": "withdrawn"},
        {"patient": "x", "status": "http://hl7.org/fhir/consent-state-codes|active"},
        {"patient": "x", "category": "59284-0"},
        {"patient": "Practitioner/x"},
        {"patient": "a,b"},
    ],
)
def test_a_bad_consent_search_is_a_400(clinic: Clinic, params: dict[str, str]) -> None:
    code = "unknown-search-parameter" if "category" in params else "invalid-search-parameter"
    outcome(clinic.client.get(f"{BASE}/Consent", params=params), 400, code)


def _readers(clinic: Clinic) -> dict[Role, TestClient]:
    return {role: clinic.client_as(role) for role in Role}


def test_an_integration_key_reads_no_consent_and_the_front_desk_does(clinic: Clinic) -> None:
    patient, consent = _consent(clinic)
    readers = _readers(clinic)
    integration = readers[Role.INTEGRATION]
    outcome(integration.get(f"{BASE}/Consent/{consent['id']}"), 403, "forbidden", "forbidden")
    refused = integration.get(f"{BASE}/Consent", params={"patient": patient})
    outcome(refused, 403, "forbidden", "forbidden")
    for role in (Role.RECEPTIONIST, Role.CLINICIAN, Role.ADMIN):
        found = fhir(readers[role].get(f"{BASE}/Consent", params={"patient": patient}))
        assert ids(found) == [consent["id"]], role
