"""The database migrations, shipped inside the package, and running them from code.

The CLI, the server's start-up and the tests all migrate through `upgrade_to_head`; it needs
no `alembic.ini` and no source tree, so an installed package migrates from any directory.
`alembic.ini` at the repository's root points the `alembic` command here for developers
writing a new revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(database_url: str, *, runtime_url: str | None = None) -> Config:
    """An Alembic config for `database_url`, built in code from the migrations beside it.
    `runtime_url`: the API's own URL, when its role is not the one migrating (PostgreSQL: it
    is granted what it needs after the migrations, `app.migrations.roles`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False  # keep the service's log set-up
    config.attributes["runtime_database_url"] = runtime_url
    return config


def upgrade_to_head(database_url: str, *, runtime_url: str | None = None) -> None:
    """Bring the schema to the newest revision as `database_url`'s role; then, on
    PostgreSQL, grant `runtime_url`'s role (if another) what the API needs."""
    command.upgrade(alembic_config(database_url, runtime_url=runtime_url), "head")
