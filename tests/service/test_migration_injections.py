"""Migration 0025: each treatment record written before lines of injections were kept becomes
one line, reads as one through the service, and up-down-up keeps every record's doses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Uuid, column, insert, inspect, select, table, update
from sqlalchemy.orm import Session

from app.fhir.procedures import procedure, record_of
from app.models import UTCDateTime
from app.sessions import lifecycle, listing
from app.sessions.schemas import SessionRead
from tests.fhir.clinical import parsed
from tests.service.test_migrations import _TYPES, _clinic_at_revision_0004, scratch

__all__ = ["scratch"]  # the fixture

BEFORE = "0024"  # the last revision before 0025
TYPES: dict[str, Any] = {**_TYPES, "completion_id": Uuid(), "administered_at": UTCDateTime()}
_LINE = ("sclerosant", "concentration_percent", "form", "volume_ml", "dose_mg")


def _rows(engine: Engine, name: str, *names: str, order: str = "id") -> list[tuple[Any, ...]]:
    columns = [column(n, TYPES.get(n)) for n in names]
    with engine.connect() as connection:
        found = connection.execute(
            select(*columns).select_from(table(name)).order_by(column(order))
        )
        return [tuple(row) for row in found]


def _record_before(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """The clinic of revision 0004, brought to the revision before 0025: its one treatment
    record, fulfilled."""
    [(record_id, session_id)] = _rows(engine, "completion_records", "id", "session_id")
    with engine.begin() as connection:
        sessions = table("treatment_sessions", column("id", Uuid()), column("status"))
        connection.execute(
            update(sessions).where(sessions.c.id == session_id).values(status="fulfilled")
        )
    return record_id, session_id


def test_a_record_of_before_is_one_line_and_reads_as_one(scratch: tuple[Config, Engine]) -> None:
    config, engine = scratch
    command.upgrade(config, "0004")
    _clinic_at_revision_0004(engine)
    command.upgrade(config, BEFORE)
    record_id, session_id = _record_before(engine)
    command.upgrade(config, "0025")
    moved = ("sclerosant", "concentration_percent", "volume_ml", "dose_mg")
    kept = {c["name"] for c in inspect(engine).get_columns("completion_records")}
    assert kept.isdisjoint(moved)
    assert "treated_sites" in kept
    names = ("id", "completion_id", "position", "site", "vessel", "foam_ratio", "gas", "count")
    assert _rows(engine, "injection_lines", *names, *_LINE) == [
        (record_id, record_id, 0, *[None] * 5, "polidocanol", 0.5, "liquid", 2.0, 10.0)
    ]
    # Read through the service, alone and listed, and as a FHIR Procedure: one line, no site,
    # the record's sites kept, and the single-agent figures as before.
    command.upgrade(config, "head")
    with Session(engine) as db:
        session = lifecycle.get_session_record(db=db, session_id=session_id)
        read = SessionRead.model_validate(session).completion
        assert read is not None
        assert [(i.site, i.vessel, i.count, i.form.value, i.dose_mg) for i in read.injections] == [
            (None, None, None, "liquid", 10.0)
        ]
        assert [s.value for s in read.treated_sites] == ["left-calf"]
        assert (read.sclerosant, read.concentration_percent, read.volume_ml, read.dose_mg) == (
            "polidocanol",
            0.5,
            2.0,
            10.0,
        )
        page, _ = listing.list_sessions(db=db, now=datetime.now(UTC), reviewed=False)
        [listed] = page.sessions
        assert SessionRead.model_validate(page.view(listed)).completion == read
        record = record_of(session)
        assert record is not None
        parsed(procedure(session, record))


def _treated(
    connection: Any, like: uuid.UUID, days_later: int, *lines: dict[str, Any]
) -> uuid.UUID:
    """A session like `like`, `days_later`, fulfilled, with a record of these lines (the
    schema of revision 0025)."""
    names = ("id", "patient_id", "practitioner_id", "start_at", "end_at", "time_zone")
    names += ("status", "created_at", "updated_at", "version")
    sessions = table("treatment_sessions", *(column(n, TYPES.get(n)) for n in names))
    model = connection.execute(select(sessions).where(sessions.c.id == like)).one()._asdict()
    visit, record, later = uuid.uuid4(), uuid.uuid4(), timedelta(days=days_later)
    start = model["start_at"] + later
    model |= {"id": visit, "start_at": start, "end_at": model["end_at"] + later}
    connection.execute(insert(sessions).values({**model, "status": "fulfilled"}))
    values = {"id": record, "session_id": visit, "treated_sites": ["left-calf"]}
    values |= {"administered_at": start, "anaesthetic": "none", "compression": False}
    values |= {"complications": [], "aftercare": ["walk"], "warnings": []}
    values |= {"recorded_at": datetime.now(UTC)}
    records = table("completion_records", *(column(n, TYPES.get(n)) for n in values))
    connection.execute(insert(records), [values])
    rows = [
        {"id": uuid.uuid4(), "completion_id": record, "position": n, **line}
        for n, line in enumerate(lines)
    ]
    connection.execute(
        insert(table("injection_lines", *(column(n, TYPES.get(n)) for n in rows[0]))), rows
    )
    return record


def _line(
    sclerosant: str, concentration: float, volume: float, dose: float, **more: Any
) -> dict[str, Any]:
    base = {"site": "left-calf", "vessel": "telangiectasia", "count": 5, "form": "liquid"}
    base |= {"foam_ratio": None, "gas": None}
    return base | {
        "sclerosant": sclerosant,
        "concentration_percent": concentration,
        "volume_ml": volume,
        "dose_mg": dose,
        **more,
    }


def test_down_and_up_again_keeps_every_records_doses(scratch: tuple[Config, Engine]) -> None:
    """Down, a record of several lines is folded into the columns of before: every
    milligram still counts (its doses and volumes summed, its highest strength), and it is
    polidocanol's if any line gave polidocanol, the one the daily limit sums."""
    config, engine = scratch
    command.upgrade(config, "0004")
    _clinic_at_revision_0004(engine)
    command.upgrade(config, BEFORE)
    first, session_id = _record_before(engine)
    command.upgrade(config, "0025")
    sts = "sodium-tetradecyl-sulfate"
    foamed = {"form": "foam", "foam_ratio": "1:4", "gas": "air", "site": "right-thigh"}
    with engine.begin() as connection:
        mixed = _treated(
            connection,
            session_id,
            30,
            _line(sts, 1, 5, 10, **foamed),
            _line("polidocanol", 0.5, 2, 10),
            _line("polidocanol", 1, 1, 10, vessel="reticular"),
        )
        sts_only = _treated(connection, session_id, 60, _line(sts, 3, 2, 60, count=None))
    command.downgrade(config, BEFORE)
    assert "injection_lines" not in inspect(engine).get_table_names()
    folded = _rows(engine, "completion_records", "id", *_LINE[:2], *_LINE[3:])
    assert sorted(folded) == sorted(
        [
            (first, "polidocanol", 0.5, 2.0, 10.0),
            (mixed, "polidocanol", 1.0, 8.0, 30.0),
            (sts_only, sts, 3.0, 2.0, 60.0),
        ]
    )
    command.upgrade(config, "0025")
    names = ("completion_id", "position", "site", *_LINE)
    assert sorted(_rows(engine, "injection_lines", *names)) == sorted(
        [
            (first, 0, None, "polidocanol", 0.5, "liquid", 2.0, 10.0),
            (mixed, 0, None, "polidocanol", 1.0, "liquid", 8.0, 30.0),
            (sts_only, 0, None, sts, 3.0, "liquid", 2.0, 60.0),
        ]
    )
