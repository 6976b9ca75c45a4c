"""The audit trail: each step of a day at the clinic leaves exactly its events, denied
attempts included, and nothing can change or remove an event."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.roles import Role
from tests.factories import (
    TEST_PASSWORD,
    WEEKDAYS_9_TO_17,
    ClientFactory,
    Clock,
    UserFactory,
    assert_problem,
    consented,
    link_practitioner,
    new_patient,
    next_weekday_at,
    record_evaluation,
)

COLUMNS = "actor_kind, actor_id, role, action, resource_type, resource_id, patient_id, outcome"


class Trail:
    """Reads the audit table directly: what each step added, in order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen = self._count()

    def _count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one())

    def added(self) -> list[tuple[Any, ...]]:
        """The events written since the last call, as (kind, actor, role, action, type,
        resource, patient, outcome) with ids as strings."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(f"SELECT {COLUMNS} FROM audit_events ORDER BY at, id")
            ).all()
        new = rows[self.seen :]
        self.seen = len(rows)
        return sorted(tuple(_plain(v) for v in row) for row in new)


def _plain(value: Any) -> Any:
    """Ids as the API writes them (SQLite keeps them as bare hex)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and len(value) == 32:
        try:
            return str(uuid.UUID(hex=value))
        except ValueError:
            return value
    return value


def _id(client: TestClient) -> str:
    me: str = client.get("/api/v1/auth/me").json()["id"]
    return me


