"""`GET /fhir/R4/Appointment/{id}` and `GET /fhir/R4/Appointment?...`: sessions read and
searched as an EHR does, with the REST API's permissions and audit events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from app.roles import Role
from tests.fhir.clinical import clinic, events_of, ids
from tests.fhir.fhir import BASE, fhir, link, outcome
from tests.sessions.clinic import Clinic, ok, paris_day

__all__ = ["clinic"]  # fixtures


def test_an_appointment_is_read_with_its_version_as_etag_and_audited(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    answer = clinic.client.get(f"{BASE}/Appointment/{visit['id']}")
    resource = fhir(answer)
    assert (resource["resourceType"], resource["id"], resource["status"]) == (
        "Appointment",
        visit["id"],
        "booked",
    )
    assert answer.headers["etag"] == f'W/"{visit["version"]}"'
    assert resource["meta"]["versionId"] == str(visit["version"])
    [event] = [e for e in events_of(clinic.client, patient) if e["action"] == "read"]
    assert (event["resource_type"], event["resource_id"]) == ("session", visit["id"])


@pytest.mark.parametrize("unknown", [str(uuid4()), "not-a-uuid", "a" * 64])
def test_an_unknown_appointment_is_a_404_operation_outcome(clinic: Clinic, unknown: str) -> None:
    outcome(clinic.client.get(f"{BASE}/Appointment/{unknown}"), 404, "not-found", "not-found")


def test_the_front_desk_s_integration_reads_appointments_without_clinical_reasons(
    clinic: Clinic,
) -> None:
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    cancel = {"reason": "Pregnancy test positive"}
    ok(clinic.client.post(f"/api/v1/sessions/{visit['id']}/cancel", json=cancel))
    integration = clinic.client_as(Role.INTEGRATION)
    seen = fhir(integration.get(f"{BASE}/Appointment/{visit['id']}"))
    assert seen["status"] == "cancelled"
    assert "cancelationReason" not in seen
    found = fhir(integration.get(f"{BASE}/Appointment", params={"status": "cancelled"}))
    assert "cancelationReason" not in found["entry"][0]["resource"]
    clinician = clinic.client_as(Role.CLINICIAN)
    shown = fhir(clinician.get(f"{BASE}/Appointment/{visit['id']}"))
    assert shown["cancelationReason"] == {"text": "Pregnancy test positive"}


def test_appointments_are_searched_by_patient_practitioner_status_and_start(
    clinic: Clinic,
) -> None:
    patient = clinic.patient()
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(20, 10))
    other = clinic.book(clinic.patient(), paris_day(3, 12))
    ok(clinic.client.post(f"/api/v1/sessions/{second['id']}/cancel", json={"reason": "x"}))

    def search(**params: Any) -> list[str]:
        return ids(fhir(clinic.client.get(f"{BASE}/Appointment", params=params)))

    assert search(patient=patient) == [first["id"], second["id"]]
    assert search(patient=f"Patient/{patient}") == [first["id"], second["id"]]
    assert search(practitioner=f"Practitioner/{clinic.doctor['id']}", status="booked") == [
        first["id"],
        other["id"],
    ]
    assert search(status="cancelled,noshow") == [second["id"]]
    assert search(status=["booked", "cancelled"]) == []  # both must hold
    assert search(status="proposed") == []  # FHIR's, but no session is one
    assert search(practitioner=str(uuid4())) == []
    assert search(patient="not-a-uuid") == []
    day = paris_day(3, 0).date().isoformat()
    assert search(date=day) == [first["id"], other["id"]]  # eq: within that day
    assert search(date=f"le{day}") == [first["id"], other["id"]]  # up to its end
    assert search(date=f"lt{day}") == []  # before it began
    assert search(date=f"gt{day}") == [second["id"]]  # after it ended
    assert search(date=[f"ge{day}", f"lt{paris_day(4, 0).date().isoformat()}"]) == [
        first["id"],
        other["id"],
    ]
    ten = paris_day(3, 10)
    assert search(date=f"ge{(ten + timedelta(minutes=1)).isoformat()}") == [
        other["id"],
        second["id"],
    ]
    assert search(date=f"eq{ten.isoformat(timespec='minutes')}") == [first["id"]]
    assert search(date=[f"gt{day}", f"lt{day}"]) == []  # a window closed before it opens


def test_a_search_pages_with_count_and_next_links_and_is_audited(clinic: Clinic) -> None:
    patient = clinic.patient()
    visits = [clinic.book(patient, paris_day(days, 10)) for days in (3, 20, 40)]
    page = fhir(clinic.client.get(f"{BASE}/Appointment", params={"patient": patient, "_count": 2}))
    assert ids(page) == [visits[0]["id"], visits[1]["id"]]
    assert "total" not in page
    following = link(page, "next")
    assert following is not None
    rest = fhir(clinic.client.get(following))
    assert ids(rest) == [visits[2]["id"]]
    assert link(rest, "next") is None
    listed = [e for e in events_of(clinic.client, patient) if e["action"] == "list"]
    assert [e["resource_ids"] for e in listed] == [
        [visits[2]["id"]],
        [visits[0]["id"], visits[1]["id"]],
    ]
    assert {e["resource_type"] for e in listed} == {"session"}
    # Searching for a patient who has none tells about them too: one event, nothing listed.
    nobody = clinic.patient()
    assert fhir(clinic.client.get(f"{BASE}/Appointment", params={"patient": nobody}))["total"] == 0
    [event] = [e for e in events_of(clinic.client, nobody) if e["action"] == "list"]
    assert event["resource_ids"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"subject": "x"}, "unknown-search-parameter"),
        ({"patient:missing": "true"}, "invalid-search-parameter"),
        ({"date": "2027-13-01"}, "invalid-search-parameter"),
        ({"date": "sa2027-01-01"}, "invalid-search-parameter"),
        ({"date": "ne2027-01-01"}, "invalid-search-parameter"),
        ({"date": "2027-01-04T09:00"}, "invalid-search-parameter"),  # no offset
        ({"date": "2027-01-04,2027-01-05"}, "invalid-search-parameter"),
        ({"date": "tomorrow"}, "invalid-search-parameter"),
        ({"date": ""}, "invalid-search-parameter"),
        ({"status": "done"}, "invalid-search-parameter"),
        ({"status": "http://hl7.org/fhir/appointmentstatus|booked"}, "invalid-search-parameter"),
        ({"patient": "Practitioner/" + str(uuid4())}, "invalid-search-parameter"),
        ({"patient": f"{uuid4()},{uuid4()}"}, "invalid-search-parameter"),
        ({"patient": "a/b/c d"}, "invalid-search-parameter"),
        ({"_count": "0"}, "invalid-search-parameter"),
        ({"_count": "many"}, "invalid-search-parameter"),
        ({"_cursor": "forged"}, "invalid-search-parameter"),
    ],
)
def test_a_bad_search_is_a_400_operation_outcome(
    clinic: Clinic, params: dict[str, str], code: str
) -> None:
    outcome(clinic.client.get(f"{BASE}/Appointment", params=params), 400, code)
