"""PostgreSQL with two roles: the migrations run as the schema's owner and grant the API's own
role what it needs; that role works the app as usual but cannot change, remove, or stop
recording audit events (nor disable the triggers that refuse it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.audit.chain import verify
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.migrations import upgrade_to_head
from app.models import User
from app.roles import Role
from tests.factories import POSTGRES_URL, TEST_PASSWORD, TEST_SECRET_KEY, ApiClient, dispose

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="database roles are PostgreSQL's")


@pytest.fixture
def two_roles() -> Iterator[tuple[str, str]]:
    """A new database owned by an owner role, and a runtime role with nothing yet: their URLs
    (named after the test database, so that suites run side by side do not meet). All dropped
    after."""
    assert POSTGRES_URL is not None
    server = make_url(POSTGRES_URL)
    prefix = server.database or "sclerosched"
    owner, runtime, database = f"{prefix}_owner", f"{prefix}_runtime", f"{prefix}_roles"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            for role in (runtime, owner):
                connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')

    drop()
    with admin.connect() as connection:
        for role in (owner, runtime):
            connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        connection.exec_driver_sql(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    try:
        yield (
            server.set(username=owner, database=database).render_as_string(False),
            server.set(username=runtime, database=database).render_as_string(False),
        )
    finally:
        drop()
        admin.dispose()


def _user(engine: Engine, password_hash: str) -> uuid.UUID:
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            User.__table__.insert().values(
                id=user_id,
                username="owner-of-nothing",
                password_hash=password_hash,
                role=Role.ADMIN,
                active=True,
                password_changed_at=now - timedelta(minutes=1),
                sessions_valid_from=now - timedelta(minutes=1),
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    return user_id


def test_the_apis_own_role_cannot_change_or_disable_the_trail(
    two_roles: tuple[str, str], password_hash: str
) -> None:
    owner_url, runtime_url = two_roles
    upgrade_to_head(owner_url, runtime_url=runtime_url)
    runtime = make_engine(runtime_url)
    app = create_app(
        Settings(
            database_url=runtime_url,
            migration_database_url=owner_url,
            secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]  # a SecretStr
        )
    )
    try:
        _user(runtime, password_hash)
        client = ApiClient(app, raise_server_exceptions=False)
        login = client.post(
            "/api/v1/auth/token", data={"username": "owner-of-nothing", "password": TEST_PASSWORD}
        )
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        patient = client.post(
            "/api/v1/patients",
            json={
                "given_name": "Ana",
                "family_name": "Reis",
                "birth_date": "1980-01-01",
                "sex": "female",
            },
        )
        assert patient.status_code == 201, patient.text
        changed = client.patch(f"/api/v1/patients/{patient.json()['id']}", json={"phone": "+351"})
        assert changed.status_code == 200, changed.text
        assert client.get(f"/api/v1/patients/{patient.json()['id']}").status_code == 200
        trail = client.get("/api/v1/audit-events")
        assert trail.status_code == 200
        assert {e["action"] for e in trail.json()["items"]} >= {"log-in", "create", "update"}

        for statement in (
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_or_delete",
            "DELETE FROM audit_events",
            "UPDATE audit_events SET action = 'nothing-happened'",
            "TRUNCATE audit_events",
            "DROP TABLE audit_events",
            "DELETE FROM audit_chain_head",
            "INSERT INTO audit_chain_head VALUES (2, 0, '', '')",
            "DELETE FROM alembic_version",
        ):
            with (
                pytest.raises(DBAPIError, match=r"must be owner|permission denied"),
                runtime.begin() as connection,
            ):
                connection.exec_driver_sql(statement)
        with runtime.connect() as connection:
            verdict = verify(connection)
        assert verdict.broken is None
        assert verdict.events >= 5

        # A table a later revision adds is the runtime role's to use too (default privileges).
        owner = make_engine(owner_url)
        with owner.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE later (note text)")
        owner.dispose()
        with runtime.begin() as connection:
            connection.exec_driver_sql("INSERT INTO later VALUES ('x')")
            assert connection.scalar(text("SELECT count(*) FROM later")) == 1
    finally:
        dispose(app)
        runtime.dispose()
