"""Shared test helpers: records made through the API as a clinic would, the clinic's clock,
credentials, and checks of problem answers and stored rows. The fixtures are in conftest.py."""

from __future__ import annotations

import os
import re
import time as time_module
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alembic.config import Config
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.python import asgi as schemathesis_asgi
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from app.access import credentials
from app.config import Settings
from app.db import make_engine
from app.migrations import alembic_config
from app.models import User
from app.roles import Role
from app.vocabulary import RiskFactor

POSTGRES_URL = os.environ.get("SCLEROSCHED_TEST_DATABASE_URL")
# The variables that steer the suite itself; every other SCLEROSCHED_ one is the developer's.
_SUITE_VARIABLES = {"SCLEROSCHED_TEST_DATABASE_URL", "SCLEROSCHED_FUZZ_EXAMPLES"}


def hermetic() -> None:
    """The suite passes whatever the developer's shell or `.env` file says: their SCLEROSCHED_
    variables are dropped for this process and the servers it starts, and no `.env` is read
    (the servers start in a directory of their own)."""
    for name in [n for n in os.environ if n.startswith("SCLEROSCHED_")]:
        if name not in _SUITE_VARIABLES:
            del os.environ[name]
    Settings.model_config["env_file"] = None


def event_loop() -> BlockingPortal:
    """The tests' one event loop, in a thread of its own, as a server process has one: the
    app's async engine and its pooled connections belong to the loop they were made in.

    It is the loop schemathesis calls the app on (it keeps one for every ASGI app it fuzzes),
    so that the fuzzing, and the requests its checks send, share the app's connections too.
    Schemathesis closes it when the process exits."""
    return schemathesis_asgi._get_portal()


def dispose(app: FastAPI) -> None:
    """Close the app's pooled connections (an app built for one test)."""
    event_loop().call(app.state.engine.dispose)


class ApiClient(TestClient):
    """A test client whose requests all run on the tests' one event loop (`TestClient` would
    start a loop per request, or per `with` block). Safe from several threads at once; `with`
    starts no lifespan: the app stays up for the next test."""

    def __init__(self, app: FastAPI, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.portal = event_loop()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *args: object) -> None:
        return None


def reset_postgres_schema(engine: Engine) -> None:
    """Start from an empty `public` schema: the test database belongs to the tests."""
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@contextmanager
def scratch_database(tmp_path: Path, name: str) -> Iterator[tuple[Config, Engine]]:
    """An empty database of a migration test's own, with its Alembic config: a new SQLite
    file, or on PostgreSQL a new database beside the suite's (the suite's name and `name`),
    dropped after."""
    if not POSTGRES_URL:
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        engine = make_engine(url)
        try:
            yield alembic_config(url), engine
        finally:
            engine.dispose()
        return
    server = make_url(POSTGRES_URL)
    database = f"{server.database}_{name}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    url = server.set(database=database).render_as_string(False)
    engine = make_engine(url)
    try:
        yield alembic_config(url), engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


TEST_SECRET_KEY = "test-signing-key-that-is-long-enough-0123456789"


TEST_PASSWORD = "correct horse battery staple"


class Clock:
    """The clinic's clock in a test: the real time, moved forward by `travel_to`. It keeps
    running, so what is recorded later is recorded later."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def travel_to(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)

    def on_the_day_of(
        self, session: dict[str, Any], before: timedelta = timedelta(minutes=10)
    ) -> None:
        """To a little before the session's start: the patient can be checked in and treated."""
        self.travel_to(datetime.fromisoformat(session["start"]) - before)


UserFactory = Callable[..., uuid.UUID]


def bearer(app: FastAPI, user_id: uuid.UUID) -> dict[str, str]:
    token = credentials.issue_token(
        user_id=user_id,
        key=app.state.signing_key,
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=30),
    )
    return {"Authorization": f"Bearer {token}"}


ClientFactory = Callable[[Role], TestClient]


def link_practitioner(engine: Engine, user_id: uuid.UUID | str, practitioner_id: str) -> None:
    """Make the user that practitioner (the name their evaluations and clearances are
    signed in), as an admin would with PATCH /api/v1/users/{id}."""
    users = User.__table__
    with engine.begin() as connection:
        connection.execute(
            users.update()
            .where(users.c.id == uuid.UUID(str(user_id)))
            .values(practitioner_id=uuid.UUID(practitioner_id))
        )


def tag_version(etag: str) -> int:
    """The version an `ETag` this server wrote names (`W/"3-<16 hex digits>"`: 3)."""
    match = re.fullmatch(r'W/"([0-9]+)-[0-9a-f]{16}"', etag)
    assert match, f"not an ETag of this server's: {etag}"
    return int(match.group(1))


