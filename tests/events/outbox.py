"""Reading the outbox in the events tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from app.models import OutboxEvent


def events(engine: Engine) -> list[dict[str, Any]]:
    """The outbox's events in the order written, ids as text."""
    with engine.connect() as connection:
        table = OutboxEvent.__table__
        rows = connection.execute(select(table).order_by(table.c.seq)).mappings()
        return [
            {k: str(v) if k.endswith("_id") and v is not None else v for k, v in row.items()}
            for row in rows
        ]


def types(engine: Engine, **about: str) -> list[str]:
    """The types of the events about `about` (e.g. `session_id=...`), in order."""
    return [e["type"] for e in events(engine) if all(e[k] == v for k, v in about.items())]
