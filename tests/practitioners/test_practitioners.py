"""Practitioners, weekly availability and time off through HTTP."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import assert_problem, count_rows, new_practitioner, table_snapshot


def test_create_read_and_list(client: TestClient) -> None:
    created = new_practitioner(
        client,
        availability=[
            {"weekday": 2, "start": "13:30", "end": "17:00"},
            {"weekday": 0, "start": "09:00", "end": "12:30"},
            {"weekday": 0, "start": "12:30", "end": "13:00"},  # touching is not overlapping
        ],
    )
    assert created["time_zone"] == "Europe/Paris"
    assert created["active"] is True
    # Hours that name no location are at the clinic's location in their zone, made for them.
    [site] = client.get("/api/v1/locations").json()["items"]
    assert (site["name"], site["time_zone"]) == ("Main site (Europe/Paris)", "Europe/Paris")
    assert created["availability"] == [
        {"weekday": 0, "start": "09:00", "end": "12:30", "location_id": site["id"]},
        {"weekday": 0, "start": "12:30", "end": "13:00", "location_id": site["id"]},
        {"weekday": 2, "start": "13:30", "end": "17:00", "location_id": site["id"]},
    ]
    assert client.get(f"/api/v1/practitioners/{created['id']}").json() == created
    assert client.get("/api/v1/practitioners").json() == {"items": [created], "next_cursor": None}


def test_time_zone_defaults_to_the_clinics(client: TestClient) -> None:
    response = client.post("/api/v1/practitioners", json={"name": "Dr Weber"})
    assert response.status_code == 201
    assert response.json()["time_zone"] == "Europe/Paris"  # the test clinic's setting
    assert response.json()["availability"] == []


def test_patch_replaces_the_weekly_schedule(client: TestClient, engine: Engine) -> None:
    practitioner = new_practitioner(client)
    url = f"/api/v1/practitioners/{practitioner['id']}"
    response = client.patch(
        url, json={"availability": [{"weekday": 4, "start": "08:00", "end": "12:00"}]}
    )
    assert response.status_code == 200
    site = practitioner["availability"][0]["location_id"]
    friday = {"weekday": 4, "start": "08:00", "end": "12:00", "location_id": site}
    assert response.json()["availability"] == [friday]
    assert response.json()["version"] == 2
    assert count_rows(engine, "practitioner_availability") == 1

    response = client.patch(url, json={"active": False, "time_zone": "America/New_York"})
    assert response.json()["active"] is False
    assert response.json()["time_zone"] == "America/New_York"
    # A new zone moves no hours: they stay at their location, on its clock.
    assert response.json()["availability"] == [friday]
    assert [
        p["id"]
        for p in client.get("/api/v1/practitioners", params={"active": False}).json()["items"]
    ] == [practitioner["id"]]
    assert client.get("/api/v1/practitioners", params={"active": True}).json()["items"] == []


def test_practitioner_pages(client: TestClient) -> None:
    ids = {new_practitioner(client, name=f"Dr {letter}")["id"] for letter in "EDCBA"}
    first = client.get("/api/v1/practitioners", params={"limit": 3}).json()
    assert [p["name"] for p in first["items"]] == ["Dr A", "Dr B", "Dr C"]
    second = client.get(
        "/api/v1/practitioners", params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    assert [p["name"] for p in second["items"]] == ["Dr D", "Dr E"]
    assert second["next_cursor"] is None
    assert {p["id"] for p in first["items"] + second["items"]} == ids


@pytest.mark.parametrize(
    "availability",
    [
        [{"weekday": 0, "start": "17:00", "end": "09:00"}],
        [{"weekday": 0, "start": "09:00", "end": "09:00"}],
        [{"weekday": 7, "start": "09:00", "end": "17:00"}],
        [{"weekday": -1, "start": "09:00", "end": "17:00"}],
        [{"weekday": 0, "start": "9:00", "end": "17:00"}],
        [{"weekday": 0, "start": "09:00", "end": "24:00"}],
        [{"weekday": 0, "start": "09:00"}],
        [{"weekday": 0, "start": "09:00", "end": "17:00", "room": 3}],
        [{"weekday": False, "start": "09:00", "end": "17:00"}],  # not read as Monday
        [
            {"weekday": 1, "start": "09:00", "end": "12:00"},
            {"weekday": 1, "start": "11:59", "end": "14:00"},
        ],
        [
            {"weekday": 1, "start": "08:00", "end": "18:00"},
            {"weekday": 1, "start": "10:00", "end": "11:00"},
        ],
    ],
)
def test_invalid_availability_is_a_422(
    client: TestClient, engine: Engine, availability: list[dict[str, object]]
) -> None:
    response = client.post(
        "/api/v1/practitioners", json={"name": "Dr X", "availability": availability}
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"][:2] == ["body", "availability"]
    assert count_rows(engine, "practitioners") == 0


@pytest.mark.parametrize(
    # `localtime` is a name the host may have, meaning its own clock: not a zone.
    "zone",
    ["Mars/Olympus", "CET+1", "", "europe/paris", "../../etc/passwd", "localtime", "Factory"],
)
def test_unknown_time_zone_is_a_422(client: TestClient, zone: str) -> None:
    response = client.post("/api/v1/practitioners", json={"name": "Dr X", "time_zone": zone})
    assert_problem(response, 422, "validation-error")


def test_invalid_update_changes_nothing(client: TestClient, engine: Engine) -> None:
    practitioner = new_practitioner(client)
    before = table_snapshot(engine, "practitioners", "practitioner_availability")
    url = f"/api/v1/practitioners/{practitioner['id']}"
    overlapping = [
        {"weekday": 1, "start": "09:00", "end": "12:00"},
        {"weekday": 1, "start": "10:00", "end": "14:00"},
    ]
    assert_problem(client.patch(url, json={"availability": overlapping}), 422, "validation-error")
    null = assert_problem(client.patch(url, json={"name": None}), 422, "validation-error")
    assert null["errors"][0]["loc"] == ["body", "name"]
    assert_problem(client.patch(url, json={"time_zone": "Nowhere/Land"}), 422, "validation-error")
    assert_problem(
        client.patch(url, json={"name": "Dr Y"}, headers={"If-Match": 'W/"9"'}),
        412,
        "version-mismatch",
    )
    assert table_snapshot(engine, "practitioners", "practitioner_availability") == before


def test_time_off_is_recorded_in_utc_and_listed_by_start(client: TestClient) -> None:
    practitioner = new_practitioner(client)
    url = f"/api/v1/practitioners/{practitioner['id']}/time-off"
    later = client.post(
        url,
        json={
            "start": "2027-02-01T00:00:00+01:00",
            "end": "2027-02-08T00:00:00+01:00",
            "reason": "Ski",
        },
    )
    assert later.status_code == 201
    assert later.json()["start"] == "2027-01-31T23:00:00Z"
    assert later.json()["practitioner_id"] == practitioner["id"]
    sooner = client.post(
        url,
        json={
            "start": "2026-12-24T08:00:00-05:00",
            "end": "2026-12-26T08:00:00-05:00",
            "reason": "Holidays",
        },
    ).json()
    listed = client.get(url).json()
    assert [t["id"] for t in listed["items"]] == [sooner["id"], later.json()["id"]]

    window = client.get(url, params={"from": "2027-01-01T00:00:00Z", "to": "2027-12-31T00:00:00Z"})
    assert [t["reason"] for t in window.json()["items"]] == ["Ski"]
    paged = client.get(url, params={"limit": 1}).json()
    rest = client.get(url, params={"limit": 1, "cursor": paged["next_cursor"]}).json()
    assert [t["reason"] for t in paged["items"] + rest["items"]] == ["Holidays", "Ski"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    "body",
    [
        {
            "start": "2027-02-01T00:00:00",
            "end": "2027-02-02T00:00:00+00:00",
            "reason": "naive start",
        },
        {"start": "2027-02-01T00:00:00Z", "end": "2027-02-01T00:00:00Z", "reason": "empty"},
        {"start": "2027-02-02T00:00:00Z", "end": "2027-02-01T00:00:00Z", "reason": "backwards"},
        {"start": "2027-02-01T00:00:00Z", "end": "2029-02-01T00:00:00Z", "reason": "two years"},
        {"start": "2027-02-01T00:00:00Z", "end": "2027-02-02T00:00:00Z"},
        {"start": "2027-02-01T00:00:00Z", "end": "2027-02-02T00:00:00Z", "reason": ""},
        {"start": "tomorrow", "end": "2027-02-02T00:00:00Z", "reason": "words"},
        {"start": 1800000000, "end": "2027-02-02T00:00:00Z", "reason": "epoch seconds"},
        {"start": "0001-01-01T00:00:00+00:01", "end": "2027-02-02T00:00:00Z", "reason": "year 1"},
    ],
)
def test_invalid_time_off_is_a_422(
    client: TestClient, engine: Engine, body: dict[str, str]
) -> None:
    practitioner = new_practitioner(client)
    response = client.post(f"/api/v1/practitioners/{practitioner['id']}/time-off", json=body)
    assert_problem(response, 422, "validation-error")
    assert count_rows(engine, "practitioner_time_off") == 0


def test_time_off_of_an_unknown_practitioner_is_a_404(client: TestClient) -> None:
    url = f"/api/v1/practitioners/{uuid.uuid4()}/time-off"
    body = {"start": "2027-02-01T00:00:00Z", "end": "2027-02-02T00:00:00Z", "reason": "x"}
    assert_problem(client.post(url, json=body), 404, "not-found")
    assert_problem(client.get(url), 404, "not-found")
    assert_problem(client.get(url, params={"from": "2027-02-01"}), 422, "validation-error")


@pytest.mark.parametrize(
    "start", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2027-02-01T00:00:00"]
)
def test_forged_time_off_cursor_is_a_422(client: TestClient, start: str) -> None:
    practitioner = new_practitioner(client)
    seal = client.app.state.cursor_seal  # type: ignore[attr-defined]
    path = "/api/v1/practitioners/{practitioner_id}/time-off"
    cursor = seal.seal(json.dumps([start, str(uuid.uuid4())]), list_name=path)
    response = client.get(
        path.format(practitioner_id=practitioner["id"]), params={"cursor": cursor}
    )
    assert_problem(response, 422, "invalid-cursor")