def within_one_minute(seconds: int = 20) -> None:
    """Before a burst of requests counted by the minute (the rate limits): if fewer than
    `seconds` are left of this one, wait for the next, so the burst is not split by a turn of
    the minute. Call it just before the burst, after any slow set-up (a server's start)."""
    left = 60 - datetime.now(UTC).second
    if left < seconds:
        time_module.sleep(left + 0.5)


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def table_snapshot(engine: Engine, *tables: str) -> dict[str, list[Any]]:
    """Every row of the tables, to show that a refused request changed nothing."""
    with engine.connect() as connection:
        return {
            t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in tables
        }


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with the given status and stable code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    assert body["detail"]
    return body


def new_patient(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "given_name": "Claire",
        "family_name": "Dubois",
        "birth_date": "1984-03-12",
        "sex": "female",
        **overrides,
    }
    response = client.post("/api/v1/patients", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def new_practitioner(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Dr Amélie Laurent",
        "time_zone": "Europe/Paris",
        "availability": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
        **overrides,
    }
    response = client.post("/api/v1/practitioners", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    # A room of their own where they see patients: practitioners booked at the same time
    # each find one free (a location made for the first has one room only).
    for location_id in dict.fromkeys(hours["location_id"] for hours in result["availability"]):
        new_room(client, location_id, name=f"Room of {result['name']}"[:200])
    return result


def room_of(client: TestClient, practitioner: dict[str, Any]) -> dict[str, Any]:
    """The room `new_practitioner` made for the practitioner (at their first location)."""
    location_id = practitioner["availability"][0]["location_id"]
    rooms = client.get(f"/api/v1/locations/{location_id}/rooms", params={"limit": 200}).json()
    [room] = [r for r in rooms["items"] if r["name"] == f"Room of {practitioner['name']}"[:200]]
    return room


def new_room(client: TestClient, location_id: str, **overrides: Any) -> dict[str, Any]:
    """A room of the location, made through the API (an admin's client)."""
    response = client.post(
        f"/api/v1/locations/{location_id}/rooms", json={"name": "Room", **overrides}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


NO_RISKS = {factor.value: False for factor in RiskFactor}


def record_evaluation(
    client: TestClient,
    patient_id: str,
    practitioner_id: str,
    *,
    consent: bool = True,
    **changes: Any,
) -> dict[str, Any]:
    """A clean evaluation (eligible), performed yesterday, with `changes` applied. With
    `consent` (the default), when the risks were explained, the patient signs the consent to
    micro-sclerotherapy there and then (`consented`): completing a session needs it."""
    body = {
        "practitioner_id": practitioner_id,
        "performed_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "spider_vein_sites": ["left-calf", "right-thigh"],
        "ceap_class": "C1",
        "varicose_veins": "absent",
        "risk_factors": {**NO_RISKS, **changes.pop("risks", {})},
        "benefits_and_risks_explained": True,
        **changes,
    }
    response = client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    if consent and body["benefits_and_risks_explained"] is True:
        consented(
            client,
            patient_id,
            body["practitioner_id"],
            obtained_at=body["performed_at"],
            risks_explained=[*RISKS_EXPLAINED, *FOAM_RISKS],  # liquid or foam
        )
    return result


# The risks explained before micro-sclerotherapy (`app.vocabulary.RISKS_TO_EXPLAIN`).
RISKS_EXPLAINED = ["hyperpigmentation", "matting", "ulceration", "allergic-reaction"]
RISKS_EXPLAINED += ["extravasation"]
# And for foam: a treatment with a foam line needs a consent that explained these too.
FOAM_RISKS = ["visual-disturbance", "neurological-disturbance"]


def consent_body(practitioner_id: str | None, **changes: Any) -> dict[str, Any]:
    """A consent to micro-sclerotherapy signed an hour ago, with `changes` applied."""
    obtained = changes.pop("obtained_at", datetime.now(UTC) - timedelta(hours=1))
    return {
        "document_version": "2026-03",
        "procedure": "micro-sclerotherapy",
        "risks_explained": RISKS_EXPLAINED,
        "practitioner_id": practitioner_id,
        "obtained_at": obtained.isoformat() if isinstance(obtained, datetime) else obtained,
        **changes,
    }


def consented(
    client: TestClient, patient_id: str, practitioner_id: str | None, **changes: Any
) -> dict[str, Any]:
    """The patient's consent to micro-sclerotherapy, recorded (`consent_body`)."""
    response = client.post(
        f"/api/v1/patients/{patient_id}/consents", json=consent_body(practitioner_id, **changes)
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def eligible_patient(client: TestClient, practitioner_id: str, **patient: Any) -> dict[str, Any]:
    created = new_patient(client, **patient)
    record_evaluation(client, created["id"], practitioner_id)
    return created


WEEKDAYS_9_TO_17 = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)]


def next_weekday_at(weekday: int, hour: int, minute: int = 0, *, weeks_ahead: int = 1) -> datetime:
    """A local Europe/Paris time on a coming weekday, at least `weeks_ahead` weeks away."""
    paris = ZoneInfo("Europe/Paris")
    day = datetime.now(paris).date() + timedelta(weeks=weeks_ahead)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    return datetime.combine(day, time(hour, minute), tzinfo=paris)
