"""Migration 0031: an entry may end `patient-archived`, a slot be freed `entered-in-error`; the
database holds the vocabulary before and after; a downgrade says them in the earlier words;
up, down and up again keep every row, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, Date, Engine, column, insert, select, table, update
from sqlalchemy.exc import IntegrityError

from tests.service.test_migrations import _TYPES, _clinic_at_revision_0004, _row_counts, scratch

__all__ = ["scratch"]  # the fixture

TYPES: dict[str, Any] = {
    **_TYPES,
    **dict.fromkeys(("earliest_date", "latest_date"), Date()),
    **dict.fromkeys(("practitioner_ids", "location_ids", "weekdays"), JSON()),
}
ENTRIES = table("waitlist_entries", column("id"), column("removal_reason"))
SLOTS = table("waitlist_freed_slots", column("id"), column("freed_by"))


def _insert(connection: Any, name: str, row: dict[str, Any]) -> None:
    connection.execute(insert(table(name, *(column(k, TYPES.get(k)) for k in row))), [row])


def _words(engine: Engine) -> tuple[list[str], list[str]]:
    with engine.connect() as connection:
        reasons = connection.execute(select(ENTRIES.c.removal_reason)).scalars()
        freed = connection.execute(select(SLOTS.c.freed_by)).scalars()
        return sorted(reasons), sorted(freed)


def _the_list_at_0030(engine: Engine) -> None:
    """The clinic of revision 0004 at 0030: its patient's entry removed by the clinic, and the
    slot its session gave back."""
    with engine.connect() as connection:
        names = ("patient_id", "practitioner_id", "id")
        patient, doctor, visit = connection.execute(
            select(*(column(n, TYPES[n]) for n in names)).select_from(table("treatment_sessions"))
        ).one()
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    with engine.begin() as connection:
        _insert(
            connection,
            "waitlist_entries",
            {
                "id": uuid.uuid4(),
                "patient_id": patient,
                "earliest_date": date(2027, 3, 1),
                "latest_date": date(2027, 3, 8),
                "practitioner_ids": [],
                "location_ids": [],
                "weekdays": [],
                "status": "removed",
                "removal_reason": "patient-request",
                "version": 1,
                **stamps,
            },
        )
        _insert(
            connection,
            "waitlist_freed_slots",
            {
                "id": uuid.uuid4(),
                "session_id": visit,
                "patient_id": patient,
                "practitioner_id": doctor,
                "start_at": now + timedelta(days=3),
                "end_at": now + timedelta(days=3, minutes=45),
                "time_zone": "UTC",
                "freed_by": "cancel",
                "status": "unfilled",
                **stamps,
            },
        )


def _say(engine: Engine, reason: str, freed_by: str) -> None:
    with engine.begin() as connection:
        connection.execute(update(ENTRIES).values(removal_reason=reason))
        connection.execute(update(SLOTS).values(freed_by=freed_by))


def test_migration_0031_goes_up_down_and_up_again_with_data(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    command.upgrade(config, "0004")
    _clinic_at_revision_0004(engine)
    command.upgrade(config, "0030")  # the revision before
    _the_list_at_0030(engine)
    before = _row_counts(engine)
    with pytest.raises(IntegrityError):  # the new words are not yet the database's
        _say(engine, "patient-archived", "cancel")
    command.upgrade(config, "0031")
    assert _words(engine) == (["patient-request"], ["cancel"])
    _say(engine, "patient-archived", "entered-in-error")
    assert _words(engine) == (["patient-archived"], ["entered-in-error"])
    for reason, freed_by in (("archived", "cancel"), ("patient-archived", "mistake")):
        with pytest.raises(IntegrityError):  # still a closed vocabulary
            _say(engine, reason, freed_by)
    command.downgrade(config, "-1")
    assert _words(engine) == (["other"], ["cancel"])
    assert _row_counts(engine) == before
    command.upgrade(config, "0031")
    assert _words(engine) == (["other"], ["cancel"])
    assert _row_counts(engine) == before
    command.upgrade(config, "head")
