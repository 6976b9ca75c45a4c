"""An offer's hold is booked or released as the offer only: the booking and hold routes refuse
it (whoever calls, an integration included), so the offer, its entry and the patients after
them never fall out of step; and an offer answered after its time is up is `offer-expired`,
whether or not a sweep passed it on first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.roles import Role
from tests.factories import ClientFactory, assert_problem, new_room
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


def _close(clinic: Clinic, hold: dict[str, Any], room_id: str) -> None:
    """The room closed over the hold's time."""
    url = f"/api/v1/locations/{hold['location_id']}/rooms/{room_id}/closures"
    start = datetime.fromisoformat(hold["start"])
    closure = {
        "start": (start - timedelta(minutes=30)).isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "reason": "Flood",
    }
    assert clinic.client.post(url, json=closure).status_code == 201


def _rooms(clinic: Clinic, hold: dict[str, Any]) -> list[str]:
    """The rooms of the hold's site."""
    url = f"/api/v1/locations/{hold['location_id']}/rooms"
    page = ok(clinic.client.get(url, params={"limit": 100}))
    return [room["id"] for room in page["items"]]


def test_an_offer_whose_room_closed_since_is_booked_in_another_free_room(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    """An offer is of a time: its room closed meanwhile, accepting it takes another room of
    the site free then, rather than refusing the patient the slot."""
    offer, first, _ = _two_waiting(clinic, waitlist)
    hold = ok(clinic.client.get(f"/api/v1/holds/{offer['id']}"))
    for room in _rooms(clinic, hold):  # the site's rooms closed, all but a new one
        _close(clinic, hold, room)
    other = new_room(clinic.client, hold["location_id"], name="Room 2")["id"]

    assert waitlist.answer(offer, "accept").status_code == 200
    session = ok(clinic.client.get(f"/api/v1/sessions/{offer['id']}"))
    assert (session["status"], session["patient_id"], session["room_id"]) == (
        "booked",
        first,
        other,
    )
    assert session["location_id"] == hold["location_id"]


def test_an_offer_kept_in_its_room_while_that_is_free(clinic: Clinic, waitlist: Waitlist) -> None:
    offer, _, _ = _two_waiting(clinic, waitlist)
    hold = ok(clinic.client.get(f"/api/v1/holds/{offer['id']}"))
    new_room(clinic.client, hold["location_id"], name="Room 0")  # free too
    assert waitlist.answer(offer, "accept").status_code == 200
    assert ok(clinic.client.get(f"/api/v1/sessions/{offer['id']}"))["room_id"] == hold["room_id"]


def test_an_offer_whose_rooms_all_closed_is_refused_and_offered_to_none(
    clinic: Clinic, waitlist: Waitlist
) -> None:
    offer, _, _ = _two_waiting(clinic, waitlist)
    hold = ok(clinic.client.get(f"/api/v1/holds/{offer['id']}"))
    for room in _rooms(clinic, hold):
        _close(clinic, hold, room)

    assert_problem(waitlist.answer(offer, "accept"), 409, "room-taken")
    assert ok(clinic.client.get(f"/api/v1/waitlist/offers/{offer['id']}"))["status"] == "refused"
    assert waitlist.offered_to() == []  # no room for the next patient either
