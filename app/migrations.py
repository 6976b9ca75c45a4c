"""Running the Alembic migrations from code (the CLI, the server start-up and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config for `database_url`, found beside the source or in the working dir."""
    for root in (_SOURCE_ROOT, Path.cwd()):
        ini = root / "alembic.ini"
        if ini.is_file() and (root / "migrations" / "env.py").is_file():
            config = Config(str(ini))
            config.attributes["configure_logger"] = False  # keep the service's log set-up
            config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
            return config
    raise FileNotFoundError(
        "alembic.ini and migrations/ not found: run from the sclerosched source directory"
    )


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
