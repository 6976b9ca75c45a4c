"""Every read of patient data is accounted for: searches found or not, lookups of ids that name
nothing, and refusals whose answer shows a patient's data (finding 6)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Patient, TreatmentSession
from app.roles import Role
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ClientFactory,
    Clock,
    assert_problem,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
)
from tests.sessions.steps import arrived_for_completion, booked, checked_in

MRN = "urn:oid:1.2.36.146.595.217.0.1"
DOSE = {"treated_sites": ["left-calf"], "sclerosant": "polidocanol"}
DOSE |= {"concentration_percent": 0.5, "volume_ml": 4}


class Trail:
    """The audit events written since the last call, read from the table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen = self._events()

    def _events(self) -> list[AuditEvent]:
        with Session(self.engine) as db:
            return list(db.scalars(select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)))

    def added(self) -> list[AuditEvent]:
        events = self._events()
        new, self.seen = events[len(self.seen) :], events
        return new


def _ids(values: list[str] | None) -> list[str]:
    return [str(uuid.UUID(str(v))) for v in values or []]


# Every column that could hold a value sought; not the ids, times and hashes, whose random
# hex digits may spell "4711" by chance.
_COLUMNS = [
    column.key
    for column in AuditEvent.__table__.columns
    if column.key not in {"id", "at", "seq", "previous_hash", "hash", "request_id"}
    and not column.key.endswith(("_id", "_ids"))
]


def _holds(event: AuditEvent, *secrets: str) -> bool:
    text = repr({column: getattr(event, column) for column in _COLUMNS})
    return any(secret.casefold() in text.casefold() for secret in secrets)


def _row(event: AuditEvent) -> tuple[Any, ...]:
    return (
        event.action,
        event.resource_type,
        event.resource_id and str(event.resource_id),
        event.patient_id and str(event.patient_id),
        event.outcome.value,
        event.detail,
    )


def test_searches_for_patients_are_recorded_found_or_not_never_the_value_sought(
    client: TestClient, client_as: ClientFactory, engine: Engine
) -> None:
    wanted = new_patient(
        client, family_name="Verhoeven", identifiers=[{"system": MRN, "value": "MRN-4711"}]
    )
    desk = client_as(Role.RECEPTIONIST)
    trail = Trail(engine)
    searches = [
        ({"identifier": f"{MRN}|MRN-4711"}, "by identifier", [wanted["id"]]),
        ({"identifier": f"{MRN}|MRN-0666"}, "by identifier", []),
        ({"q": "verhoeven"}, "by name", [wanted["id"]]),
        ({"q": "Zwanenburg"}, "by name", []),
        ({"q": "verh", "identifier": f"{MRN}|MRN-0666"}, "by identifier and name", []),
    ]
    for params, detail, found in searches:
        page = desk.get("/api/v1/patients", params=params)
        assert [p["id"] for p in page.json()["items"]] == found
        [event] = trail.added()
        assert (event.action, event.resource_type, event.detail) == ("search", "patient", detail)
        assert event.outcome.value == "success"
        assert _ids(event.resource_ids) == _ids(event.patient_ids) == found
        assert event.patient_id == (uuid.UUID(found[0]) if found else None)
        assert not _holds(event, "4711", "0666", "verh", "zwanenburg", MRN)
    # A plain list is still a list (and showing nothing, leaves nothing).
    desk.get("/api/v1/patients")
    assert [e.action for e in trail.added()] == ["list"]


def test_lookups_of_ids_that_name_no_record_are_recorded(
    client_as: ClientFactory, engine: Engine
) -> None:
    desk = client_as(Role.RECEPTIONIST)
    trail = Trail(engine)
    unknown = str(uuid.uuid4())
    for path, kind in (
        (f"/api/v1/patients/{unknown}", "patient"),
        (f"/api/v1/patients/{unknown}/evaluations", "patient"),
        (f"/api/v1/evaluations/{unknown}", "evaluation"),
        (f"/api/v1/treatment-plans/{unknown}", "treatment-plan"),
        (f"/api/v1/sessions/{unknown}", "session"),
    ):
        assert_problem(desk.get(path), 404, "not-found")
        assert [_row(e) for e in trail.added()] == [
            ("read", kind, unknown, None, "denied", "404 not-found")
        ], path
    # A practitioner is not patient data: nothing to account for.
    assert_problem(desk.get(f"/api/v1/practitioners/{unknown}"), 404, "not-found")
    assert trail.added() == []


