"""Patients through HTTP: the whole life of a record, search, paging and every refusal."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    ApiClient,
    assert_problem,
    count_rows,
    new_patient,
    table_snapshot,
    tag_version,
)

MRN = "urn:oid:1.2.36.146.595.217.0.1"


def test_create_then_read_round_trips_every_field(client: TestClient) -> None:
    body = {
        "identifiers": [{"system": MRN, "value": "MRN-1"}],
        "given_name": "  Claire ",
        "family_name": "Dubois",
        "birth_date": "1984-03-12",
        "sex": "female",
        "phone": "+33 6 12 34 56 78",
        "email": "claire@example.org",
        "weight_kg": 64.5,
    }
    created = client.post("/api/v1/patients", json=body)
    assert created.status_code == 201
    patient = created.json()
    assert created.headers["location"] == f"/api/v1/patients/{patient['id']}"
    assert tag_version(created.headers["etag"]) == 1
    assert patient["given_name"] == "Claire"  # surrounding blanks are trimmed
    assert patient["identifiers"] == [{"system": MRN, "value": "MRN-1"}]
    assert patient["archived"] is False
    assert patient["version"] == 1
    assert patient["created_at"].endswith("Z")

    read = client.get(f"/api/v1/patients/{patient['id']}")
    assert read.status_code == 200
    assert read.json() == patient


def test_patch_changes_only_the_fields_sent(client: TestClient) -> None:
    patient = new_patient(client, phone="+33 1 23 45 67 89", weight_kg=70)
    response = client.patch(
        f"/api/v1/patients/{patient['id']}", json={"family_name": "Martin", "phone": None}
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["family_name"] == "Martin"
    assert updated["phone"] is None
    assert updated["given_name"] == patient["given_name"]
    assert updated["weight_kg"] == 70
    assert updated["version"] == 2
    assert tag_version(response.headers["etag"]) == 2


def test_patch_replaces_identifiers_and_bumps_the_version(client: TestClient) -> None:
    patient = new_patient(client, identifiers=[{"system": MRN, "value": "A"}])
    response = client.patch(
        f"/api/v1/patients/{patient['id']}",
        json={"identifiers": [{"system": MRN, "value": "A"}, {"system": "urn:ehr2", "value": "B"}]},
    )
    assert response.status_code == 200
    assert response.json()["identifiers"] == [
        {"system": MRN, "value": "A"},
        {"system": "urn:ehr2", "value": "B"},
    ]
    assert response.json()["version"] == 2
    # The freed identifier can go to someone else; the kept one cannot.
    client.patch(f"/api/v1/patients/{patient['id']}", json={"identifiers": []})
    other = new_patient(client, identifiers=[{"system": MRN, "value": "A"}])
    assert other["identifiers"] == [{"system": MRN, "value": "A"}]


def test_if_match_refuses_a_stale_update(client: TestClient) -> None:
    patient = new_patient(client)
    url = f"/api/v1/patients/{patient['id']}"
    assert (
        client.patch(url, json={"given_name": "Anne"}, headers={"If-Match": 'W/"1"'}).status_code
        == 200
    )
    stale = client.patch(url, json={"given_name": "Lost"}, headers={"If-Match": 'W/"1"'})
    body = assert_problem(stale, 412, "version-mismatch")
    assert body["current_version"] == 2
    assert client.get(url).json()["given_name"] == "Anne"
    assert_problem(
        client.patch(url, json={}, headers={"If-Match": "banana"}), 422, "validation-error"
    )


def test_archive_keeps_the_record_and_hides_it_from_lists(
    client: TestClient, engine: Engine
) -> None:
    kept = new_patient(client, given_name="Kept")
    gone = new_patient(client, given_name="Gone")
    response = client.delete(f"/api/v1/patients/{gone['id']}")
    assert response.status_code == 200
    assert response.json()["archived"] is True
    assert response.json()["archived_at"] is not None
    assert client.delete(f"/api/v1/patients/{gone['id']}").status_code == 200  # idempotent

    assert count_rows(engine, "patients") == 2
    listed = client.get("/api/v1/patients").json()["items"]
    assert [p["id"] for p in listed] == [kept["id"]]
    everyone = client.get("/api/v1/patients", params={"include_archived": "true"}).json()["items"]
    assert {p["id"] for p in everyone} == {kept["id"], gone["id"]}
    assert client.get(f"/api/v1/patients/{gone['id']}").json()["archived"] is True


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("claire", {"Claire Dubois"}),
        ("DUB", {"Claire Dubois", "Marc Dubreuil"}),
        ("élodie", {"Élodie Moreau"}),
        ("ÉLODIE mor", {"Élodie Moreau"}),
        ("marc dub", {"Marc Dubreuil"}),
        ("100%", set()),
        ("o_connor", set()),
    ],
)
def test_search_matches_given_or_family_name_ignoring_case(
    client: TestClient, q: str, expected: set[str]
) -> None:
    for given, family in [
        ("Claire", "Dubois"),
        ("Marc", "Dubreuil"),
        ("Élodie", "Moreau"),
        ("Grace", "OConnor"),
    ]:
        new_patient(client, given_name=given, family_name=family)
    items = client.get("/api/v1/patients", params={"q": q}).json()["items"]
    assert {f"{p['given_name']} {p['family_name']}" for p in items} == expected


def test_identifier_filter_finds_exactly_one_patient(client: TestClient) -> None:
    wanted = new_patient(client, identifiers=[{"system": MRN, "value": "MRN-7"}])
    new_patient(client, identifiers=[{"system": MRN, "value": "MRN-8"}])
    new_patient(client, identifiers=[{"system": "urn:other", "value": "MRN-7"}])
    response = client.get("/api/v1/patients", params={"identifier": f"{MRN}|MRN-7"})
    assert [p["id"] for p in response.json()["items"]] == [wanted["id"]]


def test_pages_cover_every_patient_once_in_a_stable_order(client: TestClient) -> None:
    names = [("Ana", "Zeller"), ("Bo", "adams"), ("Cy", "Adams"), ("Di", "Müller"), ("Ed", "Adams")]
    for given, family in names * 3:
        new_patient(client, given_name=given, family_name=family)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/patients", params=params).json()
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert len(seen) == len(set(seen)) == 15
    all_at_once = client.get("/api/v1/patients", params={"limit": 200}).json()
    assert [p["id"] for p in all_at_once["items"]] == seen
    assert all_at_once["next_cursor"] is None
    families = [p["family_name"].casefold() for p in all_at_once["items"]]
    assert families == sorted(families)


def test_duplicate_identifier_is_refused_and_changes_nothing(
    client: TestClient, engine: Engine
) -> None:
    first = new_patient(client, identifiers=[{"system": MRN, "value": "MRN-1"}])
    second = new_patient(
        client, given_name="Other", identifiers=[{"system": MRN, "value": "MRN-2"}]
    )
    before = table_snapshot(engine, "patients", "patient_identifiers")

    created = client.post(
        "/api/v1/patients",
        json={
            "given_name": "Dup",
            "family_name": "Licate",
            "birth_date": "1990-01-01",
            "sex": "male",
            "identifiers": [{"system": MRN, "value": "MRN-1"}],
        },
    )
    body = assert_problem(created, 409, "duplicate-identifier")
    assert body["identifier"] == {"system": MRN, "value": "MRN-1"}

    patched = client.patch(
        f"/api/v1/patients/{second['id']}",
        json={"given_name": "Changed", "identifiers": [{"system": MRN, "value": "MRN-1"}]},
    )
    assert_problem(patched, 409, "duplicate-identifier")
    assert table_snapshot(engine, "patients", "patient_identifiers") == before
    assert (
        client.get(f"/api/v1/patients/{first['id']}").json()["identifiers"][0]["value"] == "MRN-1"
    )


TOMORROW_EVERYWHERE = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
VALID = {
    "given_name": "Claire",
    "family_name": "Dubois",
    "birth_date": "1984-03-12",
    "sex": "female",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"birth_date": TOMORROW_EVERYWHERE}, "birth_date"),
        ({"birth_date": "1850-01-01"}, "birth_date"),
        ({"birth_date": "12/03/1984"}, "birth_date"),
        ({"sex": "f"}, "sex"),
        ({"email": "claire-at-example.org"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"given_name": "   "}, "given_name"),
        # The documented limit counts what is sent, white space included.
        ({"family_name": "\u0085" + "x" * 100}, "family_name"),
        ({"family_name": "x" * 101}, "family_name"),
        ({"given_name": "Bad\x00Name"}, "given_name"),
        ({"weight_kg": 0}, "weight_kg"),
        ({"weight_kg": "heavy"}, "weight_kg"),
        (
            {"identifiers": [{"system": "urn:a", "value": "1"}, {"system": "urn:a", "value": "1"}]},
            "identifiers",
        ),
        ({"identifiers": [{"system": "urn|a", "value": "1"}]}, "identifiers"),
        ({"identifiers": [{"system": "urn:a", "value": "1\x00"}]}, "identifiers"),
        ({"birth_date": 0}, "birth_date"),  # not read as 1970-01-01
        ({"weight_kg": True}, "weight_kg"),
        ({"outcome": "eligible"}, "outcome"),
    ],
)
def test_invalid_patient_is_a_422_naming_the_field(
    client: TestClient, engine: Engine, change: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/patients", json={**VALID, **change})
    body = assert_problem(response, 422, "validation-error")
    assert any(field in error["loc"] for error in body["errors"]), body["errors"]
    assert count_rows(engine, "patients") == 0


def test_missing_required_fields_are_listed(client: TestClient) -> None:
    body = assert_problem(client.post("/api/v1/patients", json={}), 422, "validation-error")
    missing = {error["loc"][-1] for error in body["errors"]}
    assert missing == {"given_name", "family_name", "birth_date", "sex"}


@pytest.mark.parametrize("field", ["given_name", "family_name", "birth_date", "sex", "identifiers"])
def test_patch_cannot_null_a_required_field(client: TestClient, field: str) -> None:
    patient = new_patient(client)
    response = client.patch(f"/api/v1/patients/{patient['id']}", json={field: None})
    assert_problem(response, 422, "validation-error")
    assert client.get(f"/api/v1/patients/{patient['id']}").json() == patient


def test_invalid_patch_leaves_the_record_as_it_was(client: TestClient, engine: Engine) -> None:
    patient = new_patient(client, email="a@example.org")
    before = table_snapshot(engine, "patients", "patient_identifiers")
    response = client.patch(
        f"/api/v1/patients/{patient['id']}", json={"given_name": "New", "email": "broken"}
    )
    assert_problem(response, 422, "validation-error")
    assert table_snapshot(engine, "patients", "patient_identifiers") == before


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WyJhIl0"},  # a well-formed cursor of the wrong shape
        {"cursor": "WyJhIiwiYiIsIm5vdC1hLXV1aWQiXQ"},  # right shape, not a uuid
        {"identifier": "no-separator"},
        {"identifier": "|value-only"},
        {"include_archived": "perhaps"},
        {"q": "a\x00b"},  # PostgreSQL cannot even compare text holding NUL
        {"identifier": "urn:a\x00|b"},
        {"cursor": "WyJhXHUwMDAwIiwiYiIsIjNjYjBmMTVjLTFmZDAtNDQ2Yy1iNjNlLWM2M2RlNTgyOGE1MyJd"},
    ],
)
def test_bad_list_parameters_are_422(client: TestClient, params: dict[str, object]) -> None:
    response = client.get("/api/v1/patients", params=params)
    assert response.status_code == 422
    assert response.json()["code"] in {"validation-error", "invalid-cursor", "invalid-query"}


def _forged_cursor(*parts: str) -> str:
    return json.dumps(list(parts))  # a lone surrogate is written \\ud800


@pytest.mark.parametrize(
    "cursor",
    [
        _forged_cursor("\ud800", "a", str(uuid.uuid4())),  # not valid Unicode
        _forged_cursor("a", "\udfff", str(uuid.uuid4())),
    ],
)
def test_forged_cursor_is_a_422_not_a_500(client: TestClient, cursor: str) -> None:
    """Even sealed with the server's own key (one that leaked, say), a cursor holding what the
    database cannot compare is refused."""
    new_patient(client)
    seal = client.app.state.cursor_seal  # type: ignore[attr-defined]
    for path in ("/api/v1/patients", "/api/v1/practitioners"):
        sealed = seal.seal(cursor, list_name=path)
        assert_problem(client.get(path, params={"cursor": sealed}), 422, "invalid-cursor")


def test_names_that_grow_when_case_folded_are_stored_and_found(client: TestClient) -> None:
    # "ß" folds to "ss": a 100-character name has a 200-character search key.
    patient = new_patient(client, family_name="ß" * 100, given_name="ﬀ" * 100)
    found = client.get("/api/v1/patients", params={"q": "SS" * 50}).json()["items"]
    assert [p["id"] for p in found] == [patient["id"]]
    practitioner = client.post(
        "/api/v1/practitioners", json={"name": "ß" * 200, "time_zone": "Europe/Paris"}
    )
    assert practitioner.status_code == 201, practitioner.text


def test_concurrent_patches_to_one_identifier_give_one_owner(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    patients = [new_patient(client, given_name=f"P{i}") for i in range(8)]
    barrier = threading.Barrier(len(patients))
    statuses: list[tuple[int, str | None]] = []

    def claim(patient_id: str) -> None:
        with ApiClient(app, headers=client.headers) as mine:
            barrier.wait()
            response = mine.patch(
                f"/api/v1/patients/{patient_id}",
                json={"identifiers": [{"system": MRN, "value": "RACE-1"}]},
            )
            code = response.json().get("code") if response.status_code != 200 else None
            statuses.append((response.status_code, code))

    threads = [threading.Thread(target=claim, args=(p["id"],)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses, key=str) == sorted(
        [(200, None)] + [(409, "duplicate-identifier")] * (len(patients) - 1), key=str
    )
    assert count_rows(engine, "patient_identifiers") == 1


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    missing = uuid.uuid4()
    assert_problem(client.get(f"/api/v1/patients/{missing}"), 404, "not-found")
    assert_problem(client.patch(f"/api/v1/patients/{missing}", json={}), 404, "not-found")
    assert_problem(client.delete(f"/api/v1/patients/{missing}"), 404, "not-found")
    assert_problem(client.get("/api/v1/patients/not-a-uuid"), 422, "validation-error")


def test_birth_date_today_is_accepted(client: TestClient) -> None:
    patient = new_patient(client, birth_date=date.today().isoformat())
    assert patient["birth_date"] == date.today().isoformat()
