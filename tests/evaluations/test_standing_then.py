"""A standing judged by what was on record at an earlier moment (`known_at`, as completion
asks when a treatment is written up later), or by what had been found by then (`as_found`):
for one patient (`current_eligibility`) and for many at once (`standings`), alike."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.evaluations.service import Eligibility, current_eligibility, standings
from tests.evaluations.steps import evaluation_body, record
from tests.factories import Clock, new_patient, new_practitioner


def _judged(
    engine: Engine, patient_id: str, now: datetime, known_at: datetime | None, as_found: bool
) -> Eligibility:
    """The standing for one patient, checked to be the one the many-patient path gives."""
    asked = uuid.UUID(patient_id)
    with Session(engine) as db:
        one = current_eligibility(
            db=db, patient_id=asked, now=now, known_at=known_at, as_found=as_found
        )
        many = standings(db=db, patient_ids=[asked], now=now, known_at=known_at, as_found=as_found)
    assert many == {asked: one}
    return one


def _seen(standing: Eligibility) -> tuple[bool, str, list[str], str | None]:
    evaluation_id = str(standing.evaluation_id) if standing.evaluation_id else None
    return (
        standing.bookable,
        standing.outcome.value,
        [f.code for f in standing.flags],
        evaluation_id,
    )


def _at(moment: datetime) -> str:
    return moment.isoformat()


def test_a_clearance_counts_from_when_it_was_recorded(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    doctor = new_practitioner(client)["id"]
    patient = new_patient(client)["id"]
    start = clock()
    pill = record(client, patient, evaluation_body(doctor, risks={"hormonal_contraception": True}))
    clock.travel_to(start + timedelta(minutes=10))
    clearance = {"practitioner_id": doctor, "reason": "Low-dose pill, no other risk."}
    cleared = client.post(f"/api/v1/evaluations/{pill['id']}/clearance", json=clearance)
    assert cleared.status_code == 201, cleared.text
    before, after = start + timedelta(minutes=5), start + timedelta(minutes=15)

    refused = (False, "clearance-required", ["hormonal-contraception"], pill["id"])
    for as_found in (False, True):
        assert _seen(_judged(engine, patient, before, before, as_found)) == refused
        assert _seen(_judged(engine, patient, after, after, as_found)) == (
            True,
            "eligible",
            ["hormonal-contraception"],
            pill["id"],
        )
    standing = _judged(engine, patient, after, None, False)
    assert standing.clearance is not None
    assert (str(standing.clearance.id), standing.clearance.reason) == (
        cleared.json()["clearance"]["id"],
        clearance["reason"],
    )


def test_a_backdated_finding_counts_from_when_it_was_recorded_or_found(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    doctor = new_practitioner(client)["id"]
    patient = new_patient(client)["id"]
    start = clock()
    current = record(client, patient, evaluation_body(doctor, performed_at=_at(start)))
    clock.travel_to(start + timedelta(minutes=10))
    backdated = evaluation_body(
        doctor, performed_at=_at(start - timedelta(days=20)), risks={"immobility": True}
    )
    record(client, patient, backdated)
    then = start + timedelta(minutes=5)

    # Recorded by then: only the current evaluation, which found nothing.
    assert _seen(_judged(engine, patient, then, then, False)) == (
        True,
        "eligible",
        [],
        current["id"],
    )
    # Performed by then, written up later, and by everything on record: not ignored.
    contraindicated = (
        False,
        "contraindicated",
        ["evaluation-recorded-later", "immobility"],
        current["id"],
    )
    assert _seen(_judged(engine, patient, then, then, True)) == contraindicated
    assert _seen(_judged(engine, patient, clock(), None, False)) == contraindicated


def test_an_evaluation_counts_from_when_it_was_performed_or_recorded(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    doctor = new_practitioner(client)["id"]
    patient = new_patient(client)["id"]
    performed = clock()
    clock.travel_to(performed + timedelta(minutes=10))
    evaluation = record(client, patient, evaluation_body(doctor, performed_at=_at(performed)))
    between = performed + timedelta(minutes=5)

    missing: tuple[Any, ...] = (False, "evaluation-missing", ["evaluation-missing"], None)
    assert _seen(_judged(engine, patient, between, between, False)) == missing
    earlier = performed - timedelta(minutes=1)
    assert _seen(_judged(engine, patient, earlier, earlier, True)) == missing
    assert _seen(_judged(engine, patient, between, between, True)) == (
        True,
        "eligible",
        [],
        evaluation["id"],
    )


def test_expired_and_archived_whenever_asked(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    doctor = new_practitioner(client)["id"]
    expired, archived = (new_patient(client, given_name=n)["id"] for n in ("Old", "Gone"))
    start = clock()
    old = record(
        client, expired, evaluation_body(doctor, performed_at=_at(start - timedelta(days=800)))
    )
    record(client, archived, evaluation_body(doctor, performed_at=_at(start)))
    clock.travel_to(start + timedelta(minutes=10))
    assert client.delete(f"/api/v1/patients/{archived}").status_code == 200
    then = start + timedelta(minutes=5)

    for known_at, as_found in ((None, False), (then, False), (then, True)):
        standing = _judged(engine, expired, then, known_at, as_found)
        assert _seen(standing) == (False, "evaluation-expired", ["evaluation-expired"], old["id"])
        assert standing.obstacles(then) == standing.flags
        # Archived whatever the time: neither booked nor treated, nor a treatment recorded.
        assert _seen(_judged(engine, archived, then, known_at, as_found)) == (
            False,
            "patient-archived",
            ["patient-archived"],
            None,
        )