def test_each_step_of_a_course_leaves_exactly_its_audit_events(
    client_as: ClientFactory, engine: Engine, clock: Clock
) -> None:
    desk, doctor = client_as(Role.RECEPTIONIST), client_as(Role.CLINICIAN)
    desk_id, doctor_id = _id(desk), _id(doctor)
    practitioner = doctor.post(
        "/api/v1/practitioners",
        json={"name": "Dr Laurent", "time_zone": "Europe/Paris", "availability": WEEKDAYS_9_TO_17},
    ).json()
    link_practitioner(engine, doctor_id, practitioner["id"])  # the clinician is Dr Laurent
    trail = Trail(engine)

    def desk_event(action: str, kind: str, resource: str, patient: str) -> tuple[Any, ...]:
        return ("user", desk_id, "receptionist", action, kind, resource, patient, "success")

    response = desk.post(
        "/api/v1/patients",
        json={
            "given_name": "Odile",
            "family_name": "Vasquez",
            "birth_date": "1980-01-01",
            "sex": "female",
        },
    )
    patient = response.json()["id"]
    assert trail.added() == [desk_event("create", "patient", patient, patient)]

    desk.get(f"/api/v1/patients/{patient}")
    assert trail.added() == [desk_event("read", "patient", patient, patient)]

    other = desk.post(
        "/api/v1/patients",
        json={"given_name": "Ana", "family_name": "Vidal", "birth_date": "1990-05-05", "sex": "f"},
    )
    assert other.status_code == 422  # refused before anything happened: no event
    assert trail.added() == []

    desk.patch(f"/api/v1/patients/{patient}", json={"phone": "+33 6 00 00 00 01"})
    assert trail.added() == [desk_event("update", "patient", patient, patient)]

    listed = desk.get("/api/v1/patients").json()["items"]
    assert [p["id"] for p in listed] == [patient]
    assert trail.added() == [desk_event("list", "patient", None, patient)]

    evaluation = record_evaluation(
        doctor, patient, practitioner["id"], consent=False, risks={"hormonal_contraception": True}
    )["id"]
    assert trail.added() == [
        ("user", doctor_id, "clinician", "create", "evaluation", evaluation, patient, "success")
    ]

    consent = consented(doctor, patient, None)["id"]  # signed as Dr Laurent
    assert trail.added() == [
        ("user", doctor_id, "clinician", "create", "consent", consent, patient, "success")
    ]
    desk.get(f"/api/v1/consents/{consent}")
    assert trail.added() == [desk_event("read", "consent", consent, patient)]

    desk.get(f"/api/v1/evaluations/{evaluation}")
    assert trail.added() == [desk_event("read", "evaluation", evaluation, patient)]

    clearance = {"practitioner_id": practitioner["id"], "reason": "Pill stopped in March"}
    refused = desk.post(f"/api/v1/evaluations/{evaluation}/clearance", json=clearance)
    assert_problem(refused, 403, "forbidden")
    assert trail.added() == [
        ("user", desk_id, "receptionist", "write", "evaluation", evaluation, patient, "denied")
    ]

    doctor.post(f"/api/v1/evaluations/{evaluation}/clearance", json=clearance)
    assert trail.added() == [
        ("user", doctor_id, "clinician", "clear", "evaluation", evaluation, patient, "success")
    ]

    desk.get(f"/api/v1/patients/{patient}/eligibility")
    assert trail.added() == [desk_event("read-eligibility", "patient", patient, patient)]

    start = next_weekday_at(1, 10).isoformat()
    proposals = desk.post(
        "/api/v1/scheduling/proposals",
        json={
            "patient_id": patient,
            "practitioner_id": practitioner["id"],
            "sessions": 1,
            "earliest": start[:10],
        },
    )
    assert proposals.status_code == 200, proposals.text
    assert trail.added() == [desk_event("propose", "patient", patient, patient)]

    booking = {"patient_id": patient, "practitioner_id": practitioner["id"], "start": start}
    visit = desk.post("/api/v1/sessions", json=booking).json()["id"]
    assert trail.added() == [desk_event("book", "session", visit, patient)]

    assert_problem(desk.post("/api/v1/sessions", json=booking), 409, "slot-taken")
    assert trail.added() == []  # the refused booking rolled back with its event

    clock.on_the_day_of({"start": start})
    desk.post(f"/api/v1/sessions/{visit}/check-in")
    assert trail.added() == [desk_event("check-in", "session", visit, patient)]

    record = {
        "treated_sites": ["left-calf"],
        "sclerosant": "polidocanol",
        "concentration_percent": 0.5,
        "volume_ml": 2,
    }
    assert_problem(desk.post(f"/api/v1/sessions/{visit}/complete", json=record), 403, "forbidden")
    assert trail.added() == [
        ("user", desk_id, "receptionist", "complete", "session", visit, patient, "denied")
    ]

    assert doctor.post(f"/api/v1/sessions/{visit}/complete", json=record).status_code == 200
    assert trail.added() == [
        ("user", doctor_id, "clinician", "complete", "session", visit, patient, "success")
    ]

    desk.get(f"/api/v1/sessions?patient_id={patient}")
    desk.get(f"/api/v1/sessions/{visit}")
    assert trail.added() == sorted(
        [
            desk_event("list", "session", None, patient),
            desk_event("read", "session", visit, patient),
        ]
    )

    desk.delete(f"/api/v1/patients/{patient}")
    assert trail.added() == [desk_event("archive", "patient", patient, patient)]


def test_a_list_is_one_event_naming_every_record_and_patient_it_showed(
    client: TestClient, client_as: ClientFactory, engine: Engine
) -> None:
    desk = client_as(Role.RECEPTIONIST)
    body = {
        "given_name": "Inès",
        "family_name": "Morel",
        "birth_date": "1975-03-03",
        "sex": "female",
    }
    shown = [
        desk.post("/api/v1/patients", json={**body, "given_name": n}).json()["id"] for n in "AB"
    ]
    trail = Trail(engine)
    listed = desk.get("/api/v1/patients", params={"q": "Morel"}).json()["items"]
    assert sorted(p["id"] for p in listed) == sorted(shown)
    assert len(trail.added()) == 1  # one event, however many records
    for patient in shown:
        events = client.get("/api/v1/audit-events", params={"patient_id": patient}).json()["items"]
        (listing,) = [e for e in events if e["action"] == "search"]  # a list, searched
        assert listing["patient_id"] is None  # two patients' records
        assert sorted(listing["patient_ids"]) == sorted(shown)
        assert sorted(listing["resource_ids"]) == sorted(shown)
    nobody = client.get("/api/v1/audit-events", params={"patient_id": str(uuid.uuid4())})
    assert nobody.json()["items"] == []
    trail.added()  # the searches themselves
    assert desk.get("/api/v1/patients", params={"q": "Nobody"}).json()["items"] == []
    assert len(trail.added()) == 1  # a search that found no one is still a search


