"""The waitlist as the database keeps it: its constraints hold what the services rely on (one
entry on the list a patient, one standing offer a slot and an entry, a window in order),
whatever writes; and migration 0030 goes down and up again with the list in its tables."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, insert, inspect, select, table
from sqlalchemy.exc import IntegrityError

from app.models import (
    FreedSlot,
    Location,
    Patient,
    Practitioner,
    Room,
    TreatmentSession,
    WaitlistEntry,
    WaitlistOffer,
)
from app.vocabulary import FreedSlotStatus, OfferStatus, SessionStatus, SlotFreedBy, WaitlistStatus
from tests.factories import scratch_database

WAITLIST_TABLES = {"waitlist_entries", "waitlist_freed_slots", "waitlist_offers"}
NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)


def _ids(engine: Engine) -> dict[str, uuid.UUID]:
    """A patient, a practitioner and a cancelled session, as rows."""
    ids = {name: uuid.uuid4() for name in ("patient", "doctor", "site", "room", "session")}
    stamps = {"created_at": NOW, "updated_at": NOW, "version": 1}
    with engine.begin() as connection:
        connection.execute(
            insert(Patient.__table__).values(
                id=ids["patient"],
                given_name="Claire",
                family_name="Dubois",
                given_key="claire",
                family_key="dubois",
                birth_date=date(1984, 3, 12),
                sex="female",
                archived=False,
                **stamps,
            )
        )
        connection.execute(
            insert(Practitioner.__table__).values(
                id=ids["doctor"],
                name="Dr A",
                name_key="dr a",
                time_zone="Europe/Paris",
                active=True,
                **stamps,
            )
        )
        connection.execute(
            insert(Location.__table__).values(
                id=ids["site"], name="Site", name_key="site", time_zone="Europe/Paris", **stamps
            )
        )
        connection.execute(
            insert(Room.__table__).values(
                id=ids["room"],
                location_id=ids["site"],
                name="Room 1",
                name_key="room 1",
                active=True,
                **stamps,
            )
        )
        connection.execute(
            insert(TreatmentSession.__table__).values(
                location_id=ids["site"],
                room_id=ids["room"],
                id=ids["session"],
                patient_id=ids["patient"],
                practitioner_id=ids["doctor"],
                start_at=NOW + timedelta(days=7),
                end_at=NOW + timedelta(days=7, minutes=45),
                time_zone="Europe/Paris",
                status=SessionStatus.CANCELLED,
                **stamps,
            )
        )
    return ids


def _entry(ids: dict[str, uuid.UUID], **changes: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "patient_id": ids["patient"],
        "earliest_date": date(2027, 3, 5),
        "latest_date": date(2027, 3, 12),
        "practitioner_ids": [],
        "location_ids": [],
        "weekdays": [],
        "status": WaitlistStatus.WAITING,
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
        **changes,
    }


def _slot(ids: dict[str, uuid.UUID]) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "session_id": ids["session"],
        "patient_id": ids["patient"],
        "practitioner_id": ids["doctor"],
        "start_at": NOW + timedelta(days=7),
        "end_at": NOW + timedelta(days=7, minutes=45),
        "time_zone": "Europe/Paris",
        "freed_by": SlotFreedBy.CANCEL,
        "status": FreedSlotStatus.OFFERED,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _offer(ids: dict[str, uuid.UUID], entry: uuid.UUID, slot: uuid.UUID, **changes: Any) -> Any:
    return {
        "id": uuid.uuid4(),
        "entry_id": entry,
        "freed_slot_id": slot,
        "patient_id": ids["patient"],
        "practitioner_id": ids["doctor"],
        "start_at": NOW + timedelta(days=7),
        "end_at": NOW + timedelta(days=7, minutes=45),
        "status": OfferStatus.OFFERED,
        "expires_at": NOW + timedelta(hours=2),
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
        **changes,
    }


def _write(engine: Engine, model: type[Any], *rows: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(model.__table__), list(rows))


def _a_list(engine: Engine) -> dict[str, uuid.UUID]:
    ids = _ids(engine)
    entry, slot = _entry(ids), _slot(ids)
    _write(engine, WaitlistEntry, entry)
    _write(engine, FreedSlot, slot)
    _write(engine, WaitlistOffer, _offer(ids, entry["id"], slot["id"]))
    return {**ids, "entry": entry["id"], "slot": slot["id"]}


def _breaching(engine: Engine, made: dict[str, uuid.UUID], breach: str) -> tuple[Any, Any]:
    """The write that breaks the rule `breach` names (what it needs written first)."""
    if breach == "second-on-list":
        return WaitlistEntry, _entry(made, status=WaitlistStatus.OFFERED)
    if breach == "window-reversed":
        return WaitlistEntry, _entry(
            made, status=WaitlistStatus.REMOVED, latest_date=date(2027, 3, 1)
        )
    if breach == "slot-twice":  # another patient's standing offer of the same slot
        someone = _ids(engine)
        other = _entry(someone)
        _write(engine, WaitlistEntry, other)
        return WaitlistOffer, _offer(someone, other["id"], made["slot"])
    slot = _slot(made)  # a second standing offer to one entry
    _write(engine, FreedSlot, slot)
    return WaitlistOffer, _offer(made, made["entry"], slot["id"])


@pytest.mark.parametrize(
    "breach", ["second-on-list", "window-reversed", "slot-twice", "entry-twice"]
)
def test_the_database_holds_what_the_waitlist_relies_on(engine: Engine, breach: str) -> None:
    made = _a_list(engine)
    model, row = _breaching(engine, made, breach)
    with pytest.raises(IntegrityError):
        _write(engine, model, row)
    # Ended entries and offers no longer standing are kept, as many as there were.
    _write(engine, WaitlistEntry, _entry(made, status=WaitlistStatus.REMOVED))


def _counts(engine: Engine, names: set[str]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(table(name))) or 0
            for name in sorted(names)
        }


def test_migration_0030_goes_down_and_up_again_with_a_waitlist(tmp_path: Path) -> None:
    with scratch_database(tmp_path, "waitlist") as (config, engine):
        command.upgrade(config, "0030")
        _a_list(engine)
        others = set(inspect(engine).get_table_names()) - WAITLIST_TABLES - {"alembic_version"}
        before = _counts(engine, others)
        assert _counts(engine, WAITLIST_TABLES) == dict.fromkeys(sorted(WAITLIST_TABLES), 1)
        command.downgrade(config, "-1")
        assert not WAITLIST_TABLES & set(inspect(engine).get_table_names())
        assert _counts(engine, others) == before  # the list went, nothing else
        command.upgrade(config, "0030")
        assert _counts(engine, WAITLIST_TABLES) == dict.fromkeys(sorted(WAITLIST_TABLES), 0)
        _a_list(engine)
        assert _counts(engine, WAITLIST_TABLES) == dict.fromkeys(sorted(WAITLIST_TABLES), 1)
