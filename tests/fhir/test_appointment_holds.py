"""Holds as Appointments: a hold not yet expired is a `pending` Appointment, read and found
like any session; an expired one is gone, whether or not its row has been deleted yet."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.roles import Role
from tests.fhir.clinical import clinic, ids, instant
from tests.fhir.fhir import BASE, fhir, outcome
from tests.sessions.clinic import Clinic, ok, paris_day

__all__ = ["clinic"]  # fixtures


def _hold(clinic: Clinic, patient: str, start: datetime) -> dict[str, Any]:
    body = {"patient_id": patient, "practitioner_id": clinic.doctor["id"]}
    held: dict[str, Any] = ok(
        clinic.client.post("/api/v1/holds", json={**body, "start": start.isoformat()})
    )
    return held


def test_a_live_hold_is_a_pending_appointment(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    held = _hold(clinic, patient, paris_day(20, 10))
    resource = fhir(clinic.client.get(f"{BASE}/Appointment/{held['id']}"))
    assert resource["status"] == "pending"
    assert instant(resource["start"]) == paris_day(20, 10)
    actors = {p["actor"]["reference"] for p in resource["participant"]}
    assert actors == {
        f"Patient/{patient}",
        f"Practitioner/{clinic.doctor['id']}",
        f"Location/{held['room_id']}",  # the room it keeps
    }

    def search(caller: Any = None, **params: Any) -> list[str]:
        answer = (caller or clinic.client).get(f"{BASE}/Appointment", params=params)
        return ids(fhir(answer))

    assert search(patient=patient) == [visit["id"], held["id"]]
    assert search(status="pending") == [held["id"]]
    assert search(status="booked,pending", patient=patient) == [visit["id"], held["id"]]
    # An EHR's integration key sees the hold it made.
    assert search(clinic.client_as(Role.INTEGRATION), status="pending") == [held["id"]]
    # The REST calendar lists sessions only, never a hold.
    listed = ok(clinic.client.get("/api/v1/sessions", params={"patient_id": patient}))
    assert [s["id"] for s in listed["items"]] == [visit["id"]]


def test_an_expired_hold_is_never_shown(clinic: Clinic) -> None:
    patient = clinic.patient()
    held = _hold(clinic, patient, paris_day(20, 10))
    expires = datetime.fromisoformat(held["expires_at"])
    # One second before its end, it is still there; from its end on, gone.
    clinic.clock.travel_to(expires - timedelta(seconds=1))
    assert fhir(clinic.client.get(f"{BASE}/Appointment/{held['id']}"))["status"] == "pending"
    clinic.clock.travel_to(expires)
    outcome(clinic.client.get(f"{BASE}/Appointment/{held['id']}"), 404, "not-found")
    for params in ({"patient": patient}, {"status": "pending"}, {}):
        assert ids(fhir(clinic.client.get(f"{BASE}/Appointment", params=params))) == []
