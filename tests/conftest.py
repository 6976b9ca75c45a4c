"""Test fixtures: a real database built by the Alembic migrations, emptied after every test.

SQLite (a temporary file) always; PostgreSQL when SCLEROSCHED_TEST_DATABASE_URL is set, in
which case an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.access import credentials
from app.config import Settings
from app.db import database_is_reachable, make_engine
from app.main import create_app
from app.migrations import upgrade_to_head
from app.models import Base, User
from app.roles import Role
from app.vocabulary import RiskFactor
from app.web.clock import system_clock

POSTGRES_URL = os.environ.get("SCLEROSCHED_TEST_DATABASE_URL")


def reset_postgres_schema(engine: Engine) -> None:
    """Start from an empty `public` schema: the test database belongs to the tests."""
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if POSTGRES_URL:
        engine = make_engine(POSTGRES_URL)
        if not database_is_reachable(engine):
            pytest.exit(f"PostgreSQL test database unreachable: {engine.url!r}", returncode=3)
        reset_postgres_schema(engine)
        engine.dispose()
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade_to_head(url)
    return url


TEST_SECRET_KEY = "test-signing-key-that-is-long-enough-0123456789"
TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        clinic_time_zone="Europe/Paris",
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]  # pydantic makes it a SecretStr
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


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


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Clock]:
    """Move the clinic's clock for this test (back to the system's after it)."""
    moved = Clock()
    app.state.clock = moved
    yield moved
    app.state.clock = system_clock


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`sclerosched` commands run in-process set up logging on the test's own stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts and ends with empty tables (the schema itself stays)."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("engine")
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # The audit trail's append-only trigger would refuse; the tests own this database.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Argon2 is slow on purpose: hash the tests' password once."""
    return credentials.hash_password(TEST_PASSWORD)


UserFactory = Callable[..., uuid.UUID]


@pytest.fixture
def make_user(engine: Engine, password_hash: str) -> UserFactory:
    """Store a user (password `TEST_PASSWORD`) and return its id."""

    def make(role: Role, username: str | None = None, *, active: bool = True) -> uuid.UUID:
        user_id = uuid.uuid4()
        with engine.begin() as connection:
            connection.execute(
                User.__table__.insert().values(
                    id=user_id,
                    username=username or f"{role.value}-{user_id.hex[:8]}",
                    password_hash=password_hash,
                    role=role,
                    active=active,
                    password_changed_at=datetime.now(UTC) - timedelta(minutes=1),
                    sessions_valid_from=datetime.now(UTC) - timedelta(minutes=1),
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                    version=1,
                )
            )
        return user_id

    return make


def bearer(app: FastAPI, user_id: uuid.UUID) -> dict[str, str]:
    token = credentials.issue_token(
        user_id=user_id,
        key=app.state.signing_key,
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=30),
    )
    return {"Authorization": f"Bearer {token}"}


ClientFactory = Callable[[Role], TestClient]


@pytest.fixture
def client_as(app: FastAPI, make_user: UserFactory) -> ClientFactory:
    """A client logged in as a new user of the given role."""

    def make(role: Role) -> TestClient:
        # raise_server_exceptions=False: a 500 is checked as the client sees it.
        return TestClient(app, raise_server_exceptions=False, headers=bearer(app, make_user(role)))

    return make


@pytest.fixture
def client(client_as: ClientFactory) -> TestClient:
    """An admin's client: most tests are about what the API does, not who may do it."""
    return client_as(Role.ADMIN)


@pytest.fixture
def anonymous(app: FastAPI, engine: Engine) -> TestClient:
    """A client with no credential."""
    return TestClient(app, raise_server_exceptions=False)


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
    return result


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


NO_RISKS = {factor.value: False for factor in RiskFactor}


def record_evaluation(
    client: TestClient, patient_id: str, practitioner_id: str, **changes: Any
) -> dict[str, Any]:
    """A clean evaluation (eligible), performed yesterday, with `changes` applied."""
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
