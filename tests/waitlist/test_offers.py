"""A slot a session gives back is offered, at once, to the best-placed patient on the waitlist
whom every booking rule allows there, and to nobody else: never to a patient with a
contraindication or varicose veins to treat first, nor to one booked or treated within 14 days
of it; only within their window and preferences; never a slot already begun."""

from __future__ import annotations

from datetime import timedelta

from app.models import FreedSlot
from tests.factories import assert_problem, count_rows, new_practitioner
from tests.sessions.clinic import EVERY_DAY_7_TO_21, Clinic, ok
from tests.waitlist.steps import Waitlist, day, slot_start


def test_a_cancellation_is_offered_to_the_first_patient_the_rules_allow(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    start = slot_start()
    cancelled = waitlist.booked_at_slot()
    # Ahead of the right patient on the list (they waited as long, and were added first):
    allergic = clinic.patient(risks={"sclerosant_allergy": True})  # contraindicated
    varicose = clinic.patient(ceap_class="C2", varicose_veins="present")
    near = clinic.patient()  # booked 10 days before the slot (outside their window)
    clinic.book(near, start - timedelta(days=10))
    right = clinic.patient()
    for patient in (allergic, varicose, near, right):
        waitlist.add(patient)

    waitlist.cancel(cancelled)

    [offer] = waitlist.standing()
    assert offer["patient_id"] == right
    assert (offer["practitioner_id"], offer["start"]) == (clinic.doctor["id"], cancelled["start"])
    assert offer["end"] == cancelled["end"]
    assert [o["patient_id"] for o in waitlist.offers()] == [right]  # nobody else, ever
    # The offer is a hold: the slot is the patient's while it stands.
    other = clinic.patient()
    assert_problem(clinic.try_book(other, start), 409, "slot-taken")
    hold = ok(clinic.client.get(f"/api/v1/holds/{offer['id']}"))
    assert (hold["patient_id"], hold["expires_at"]) == (right, offer["expires_at"])
    assert [e["session_id"] for e in waitlist.told("waitlist.offered")] == [offer["id"]]
    by_entry = ok(clinic.client.get(f"/api/v1/waitlist/{offer['entry_id']}"))
    assert by_entry["status"] == "offered"


def test_a_patient_treated_ten_days_before_the_slot_is_not_offered_it(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    """Their course's interval is the shortest there is (14 days): due a week before, so only
    the 14-day rule, checked by the hold, stands in the way."""
    start = slot_start()
    cancelled = waitlist.booked_at_slot()
    treated, due = clinic.patient(), clinic.patient()
    ok(
        clinic.client.post(
            f"/api/v1/patients/{treated}/treatment-plans", json={"interval_days": 14}
        )
    )
    waitlist.add(treated)
    waitlist.add(due)
    visit = clinic.book(treated, start - timedelta(days=10))
    clinic.treat(visit)  # the clinic's clock moves to that day

    waitlist.cancel(cancelled)

    assert waitlist.offered_to() == [due]


def test_a_patient_not_yet_due_is_not_offered_the_slot(clinic: Clinic, waitlist: Waitlist) -> None:
    """Treated 16 days before the slot, on a usual course (28 days apart): the 14-day rule
    would allow it, but their next visit is not due for another 12 days (a slot at most a week
    early is offered, as proposals place one)."""
    start = slot_start()
    cancelled = waitlist.booked_at_slot()
    early, due = clinic.patient(), clinic.patient()
    waitlist.add(early)
    waitlist.add(due)
    clinic.treat(clinic.book(early, start - timedelta(days=16)))

    waitlist.cancel(cancelled)

    assert waitlist.offered_to() == [due]


def test_preferences_are_respected_and_a_matched_one_ranks_first(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    start = slot_start()
    cancelled = waitlist.booked_at_slot()
    elsewhere = new_practitioner(clinic.client, availability=EVERY_DAY_7_TO_21)["id"]
    weekday = start.weekday()
    site = clinic.doctor["availability"][0]["location_id"]  # where the slot is
    annexe = clinic.client.post(
        "/api/v1/locations", json={"name": "Annexe", "time_zone": "Europe/Paris"}
    )
    assert annexe.status_code == 201, annexe.text
    mismatched = {
        "another practitioner": {"practitioner_ids": [elsewhere]},
        "another site": {"location_ids": [annexe.json()["id"]]},
        "another weekday": {"weekdays": [(weekday + 1) % 7]},
        "a window before": {"earliest": day(start, -9), "latest": day(start, -1)},
        "a window after": {"earliest": day(start, 1), "latest": day(start, 9)},
    }
    for preferences in mismatched.values():
        waitlist.add(clinic.patient(), **preferences)
    anyone = clinic.patient()
    waitlist.add(anyone)  # waits as long, added first, takes any practitioner and day
    asked = clinic.patient()
    waitlist.add(
        asked,
        practitioner_ids=[clinic.doctor["id"], elsewhere],
        weekdays=[weekday],
        location_ids=[site, annexe.json()["id"]],
    )

    waitlist.cancel(cancelled)

    assert waitlist.offered_to() == [asked]
    assert len(waitlist.offers()) == 1


def test_on_a_tie_the_most_overdue_patient_is_offered_the_slot(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    """Both on the list today, no preference: the one whose visit fell due earlier (never
    treated: the first day of their window) goes first, though added second."""
    start = slot_start()
    cancelled = waitlist.booked_at_slot()
    later, overdue = clinic.patient(), clinic.patient()
    waitlist.add(later, earliest=day(start, -1))
    waitlist.add(overdue, earliest=day(start, -12))

    waitlist.cancel(cancelled)

    assert waitlist.offered_to() == [overdue]


def test_a_slot_moved_away_from_is_offered_and_one_merely_shifted_is_not(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    start = slot_start()
    moving = waitlist.booked_at_slot()
    waiting = clinic.patient()
    waitlist.add(waiting)

    shifted = ok(
        clinic.client.post(
            f"/api/v1/sessions/{moving['id']}/reschedule",
            json={"start": (start + timedelta(minutes=15)).isoformat()},
        )
    )
    assert waitlist.offers() == []  # most of the slot is still the session's
    ok(
        clinic.client.post(
            f"/api/v1/sessions/{shifted['id']}/reschedule",
            json={"start": (start + timedelta(days=7)).isoformat()},
        )
    )
    [offer] = waitlist.standing()
    assert (offer["patient_id"], offer["start"]) == (waiting, shifted["start"])


def test_a_slot_already_begun_is_offered_to_nobody(clinic: Clinic, waitlist: Waitlist) -> None:
    start = slot_start()
    late, missed = (
        waitlist.booked_at_slot(),
        clinic.book(clinic.patient(), start + timedelta(hours=2)),
    )
    waitlist.add(clinic.patient())
    clinic.clock.travel_to(start + timedelta(minutes=1))
    waitlist.cancel(late)  # cancelled after it began
    clinic.clock.travel_to(start + timedelta(hours=2, minutes=5))
    ok(clinic.client.post(f"/api/v1/sessions/{missed['id']}/no-show"))

    assert waitlist.offers() == []
    assert count_rows(clinic.engine, FreedSlot.__tablename__) == 0


def test_nobody_suitable_leaves_the_slot_free_for_anyone(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    start = slot_start()
    cancelled = waitlist.booked_at_slot()
    waitlist.add(clinic.patient(ceap_class="C2", varicose_veins="present"))
    waitlist.cancel(cancelled)
    assert waitlist.offers() == []
    assert ok(clinic.client.get("/api/v1/waitlist"))["items"][0]["status"] == "waiting"
    clinic.book(clinic.patient(), start)  # nothing holds it


def test_an_appointment_cancelled_over_fhir_is_offered_too(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    cancelled = waitlist.booked_at_slot()
    waiting = clinic.patient()
    waitlist.add(waiting)
    url = f"/fhir/R4/Appointment/{cancelled['id']}"
    appointment = ok(clinic.client.get(url))
    reason = {"text": "Patient called"}
    answer = clinic.client.put(
        url, json={**appointment, "status": "cancelled", "cancelationReason": reason}
    )
    assert answer.status_code == 200, answer.text
    assert waitlist.offered_to() == [waiting]
