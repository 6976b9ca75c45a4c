"""The database driver's own costs that the service sets: psycopg keeps the rewriting of each
statement it has sent (`%(name)s` into `$1`), for the long ones too (`app.db`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import _queries

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