def test_a_refused_booking_that_shows_the_flags_is_recorded_against_the_patient(
    client: TestClient, client_as: ClientFactory, engine: Engine
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = new_patient(client)
    record_evaluation(client, patient["id"], doctor["id"], risks={"pregnancy": True})
    booking = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "start": next_weekday_at(1, 9).isoformat(),
    }
    trail = Trail(engine)
    refused = client_as(Role.RECEPTIONIST).post("/api/v1/sessions", json=booking)
    assert [f["code"] for f in assert_problem(refused, 409, "eligibility-blocked")["flags"]] == [
        "pregnancy"
    ]
    assert [_row(e) for e in trail.added()] == [
        ("book", "session", None, patient["id"], "denied", "409 eligibility-blocked")
    ]
    # The refusal's trace is kept; nothing the refused request did is.
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(TreatmentSession)) == 0


def test_a_refused_booking_is_recorded_for_an_integration_told_no_reasons(
    client: TestClient, client_as: ClientFactory, engine: Engine
) -> None:
    """The finding: an integration (a user of that role, an API key) is told no flags, yet
    that this patient may not be treated now: that too is recorded against the patient."""
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = new_patient(client)
    record_evaluation(client, patient["id"], doctor["id"], risks={"pregnancy": True})
    booking = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "start": next_weekday_at(1, 9).isoformat(),
    }
    made = client.post("/api/v1/api-keys", json={"name": "Hospital EHR"})
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    trail = Trail(engine)
    for caller, headers in ((client_as(Role.INTEGRATION), {}), (client, key)):
        refused = caller.post("/api/v1/sessions", json=booking, headers=headers)
        assert "flags" not in assert_problem(refused, 409, "eligibility-blocked")
        [event] = trail.added()
        assert _row(event) == (
            "book",
            "session",
            None,
            patient["id"],
            "denied",
            "409 eligibility-blocked",
        )
        assert event.role == "integration"
    assert event.actor_kind == "api-key"
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(TreatmentSession)) == 0


