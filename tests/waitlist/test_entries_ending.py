"""What else ends a patient's wait or frees a slot: archiving a patient ends their entry
(`patient-archived`) and withdraws an offer standing for them, its slot passed to the next
patient at once; a live session still ahead marked entered in error gives its slot back, as a
cancelled one does (a past one, or one that gave it back already, gives nothing).

"At once" is read from the tables and the outbox, never through the offer routes (reading the
offers sweeps, which would offer an open slot anyway)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from app.models import FreedSlot, Patient, WaitlistOffer
from app.patients.service import patient_lock
from tests.factories import POSTGRES_URL, assert_problem, count_rows
from tests.sessions.clinic import Clinic, ok
from tests.waitlist.steps import Waitlist, slot_start


def _offers(clinic: Clinic) -> list[tuple[str, str]]:
    """Every offer stored, oldest first: (patient, status)."""
    with clinic.engine.connect() as connection:
        rows = connection.execute(
            select(WaitlistOffer.patient_id, WaitlistOffer.status).order_by(
                WaitlistOffer.created_at
            )
        ).all()
    return [(str(patient), str(status)) for patient, status in rows]


def _freed_by(clinic: Clinic) -> list[str]:
    with clinic.engine.connect() as connection:
        return [str(by) for by in connection.execute(select(FreedSlot.freed_by)).scalars()]


def _archive(clinic: Clinic, patient: str, **headers: str) -> Any:
    return clinic.client.delete(f"/api/v1/patients/{patient}", headers=headers)


def _offered_to_first_of_two(
    clinic: Clinic, waitlist: Waitlist
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A session at the slot cancelled and offered to the first of two waiting patients: the
    first's entry, their offer, the second patient."""
    cancelled = waitlist.booked_at_slot()
    first, second = clinic.patient(), clinic.patient()
    entry = waitlist.add(first)
    waitlist.add(second)
    waitlist.cancel(cancelled)
    [offer] = waitlist.standing()
    assert offer["patient_id"] == first
    return entry, offer, second


