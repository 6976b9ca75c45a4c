"""FHIR Practitioner and Schedule: the clinicians and their one schedule each (the same id),
read and searched with `calendars:read`, as the REST calendars are."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.fhir.codes import CodeSystem, IdentifierSystem
from tests.factories import new_practitioner
from tests.fhir.fhir import BASE, entries, fhir, link, outcome

ID_SYSTEM = IdentifierSystem.PRACTITIONER_ID.value


def _staff(client: TestClient) -> dict[str, dict[str, Any]]:
    return {
        "laurent": new_practitioner(client, name="Dr Amélie Laurent"),
        "martin": new_practitioner(client, name="Dr Paul Martin"),
        "gone": new_practitioner(client, name="Dr Anne Lebrun", active=False),
    }


def test_a_practitioner_reads_with_their_id_as_identifier(client: TestClient) -> None:
    made = new_practitioner(client, name="Dr Amélie Laurent")
    answer = client.get(f"{BASE}/Practitioner/{made['id']}")
    practitioner = fhir(answer)
    assert practitioner["id"] == made["id"]
    assert practitioner["name"] == [{"text": "Dr Amélie Laurent"}]
    assert practitioner["active"] is True
    assert practitioner["identifier"] == [{"system": ID_SYSTEM, "value": made["id"]}]
    assert practitioner["meta"]["versionId"] == "1"
    assert practitioner["meta"]["lastUpdated"] == made["updated_at"]
    assert answer.headers["etag"] == 'W/"1"'
    client.patch(f"/api/v1/practitioners/{made['id']}", json={"active": False})
    changed = client.get(f"{BASE}/Practitioner/{made['id']}")
    assert fhir(changed)["active"] is False
    assert changed.headers["etag"] == 'W/"2"'


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"laurent", "martin", "gone"}),
        ({"name": "dr"}, {"laurent", "martin", "gone"}),
        ({"name": "laur"}, {"laurent"}),  # any word of the one name
        ({"name": "AMÉLIE"}, {"laurent"}),
        ({"name": "aurent"}, set()),
        ({"name:contains": "aurent"}, {"laurent"}),
        ({"name:exact": "Dr Paul Martin"}, {"martin"}),
        ({"name:exact": "dr paul martin"}, set()),
        ({"active": "true"}, {"laurent", "martin"}),
        ({"active": "false"}, {"gone"}),
        ({"identifier": "{martin}"}, {"martin"}),
        ({"identifier": f"{ID_SYSTEM}|{{martin}}"}, {"martin"}),
        ({"identifier": "urn:other|{martin}"}, set()),
        ({"identifier": "not-an-id"}, set()),
    ],
)
def test_practitioners_are_searched_by_name_identifier_and_active(
    client: TestClient, params: dict[str, str], expected: set[str]
) -> None:
    staff = _staff(client)
    ids = {key: person["id"] for key, person in staff.items()}
    sent = {name: value.format(**ids) for name, value in params.items()}
    found = entries(fhir(client.get(f"{BASE}/Practitioner", params=sent)))
    assert {p["id"] for p in found} == {ids[key] for key in expected}


def test_a_schedule_is_the_practitioners_with_their_id(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    answer = client.get(f"{BASE}/Schedule/{doctor['id']}")
    schedule = fhir(answer)
    assert schedule["id"] == doctor["id"]
    assert schedule["active"] is True
    assert schedule["actor"] == [
        {"reference": f"Practitioner/{doctor['id']}", "display": doctor["name"]}
    ]
    assert schedule["serviceType"] == [
        {
            "coding": [
                {
                    "system": CodeSystem.VISIT_TYPE.value,
                    "code": "micro-sclerotherapy-session",
                    "display": "Micro-sclerotherapy session",
                }
            ]
        }
    ]
    horizon = schedule["planningHorizon"]
    start, end = (datetime.fromisoformat(horizon[k]) for k in ("start", "end"))
    assert end - start == timedelta(days=90)
    assert schedule["meta"]["versionId"] == "1"
    assert answer.headers["etag"] == 'W/"1"'


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"laurent", "martin", "gone"}),
        ({"actor": "Practitioner/{martin}"}, {"martin"}),
        ({"actor": "{laurent},{martin}"}, {"laurent", "martin"}),
        ({"actor": "Practitioner/0b0b0b0b-0000-4000-8000-000000000000"}, set()),
        ({"actor": "abc"}, set()),
        ({"active": "false"}, {"gone"}),
        ({"active": "true", "actor": "{gone}"}, set()),
    ],
)
def test_schedules_are_searched_by_actor_and_active(
    client: TestClient, params: dict[str, str], expected: set[str]
) -> None:
    staff = _staff(client)
    ids = {key: person["id"] for key, person in staff.items()}
    sent = {name: value.format(**ids) for name, value in params.items()}
    found = entries(fhir(client.get(f"{BASE}/Schedule", params=sent)))
    assert {s["id"] for s in found} == {ids[key] for key in expected}
    assert all(s["resourceType"] == "Schedule" for s in found)


def test_practitioners_and_schedules_page(client: TestClient) -> None:
    made = {new_practitioner(client, name=f"Dr {n:02d}")["id"] for n in range(5)}
    for kind in ("Practitioner", "Schedule"):
        seen: list[str] = []
        url: str | None = f"{BASE}/{kind}?_count=2"
        while url is not None:
            page = fhir(client.get(url))
            seen += [r["id"] for r in entries(page)]
            url = link(page, "next")
        assert sorted(seen) == sorted(made)


@pytest.mark.parametrize("kind", ["Practitioner", "Schedule"])
@pytest.mark.parametrize("missing", ["0b0b0b0b-0000-4000-8000-000000000000", "Dr-Laurent"])
def test_unknown_ids_are_404_outcomes(client: TestClient, kind: str, missing: str) -> None:
    body = outcome(client.get(f"{BASE}/{kind}/{missing}"), 404, "not-found", "not-found")
    assert kind in body["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("Practitioner", {"actor": "x"}),
        ("Practitioner", {"active": "yes"}),
        ("Practitioner", {"name:fuzzy": "x"}),
        ("Schedule", {"actor": "Patient/0b0b0b0b-0000-4000-8000-000000000000"}),
        ("Schedule", {"actor": "https://elsewhere.example/fhir/Practitioner/1"}),
        ("Schedule", {"actor": "Practitioner/a b"}),
        ("Schedule", {"name": "x"}),
        ("Schedule", {"active": "1"}),
    ],
)
def test_bad_searches_are_400_outcomes(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    _staff(client)
    answer = client.get(f"{BASE}/{path}", params=params)
    assert answer.status_code == 400
    assert fhir(answer, 400)["resourceType"] == "OperationOutcome"
