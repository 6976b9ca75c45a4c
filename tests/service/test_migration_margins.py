"""Migration 0029: practitioners gain a buffer and a minimum notice (null: the clinic's) and
session events whether they were booked inside the notice (false for every one before); the
database holds the bounds; up-down-up keeps every row, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Boolean, Engine, Integer, Uuid, column, inspect, select, table, update
from sqlalchemy.exc import IntegrityError

from tests.service.test_migrations import _clinic_at_revision_0004, _row_counts, scratch

__all__ = ["scratch"]  # the fixture

PRACTITIONERS = table(
    "practitioners",
    column("id", Uuid()),
    column("buffer_minutes", Integer()),
    column("min_notice_minutes", Integer()),
)
EVENTS = table("session_events", column("id", Uuid()), column("within_notice", Boolean()))


def _columns(engine: Engine, name: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(name)}


def _margins(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        doctors = connection.execute(
            select(PRACTITIONERS.c.buffer_minutes, PRACTITIONERS.c.min_notice_minutes)
        )
        events = connection.execute(select(EVENTS.c.within_notice))
        return [*map(tuple, doctors), *map(tuple, events)]


def test_migration_0029_goes_up_down_and_up_again_with_data(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    command.upgrade(config, "0004")
    _clinic_at_revision_0004(engine)  # a practitioner with a session and its booked event
    command.upgrade(config, "0028")  # the revision before
    before = _row_counts(engine)
    command.upgrade(config, "0029")
    assert {"buffer_minutes", "min_notice_minutes"} <= _columns(engine, "practitioners")
    # What was there takes the clinic's (null), and no event was booked inside a notice.
    assert _margins(engine) == [(None, None), (False,)]
    after = _row_counts(engine)
    assert {name: after[name] for name in before} == before
    with engine.begin() as connection:
        connection.execute(update(PRACTITIONERS).values(buffer_minutes=15, min_notice_minutes=60))
        connection.execute(update(EVENTS).values(within_notice=True))
    assert _margins(engine) == [(15, 60), (True,)]
    for values in ({"buffer_minutes": 121}, {"min_notice_minutes": -1}):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(update(PRACTITIONERS).values(values))
    command.downgrade(config, "-1")
    assert not {"buffer_minutes", "min_notice_minutes"} & _columns(engine, "practitioners")
    assert "within_notice" not in _columns(engine, "session_events")
    assert _row_counts(engine) == before
    command.upgrade(config, "0029")
    assert _margins(engine) == [(None, None), (False,)]
    after = _row_counts(engine)
    assert {name: after[name] for name in before} == before
    command.upgrade(config, "head")
