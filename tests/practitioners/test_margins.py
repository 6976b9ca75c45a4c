"""A practitioner's buffer and minimum notice through the API: set on creation and by PATCH
(null: back to the clinic's), read as stored and as they apply; the clinic's from settings;
bad values refused with nothing stored; the database holds the bounds whatever writes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.main import create_app
from app.models import Practitioner
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ApiClient,
    Clock,
    assert_problem,
    count_rows,
    dispose,
    eligible_patient,
    new_practitioner,
    next_weekday_at,
    table_snapshot,
)

URL = "/api/v1/practitioners"


def _margins(practitioner: dict[str, Any]) -> tuple[Any, Any, int, int]:
    return (
        practitioner["buffer_minutes"],
        practitioner["min_notice_minutes"],
        practitioner["effective_buffer_minutes"],
        practitioner["effective_min_notice_minutes"],
    )


def test_set_on_creation_changed_and_reset_by_patch(client: TestClient) -> None:
    doctor = new_practitioner(client, buffer_minutes=10, min_notice_minutes=1440)
    assert _margins(doctor) == (10, 1440, 10, 1440)
    url = f"{URL}/{doctor['id']}"
    assert _margins(client.get(url).json()) == (10, 1440, 10, 1440)
    assert [_margins(p) for p in client.get(URL).json()["items"]] == [(10, 1440, 10, 1440)]
    changed = client.patch(url, json={"buffer_minutes": 0})
    assert changed.status_code == 200, changed.text
    assert _margins(changed.json()) == (0, 1440, 0, 1440)
    assert changed.json()["version"] == 2
    assert changed.json()["affected_sessions"] == []
    # Null: the clinic's again (the test clinic's settings: none).
    reset = client.patch(url, json={"min_notice_minutes": None, "name": "Dr Laurent"})
    assert _margins(reset.json()) == (0, None, 0, 0)
    assert reset.json()["name"] == "Dr Laurent"
    # Left out: kept.
    assert _margins(client.patch(url, json={"active": True}).json()) == (0, None, 0, 0)


def test_a_new_practitioner_takes_the_clinics(client: TestClient) -> None:
    assert _margins(new_practitioner(client)) == (None, None, 0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("buffer_minutes", -1),
        ("buffer_minutes", 121),
        ("buffer_minutes", "15"),
        ("buffer_minutes", 7.5),
        ("buffer_minutes", True),
        ("min_notice_minutes", -5),
        ("min_notice_minutes", 30 * 24 * 60 + 1),
        ("min_notice_minutes", "60"),
        ("min_notice_minutes", [60]),
    ],
)
def test_bad_values_are_refused_and_nothing_changes(
    client: TestClient, engine: Engine, field: str, value: object
) -> None:
    before = count_rows(engine, "practitioners")
    body = {"name": "Dr X", field: value}
    problem = assert_problem(client.post(URL, json=body), 422, "validation-error")
    assert {e["loc"][1] for e in problem["errors"]} == {field}
    assert count_rows(engine, "practitioners") == before
    doctor = new_practitioner(client, buffer_minutes=5)
    snapshot = table_snapshot(engine, "practitioners")
    url = f"{URL}/{doctor['id']}"
    assert_problem(client.patch(url, json={field: value}), 422, "validation-error")
    assert table_snapshot(engine, "practitioners") == snapshot


def test_the_bounds_themselves_are_taken(client: TestClient) -> None:
    doctor = new_practitioner(client, buffer_minutes=120, min_notice_minutes=30 * 24 * 60)
    assert _margins(doctor) == (120, 43200, 120, 43200)
    assert _margins(new_practitioner(client, buffer_minutes=15.0)) == (15, None, 15, 0)


def test_the_database_refuses_margins_out_of_bounds(client: TestClient, engine: Engine) -> None:
    doctor = uuid.UUID(new_practitioner(client)["id"])
    for values in (
        {"buffer_minutes": -1},
        {"buffer_minutes": 121},
        {"min_notice_minutes": -1},
        {"min_notice_minutes": 43201},
    ):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(update(Practitioner).where(Practitioner.id == doctor).values(values))


@pytest.mark.parametrize(
    "setting",
    [{"buffer_minutes": -1}, {"buffer_minutes": 121}, {"min_notice_minutes": 43201}],
)
def test_the_settings_are_bounded(setting: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Settings(**setting)  # type: ignore[arg-type]


def test_the_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCLEROSCHED_BUFFER_MINUTES", "10")
    monkeypatch.setenv("SCLEROSCHED_MIN_NOTICE_MINUTES", "1440")
    settings = Settings()
    assert (settings.buffer_minutes, settings.min_notice_minutes) == (10, 1440)
    # Unset: none, so that an upgraded clinic books as it did until it chooses its own.
    assert Settings.model_fields["buffer_minutes"].default == 0
    assert Settings.model_fields["min_notice_minutes"].default == 0


@pytest.fixture
def strict_clinic(app: FastAPI, client: TestClient, clock: Clock) -> Iterator[TestClient]:
    """The clinic with a 20-minute buffer and an hour's notice by default (its settings)."""
    settings: Settings = app.state.settings
    strict = create_app(
        settings.model_copy(update={"buffer_minutes": 20, "min_notice_minutes": 60})
    )
    strict.state.clock = clock
    try:
        yield ApiClient(strict, raise_server_exceptions=False, headers=client.headers)
    finally:
        dispose(strict)


def test_the_clinics_defaults_come_from_the_settings(
    strict_clinic: TestClient, clock: Clock
) -> None:
    doctor = new_practitioner(strict_clinic, availability=WEEKDAYS_9_TO_17)
    assert _margins(doctor) == (None, None, 20, 60)
    own = new_practitioner(
        strict_clinic, availability=WEEKDAYS_9_TO_17, buffer_minutes=0, min_notice_minutes=0
    )
    assert _margins(own) == (0, 0, 0, 0)
    monday = next_weekday_at(0, 10)
    clock.travel_to(monday - timedelta(minutes=30))
    for practitioner, expected in ((doctor, 422), (own, 201)):
        patient = eligible_patient(strict_clinic, practitioner["id"])
        body = {"patient_id": patient["id"], "practitioner_id": practitioner["id"]}
        answer = strict_clinic.post("/api/v1/sessions", json={**body, "start": monday.isoformat()})
        assert answer.status_code == expected, answer.text
    patient = eligible_patient(strict_clinic, doctor["id"], given_name="Later")
    later = monday + timedelta(hours=2)
    body = {"patient_id": patient["id"], "practitioner_id": doctor["id"]}
    ok = strict_clinic.post("/api/v1/sessions", json={**body, "start": later.isoformat()})
    assert ok.status_code == 201, ok.text
    other = eligible_patient(strict_clinic, doctor["id"], given_name="Next")
    near = later + timedelta(minutes=60)  # 15 minutes after the 45-minute session
    refusal = strict_clinic.post(
        "/api/v1/sessions",
        json={
            "patient_id": other["id"],
            "practitioner_id": doctor["id"],
            "start": near.isoformat(),
        },
    )
    assert_problem(refusal, 409, "buffer-conflict")
    slots = strict_clinic.get(
        f"{URL}/{doctor['id']}/slots",
        params={"from": monday.isoformat(), "to": (monday + timedelta(hours=7)).isoformat()},
    ).json()["slots"]
    starts = [datetime.fromisoformat(s["start"]) for s in slots]
    # Nothing before 10:30 (the notice), nothing within 20 minutes of 12:00-12:45.
    assert starts[:2] == [monday + timedelta(minutes=45), monday + timedelta(hours=3, minutes=15)]
