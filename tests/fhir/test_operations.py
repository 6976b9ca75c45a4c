"""The scheduling operations as an EHR uses them: find the patient by MRN, `$find`, `$hold`,
`$book`, read the Appointment, cancel it with `If-Match`; and a patient whose varicose veins
must be treated first refused, with the flag, by `$find`, `$hold` and `$book`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.fhir.codes import CodeSystem
from app.fhir.scheduling.service import HOLD_EXPIRES_EXTENSION
from app.roles import Role
from tests.factories import (
    ApiClient,
    ClientFactory,
    count_rows,
    eligible_patient,
    new_patient,
    next_weekday_at,
    record_evaluation,
)
from tests.fhir.fhir import BASE, fhir, outcome
from tests.fhir.operations import BOOK, FIND, HOLD, find_body, proposal, with_appointment

MRN = "urn:oid:1.2.250.1.71.4.2.7"


def _ehr(app: FastAPI, client: TestClient) -> TestClient:
    """The EHR, with an integration API key an admin created."""
    key = client.post("/api/v1/api-keys", json={"name": "Hospital EHR"}).json()["key"]
    return ApiClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})


def test_an_ehr_finds_holds_books_reads_and_cancels(
    app: FastAPI, client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    patient = eligible_patient(
        client, doctor["id"], identifiers=[{"system": MRN, "value": "MRN-77"}]
    )
    ehr = _ehr(app, client)

    found = fhir(ehr.get(f"{BASE}/Patient", params={"identifier": f"{MRN}|MRN-77"}))
    assert [e["resource"]["id"] for e in found["entry"]] == [patient["id"]]

    monday = next_weekday_at(0, 9)
    window = find_body(
        patient["id"], monday.date().isoformat(), (monday + timedelta(days=70)).date().isoformat()
    )
    bundle = fhir(ehr.post(FIND, json=window))
    proposed = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    # A usual course: three visits, about four weeks apart, with this clinic's practitioner.
    assert [a["status"] for a in proposed] == ["proposed"] * 3
    starts = [datetime.fromisoformat(a["start"]) for a in proposed]
    assert starts[0] == monday
    assert [(b - a).days for a, b in itertools.pairwise(starts)] == [28, 28]
    assert bundle["total"] == 3

    held = fhir(ehr.post(HOLD, json=with_appointment(proposed[0])))
    assert held["status"] == "pending"
    assert held["start"] == proposed[0]["start"].replace("+00:00", "Z")
    (expiry,) = held["extension"]
    assert expiry["url"] == HOLD_EXPIRES_EXTENSION
    # Held: the next $find no longer offers that slot to anyone.
    again = fhir(ehr.post(FIND, json=window))
    assert again["entry"][0]["resource"]["start"] != proposed[0]["start"]

    booked = fhir(ehr.post(BOOK, json=with_appointment(held)))
    assert (booked["id"], booked["status"]) == (held["id"], "booked")
    room_id = client.get(f"/api/v1/sessions/{booked['id']}").json()["room_id"]
    assert {p["actor"]["reference"] for p in booked["participant"]} == {
        f"Patient/{patient['id']}",
        f"Practitioner/{doctor['id']}",
        f"Location/{room_id}",  # the room the hold kept, booked
    }

    read = ehr.get(f"{BASE}/Appointment/{held['id']}")
    appointment = fhir(read)
    assert appointment["status"] == "booked"
    version = appointment["meta"]["versionId"]
    assert read.headers["ETag"] == f'W/"{version}"'

    moved = {**appointment, "start": proposed[1]["start"], "end": proposed[1]["end"]}
    outcome(
        ehr.put(
            f"{BASE}/Appointment/{held['id']}", json=moved, headers={"If-Match": f'W/"{version}"'}
        ),
        422,
        "appointment-change-refused",
    )
    cancel = {**appointment, "status": "cancelled", "cancelationReason": {"text": "Patient called"}}
    stale = f'W/"{int(version) - 1}"'
    outcome(
        ehr.put(f"{BASE}/Appointment/{held['id']}", json=cancel, headers={"If-Match": stale}),
        412,
        "version-mismatch",
    )
    cancelled = fhir(
        ehr.put(
            f"{BASE}/Appointment/{held['id']}", json=cancel, headers={"If-Match": f'W/"{version}"'}
        )
    )
    assert cancelled["status"] == "cancelled"
    assert int(cancelled["meta"]["versionId"]) == int(version) + 1
    session = client.get(f"/api/v1/sessions/{held['id']}").json()
    assert session["status"] == "cancelled"
    assert session["cancel_reason"] == "Patient called"
    assert count_rows(engine, "treatment_sessions") == 1
    actions = [
        e["action"]
        for e in client.get("/api/v1/audit-events", params={"patient_id": patient["id"]}).json()[
            "items"
        ]
    ]
    assert {"propose", "hold", "book", "cancel"} <= set(actions)


def _flag_codes(body: dict[str, Any]) -> set[str]:
    return {
        coding["code"]
        for issue in body["issue"]
        for coding in issue["details"]["coding"]
        if coding["system"] == CodeSystem.FLAG.value
    }


def test_untreated_varicose_veins_are_refused_with_the_flag_by_every_operation(
    client_as: ClientFactory, client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    patient = new_patient(client)
    record_evaluation(
        client, patient["id"], doctor["id"], ceap_class="C2", varicose_veins="present"
    )
    monday = next_weekday_at(0, 9)
    window = find_body(patient["id"], monday.isoformat(), (monday + timedelta(days=7)).isoformat())
    offered = proposal(patient["id"], doctor["id"], monday)
    desk = client_as(Role.RECEPTIONIST)
    for path, body in (
        (FIND, window),
        (HOLD, with_appointment(offered)),
        (BOOK, with_appointment(offered)),
    ):
        refused = outcome(desk.post(path, json=body), 409, "eligibility-blocked", "business-rule")
        assert _flag_codes(refused) == {"varicose-treatment-first"}, path
        # Each flag's issue carries the refusal's code beside the flag's.
        flag_issue = next(i for i in refused["issue"] if _flag_codes({"issue": [i]}))
        assert {"system": CodeSystem.ERROR_CODE.value, "code": "eligibility-blocked"} in flag_issue[
            "details"
        ]["coding"]
    # An integration key is refused too, told that the patient may not be booked, not why.
    integration = client_as(Role.INTEGRATION)
    for path, body in ((FIND, window), (BOOK, with_appointment(offered))):
        refused = outcome(integration.post(path, json=body), 409, "eligibility-blocked")
        assert _flag_codes(refused) == set()
        assert "varicose" not in str(refused)
    assert count_rows(engine, "treatment_sessions") == 0


def test_find_tells_why_a_visit_is_not_placed_only_to_who_may_read_eligibility(
    client_as: ClientFactory, client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)
    # Valid for a few more days: the first visit fits, the follow-ups do not.
    performed = datetime.now(UTC) - timedelta(days=360)
    record_evaluation(client, patient["id"], doctor["id"], performed_at=performed.isoformat())
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    window = find_body(patient["id"], str(tomorrow), str(tomorrow + timedelta(days=70)))

    def warnings(caller: TestClient) -> str:
        entries = fhir(caller.post(FIND, json=window))["entry"]
        assert [e["search"]["mode"] for e in entries] == ["match", "outcome"]
        return " ".join(i["diagnostics"] for i in entries[1]["resource"]["issue"])

    assert "evaluation" in warnings(client_as(Role.RECEPTIONIST))
    told = warnings(client_as(Role.INTEGRATION))
    assert "evaluation" not in told
    assert "no free slot could be proposed" in told
