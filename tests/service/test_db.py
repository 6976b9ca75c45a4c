"""The database driver's own costs that the service sets (`app.db`): psycopg keeps the
rewriting of each statement it has sent (`%(name)s` into `$1`), for the long ones too; and a
connection reads time in UTC, so a stored moment needs no conversion as it is read; and a
list bound to a statement (`one_of`) leaves its text the same on PostgreSQL, whatever the
list's length; and the API's engine parses JSON with orjson, to the standard library's values."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import _queries
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from app.db import make_async_engine, make_engine
from app.models import AuditEvent, Patient, TreatmentSession, among, one_of
from tests.factories import POSTGRES_URL, eligible_patient, next_weekday_at
from tests.sessions.steps import booked


@pytest.mark.skipif(not POSTGRES_URL, reason="psycopg's own: PostgreSQL only (CI runs it)")
def test_a_bookings_statements_are_rewritten_once_not_on_every_booking(
    client: TestClient, doctor: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monday = next_weekday_at(0, 9)
    first, second = (eligible_patient(client, doctor["id"], given_name=n) for n in "AB")
    booked(client, patient_id=first["id"], practitioner_id=doctor["id"], start=monday)
    rewritten: list[bytes] = []
    uncached = _queries._query2pg_nocache  # what psycopg calls for a statement it keeps not

    def counted(query: bytes, encoding: str) -> Any:
        rewritten.append(query)
        return uncached(query, encoding)

    monkeypatch.setattr(_queries, "_query2pg_nocache", counted)
    again = monday + timedelta(hours=1)
    booked(client, patient_id=second["id"], practitioner_id=doctor["id"], start=again)
    assert [len(query) for query in rewritten] == []  # booking's checks alone are 8 KB


@pytest.mark.skipif(not POSTGRES_URL, reason="a PostgreSQL session's time zone: PostgreSQL only")
@pytest.mark.parametrize("asked", ["", "?options=-c%20TimeZone%3DAsia/Tokyo"])
def test_a_connection_reads_time_in_utc_whatever_the_server_or_the_url_say(
    client: TestClient, doctor: dict[str, Any], asked: str
) -> None:
    """`UTCDateTime` converts nothing as PostgreSQL's moments are read: they must come back
    in UTC already (the API writes them as it gets them), on the API's engine and the
    commands' alike, even where the server or the URL's own options would read them in
    another zone."""
    patient = eligible_patient(client, doctor["id"])
    start = next_weekday_at(0, 9)
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=start)
    url = f"{POSTGRES_URL}{asked}"

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
            read = connection.execute(select(TreatmentSession.start_at)).scalar_one()
    finally:
        engine.dispose()
    assert read.tzinfo is UTC
    assert read == start

    async def read_async() -> tuple[str, datetime]:
        engine = make_async_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                zone = (await connection.execute(text("SHOW TimeZone"))).scalar_one()
                found = await connection.execute(select(TreatmentSession.start_at))
                return zone, found.scalar_one()
        finally:
            await engine.dispose()

    zone, read = asyncio.run(read_async())
    assert zone == "UTC"
    assert read.tzinfo is UTC
    assert read == start


def test_one_of_finds_the_rows_of_a_list_of_any_length_in_one_statement_text(
    client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    """`one_of` is `IN` over a list bound at execution: the rows of each id listed, none of
    another; for an empty list, none. On PostgreSQL the list is one array parameter, so the
    statement's text is one whatever its length (psycopg and the server prepare it once)."""
    ids = [uuid.UUID(eligible_patient(client, doctor["id"], given_name=n)["id"]) for n in "ABC"]
    listed = select(Patient.id).where(one_of(Patient.id, "ids")).order_by(Patient.id)
    sent: list[str] = []

    def seen(*args: Any) -> None:
        sent.append(args[2])  # the statement's text, as the driver gets it

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.connect() as connection:
            found = [
                connection.execute(listed, {"ids": asked}).scalars().all()
                for asked in ([ids[0]], ids[1:], [], [uuid.uuid4()])
            ]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert found == [[ids[0]], sorted(ids[1:]), [], []]
    if engine.dialect.name == "postgresql":
        assert len(set(sent)) == 1
        assert "ANY" in sent[0]