def test_refused_moves_and_treatments_are_recorded_against_the_patient(
    client: TestClient, client_as: ClientFactory, engine: Engine, clock: Clock
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    first, second = (
        booked(
            client,
            patient_id=patient["id"],
            practitioner_id=doctor["id"],
            start=next_weekday_at(1, 9, weeks_ahead=weeks),
        )["id"]
        for weeks in (1, 4)
    )
    checked_in(client, clock, f"/api/v1/sessions/{first}")
    record_evaluation(client, patient["id"], doctor["id"], risks={"pregnancy": True})
    trail = Trail(engine)

    moved = client_as(Role.RECEPTIONIST).post(
        f"/api/v1/sessions/{second}/reschedule",
        json={"start": next_weekday_at(2, 9, weeks_ahead=4).isoformat()},
    )
    assert_problem(moved, 409, "eligibility-blocked")
    given = client_as(Role.CLINICIAN).post(f"/api/v1/sessions/{first}/complete", json=DOSE)
    assert_problem(given, 409, "eligibility-blocked")
    assert [_row(e) for e in trail.added()] == [
        ("reschedule", "session", second, patient["id"], "denied", "409 eligibility-blocked"),
        ("complete", "session", first, patient["id"], "denied", "409 eligibility-blocked"),
    ]


def test_an_identifier_said_to_be_another_patients_is_recorded_against_that_patient(
    client: TestClient, client_as: ClientFactory, engine: Engine
) -> None:
    owner = new_patient(client, identifiers=[{"system": MRN, "value": "MRN-1234"}])
    other = new_patient(client)
    taken = {"identifiers": [{"system": MRN, "value": "MRN-1234"}]}
    desk = client_as(Role.RECEPTIONIST)
    trail = Trail(engine)

    registered = desk.post(
        "/api/v1/patients",
        json={
            **taken,
            "given_name": "Eva",
            "family_name": "Smit",
            "birth_date": "1980-01-01",
            "sex": "female",
        },
    )
    assert_problem(registered, 409, "duplicate-identifier")
    changed = desk.patch(f"/api/v1/patients/{other['id']}", json=taken)
    assert_problem(changed, 409, "duplicate-identifier")

    events = trail.added()
    assert [_row(e) for e in events] == [
        ("write", "patient", None, owner["id"], "denied", "409 duplicate-identifier"),
        ("write", "patient", other["id"], owner["id"], "denied", "409 duplicate-identifier"),
    ]
    assert not any(_holds(e, "MRN-1234", "Smit") for e in events)
    with Session(engine) as db:  # the refused registration left no patient
        assert db.scalar(select(func.count()).select_from(Patient)) == 2


def test_a_list_filtered_by_a_patient_is_recorded_against_them_even_empty(
    client: TestClient, client_as: ClientFactory, engine: Engine
) -> None:
    """The finding: `?patient_id=` of a patient with no sessions (or of no patient) answered
    an empty list and left nothing, though it tells that they have none."""
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = new_patient(client)["id"]
    desk = client_as(Role.RECEPTIONIST)
    trail = Trail(engine)
    unknown = str(uuid.uuid4())
    for path, params, kind, about in (
        ("/api/v1/sessions", {"patient_id": patient}, "session", patient),
        ("/api/v1/sessions", {"patient_id": unknown}, "session", unknown),
        (
            "/api/v1/sessions",
            {"patient_id": patient, "practitioner_id": doctor["id"], "status": "fulfilled"},
            "session",
            patient,
        ),
        (f"/api/v1/patients/{patient}/evaluations", {}, "evaluation", patient),
        (f"/api/v1/patients/{patient}/treatment-plans", {}, "treatment-plan", patient),
    ):
        listed = desk.get(path, params=params)
        assert (listed.status_code, listed.json()["items"]) == (200, []), path
        [event] = trail.added()
        assert _row(event) == ("list", kind, None, about, "success", None), path
        assert (_ids(event.resource_ids), _ids(event.patient_ids)) == ([], [about]), path

    # Not filtered by a patient, a list that shows nothing still leaves nothing.
    assert desk.get("/api/v1/sessions").json()["items"] == []
    assert desk.get("/api/v1/sessions", params={"practitioner_id": doctor["id"]}).status_code == 200
    assert trail.added() == []

    # Showing something, still one event for the list, naming the patient and the records.
    record_evaluation(client, patient, doctor["id"])
    visit = booked(
        client, patient_id=patient, practitioner_id=doctor["id"], start=next_weekday_at(1, 9)
    )
    trail.added()
    assert [
        s["id"]
        for s in desk.get("/api/v1/sessions", params={"patient_id": patient}).json()["items"]
    ] == [visit["id"]]
    [event] = trail.added()
    assert _row(event) == ("list", "session", None, patient, "success", None)
    assert (_ids(event.resource_ids), _ids(event.patient_ids)) == ([visit["id"]], [patient])


def test_other_refusals_that_tell_of_a_patients_standing_are_recorded_against_them(
    client: TestClient, client_as: ClientFactory, engine: Engine, clock: Clock
) -> None:
    """An archived patient, another treatment too near, a site their evaluation did not
    assess, the dose their weight allows: each refusal tells something of the patient."""
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    archived = new_patient(client)["id"]
    assert client.delete(f"/api/v1/patients/{archived}").status_code == 200
    patient = eligible_patient(client, doctor["id"])["id"]
    near = booked(
        client, patient_id=patient, practitioner_id=doctor["id"], start=next_weekday_at(1, 9)
    )
    other = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    treated, visit = arrived_for_completion(client, clock, other, weight_kg=50)
    desk = client_as(Role.INTEGRATION)
    trail = Trail(engine)

    for who, start in ((archived, next_weekday_at(3, 10)), (patient, next_weekday_at(3, 9))):
        refused = desk.post(
            "/api/v1/sessions",
            json={"patient_id": who, "practitioner_id": doctor["id"], "start": start.isoformat()},
        )
        assert refused.status_code in (409, 422), refused.text
    assert assert_problem(refused, 422, "interval-too-short")["session_id"] == near["id"]
    nurse = client_as(Role.CLINICIAN)
    elsewhere = {**DOSE, "treated_sites": ["right-calf"]}
    assert_problem(nurse.post(visit, json=elsewhere), 422, "site-not-evaluated")
    too_much = {**DOSE, "concentration_percent": 1, "volume_ml": 12}  # 120 mg; 100 allowed
    assert_problem(nurse.post(visit, json=too_much), 422, "dose-limit-exceeded")

    session = visit.split("/")[-2]
    assert [_row(e) for e in trail.added()] == [
        ("book", "session", None, archived, "denied", "409 patient-archived"),
        ("book", "session", None, patient, "denied", "422 interval-too-short"),
        ("complete", "session", session, treated["id"], "denied", "422 site-not-evaluated"),
        ("complete", "session", session, treated["id"], "denied", "422 dose-limit-exceeded"),
    ]
