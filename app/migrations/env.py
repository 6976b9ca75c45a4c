"""Alembic environment: the URL comes from the caller or the service's settings."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from app.config import load_settings
from app.db import WRITE_LOCK, make_engine
from app.migrations.roles import grant_runtime_role, runtime_role
from app.models import Base, UTCDateTime

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations stay static: the app's UTC wrapper is a plain timestamptz in the schema.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Processes started together each migrate first: the first takes the database's one
        # write lock before it reads the version (BEGIN IMMEDIATE), the others wait for it and
        # then find the schema at head (a deferred BEGIN would fail them with "locked").
        connection = connection.execution_options(**{WRITE_LOCK: True})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=sqlite,
        # SQLite's DDL is transactional: all the revisions in one transaction, under the
        # write lock taken at its start, so a second process waits for the whole of it.
        transactional_ddl=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # API processes started together each migrate first: one at a time, the others
            # then find the schema at head (an arbitrary constant names the lock).
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7146153290)")
        context.run_migrations()
        role = runtime_role(config.attributes.get("runtime_database_url"))
        if role is not None and connection.dialect.name == "postgresql":
            grant_runtime_role(connection, role)
        if sqlite:
            # Foreign keys were off while tables were rebuilt: every reference must still hold.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke {len(broken)} foreign key reference(s)")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or load_settings().database_url
    engine = make_engine(url, foreign_keys=False)  # SQLite: see make_engine
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