def test_logins_and_refused_logins_are_recorded(
    anonymous: TestClient, make_user: UserFactory, engine: Engine
) -> None:
    user = str(make_user(Role.CLINICIAN, "c.moreau"))
    trail = Trail(engine)
    ok = anonymous.post(
        "/api/v1/auth/token", data={"username": "c.moreau", "password": TEST_PASSWORD}
    )
    assert ok.status_code == 200
    assert trail.added() == [("user", user, "clinician", "log-in", "user", user, None, "success")]
    anonymous.post("/api/v1/auth/token", data={"username": "c.moreau", "password": "guess"})
    assert trail.added() == [("anonymous", None, None, "log-in", "user", None, None, "denied")]
    with engine.connect() as connection:
        last = connection.execute(
            text("SELECT actor_name, detail FROM audit_events ORDER BY at DESC LIMIT 1")
        ).one()
    assert tuple(last) == ("c.moreau", "invalid-credentials from testclient")


def test_admins_search_the_trail_by_patient_actor_resource_outcome_and_time(
    client: TestClient, client_as: ClientFactory
) -> None:
    desk = client_as(Role.RECEPTIONIST)
    desk_id = _id(desk)
    body = {"given_name": "Léa", "family_name": "Roux", "birth_date": "1970-02-02", "sex": "female"}
    first = desk.post("/api/v1/patients", json=body).json()["id"]
    second = client.post("/api/v1/patients", json={**body, "given_name": "Zoé"}).json()["id"]
    for _ in range(3):
        desk.get(f"/api/v1/patients/{first}")
    desk.post(f"/api/v1/evaluations/{uuid.uuid4()}/clearance", json={})  # denied

    def search(**query: Any) -> list[dict[str, Any]]:
        response = client.get("/api/v1/audit-events", params=query)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    about_first = search(patient_id=first)
    assert [e["action"] for e in about_first] == ["read", "read", "read", "create"]  # newest first
    assert {e["actor_id"] for e in about_first} == {desk_id}
    assert all(e["request_id"] and e["role"] == "receptionist" for e in about_first)
    assert [e["resource_id"] for e in search(patient_id=second)] == [second]
    assert {e["patient_id"] for e in search(actor_id=desk_id, resource_type="patient")} == {first}
    denied = search(outcome="denied")
    assert [(e["action"], e["resource_type"], e["detail"]) for e in denied] == [
        ("write", "evaluation", "role receptionist lacks clearances:write")
    ]
    moment = about_first[1]["at"]
    assert [e["at"] for e in search(patient_id=first, to=moment)] == [
        e["at"] for e in about_first[2:]
    ]
    since = search(patient_id=first, **{"from": moment})
    assert [e["at"] for e in since] == [e["at"] for e in about_first[:2]]

    pages, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/audit-events",
            params={"patient_id": first, "limit": 2, **({"cursor": cursor} if cursor else {})},
        ).json()
        pages.append([e["id"] for e in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i for page in pages for i in page] == [e["id"] for e in about_first]

    assert_problem(
        client.get("/api/v1/audit-events", params={"from": moment, "to": moment}),
        422,
        "invalid-query",
    )
    assert_problem(
        client.get("/api/v1/audit-events", params={"resource_type": "spaceship"}),
        422,
        "validation-error",
    )
    # Reading the trail is itself on the trail.
    assert search(resource_type="audit-trail")


def test_no_route_changes_or_removes_an_event(client: TestClient) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        assert_problem(client.request(method, "/api/v1/audit-events"), 405, "method-not-allowed")
        assert_problem(
            client.request(method, f"/api/v1/audit-events/{uuid.uuid4()}"), 404, "not-found"
        )


def test_postgresql_refuses_to_update_or_delete_an_event(
    client: TestClient, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's (the suite runs there in CI)")
    client.post(
        "/api/v1/patients",
        json={
            "given_name": "Ines",
            "family_name": "Costa",
            "birth_date": "1977-07-07",
            "sex": "female",
        },
    )
    before = Trail(engine).seen
    assert before >= 1
    for statement in (
        "UPDATE audit_events SET action = 'nothing-happened'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert Trail(engine).seen == before


@pytest.mark.parametrize("sent", ["c.moreau\r\n", "c.mo\u202eueroM.c", "c.moreau\x85", "\x00"])
def test_a_login_with_control_or_format_characters_is_refused_and_not_recorded(
    anonymous: TestClient, make_user: UserFactory, engine: Engine, sent: str
) -> None:
    """The finding: a username with CR/LF and a right-to-left override was stored verbatim in
    the trail. No username holds one (they are refused at creation), so the attempt is a 422
    before it is tried, and leaves nothing to forge an event with."""
    make_user(Role.CLINICIAN, "c.moreau")
    trail = Trail(engine)
    tried = anonymous.post("/api/v1/auth/token", data={"username": sent, "password": "guess"})
    body = assert_problem(tried, 422, "validation-error")
    assert [e["loc"] for e in body["errors"]] == [["body", "username"]]
    assert trail.added() == []


@pytest.mark.parametrize("username", ["front\ndesk", "front\u202edesk", "front\u200bdesk"])
def test_usernames_refuse_control_and_format_characters(client: TestClient, username: str) -> None:
    made = client.post(
        "/api/v1/users",
        json={"username": username, "password": TEST_PASSWORD, "role": "receptionist"},
    )
    assert_problem(made, 422, "validation-error")


def test_an_api_key_name_cannot_turn_the_trail_around(client: TestClient) -> None:
    for name in ("EHR\u202etxeN", "EHR\u2066x", "EH\x85R", "EHR\u2028two"):
        made = client.post("/api/v1/api-keys", json={"name": name})
        assert_problem(made, 422, "validation-error")
    assert client.post("/api/v1/api-keys", json={"name": "مستشفى"}).status_code == 201


def test_the_trail_keeps_the_servers_request_id_never_the_clients(
    client: TestClient, anonymous: TestClient
) -> None:
    """The finding: a client's X-Request-ID was stored as the event's, so a client could give
    two requests one id. The server makes its own for each; the client's, if plain, is sent
    back apart (X-Client-Request-ID) and logged, never stored as the server's."""
    patient = new_patient(client)["id"]
    answers = [
        client.get(f"/api/v1/patients/{patient}", headers={"X-Request-ID": "ehr-trace-42"})
        for _ in range(2)
    ]
    ours = [a.headers["x-request-id"] for a in answers]
    assert len(set(ours)) == 2
    assert "ehr-trace-42" not in ours
    assert [a.headers["x-client-request-id"] for a in answers] == ["ehr-trace-42"] * 2
    events = client.get("/api/v1/audit-events", params={"patient_id": patient}).json()["items"]
    reads = [e["request_id"] for e in events if e["action"] == "read"]
    assert sorted(reads) == sorted(ours)
    for odd in ("<script>alert(1)</script>", "a b", "x" * 129, "\u00e9t\u00e9"):
        answer = anonymous.get("/health/live", headers={"X-Request-ID": odd.encode()})
        assert "x-client-request-id" not in answer.headers
        assert answer.headers["x-request-id"] != odd
    problem = anonymous.get("/api/v1/auth/me", headers={"X-Request-ID": "ehr-trace-43"})
    assert problem.json()["request_id"] == problem.headers["x-request-id"] != "ehr-trace-43"
