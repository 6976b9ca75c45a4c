"""Locations, their rooms and the rooms' closures through HTTP: set up, read, changed with
If-Match, refused when malformed (nothing stored), and audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.roles import Role
from tests.factories import (
    ClientFactory,
    Clock,
    assert_problem,
    count_rows,
    new_practitioner,
    new_room,
    table_snapshot,
)
from tests.locations.sites import new_location


def _ahead(days: int) -> str:
    """The UTC date `days` from today: closures are for a time still to come."""
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _events(engine: Engine, kind: str) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT action, resource_id FROM audit_events WHERE resource_type = :kind "
                "ORDER BY seq"
            ),
            {"kind": kind},
        )
        return [(action, str(uuid.UUID(str(rid)))) for action, rid in rows]


def test_a_location_and_its_rooms_are_set_up_read_and_listed(
    client: TestClient, engine: Engine
) -> None:
    site = new_location(client, time_zone="Europe/London")
    assert (site["name"], site["address"], site["time_zone"]) == (
        "Clinique Rive Gauche",
        "12 rue de Rennes, Paris",
        "Europe/London",
    )
    assert new_location(client, name="Annexe")["time_zone"] == "Europe/Paris"  # the clinic's
    read = client.get(f"/api/v1/locations/{site['id']}")
    assert read.json() == site
    assert read.headers["etag"].startswith('W/"1-')
    names = [item["name"] for item in client.get("/api/v1/locations").json()["items"]]
    assert names == ["Annexe", "Clinique Rive Gauche"]

    rooms = f"/api/v1/locations/{site['id']}/rooms"
    second = new_room(client, site["id"], name="Room B")
    first = new_room(client, site["id"], name="room a", active=False)
    assert (first["location_id"], first["active"], second["active"]) == (site["id"], False, True)
    assert [r["name"] for r in client.get(rooms).json()["items"]] == ["room a", "Room B"]
    assert [r["id"] for r in client.get(rooms, params={"active": True}).json()["items"]] == [
        second["id"]
    ]
    paged = client.get(rooms, params={"limit": 1}).json()
    rest = client.get(rooms, params={"limit": 1, "cursor": paged["next_cursor"]}).json()
    assert [r["id"] for r in paged["items"] + rest["items"]] == [first["id"], second["id"]]
    assert client.get(f"{rooms}/{second['id']}").json() == second
    assert _events(engine, "location")[0] == ("create", site["id"])
    assert _events(engine, "room") == [("create", second["id"]), ("create", first["id"])]


def test_a_room_is_renamed_and_taken_out_of_use_with_if_match(
    client: TestClient, engine: Engine
) -> None:
    site = new_location(client)
    room = new_room(client, site["id"], name="Room 1")
    url = f"/api/v1/locations/{site['id']}/rooms/{room['id']}"
    etag = client.get(url).headers["etag"]
    renamed = client.patch(url, json={"name": "Laser room"}, headers={"If-Match": etag})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["version"]) == ("Laser room", 2)
    assert renamed.json()["affected_sessions"] == []
    stale = client.patch(url, json={"active": False}, headers={"If-Match": etag})
    assert_problem(stale, 412, "version-mismatch")
    assert client.get(url).json()["active"] is True
    off = client.patch(url, json={"active": False}, headers={"If-Match": renamed.headers["etag"]})
    assert (off.json()["active"], off.json()["version"]) == (False, 3)
    assert _events(engine, "room")[-2:] == [("update", room["id"]), ("update", room["id"])]


def test_closures_are_recorded_listed_and_removed(client: TestClient, engine: Engine) -> None:
    site = new_location(client)
    room = new_room(client, site["id"])
    url = f"/api/v1/locations/{site['id']}/rooms/{room['id']}/closures"
    march, february, february_next, mid = _ahead(90), _ahead(60), _ahead(61), _ahead(75)
    later = client.post(
        url,
        json={
            "start": f"{march}T08:00:00+01:00",
            "end": f"{march}T13:00:00+01:00",
            "reason": "Laser maintenance",
        },
    )
    assert later.status_code == 201, later.text
    assert (later.json()["start"], later.json()["room_id"]) == (f"{march}T07:00:00Z", room["id"])
    assert later.json()["affected_sessions"] == []
    sooner = client.post(
        url,
        json={
            "start": f"{february}T08:00:00Z",
            "end": f"{february_next}T08:00:00Z",
            "reason": "Paint",
        },
    ).json()
    assert [c["id"] for c in client.get(url).json()["items"]] == [sooner["id"], later.json()["id"]]
    window = client.get(url, params={"from": f"{mid}T00:00:00Z"}).json()["items"]
    assert [c["reason"] for c in window] == ["Laser maintenance"]
    gone = client.delete(f"{url}/{sooner['id']}")
    assert gone.status_code == 204
    assert_problem(client.delete(f"{url}/{sooner['id']}"), 404, "not-found")
    assert [c["reason"] for c in client.get(url).json()["items"]] == ["Laser maintenance"]
    assert [action for action, _ in _events(engine, "room")] == [
        "create",
        "add-closure",
        "add-closure",
        "remove-closure",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "Site", "time_zone": "Mars/Olympus"},
        {"name": "Site", "time_zone": "europe/paris"},
        {"name": "Site", "address": "12 rue\nde Rennes"},
        {"name": "Site", "address": ""},
        {"name": "Site", "address": "x" * 501},
        {"name": "x" * 201},
        {"name": "Site", "rooms": 3},
        {"name": 7},
    ],
)
def test_a_malformed_location_is_a_422_and_stores_nothing(
    client: TestClient, engine: Engine, body: dict[str, Any]
) -> None:
    assert_problem(client.post("/api/v1/locations", json=body), 422, "validation-error")
    assert count_rows(engine, "locations") == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "Room", "active": "yes"}, {"name": "Room", "active": None}],
)
def test_a_malformed_room_is_a_422_and_stores_nothing(
    client: TestClient, engine: Engine, body: dict[str, Any]
) -> None:
    site = new_location(client)
    response = client.post(f"/api/v1/locations/{site['id']}/rooms", json=body)
    assert_problem(response, 422, "validation-error")
    assert count_rows(engine, "rooms") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"start": "2027-02-01T00:00:00", "end": "2027-02-02T00:00:00Z", "reason": "naive"},
        {"start": "2027-02-02T00:00:00Z", "end": "2027-02-01T00:00:00Z", "reason": "backwards"},
        {"start": "2027-02-01T00:00:00Z", "end": "2027-02-01T00:00:00Z", "reason": "empty"},
        {"start": "2027-02-01T00:00:00Z", "end": "2029-02-01T00:00:00Z", "reason": "years"},
        {"start": "2027-02-01T00:00:00Z", "end": "2027-02-02T00:00:00Z"},
        {"start": "2027-02-01T00:00:00Z", "end": "2027-02-02T00:00:00Z", "reason": ""},
        {"start": "soon", "end": "2027-02-02T00:00:00Z", "reason": "words"},
    ],
)
def test_a_malformed_closure_is_a_422_and_stores_nothing(
    client: TestClient, engine: Engine, body: dict[str, Any]
) -> None:
    site = new_location(client)
    room = new_room(client, site["id"])
    url = f"/api/v1/locations/{site['id']}/rooms/{room['id']}/closures"
    assert_problem(client.post(url, json=body), 422, "validation-error")
    assert count_rows(engine, "room_closures") == 0


def test_what_is_not_there_is_a_404_and_a_bad_change_changes_nothing(
    client: TestClient, engine: Engine
) -> None:
    site, other = new_location(client), new_location(client, name="Other")
    room = new_room(client, site["id"])
    nowhere = uuid.uuid4()
    assert_problem(client.get(f"/api/v1/locations/{nowhere}"), 404, "not-found")
    assert_problem(client.get(f"/api/v1/locations/{nowhere}/rooms"), 404, "not-found")
    assert_problem(
        client.post(f"/api/v1/locations/{nowhere}/rooms", json={"name": "R"}), 404, "not-found"
    )
    # A room is found under its own location only.
    elsewhere = f"/api/v1/locations/{other['id']}/rooms/{room['id']}"
    assert_problem(client.get(elsewhere), 404, "not-found")
    assert_problem(client.patch(elsewhere, json={"name": "X"}), 404, "not-found")
    assert_problem(client.get(f"{elsewhere}/closures"), 404, "not-found")
    closure = {"start": "2027-02-01T00:00:00Z", "end": "2027-02-02T00:00:00Z", "reason": "x"}
    assert_problem(client.post(f"{elsewhere}/closures", json=closure), 404, "not-found")
    assert_problem(client.get("/api/v1/locations/not-a-uuid"), 422, "validation-error")
    url = f"/api/v1/locations/{site['id']}/rooms/{room['id']}"
    before = table_snapshot(engine, "rooms", "room_closures")
    for body in ({"name": None}, {"active": None}, {"active": 1}, {"floor": 2}):
        assert_problem(client.patch(url, json=body), 422, "validation-error")
    assert_problem(client.delete(f"{url}/closures/{uuid.uuid4()}"), 404, "not-found")
    assert table_snapshot(engine, "rooms", "room_closures") == before


def test_practitioners_hours_name_their_location(client: TestClient, engine: Engine) -> None:
    london = new_location(client, name="London", time_zone="Europe/London")
    doctor = new_practitioner(
        client,
        availability=[
            {"weekday": 0, "start": "09:00", "end": "12:00", "location_id": london["id"]},
            {"weekday": 1, "start": "09:00", "end": "12:00"},  # the Paris site, made for it
        ],
    )
    sites = {s["name"]: s["id"] for s in client.get("/api/v1/locations").json()["items"]}
    assert sites.keys() == {"London", "Main site (Europe/Paris)"}
    assert [(h["weekday"], h["location_id"]) for h in doctor["availability"]] == [
        (0, london["id"]),
        (1, sites["Main site (Europe/Paris)"]),
    ]
    before = table_snapshot(engine, "practitioners", "practitioner_availability")
    nowhere = str(uuid.uuid4())
    hours = [
        {"weekday": 2, "start": "09:00", "end": "12:00"},
        {"weekday": 3, "start": "09:00", "end": "12:00", "location_id": nowhere},
    ]
    refused = client.patch(f"/api/v1/practitioners/{doctor['id']}", json={"availability": hours})
    assert assert_problem(refused, 422, "unknown-location")["field"] == "availability.1.location_id"
    assert table_snapshot(engine, "practitioners", "practitioner_availability") == before
    made = client.post("/api/v1/practitioners", json={"name": "Dr Z", "availability": hours})
    assert_problem(made, 422, "unknown-location")
    assert count_rows(engine, "practitioners") == 1
    # Moved to Tokyo with hours naming no location: at a Tokyo site, made for them; the
    # practitioner is written once (one version more).
    moved = client.patch(
        f"/api/v1/practitioners/{doctor['id']}",
        json={"time_zone": "Asia/Tokyo", "availability": hours[:1]},
    ).json()
    sites = client.get("/api/v1/locations").json()["items"]
    [tokyo] = [s for s in sites if s["time_zone"] == "Asia/Tokyo"]
    assert [h["location_id"] for h in moved["availability"]] == [tokyo["id"]]
    assert moved["version"] == doctor["version"] + 1


def test_clinic_set_up_is_the_administrators_and_closures_the_staffs(
    client: TestClient, client_as: ClientFactory, engine: Engine
) -> None:
    site = new_location(client)
    room = new_room(client, site["id"])
    desk = client_as(Role.RECEPTIONIST)
    assert_problem(desk.post("/api/v1/locations", json={"name": "Mine"}), 403, "forbidden")
    refused = desk.post(f"/api/v1/locations/{site['id']}/rooms", json={"name": "Mine"})
    assert assert_problem(refused, 403, "forbidden")["required_permission"] == "locations:manage"
    assert count_rows(engine, "rooms") == 1
    day = _ahead(60)
    closure = {"start": f"{day}T08:00:00Z", "end": f"{day}T12:00:00Z", "reason": "Paint"}
    closed = desk.post(f"/api/v1/locations/{site['id']}/rooms/{room['id']}/closures", json=closure)
    assert closed.status_code == 201, closed.text
    ehr = client_as(Role.INTEGRATION)
    assert [r["id"] for r in ehr.get(f"/api/v1/locations/{site['id']}/rooms").json()["items"]] == [
        room["id"]
    ]


def test_a_closure_over_already_is_refused_and_one_begun_is_kept(
    client: TestClient, clock: Clock, engine: Engine
) -> None:
    """A closure that ends at or before now closes nothing: 422 `closure-in-past`, nothing
    stored. One that has begun but not ended is kept as sent, its start in the past."""
    site = new_location(client)
    room = new_room(client, site["id"])
    url = f"/api/v1/locations/{site['id']}/rooms/{room['id']}/closures"
    now = datetime(2031, 5, 6, 9, 30, tzinfo=UTC)
    clock.travel_to(now)

    def close(start: datetime, end: datetime) -> Any:
        body = {"start": start.isoformat(), "end": end.isoformat(), "reason": "Laser maintenance"}
        return client.post(url, json=body)

    hour = timedelta(hours=1)
    for start, end in ((now - 3 * hour, now - hour), (now - 2 * hour, now)):
        refused = assert_problem(close(start, end), 422, "closure-in-past")
        assert refused["field"] == "end"
    assert count_rows(engine, "room_closures") == 0
    begun = close(now - hour, now + hour)
    assert begun.status_code == 201, begun.text
    assert datetime.fromisoformat(begun.json()["start"]) == now - hour
    assert [c["id"] for c in client.get(url).json()["items"]] == [begun.json()["id"]]
    documented = client.get("/openapi.json").json()["paths"][
        "/api/v1/locations/{location_id}/rooms/{room_id}/closures"
    ]["post"]["responses"]["422"]
    assert "closure-in-past" in str(documented)
