"""Test fixtures: a real database built by the Alembic migrations, emptied after every test.

SQLite (a temporary file) always; PostgreSQL when SCLEROSCHED_TEST_DATABASE_URL is set, in
which case an unreachable server fails the run instead of skipping it. Helpers the tests share
are in factories.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from app.access import credentials
from app.config import Settings
from app.db import database_is_reachable_now, make_engine, make_sessionmaker
from app.event_hashes import GENESIS
from app.main import create_app
from app.migrations import upgrade_to_head
from app.models import AuditChainHead, Base, User
from app.roles import Role
from app.web.clock import system_clock
from tests.factories import hermetic
from tests.servers import running_server

hermetic()

from tests.factories import (  # noqa: E402
    POSTGRES_URL,
    TEST_PASSWORD,
    TEST_SECRET_KEY,
    WEEKDAYS_9_TO_17,
    ApiClient,
    ClientFactory,
    Clock,
    UserFactory,
    bearer,
    dispose,
    new_practitioner,
    reset_postgres_schema,
)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if POSTGRES_URL:
        engine = make_engine(POSTGRES_URL)
        if not database_is_reachable_now(engine):
            pytest.exit(f"PostgreSQL test database unreachable: {engine.url!r}", returncode=3)
        reset_postgres_schema(engine)
        engine.dispose()
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        clinic_time_zone="Europe/Paris",
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]  # pydantic makes it a SecretStr
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    dispose(app)


@pytest.fixture(scope="session")
def engine(app: FastAPI, database_url: str) -> Iterator[Engine]:
    """A synchronous engine on the app's database, for the tests' own reads and writes."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def db_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions of the tests' own, on the app's database (the app's engine is async)."""
    return make_sessionmaker(engine)


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
            triggers = []
        else:  # SQLite's triggers cannot be switched off: dropped, then made again
            triggers = connection.execute(text(_AUDIT_TRIGGERS)).scalars().all()
            for name in connection.execute(text(_AUDIT_TRIGGER_NAMES)).scalars().all():
                connection.execute(text(f'DROP TRIGGER "{name}"'))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        for trigger in triggers:
            connection.execute(text(trigger))
        # A new trail: the chain starts again.
        connection.execute(
            insert(AuditChainHead).values(id=1, seq=0, hash=GENESIS, previous_hash=GENESIS)
        )


_AUDIT_TRIGGERS = (
    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
)
_AUDIT_TRIGGER_NAMES = (
    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Argon2 is slow on purpose: hash the tests' password once."""
    return credentials.hash_password(TEST_PASSWORD)


@pytest.fixture
def make_user(engine: Engine, password_hash: str) -> UserFactory:
    """Store a user (password `TEST_PASSWORD`) and return its id."""

    def make(
        role: Role,
        username: str | None = None,
        *,
        active: bool = True,
        practitioner_id: uuid.UUID | str | None = None,
    ) -> uuid.UUID:
        """`practitioner_id`: the practitioner the user is (who they sign evaluations as)."""
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
                    practitioner_id=uuid.UUID(str(practitioner_id)) if practitioner_id else None,
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                    version=1,
                )
            )
        return user_id

    return make


@pytest.fixture
def client_as(app: FastAPI, make_user: UserFactory) -> ClientFactory:
    """A client logged in as a new user of the given role."""

    def make(role: Role) -> TestClient:
        # raise_server_exceptions=False: a 500 is checked as the client sees it.
        return ApiClient(app, raise_server_exceptions=False, headers=bearer(app, make_user(role)))

    return make


@pytest.fixture
def client(client_as: ClientFactory) -> TestClient:
    """An admin's client: most tests are about what the API does, not who may do it."""
    return client_as(Role.ADMIN)


@pytest.fixture
def anonymous(app: FastAPI, engine: Engine) -> TestClient:
    """A client with no credential."""
    return ApiClient(app, raise_server_exceptions=False)


@pytest.fixture
def doctor(client: TestClient) -> dict[str, Any]:
    """A practitioner seeing patients on weekdays, 09:00 to 17:00 in Paris."""
    return new_practitioner(client, availability=WEEKDAYS_9_TO_17)


@pytest.fixture(scope="session")
def two_servers(database_url: str) -> Iterator[tuple[str, str]]:
    """Two `sclerosched serve` processes on the suite's database, as behind a load balancer
    (one signing key: a token works on either), for races across processes. Started once for
    the run (a start costs seconds; the races are many): they keep nothing of their own
    between requests, and each test empties the tables after it as usual."""
    settings = {"clinic_time_zone": "Europe/Paris", "secret_key": TEST_SECRET_KEY}
    with (
        running_server(database_url, **settings) as first,
        running_server(database_url, **settings) as second,
    ):
        yield first, second
