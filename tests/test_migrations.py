"""The migrations build the schema from nothing, tear it down, and agree with the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from app.db import make_engine
from app.migrations import alembic_config
from app.models import Base
from tests.conftest import POSTGRES_URL, reset_postgres_schema


@pytest.fixture
def scratch_url(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[str]:
    """A database the test may wreck: a new SQLite file, or the PostgreSQL test database,
    left migrated to head afterwards for the tests that follow."""
    if POSTGRES_URL:
        yield POSTGRES_URL
        command.upgrade(alembic_config(POSTGRES_URL), "head")
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'scratch.db'}"


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    engine = make_engine(scratch_url)
    try:
        if POSTGRES_URL:
            reset_postgres_schema(engine)
        command.upgrade(config, "head")
        assert _tables(engine) == set(Base.metadata.tables)
        command.downgrade(config, "base")
        assert _tables(engine) == set()
        command.upgrade(config, "head")
        assert _tables(engine) == set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    """Fails when a model changes without a migration (the `alembic check` comparison)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
