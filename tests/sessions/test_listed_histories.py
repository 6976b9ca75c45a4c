"""A listed session's history is the session's own: on PostgreSQL it comes in the list's page
statement (one JSON array a session, `app.sessions.listing`), elsewhere in one statement after
the page; either way the same events, in order, with the same values."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import eligible_patient, next_weekday_at
from tests.sessions.steps import booked, listed_day, ok


def test_a_listed_history_is_the_sessions_own_read_with_the_page(
    client: TestClient, doctor: dict[str, Any], app: FastAPI
) -> None:
    monday = next_weekday_at(0, 10)
    moved, cancelled, kept = (
        booked(
            client,
            patient_id=eligible_patient(client, doctor["id"], given_name=name)["id"],
            practitioner_id=doctor["id"],
            start=monday + timedelta(hours=hour),
        )
        for name, hour in (("Ana", 0), ("Bea", 2), ("Cyd", 4))
    )
    ok(
        client.post(
            f"/api/v1/sessions/{moved['id']}/reschedule",
            json={"start": (monday + timedelta(hours=1)).isoformat(), "reason": "Asked"},
        )
    )
    ok(client.post(f"/api/v1/sessions/{cancelled['id']}/cancel", json={"reason": "Unwell"}))
    listed, sent = listed_day(client, app, doctor["id"], monday.replace(hour=0))

    assert [s["id"] for s in listed] == [moved["id"], cancelled["id"], kept["id"]]
    for session in listed:
        own = ok(client.get(f"/api/v1/sessions/{session['id']}"))
        assert session["history"] == own["history"]
    histories = {s["id"]: s["history"] for s in listed}
    assert [h["action"] for h in histories[moved["id"]]] == ["book", "reschedule"]
    assert histories[moved["id"]][1]["reason"] == "Asked"
    assert histories[moved["id"]][1]["old_start"] == moved["start"]
    assert [h["to_status"] for h in histories[cancelled["id"]]] == ["booked", "cancelled"]
    assert [h["action"] for h in histories[kept["id"]]] == ["book"]
    reading_events = [s for s in sent if "session_events" in s]
    assert len(reading_events) == 1  # one statement for every session's history
    if app.state.engine.dialect.name == "postgresql":
        assert "FROM treatment_sessions" in reading_events[0]  # the page's own
