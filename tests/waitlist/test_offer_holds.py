"""An offer's hold is booked or released as the offer only: the booking and hold routes refuse
it (whoever calls, an integration included), so the offer, its entry and the patients after
them never fall out of step; and an offer answered after its time is up is `offer-expired`,
whether or not a sweep passed it on first."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.roles import Role
from tests.factories import ClientFactory, assert_problem
from tests.sessions.clinic import Clinic, ok
from tests.waitlist.steps import Waitlist
from tests.waitlist.test_answers import _two_waiting


def test_an_offer_hold_is_neither_booked_nor_released_by_the_hold_routes(
    clinic: Clinic, waitlist: Waitlist, client_as: ClientFactory
) -> None:
    offer, first, _ = _two_waiting(clinic, waitlist)

    for caller in (clinic.client, client_as(Role.RECEPTIONIST), client_as(Role.INTEGRATION)):
        booked = caller.post("/api/v1/sessions", json={"hold_id": offer["id"]})
        assert_problem(booked, 409, "waitlist-offer")
        released = caller.delete(f"/api/v1/holds/{offer['id']}")
        assert_problem(released, 409, "waitlist-offer")

    # Nothing moved: the offer stands for the same patient, its slot held, nothing booked.
    standing = ok(clinic.client.get(f"/api/v1/waitlist/offers/{offer['id']}"))
    assert (standing["status"], standing["patient_id"]) == ("offered", first)
    assert ok(clinic.client.get(f"/api/v1/holds/{offer['id']}"))["patient_id"] == first
    assert_problem(clinic.client.get(f"/api/v1/sessions/{offer['id']}"), 404, "not-found")
    # Accepted as the offer, it books.
    assert waitlist.answer(offer, "accept").status_code == 200
    assert ok(clinic.client.get(f"/api/v1/sessions/{offer['id']}"))["status"] == "booked"


def test_an_offer_answered_after_a_sweep_expired_it_is_offer_expired(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    offer, _, second = _two_waiting(clinic, waitlist)
    clinic.clock.travel_to(datetime.fromisoformat(offer["expires_at"]) + timedelta(minutes=1))
    assert waitlist.offered_to() == [second]  # reading the offers swept them: it expired

    for how in ("accept", "decline"):
        refused = assert_problem(waitlist.answer(offer, how), 409, "offer-expired")
        assert datetime.fromisoformat(refused["expired_at"]) == datetime.fromisoformat(
            offer["expires_at"]
        )
    assert waitlist.offered_to() == [second]
