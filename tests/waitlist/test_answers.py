"""Answering an offer: accepting books the held slot with every booking check made again (a
refusal passes the slot on), declining passes it on, and an offer not answered in time expires
and passes on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.models import WaitlistOffer
from tests.factories import assert_problem, count_rows, tag_version
from tests.sessions.clinic import Clinic, ok
from tests.waitlist.steps import Waitlist


def _two_waiting(clinic: Clinic, waitlist: Waitlist) -> tuple[dict[str, Any], str, str]:
    """A session at the slot cancelled, offered to the first of two waiting patients."""
    cancelled = waitlist.booked_at_slot()
    first, second = clinic.patient(), clinic.patient()
    waitlist.add(first)
    waitlist.add(second)
    waitlist.cancel(cancelled)
    [offer] = waitlist.standing()
    assert offer["patient_id"] == first
    return offer, first, second


def test_accepting_books_the_held_slot(clinic: Clinic, waitlist: Waitlist) -> None:
    offer, first, _ = _two_waiting(clinic, waitlist)

    answer = waitlist.answer(offer, "accept")

    assert answer.status_code == 200, answer.text
    accepted = answer.json()
    assert (accepted["status"], accepted["session_id"]) == ("accepted", offer["id"])
    assert tag_version(answer.headers["ETag"]) == accepted["version"] == 2
    session = ok(clinic.client.get(f"/api/v1/sessions/{offer['id']}"))
    assert (session["status"], session["patient_id"], session["start"]) == (
        "booked",
        first,
        offer["start"],
    )
    entry = waitlist.entry({"id": offer["entry_id"]})
    assert (entry["status"], entry["booked_session_id"]) == ("booked", offer["id"])
    assert waitlist.standing() == []
    assert [e["session_id"] for e in waitlist.told("waitlist.accepted")] == [offer["id"]]
    assert_problem(waitlist.answer(offer, "accept"), 409, "invalid-transition")
    assert_problem(waitlist.answer(offer, "decline"), 409, "invalid-transition")


def test_accepting_is_refused_when_the_patient_may_no_longer_be_booked(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    offer, first, second = _two_waiting(clinic, waitlist)
    clinic.evaluate(first, ceap_class="C2", varicose_veins="present")  # found meanwhile

    refused = assert_problem(waitlist.answer(offer, "accept"), 409, "eligibility-blocked")

    assert "varicose-treatment-first" in {flag["code"] for flag in refused["flags"]}
    assert_problem(clinic.client.get(f"/api/v1/sessions/{offer['id']}"), 404, "not-found")
    closed = ok(clinic.client.get(f"/api/v1/waitlist/offers/{offer['id']}"))
    assert (closed["status"], closed["refusal_code"]) == ("refused", "eligibility-blocked")
    [passed_on] = waitlist.standing()
    assert (passed_on["patient_id"], passed_on["start"]) == (second, offer["start"])
    assert waitlist.entry({"id": offer["entry_id"]})["status"] == "waiting"
    assert [e["session_id"] for e in waitlist.told("waitlist.withdrawn")] == [offer["id"]]


def test_accepting_is_refused_when_a_session_was_booked_too_near_meanwhile(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    offer, first, second = _two_waiting(clinic, waitlist)
    clinic.book(first, datetime.fromisoformat(offer["start"]) + timedelta(days=5))

    assert_problem(waitlist.answer(offer, "accept"), 422, "interval-too-short")
    assert waitlist.offered_to() == [second]


def test_declining_passes_the_slot_on(clinic: Clinic, waitlist: Waitlist) -> None:
    offer, first, second = _two_waiting(clinic, waitlist)

    declined = waitlist.answer(offer, "decline")

    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    assert_problem(clinic.client.get(f"/api/v1/holds/{offer['id']}"), 404, "not-found")
    assert waitlist.offered_to() == [second]
    assert waitlist.entry({"id": offer["entry_id"]})["status"] == "waiting"  # another slot
    assert [e["patient_id"] for e in waitlist.told("waitlist.declined")] == [first]
    # Declined by the second too: nobody is left, and the slot is free for anyone.
    assert waitlist.answer(waitlist.standing()[0], "decline").status_code == 200
    assert waitlist.standing() == []
    clinic.book(clinic.patient(), datetime.fromisoformat(offer["start"]))


def test_an_offer_not_answered_in_time_expires_and_passes_on(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    offer, first, second = _two_waiting(clinic, waitlist)
    expires = datetime.fromisoformat(offer["expires_at"])
    default = timedelta(minutes=120)  # SCLEROSCHED_WAITLIST_OFFER_MINUTES
    assert default - timedelta(minutes=1) < expires - clinic.clock() <= default

    clinic.clock.travel_to(expires - timedelta(seconds=1))
    assert waitlist.offered_to() == [first]
    clinic.clock.travel_to(expires)
    assert waitlist.offered_to() == [second]  # reading the offers swept them
    assert ok(clinic.client.get(f"/api/v1/waitlist/offers/{offer['id']}"))["status"] == "expired"
    assert [e["session_id"] for e in waitlist.told("waitlist.expired")] == [offer["id"]]


def test_accepting_an_offer_whose_time_is_up_passes_it_on(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    offer, _, second = _two_waiting(clinic, waitlist)
    clinic.clock.travel_to(datetime.fromisoformat(offer["expires_at"]) + timedelta(minutes=1))

    assert_problem(waitlist.answer(offer, "accept"), 409, "offer-expired")

    assert count_rows(clinic.engine, WaitlistOffer.__tablename__) == 2
    assert waitlist.offered_to() == [second]


def test_an_answer_honours_if_match(clinic: Clinic, waitlist: Waitlist) -> None:
    offer, first, _ = _two_waiting(clinic, waitlist)
    url = f"/api/v1/waitlist/offers/{offer['id']}/accept"
    assert_problem(clinic.client.post(url, headers={"If-Match": 'W/"7"'}), 412, "version-mismatch")
    assert waitlist.offered_to() == [first]
    assert clinic.client.post(url, headers={"If-Match": 'W/"1"'}).status_code == 200
    assert_problem(
        clinic.client.post("/api/v1/waitlist/offers/not-an-id/accept"), 422, "validation-error"
    )