@pytest.mark.skipif(not POSTGRES_URL, reason="the API engine's JSON parser: PostgreSQL only")
def test_the_api_engine_parses_json_to_the_standard_librarys_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API's engine parses JSON with orjson (`app.db`): the values the standard library
    would give, and where orjson refuses what PostgreSQL stored (a lone surrogate, escaped), the
    standard library's parse rather than an error."""
    calls: list[object] = []
    fast = orjson.loads

    def counted(data: object) -> Any:
        calls.append(data)
        return fast(data)

    monkeypatch.setattr(orjson, "loads", counted)
    stored = [
        '[{"code": "pill", "severity": "blocking", "detail": "Ça, 72.5 kg", "n": null}]',
        '{"old": 72.5, "new": 3, "ok": true, "notes": ["a\\"b", "\\u00e9"]}',
        '{"notes": "\\ud800 alone"}',
    ]

    async def read() -> list[object]:
        engine = make_async_engine(POSTGRES_URL, pool_size=1)
        try:
            async with engine.connect() as connection:
                return [
                    (await connection.execute(text("SELECT CAST(:v AS json)"), {"v": v})).scalar()
                    for v in stored
                ]
        finally:
            await engine.dispose()

    assert asyncio.run(read()) == [json.loads(v) for v in stored]
    assert len(calls) == len(stored)  # each went to orjson first


def test_a_read_whose_statements_committed_as_they_ran_is_not_committed_again(
    app: FastAPI, client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    """A read on PostgreSQL (each statement commits as it runs, its audit event written by the
    read itself) is closed with no commit to make; a list, whose one event is written at the
    commit, is committed, and its event kept; on SQLite every request commits. Nothing the
    requests recorded is lost either way."""
    patient = eligible_patient(client, doctor["id"])
    commits: list[object] = []

    def counted(connection: Any) -> None:
        commits.append(connection)

    api_engine = app.state.engine.sync_engine
    events_before = _events(engine)
    event.listen(api_engine, "commit", counted)
    try:
        read = client.get(f"/api/v1/patients/{patient['id']}")
        read_commits = len(commits)
        listed = client.get("/api/v1/patients", params={"q": patient["family_name"]})
    finally:
        event.remove(api_engine, "commit", counted)
    assert read.status_code == listed.status_code == 200
    assert [p["id"] for p in listed.json()["items"]] == [patient["id"]]
    postgresql = api_engine.dialect.name == "postgresql"
    assert read_commits == (0 if postgresql else 1)
    assert len(commits) == read_commits + 1
    recorded = _events(engine)[len(events_before) :]
    assert [(e.action, e.resource_type) for e in recorded] == [
        ("read", "patient"),
        ("search", "patient"),
    ]


def _events(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_among_a_fixed_list_finds_its_rows_with_nothing_rewritten_at_execution(
    client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    """`among` is `IN` over values fixed when the statement is built: the rows of those values
    only, and no expanding parameter (which SQLAlchemy writes out into the statement's text at
    every execution)."""
    ids = {n: uuid.UUID(eligible_patient(client, doctor["id"], given_name=n)["id"]) for n in "AB"}
    with Session(engine) as db:
        db.get_one(Patient, ids["B"]).archived = True
        db.commit()
    listed = select(Patient.id).where(among(Patient.archived, [True]), one_of(Patient.id, "ids"))
    compiled = listed.compile(dialect=engine.dialect)
    assert not any(p.expanding for p in compiled.binds.values() if p.key != "ids")
    with engine.connect() as connection:
        found = connection.execute(listed, {"ids": list(ids.values())}).scalars().all()
    assert found == [ids["B"]]
