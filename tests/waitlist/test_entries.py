"""Waitlist entries as records: added with a window and preferences, listed longest waiting
first, read with an ETag, taken off with a reason (`If-Match` honoured), retried safely; bad
input is a clear 4xx that stores nothing; a patient booked in their window leaves the list."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from app.models import WaitlistEntry
from tests.factories import assert_problem, count_rows, tag_version
from tests.sessions.clinic import Clinic, ok, paris_day
from tests.waitlist.steps import Waitlist, day, slot_start

ENTRIES = WaitlistEntry.__tablename__


def test_an_entry_is_added_read_listed_and_removed(clinic: Clinic, waitlist: Waitlist) -> None:
    patient = clinic.patient()
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    response = waitlist.try_add(
        patient, weekdays=[4, 0], practitioner_ids=[clinic.doctor["id"]], notes="Mornings."
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert response.headers["Location"] == f"/api/v1/waitlist/{entry['id']}"
    assert tag_version(response.headers["ETag"]) == entry["version"] == 1
    assert entry["plan_id"] == plan["id"]  # the patient's active course, by default
    assert (entry["status"], entry["weekdays"], entry["notes"]) == ("waiting", [0, 4], "Mornings.")
    assert entry["earliest"] == day(slot_start(), -3)
    assert waitlist.entry(entry) == entry

    site = clinic.doctor["availability"][0]["location_id"]
    other = waitlist.add(clinic.patient(), location_ids=[site])
    assert other["location_ids"] == [site]
    unknown = str(uuid.uuid4())
    refused = clinic.client.post(
        "/api/v1/waitlist",
        json={
            "patient_id": clinic.patient(),
            "earliest": day(slot_start(), -3),
            "latest": day(slot_start(), 3),
            "location_ids": [unknown],
        },
    )
    assert_problem(refused, 422, "unknown-location")
    assert unknown in refused.json()["detail"]
    first = ok(clinic.client.get("/api/v1/waitlist", params={"limit": 1}))
    assert [e["id"] for e in first["items"]] == [entry["id"]]  # longest waiting first
    rest = ok(clinic.client.get("/api/v1/waitlist", params={"cursor": first["next_cursor"]}))
    assert ([e["id"] for e in rest["items"]], rest["next_cursor"]) == ([other["id"]], None)
    mine = ok(clinic.client.get("/api/v1/waitlist", params={"patient_id": patient}))
    assert [e["id"] for e in mine["items"]] == [entry["id"]]

    url = f"/api/v1/waitlist/{entry['id']}"
    assert_problem(clinic.client.delete(url), 422, "validation-error")  # no reason
    stale = {"If-Match": 'W/"2"'}
    assert_problem(
        clinic.client.delete(url, params={"reason": "patient-request"}, headers=stale),
        412,
        "version-mismatch",
    )
    removed = clinic.client.delete(
        url, params={"reason": "patient-request"}, headers={"If-Match": 'W/"1"'}
    )
    assert removed.status_code == 200, removed.text
    assert (removed.json()["status"], removed.json()["removal_reason"]) == (
        "removed",
        "patient-request",
    )
    assert_problem(clinic.client.delete(url, params={"reason": "other"}), 409, "invalid-transition")
    listed = ok(clinic.client.get("/api/v1/waitlist"))["items"]
    assert [e["id"] for e in listed] == [other["id"]]  # by default, those still on the list
    removed_ones = ok(clinic.client.get("/api/v1/waitlist", params={"status": "removed"}))
    assert [e["id"] for e in removed_ones["items"]] == [entry["id"]]
    waitlist.add(patient)  # off the list: may be put on it again


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"earliest": "2027-02-10", "latest": "2027-02-01"}, 422, "validation-error"),
        ({"earliest": "2020-01-01", "latest": "2020-01-31"}, 422, "validation-error"),
        ({"latest": "2099-12-31"}, 422, "validation-error"),  # longer than a year
        ({"earliest": "2027-02-31"}, 422, "validation-error"),
        ({"earliest": 20270201}, 422, "validation-error"),
        ({"weekdays": [7]}, 422, "validation-error"),
        ({"weekdays": [1, 1]}, 422, "validation-error"),
        ({"weekdays": ["monday"]}, 422, "validation-error"),
        ({"practitioner_ids": ["not-an-id"]}, 422, "validation-error"),
        ({"location_ids": [str(uuid.UUID(int=1))] * 2}, 422, "validation-error"),
        ({"notes": "a\x00b"}, 422, "validation-error"),
        ({"unknown_field": 1}, 422, "validation-error"),
        ({"patient_id": str(uuid.uuid4())}, 422, "unknown-patient"),
        ({"practitioner_ids": [str(uuid.uuid4())]}, 422, "unknown-practitioner"),
        ({"plan_id": str(uuid.uuid4())}, 422, "unknown-plan"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    clinic: Clinic, waitlist: Waitlist, changes: dict[str, Any], status: int, code: str
) -> None:
    patient = clinic.patient()
    body = {**changes}
    named = body.pop("patient_id", patient)
    assert_problem(waitlist.try_add(named, **body), status, code)
    assert count_rows(clinic.engine, ENTRIES) == 0


def test_a_patient_is_on_the_list_once_and_an_archived_one_never(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    patient = clinic.patient()
    entry = waitlist.add(patient)
    again = assert_problem(waitlist.try_add(patient), 409, "already-waitlisted")
    assert again["entry_id"] == entry["id"]
    archived = clinic.patient()
    ok(clinic.client.delete(f"/api/v1/patients/{archived}"))
    assert_problem(waitlist.try_add(archived), 409, "patient-archived")
    assert count_rows(clinic.engine, ENTRIES) == 1
    assert_problem(clinic.client.get(f"/api/v1/waitlist/{uuid.uuid4()}"), 404, "not-found")
    assert_problem(
        clinic.client.get("/api/v1/waitlist", params={"status": "gone"}), 422, "validation-error"
    )


def test_a_retried_add_with_its_idempotency_key_adds_once(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    patient = clinic.patient()
    body = {"patient_id": patient, "earliest": day(slot_start()), "latest": day(slot_start(), 5)}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = clinic.client.post("/api/v1/waitlist", json=body, headers=key)
    again = clinic.client.post("/api/v1/waitlist", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert count_rows(clinic.engine, ENTRIES) == 1


def test_a_patient_booked_in_their_window_leaves_the_list(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    start = slot_start()
    patient, moved = clinic.patient(), clinic.patient()
    outside = clinic.book(patient, start - timedelta(days=15))  # outside the window: waits on
    entry = waitlist.add(patient)
    assert waitlist.entry(entry)["status"] == "waiting"
    inside = clinic.book(patient, start + timedelta(days=2))
    ended = waitlist.entry(entry)
    assert (ended["status"], ended["booked_session_id"]) == ("booked", inside["id"])
    assert ended["version"] == 2
    assert outside["id"] != inside["id"]
    # Moved into the window, too.
    visit = clinic.book(moved, paris_day(60, 10))
    moved_entry = waitlist.add(moved)
    ok(
        clinic.client.post(
            f"/api/v1/sessions/{visit['id']}/reschedule", json={"start": start.isoformat()}
        )
    )
    assert waitlist.entry(moved_entry)["status"] == "booked"


def test_taking_an_offered_patient_off_the_list_passes_their_slot_on(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    cancelled = waitlist.booked_at_slot()
    first, second = clinic.patient(), clinic.patient()
    entry = waitlist.add(first)
    waitlist.add(second)
    waitlist.cancel(cancelled)
    [offer] = waitlist.standing()
    assert offer["entry_id"] == entry["id"]

    removed = ok(
        clinic.client.delete(f"/api/v1/waitlist/{entry['id']}", params={"reason": "not-suitable"})
    )

    assert removed["status"] == "removed"
    assert ok(clinic.client.get(f"/api/v1/waitlist/offers/{offer['id']}"))["status"] == "withdrawn"
    assert waitlist.offered_to() == [second]
    per_entry = ok(clinic.client.get("/api/v1/waitlist/offers", params={"entry_id": entry["id"]}))
    assert [(o["id"], o["status"]) for o in per_entry["items"]] == [(offer["id"], "withdrawn")]


def test_the_offers_path_is_never_taken_for_an_entry_s(clinic: Clinic) -> None:
    """A concrete path before a templated one, as OpenAPI matches them."""
    refused = assert_problem(
        clinic.client.delete("/api/v1/waitlist/offers"), 405, "method-not-allowed"
    )
    assert "DELETE" not in refused["detail"].split("use ")[1]
    assert ok(clinic.client.get("/api/v1/waitlist/offers")) == {"items": [], "next_cursor": None}
