"""The database driver's own costs that the service sets (`app.db`): psycopg keeps the
rewriting of each statement it has sent (`%(name)s` into `$1`), for the long ones too; and a
connection reads time in UTC, so a stored moment needs no conversion as it is read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import _queries
from sqlalchemy import select, text

from app.db import make_async_engine, make_engine
from app.models import TreatmentSession
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