def test_archiving_an_offered_patient_passes_their_slot_on_at_once(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    entry, offer, second = _offered_to_first_of_two(clinic, waitlist)
    first = offer["patient_id"]

    assert _archive(clinic, first).status_code == 200

    assert _offers(clinic) == [(first, "withdrawn"), (second, "offered")]
    assert [e["session_id"] for e in waitlist.told("waitlist.withdrawn")] == [offer["id"]]
    assert [e["patient_id"] for e in waitlist.told("waitlist.offered")] == [first, second]
    ended = waitlist.entry(entry)
    assert (ended["status"], ended["removal_reason"]) == ("removed", "patient-archived")
    assert ended["ended_at"] is not None
    assert_problem(clinic.client.get(f"/api/v1/holds/{offer['id']}"), 404, "not-found")
    # The next patient's offer is as good as any: accepting it books the slot.
    [passed_on] = waitlist.standing()
    assert passed_on["start"] == offer["start"]
    accepted = ok(waitlist.answer(passed_on, "accept"))
    assert (accepted["status"], accepted["session_id"]) == ("accepted", passed_on["id"])


def test_archiving_a_waiting_patient_ends_their_entry_and_only_theirs(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    patient, other = clinic.patient(), clinic.patient()
    entry, staying = waitlist.add(patient), waitlist.add(other)
    # Refused (a stale If-Match): nothing is ended either.
    assert_problem(_archive(clinic, patient, **{"If-Match": 'W/"9"'}), 412, "version-mismatch")
    assert waitlist.entry(entry)["status"] == "waiting"

    assert _archive(clinic, patient).status_code == 200

    assert waitlist.entry(entry)["status"] == "removed"
    assert waitlist.entry(staying)["status"] == "waiting"
    listed = ok(clinic.client.get("/api/v1/waitlist"))["items"]
    assert [e["id"] for e in listed] == [staying["id"]]
    removal = {"reason": "other"}
    url = f"/api/v1/waitlist/{entry['id']}"
    assert_problem(clinic.client.delete(url, params=removal), 409, "invalid-transition")
    assert waitlist.told("waitlist.withdrawn") == []  # no offer stood: none withdrawn
    assert _archive(clinic, patient).status_code == 200  # twice: harmless


def test_archiving_again_ends_the_entry_of_a_patient_archived_before(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    """A patient archived before archiving ended entries still waits on the list (refused at
    every offer); archiving them again, harmless as ever, takes them off."""
    patient = clinic.patient()
    entry = waitlist.add(patient)
    with clinic.engine.begin() as connection:
        connection.execute(
            update(Patient).where(Patient.id == uuid.UUID(patient)).values(archived=True)
        )
    assert waitlist.entry(entry)["status"] == "waiting"
    assert _archive(clinic, patient).status_code == 200
    assert waitlist.entry(entry)["removal_reason"] == "patient-archived"


def test_the_clinic_cannot_give_archiving_as_its_reason(clinic: Clinic, waitlist: Waitlist) -> None:
    entry = waitlist.add(clinic.patient())
    url = f"/api/v1/waitlist/{entry['id']}"
    refused = clinic.client.delete(url, params={"reason": "patient-archived"})
    assert_problem(refused, 422, "validation-error")
    assert waitlist.entry(entry)["status"] == "waiting"
    schema = clinic.client.get("/openapi.json").json()["paths"]["/api/v1/waitlist/{entry_id}"]
    [reason] = [p for p in schema["delete"]["parameters"] if p["name"] == "reason"]
    assert "patient-archived" not in str(reason)


def test_a_session_ahead_entered_in_error_gives_its_slot_to_the_list_at_once(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    mistaken = waitlist.booked_at_slot()
    waiting = clinic.patient()
    waitlist.add(waiting)

    url = f"/api/v1/sessions/{mistaken['id']}/entered-in-error"
    ok(clinic.client.post(url, json={"reason": "Booked for the wrong patient"}))

    assert _offers(clinic) == [(waiting, "offered")]
    assert _freed_by(clinic) == ["entered-in-error"]
    [offer] = waitlist.standing()
    assert (offer["start"], offer["end"]) == (mistaken["start"], mistaken["end"])


def test_a_checked_in_session_still_ahead_entered_in_error_gives_its_slot_too(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    visit = waitlist.booked_at_slot()
    waiting = clinic.patient()
    waitlist.add(waiting)
    clinic.clock.on_the_day_of(visit, before=timedelta(hours=2))
    assert ok(clinic.check_in(visit))["status"] == "arrived"

    url = f"/api/v1/sessions/{visit['id']}/entered-in-error"
    ok(clinic.client.post(url, json={"reason": "Checked in under the wrong record"}))

    assert _offers(clinic) == [(waiting, "offered")]


def test_a_past_or_given_back_session_entered_in_error_gives_nothing(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    start = slot_start()
    cancelled = waitlist.booked_at_slot()
    past = clinic.book(clinic.patient(), start + timedelta(hours=2))
    waitlist.add(clinic.patient())
    # Cancelled (and offered, the offer declined): its slot was given back once, by the cancel.
    waitlist.cancel(cancelled)
    [offer] = waitlist.standing()
    ok(waitlist.answer(offer, "decline"))
    erroneous = {"reason": "Entered twice"}
    ok(clinic.client.post(f"/api/v1/sessions/{cancelled['id']}/entered-in-error", json=erroneous))
    assert _freed_by(clinic) == ["cancel"]
    # Over by now: nothing to give back.
    clinic.clock.travel_to(start + timedelta(hours=3))
    ok(clinic.client.post(f"/api/v1/sessions/{past['id']}/entered-in-error", json=erroneous))
    assert _freed_by(clinic) == ["cancel"]
    assert count_rows(clinic.engine, WaitlistOffer.__tablename__) == 1


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL's advisory locks (SQLite: one writer)")
def test_accepting_waits_for_the_patient_before_it_locks_the_offer(
    clinic: Clinic, waitlist: Waitlist, engine: Engine
) -> None:
    """Archiving (or taking off the list) takes the patient's lock, then the offer's row;
    accepting takes them in the same order, so the two never wait for each other: while
    another transaction holds the patient's lock, the accept waiting for it holds no lock on
    the offer, and goes through once the lock is free."""
    _, offer, _ = _offered_to_first_of_two(clinic, waitlist)
    answers: list[Any] = []
    with engine.connect() as other, other.begin():
        other.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": patient_lock(uuid.UUID(offer["patient_id"]))},
        )
        accepting = threading.Thread(
            target=lambda: answers.append(waitlist.answer(offer, "accept"))
        )
        accepting.start()
        with engine.connect() as watcher:
            for _ in range(200):  # until the accept waits for the patient's lock
                waiting = watcher.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    )
                )
                if waiting:
                    break
                time.sleep(0.02)
            assert waiting, "the accept never waited for the patient's lock"
        with engine.connect() as checker, checker.begin():  # the offer's row is free meanwhile
            locked = checker.execute(
                select(WaitlistOffer.id)
                .where(WaitlistOffer.id == uuid.UUID(offer["id"]))
                .with_for_update(nowait=True)
            ).all()
            assert len(locked) == 1
    accepting.join(timeout=30)
    assert answers[0].status_code == 200, answers[0].text
