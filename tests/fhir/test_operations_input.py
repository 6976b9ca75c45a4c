"""The scheduling operations refuse what they cannot read with a 422 OperationOutcome naming
the parameter (an unknown record: 404), never a 500, and store nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import count_rows, eligible_patient, next_weekday_at
from tests.fhir.fhir import BASE, fhir, outcome
from tests.fhir.operations import (
    BOOK,
    FIND,
    HOLD,
    find_body,
    parameters,
    proposal,
    with_appointment,
)


@pytest.fixture
def patient(client: TestClient, doctor: dict[str, Any]) -> dict[str, Any]:
    return eligible_patient(client, doctor["id"])


def _refused(client: TestClient, path: str, body: Any, where: str | None = None) -> None:
    refused = outcome(client.post(path, json=body), 422, "validation-error", "invalid")
    if where is not None:
        assert any(where in issue["diagnostics"] for issue in refused["issue"][1:]), refused


def test_find_refuses_a_window_or_a_patient_it_cannot_read(
    client: TestClient, patient: dict[str, Any], doctor: dict[str, Any], engine: Engine
) -> None:
    pid = patient["id"]
    monday = next_weekday_at(0, 9)
    day = monday.date()
    _refused(client, FIND, {"resourceType": "Patient"}, "resourceType")
    _refused(client, FIND, {"resourceType": "Parameters", "parameter": {"name": "x"}}, "parameter")
    _refused(
        client,
        FIND,
        parameters({"name": "patient", "valueReference": {"reference": f"Patient/{pid}"}}),
        "start",
    )
    _refused(client, FIND, find_body(pid, "2027-13-01", "2027-13-09"), "start")
    _refused(client, FIND, find_body(pid, "2027-01-04T09:00:00", "2027-01-05T09:00:00"), "start")
    _refused(client, FIND, find_body(pid, str(day + timedelta(days=5)), str(day)), "end")
    _refused(client, FIND, find_body(pid, str(day), str(day + timedelta(days=200))), "end")
    _refused(client, FIND, find_body(pid, "2020-01-01", "2020-01-08"), "end")
    asked = find_body(pid, str(day), str(day + timedelta(days=7)))
    _refused(
        client,
        FIND,
        parameters(*asked["parameter"], {"name": "specialty", "valueString": "x"}),
        "specialty",
    )
    _refused(client, FIND, parameters(*asked["parameter"], asked["parameter"][0]), "start")
    wrong_kind = find_body(pid, str(day), str(day + timedelta(days=7)))
    wrong_kind["parameter"][2]["valueReference"] = {"reference": f"Practitioner/{doctor['id']}"}
    _refused(client, FIND, wrong_kind, "patient")
    not_an_id = find_body(pid, str(day), str(day + timedelta(days=7)))
    not_an_id["parameter"][2]["valueReference"] = {"reference": "Patient/123"}
    _refused(client, FIND, not_an_id, "patient")
    wrong_visit = parameters(
        *asked["parameter"], {"name": "visit-type", "valueCoding": {"code": "surgery"}}
    )
    _refused(client, FIND, wrong_visit, "visit-type")
    outcome(
        client.post(
            FIND, json=find_body(str(uuid.uuid4()), str(day), str(day + timedelta(days=7)))
        ),
        404,
        "not-found",
    )
    garbled = client.post(
        FIND, content=b"{not json", headers={"Content-Type": "application/fhir+json"}
    )
    assert garbled.status_code in (400, 422)
    fhir(garbled, garbled.status_code)
    assert count_rows(engine, "treatment_sessions") == 0


def test_hold_and_book_refuse_an_appointment_they_cannot_read(
    client: TestClient, patient: dict[str, Any], doctor: dict[str, Any], engine: Engine
) -> None:
    monday = next_weekday_at(0, 9)
    good = proposal(patient["id"], doctor["id"], monday)
    for path in (HOLD, BOOK):
        _refused(client, path, parameters(), "appt-resource")
        _refused(
            client,
            path,
            parameters({"name": "appt-resource", "resource": {"resourceType": "Patient"}}),
            "appt-resource",
        )
        _refused(client, path, with_appointment({**good, "status": "booked"}), "status")
        _refused(
            client,
            path,
            with_appointment({**good, "participant": good["participant"][:1]}),
            "participant",
        )
        _refused(client, path, with_appointment({**good, "participant": "everyone"}), "participant")
        _refused(client, path, with_appointment({**good, "start": "2027-01-04"}), "start")
        _refused(
            client,
            path,
            with_appointment({**good, "start": monday.replace(tzinfo=None).isoformat()}),
            "start",
        )
        _refused(
            client,
            path,
            with_appointment(proposal(patient["id"], doctor["id"], monday, minutes=61)),
            "end",
        )
        _refused(
            client,
            path,
            with_appointment(proposal(patient["id"], doctor["id"], monday, minutes=5)),
            "end",
        )
        _refused(
            client,
            path,
            with_appointment({**good, "supportingInformation": [{"reference": "CarePlan/x"}]}),
            "supportingInformation",
        )
        _refused(
            client,
            path,
            parameters(
                {"name": "appt-resource", "resource": good},
                {"name": "appt-resource", "resource": good},
            ),
            "appt-resource",
        )
    # A pending Appointment is a hold: one that does not stand is no booking.
    outcome(
        client.post(
            BOOK, json=with_appointment({**good, "status": "pending", "id": str(uuid.uuid4())})
        ),
        409,
        "hold-expired",
    )
    _refused(client, BOOK, with_appointment({**good, "status": "pending"}), "id")
    _refused(
        client,
        HOLD,
        with_appointment({**good, "status": "pending", "id": str(uuid.uuid4())}),
        "status",
    )
    reference = parameters(
        {
            "name": "appointment-reference",
            "valueReference": {"reference": f"Appointment/{uuid.uuid4()}"},
        }
    )
    outcome(client.post(BOOK, json=reference), 409, "hold-expired")
    _refused(client, HOLD, reference, "appointment-reference")
    assert count_rows(engine, "treatment_sessions") == 0


def test_a_put_changes_nothing_but_the_status_to_cancelled(
    client: TestClient, patient: dict[str, Any], doctor: dict[str, Any]
) -> None:
    booked = fhir(
        client.post(
            BOOK,
            json=with_appointment(proposal(patient["id"], doctor["id"], next_weekday_at(0, 9))),
        )
    )
    url = f"{BASE}/Appointment/{booked['id']}"
    for change in (
        {"status": "arrived"},
        {"status": "noshow"},
        {"participant": booked["participant"][:1]},
        {"end": (datetime.fromisoformat(booked["end"]) + timedelta(minutes=5)).isoformat()},
        {"supportingInformation": [{"reference": f"CarePlan/{uuid.uuid4()}"}]},
    ):
        outcome(client.put(url, json={**booked, **change}), 422, "appointment-change-refused")
    _refused_put = outcome(
        client.put(url, json={**booked, "id": str(uuid.uuid4())}), 422, "validation-error"
    )
    assert _refused_put
    outcome(client.put(url, json=[booked]), 422, "validation-error")
    outcome(client.put(f"{BASE}/Appointment/{uuid.uuid4()}", json=booked), 404, "not-found")
    outcome(client.put(f"{BASE}/Appointment/nope", json=booked), 404, "not-found")
    # The same Appointment sent back unchanged, with instants written another way: no change.
    same = {**booked, "start": datetime.fromisoformat(booked["start"]).astimezone(UTC).isoformat()}
    assert fhir(client.put(url, json=same))["meta"] == booked["meta"]
    assert client.get(f"/api/v1/sessions/{booked['id']}").json()["status"] == "booked"


def test_a_window_at_the_end_of_the_calendar_is_refused_not_a_failure(
    client: TestClient, patient: dict[str, Any]
) -> None:
    for start, end in (("9999-10-01", "9999-12-31"), ("0001-01-01", "9999-12-31")):
        outcome(
            client.post(FIND, json=find_body(patient["id"], start, end)), 422, "validation-error"
        )
    late = find_body(patient["id"], "9999-12-30T00:00:00Z", "9999-12-31T23:59:59-12:00")
    outcome(client.post(FIND, json=late), 422, "validation-error")


def test_booking_a_hold_with_another_patient_time_or_length_is_refused(
    client: TestClient, patient: dict[str, Any], doctor: dict[str, Any]
) -> None:
    other = eligible_patient(client, doctor["id"], given_name="Other")
    monday = next_weekday_at(0, 9)
    held = fhir(
        client.post(HOLD, json=with_appointment(proposal(patient["id"], doctor["id"], monday)))
    )
    later = (monday + timedelta(hours=1)).isoformat()
    someone_else = [{"actor": {"reference": f"Patient/{other['id']}"}}, held["participant"][1]]
    for change in (
        {"participant": someone_else},
        {"start": later, "end": (monday + timedelta(hours=1, minutes=45)).isoformat()},
        {"end": (monday + timedelta(minutes=60)).isoformat(), "minutesDuration": 60},
    ):
        outcome(client.post(BOOK, json=with_appointment({**held, **change})), 422, "hold-mismatch")
    _refused(client, BOOK, with_appointment({**held, "minutesDuration": 60}), "minutesDuration")
    assert fhir(client.post(BOOK, json=with_appointment(held)))["status"] == "booked"


def test_a_cancelled_appointment_keeps_the_reason_it_was_cancelled_for(
    client: TestClient, patient: dict[str, Any], doctor: dict[str, Any]
) -> None:
    booked = fhir(
        client.post(
            BOOK,
            json=with_appointment(proposal(patient["id"], doctor["id"], next_weekday_at(0, 9))),
        )
    )
    url = f"{BASE}/Appointment/{booked['id']}"
    cancelled = fhir(
        client.put(
            url, json={**booked, "status": "cancelled", "cancelationReason": {"text": "Unwell"}}
        )
    )
    outcome(
        client.put(url, json={**cancelled, "cancelationReason": {"text": "Something else"}}),
        422,
        "appointment-change-refused",
    )
    assert fhir(client.put(url, json=cancelled))["meta"] == cancelled["meta"]
