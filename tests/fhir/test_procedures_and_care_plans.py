"""`/fhir/R4/Procedure` and `/fhir/R4/CarePlan`: treatment records and courses read and
searched as an EHR does, with the REST API's permissions and audit events."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from app.roles import Role
from tests.fhir.clinical import clinic, events_of, ids, instant
from tests.fhir.fhir import BASE, fhir, link, outcome
from tests.sessions.clinic import Clinic, ok, paris_day

__all__ = ["clinic"]  # fixtures


def test_a_treatment_is_read_as_a_procedure_and_audited(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    done = clinic.treat(visit)["session"]
    answer = clinic.client.get(f"{BASE}/Procedure/{visit['id']}")
    resource = fhir(answer)
    assert (resource["id"], resource["status"]) == (visit["id"], "completed")
    assert answer.headers["etag"] == f'W/"{done["version"]}"'
    assert instant(resource["performedDateTime"]) == instant(done["completion"]["administered_at"])
    reads = [e for e in events_of(clinic.client, patient) if e["action"] == "read"]
    assert [(e["resource_type"], e["resource_id"]) for e in reads] == [("session", visit["id"])]


def test_a_session_never_treated_is_no_procedure(clinic: Clinic) -> None:
    booked = clinic.book(clinic.patient(), paris_day(3, 10))
    for unknown in (booked["id"], str(uuid4()), "nope"):
        outcome(clinic.client.get(f"{BASE}/Procedure/{unknown}"), 404, "not-found")


def test_procedures_are_searched_by_patient_and_when_given(clinic: Clinic) -> None:
    patient = clinic.patient()
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(31, 10))
    other = clinic.book(clinic.patient(), paris_day(3, 12))
    for visit in (first, other, second):
        clinic.treat(visit)

    def search(**params: Any) -> list[str]:
        return ids(fhir(clinic.client.get(f"{BASE}/Procedure", params=params)))

    assert search() == [first["id"], other["id"], second["id"]]
    assert search(patient=f"Patient/{patient}") == [first["id"], second["id"]]
    day = paris_day(3, 0).date().isoformat()
    assert search(date=day) == [first["id"], other["id"]]
    assert search(date=f"gt{day}", patient=patient) == [second["id"]]
    assert search(date=[f"ge{day}", f"le{day}"], patient=patient) == [first["id"]]
    page = fhir(clinic.client.get(f"{BASE}/Procedure", params={"_count": 1}))
    following = link(page, "next")
    assert following is not None
    assert ids(fhir(clinic.client.get(following))) == [other["id"]]


def test_only_roles_that_read_clinical_detail_see_procedures(clinic: Clinic) -> None:
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    clinic.treat(visit)
    for role in (Role.RECEPTIONIST, Role.INTEGRATION):
        caller = clinic.client_as(role)
        outcome(caller.get(f"{BASE}/Procedure/{visit['id']}"), 403, "forbidden", "forbidden")
        outcome(caller.get(f"{BASE}/Procedure"), 403, "forbidden", "forbidden")
    fhir(clinic.client_as(Role.CLINICIAN).get(f"{BASE}/Procedure/{visit['id']}"))


def test_a_course_is_read_as_a_care_plan_its_notes_for_clinical_roles_only(
    clinic: Clinic,
) -> None:
    patient = clinic.patient()
    body = {"planned_sessions": 2, "notes": "Needle phobia"}
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json=body))
    visit = clinic.book(patient, paris_day(3, 10), plan_id=plan["id"])
    integration = clinic.client_as(Role.INTEGRATION)
    answer = integration.get(f"{BASE}/CarePlan/{plan['id']}")
    seen = fhir(answer)
    assert answer.headers["etag"] == f'W/"{plan["version"]}"'
    assert (seen["status"], "note" in seen) == ("active", False)
    assert [a.get("reference") for a in seen["activity"]] == [
        None,
        {"reference": f"Appointment/{visit['id']}"},
    ]
    clinician = fhir(clinic.client_as(Role.CLINICIAN).get(f"{BASE}/CarePlan/{plan['id']}"))
    assert clinician["note"] == [{"text": "Needle phobia"}]
    reads = [e for e in events_of(clinic.client, patient) if e["action"] == "read"]
    assert {(e["resource_type"], e["resource_id"]) for e in reads} == {
        ("treatment-plan", plan["id"])
    }
    outcome(clinic.client.get(f"{BASE}/CarePlan/{uuid4()}"), 404, "not-found")


def test_care_plans_are_searched_by_patient_and_status_and_audited(clinic: Clinic) -> None:
    patient = clinic.patient()
    old = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    change = {"status": "cancelled"}
    ok(clinic.client.patch(f"/api/v1/treatment-plans/{old['id']}", json=change))
    new = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    theirs = ok(clinic.client.post(f"/api/v1/patients/{clinic.patient()}/treatment-plans", json={}))

    def search(**params: Any) -> list[str]:
        return ids(fhir(clinic.client.get(f"{BASE}/CarePlan", params=params)))

    assert search(patient=patient) == [new["id"], old["id"]]
    assert search(status="revoked") == [old["id"]]
    assert search(status="active,on-hold") == [theirs["id"], new["id"]]
    assert search(status="draft") == []
    assert search(patient=patient, status="active") == [new["id"]]
    listed = [e for e in events_of(clinic.client, patient) if e["action"] == "list"]
    assert listed[-1]["resource_ids"] == [new["id"], old["id"]]
    assert {e["resource_type"] for e in listed} == {"treatment-plan"}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("CarePlan", {"status": "cancelled"}),  # the REST word: FHIR's is revoked
        ("CarePlan", {"status": "|active"}),
        ("CarePlan", {"subject": "x"}),
        ("CarePlan", {"patient": "Group/1"}),
        ("Procedure", {"date": "2027-02-30"}),
        ("Procedure", {"date": "ap2027-01-01"}),
        ("Procedure", {"status": "completed"}),
        ("Procedure", {"patient": ""}),
    ],
)
def test_a_bad_search_is_a_400_operation_outcome(
    clinic: Clinic, path: str, params: dict[str, str]
) -> None:
    answer = clinic.client.get(f"{BASE}/{path}", params=params)
    assert answer.status_code == 400, answer.text
    assert fhir(answer, 400)["resourceType"] == "OperationOutcome"
