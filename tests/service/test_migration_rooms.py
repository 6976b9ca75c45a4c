"""Migration 0028: a location per time zone in use, a room per practitioner there, every
practitioner's hours and every session moved onto them; up, down and up again with data; on
PostgreSQL, the room's exclusion constraint over what was moved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Time, Uuid, column, insert, inspect, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.sessions import listing
from tests.service.test_migrations import _TYPES, _clinic_at_revision_0004, _row_counts, scratch

__all__ = ["scratch"]  # the fixture

BEFORE = "0027"  # the last revision before 0028
TYPES: dict[str, Any] = {
    **_TYPES,
    **dict.fromkeys(("location_id", "room_id"), Uuid()),
    "start_time": Time(),
    "end_time": Time(),
}
PARIS, TOKYO = "Europe/Paris", "Asia/Tokyo"


def _insert(connection: Any, name: str, *rows: dict[str, Any]) -> None:
    columns = [column(key, TYPES.get(key)) for key in rows[0]]
    connection.execute(insert(table(name, *columns)), list(rows))


def _rows(engine: Engine, name: str, *names: str) -> list[tuple[Any, ...]]:
    columns = [column(n, TYPES.get(n)) for n in names]
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns).select_from(table(name)))]


def _clinic_before(engine: Engine) -> dict[str, uuid.UUID]:
    """The clinic of revision 0004 (Dr A, on UTC, one session) at revision 0027, and two
    practitioners in Paris seeing patients at the same time; Dr B once booked in Tokyo."""
    [(patient,)] = _rows(engine, "patients", "id")
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now, "version": 1}
    ids = {name: uuid.uuid4() for name in ("b", "c", "b_paris", "c_paris", "b_tokyo")}
    start = datetime(2027, 3, 1, 9, tzinfo=UTC)
    with engine.begin() as connection:
        for key, name in (("b", "Dr B"), ("c", "Dr C")):
            _insert(
                connection,
                "practitioners",
                {
                    "id": ids[key],
                    "name": name,
                    "name_key": name.casefold(),
                    "active": True,
                    "time_zone": PARIS,
                    **stamps,
                },
            )
            _insert(
                connection,
                "practitioner_availability",
                *(
                    {
                        "id": uuid.uuid4(),
                        "practitioner_id": ids[key],
                        "weekday": day,
                        "start_time": time(9),
                        "end_time": time(17),
                    }
                    for day in range(5)
                ),
            )
        visits = [("b_paris", "b", start, PARIS), ("c_paris", "c", start, PARIS)]
        visits.append(("b_tokyo", "b", start + timedelta(days=7), TOKYO))
        for key, who, at, zone in visits:
            _insert(
                connection,
                "treatment_sessions",
                {
                    "id": ids[key],
                    "patient_id": patient if key != "c_paris" else _another_patient(connection),
                    "practitioner_id": ids[who],
                    "start_at": at,
                    "end_at": at + timedelta(minutes=45),
                    "time_zone": zone,
                    "status": "booked",
                    **stamps,
                },
            )
    [doctor_a] = [
        who for who, name in _rows(engine, "practitioners", "id", "name") if name == "Dr A"
    ]
    return {**ids, "a": doctor_a}


def _another_patient(connection: Any) -> uuid.UUID:
    now = datetime.now(UTC)
    other = uuid.uuid4()
    _insert(
        connection,
        "patients",
        {
            "id": other,
            "given_name": "Sofia",
            "family_name": "Marchetti",
            "given_key": "sofia",
            "family_key": "marchetti",
            "birth_date": datetime(1979, 11, 2).date(),
            "sex": "female",
            "archived": False,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        },
    )
    return other


def _moved(engine: Engine, ids: dict[str, uuid.UUID]) -> None:
    """What 0028 made of the clinic: a location per zone, a room per practitioner and zone,
    the hours at their practitioner's zone's location, each session in its room."""
    sites = {zone: site for site, zone in _rows(engine, "locations", "id", "time_zone")}
    assert sorted(sites) == sorted(["UTC", PARIS, TOKYO])
    names = {name for (name,) in _rows(engine, "locations", "name")}
    assert names == {f"Main site ({zone})" for zone in sites}
    rooms = _rows(engine, "rooms", "id", "location_id", "name", "active")
    assert sorted((site, name, active) for _, site, name, active in rooms) == sorted(
        [
            (sites["UTC"], "Room 1: Dr A", True),
            (sites[PARIS], "Room 1: Dr B", True),
            (sites[PARIS], "Room 2: Dr C", True),
            (sites[TOKYO], "Room 1: Dr B", True),
        ]
    )
    room = {(site, name.split(": ")[1]): room_id for room_id, site, name, _ in rooms}
    hours = _rows(engine, "practitioner_availability", "practitioner_id", "location_id")
    zone_of = {ids["a"]: "UTC", ids["b"]: PARIS, ids["c"]: PARIS}
    assert all(site == sites[zone_of[who]] for who, site in hours)
    found = _rows(engine, "treatment_sessions", "id", "location_id", "room_id")
    sessions = {key: (site, room_id) for key, site, room_id in found}
    assert sessions[ids["b_paris"]] == (sites[PARIS], room[sites[PARIS], "Dr B"])
    assert sessions[ids["c_paris"]] == (sites[PARIS], room[sites[PARIS], "Dr C"])
    assert sessions[ids["b_tokyo"]] == (sites[TOKYO], room[sites[TOKYO], "Dr B"])
    assert len({room_id for _, room_id in sessions.values()}) == len(sessions)


def test_each_zone_gets_a_location_and_each_practitioner_a_room(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    command.upgrade(config, "0004")
    _clinic_at_revision_0004(engine)
    command.upgrade(config, BEFORE)
    ids = _clinic_before(engine)
    before = _row_counts(engine)
    command.upgrade(config, "0028")
    _moved(engine, ids)
    # Read through the service at head: each session shows its room.
    command.upgrade(config, "head")
    with Session(engine) as db:
        page, _ = listing.list_sessions(db=db, now=datetime.now(UTC), reviewed=False)
        assert all(s.room_id is not None and s.location_id is not None for s in page.sessions)
    command.downgrade(config, BEFORE)
    assert _row_counts(engine) == before
    for name in ("practitioner_availability", "treatment_sessions"):
        assert "location_id" not in {c["name"] for c in inspect(engine).get_columns(name)}
    command.upgrade(config, "0028")
    _moved(engine, ids)


def test_postgresql_refuses_two_sessions_in_one_room_at_once(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    if engine.dialect.name != "postgresql":
        pytest.skip("exclusion constraints are PostgreSQL's (SQLite: the write lock)")
    command.upgrade(config, "0004")
    _clinic_at_revision_0004(engine)
    command.upgrade(config, BEFORE)
    ids = _clinic_before(engine)
    command.upgrade(config, "0028")
    names = ("id", "patient_id", "practitioner_id", "start_at", "end_at", "time_zone")
    names += ("status", "created_at", "updated_at", "version", "location_id", "room_id")
    sessions = table("treatment_sessions", *(column(n, TYPES.get(n)) for n in names))
    with engine.connect() as connection:
        taken = connection.execute(select(sessions).where(sessions.c.id == ids["c_paris"])).one()
    # Dr A, free then, with a patient free then, in the room Dr C's session was moved to,
    # at its time.
    with engine.begin() as connection:
        free = _another_patient(connection)
    clash = {**taken._asdict(), "id": uuid.uuid4(), "practitioner_id": ids["a"], "patient_id": free}
    with (
        pytest.raises(IntegrityError, match="ex_treatment_sessions_room_id_overlap"),
        engine.begin() as connection,
    ):
        connection.execute(insert(sessions).values(clash))
    # A cancelled session takes no time: it may lie there.
    with engine.begin() as connection:
        connection.execute(insert(sessions).values({**clash, "status": "cancelled"}))
