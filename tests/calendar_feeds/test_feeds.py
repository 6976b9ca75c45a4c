"""A practitioner's calendar feed as a calendar app reads it: their sessions as iCalendar
events that follow reschedules and cancellations, nothing more about the patient than their
initials, and a 304 while nothing changed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.calendar_feeds.service import FEED_AHEAD, FEED_PAST
from tests.calendar_feeds.feeds import at, book, events, fetch, issue, uid
from tests.factories import (
    WEEKDAYS_9_TO_17,
    Clock,
    eligible_patient,
    new_practitioner,
    next_weekday_at,
)


def test_the_feed_is_icalendar_with_one_event_per_session_in_utc(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any]
) -> None:
    _, first = book(client, doctor["id"], next_weekday_at(1, 9))
    _, second = book(client, doctor["id"], next_weekday_at(2, 14, 30), given_name="Émile")
    issued = issue(client, doctor["id"])
    assert set(issued) == {"url", "token"}
    assert issued["url"].endswith(f"/api/v1/calendar/{issued['token']}.ics")
    answer = fetch(anonymous, issued)
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    assert answer.headers["cache-control"] == "no-store"
    found = events(answer)
    assert set(found) == {uid(first), uid(second)}
    for session in (first, second):
        event = found[uid(session)]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start == at(session["start"])
        assert end == at(session["end"])
        assert start.utcoffset() == timedelta(0)
        assert b"DTSTART:" + start.strftime("%Y%m%dT%H%M%SZ").encode() in answer.content
        assert event["SEQUENCE"] == 0
        assert str(event["STATUS"]) == "CONFIRMED"
        assert event.decoded("DTSTAMP").tzinfo is not None
    assert str(found[uid(first)]["SUMMARY"]) == "Session: C.D."
    assert str(found[uid(second)]["SUMMARY"]) == "Session: É.D."


def test_a_reschedule_is_a_higher_sequence_with_the_new_time(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any]
) -> None:
    _, session = book(client, doctor["id"], next_weekday_at(1, 9))
    issued = issue(client, doctor["id"])
    before = fetch(anonymous, issued)
    assert events(before)[uid(session)]["SEQUENCE"] == 0
    for times, new_start in enumerate((next_weekday_at(1, 11), next_weekday_at(3, 15)), 1):
        moved = client.post(
            f"/api/v1/sessions/{session['id']}/reschedule", json={"start": new_start.isoformat()}
        )
        assert moved.status_code == 200, moved.text
        event = events(fetch(anonymous, issued))[uid(session)]
        assert event["SEQUENCE"] == times
        assert event.decoded("DTSTART") == new_start.astimezone(UTC)
        assert event.decoded("DTEND") == at(moved.json()["end"])


def test_statuses_show_as_the_readme_says_and_holds_never_appear(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any], clock: Clock
) -> None:
    _, kept = book(client, doctor["id"], next_weekday_at(1, 9))
    _, cancelled = book(client, doctor["id"], next_weekday_at(1, 10))
    _, mistaken = book(client, doctor["id"], next_weekday_at(1, 11))
    _, missed = book(client, doctor["id"], next_weekday_at(1, 12))
    for session, step in ((cancelled, "cancel"), (mistaken, "entered-in-error")):
        answer = client.post(
            f"/api/v1/sessions/{session['id']}/{step}", json={"reason": "Patient called"}
        )
        assert answer.status_code == 200, answer.text
    clock.travel_to(at(missed["start"]) + timedelta(minutes=20))
    assert client.post(f"/api/v1/sessions/{missed['id']}/no-show").status_code == 200
    clock.travel_to(at(kept["start"]) - timedelta(days=2))
    waiting = eligible_patient(client, doctor["id"])
    hold = client.post(
        "/api/v1/holds",
        json={
            "patient_id": waiting["id"],
            "practitioner_id": doctor["id"],
            "start": next_weekday_at(1, 14).isoformat(),
        },
    )
    assert hold.status_code == 201, hold.text
    found = events(fetch(anonymous, issue(client, doctor["id"])))
    assert set(found) == {uid(kept), uid(cancelled), uid(mistaken), uid(missed)}
    shown = {key: (str(e["STATUS"]), str(e["TRANSP"])) for key, e in found.items()}
    assert shown == {
        uid(kept): ("CONFIRMED", "OPAQUE"),
        uid(cancelled): ("CANCELLED", "TRANSPARENT"),
        uid(mistaken): ("CANCELLED", "TRANSPARENT"),
        uid(missed): ("CONFIRMED", "OPAQUE"),
    }
    assert str(found[uid(missed)]["SUMMARY"]) == "Session: C.D. (no-show)"
    assert f"{hold.json()['id']}@sclerosched" not in found


def test_a_feed_shows_its_practitioners_sessions_only(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any]
) -> None:
    other = new_practitioner(client, name="Dr Paul Martin", availability=WEEKDAYS_9_TO_17)
    _, mine = book(client, doctor["id"], next_weekday_at(1, 9))
    _, theirs = book(client, other["id"], next_weekday_at(1, 9))
    mine_feed, their_feed = issue(client, doctor["id"]), issue(client, other["id"])
    assert set(events(fetch(anonymous, mine_feed))) == {uid(mine)}
    assert set(events(fetch(anonymous, their_feed))) == {uid(theirs)}
    # Moved to the other practitioner: it leaves one feed for the other.
    moved = client.post(
        f"/api/v1/sessions/{mine['id']}/reschedule",
        json={"start": next_weekday_at(2, 9).isoformat(), "practitioner_id": other["id"]},
    )
    assert moved.status_code == 200, moved.text
    assert set(events(fetch(anonymous, mine_feed))) == set()
    assert set(events(fetch(anonymous, their_feed))) == {uid(theirs), uid(mine)}


def test_the_feed_spans_30_days_back_to_180_ahead(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any], clock: Clock
) -> None:
    _, session = book(client, doctor["id"], next_weekday_at(1, 9))
    issued = issue(client, doctor["id"])
    start = at(session["start"])
    inside = (start + FEED_PAST - timedelta(minutes=1), start - FEED_AHEAD + timedelta(minutes=1))
    outside = (start + FEED_PAST + timedelta(minutes=1), start - FEED_AHEAD - timedelta(minutes=1))
    for moment, shown in [*((m, True) for m in inside), *((m, False) for m in outside)]:
        clock.travel_to(moment)
        assert (uid(session) in events(fetch(anonymous, issued))) is shown, moment


def test_an_unchanged_feed_is_a_304_and_a_change_a_new_etag(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any]
) -> None:
    _, session = book(client, doctor["id"], next_weekday_at(1, 9))
    issued = issue(client, doctor["id"])
    first = fetch(anonymous, issued)
    tag = first.headers["etag"]
    assert fetch(anonymous, issued).content == first.content  # no "now" in it
    unchanged = fetch(anonymous, issued, **{"If-None-Match": tag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == tag
    assert (
        fetch(anonymous, issued, **{"If-None-Match": 'W/"1-0000000000000000"'}).status_code == 200
    )
    cancelled = client.post(f"/api/v1/sessions/{session['id']}/cancel", json={"reason": "Ill"})
    assert cancelled.status_code == 200
    changed = fetch(anonymous, issued, **{"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert str(events(changed)[uid(session)]["STATUS"]) == "CANCELLED"


def test_initials_only_unless_the_clinic_shows_full_names_and_no_other_phi(
    app: FastAPI, client: TestClient, anonymous: TestClient, doctor: dict[str, Any]
) -> None:
    person, session = book(
        client,
        doctor["id"],
        next_weekday_at(1, 9),
        given_name="Zoé",
        family_name="Quintanilla",
        phone="+33 6 12 34 56 78",
        email="zoe.q@example.org",
    )
    issued = issue(client, doctor["id"])
    body = fetch(anonymous, issued).content.decode()
    assert "Session: Z.Q." in body
    for secret in ("Zoé", "Quintanilla", "12 34", "example.org", person["id"], "1984"):
        assert secret not in body, secret
    policy = app.state.policy
    app.state.policy = dataclasses.replace(policy, calendar_full_names=True)
    try:
        event = events(fetch(anonymous, issued))[uid(session)]
    finally:
        app.state.policy = policy
    assert str(event["SUMMARY"]) == "Session: Zoé Quintanilla"
