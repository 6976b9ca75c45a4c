"""Treatment-safety findings: a session is treated on its day, where it takes place, and
treatments of one patient stay 14 days apart by when they were given."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.db import make_sessionmaker
from app.models import SessionEvent, TreatmentSession
from app.vocabulary import SessionStatus
from tests.factories import (
    assert_problem,
    count_rows,
    new_practitioner,
)
from tests.sessions.clinic import (
    PARIS,
    Clinic,
    ok,
    paris_day,
    reasons,
    refused_treatment,
)


def two_sessions_fourteen_days_apart_cannot_both_be_treated_today(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=60)
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(17, 10))
    for visit in (first, second):
        body = assert_problem(clinic.check_in(visit), 409, "check-in-not-open")
        assert datetime.fromisoformat(body["opens"]) == paris_day(3 if visit is first else 17, 0)
    assert_problem(clinic.complete(first), 409, "invalid-transition")  # not checked in
    done = clinic.treat(first, concentration_percent=2.5, volume_ml=4)  # 100 mg of 120
    given = datetime.fromisoformat(done["session"]["completion"]["administered_at"])
    assert given.astimezone(PARIS).date() == paris_day(3, 10).date()
    # Still the first session's day: the second is not open, whatever is tried.
    assert_problem(clinic.check_in(second), 409, "check-in-not-open")
    # Its own day: treated, 14 days after the first.
    assert clinic.treat(second, concentration_percent=2.5, volume_ml=4)["session"]["status"] == (
        "fulfilled"
    )


def the_day_of_a_session_closes_at_midnight(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.travel_to(paris_day(4, 0, 5))
    assert_problem(clinic.check_in(visit), 409, "check-in-not-open")
    clinic.clock.travel_to(paris_day(3, 0, 5))
    ok(clinic.check_in(visit))
    # A record written the next morning says when the sclerosant was given, on the day.
    clinic.clock.travel_to(paris_day(4, 8))
    refused = clinic.complete(visit)
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "administered_at",
    ]
    for wrong in (paris_day(2, 23), paris_day(3, 0), paris_day(4, 0, 1), paris_day(5, 10)):
        # before the check-in, or after the day; or in the future
        refused = clinic.complete(visit, administered_at=wrong.isoformat())
        assert_problem(refused, 422, "validation-error")
    done = ok(clinic.complete(visit, administered_at=paris_day(3, 10, 15).isoformat()))
    given = datetime.fromisoformat(done["session"]["completion"]["administered_at"])
    assert given == paris_day(3, 10, 15)


def a_new_time_zone_does_not_move_a_booked_sessions_day(clinic: Clinic) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    always = [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)]
    far = new_practitioner(clinic.client, name="Dr T", time_zone="Asia/Tokyo", availability=always)
    day = datetime.now(tokyo).date() + timedelta(days=3)
    start = datetime.combine(day, time(8), tzinfo=tokyo)
    visit = clinic.book(clinic.patient(), start, practitioner_id=far["id"])
    assert visit["time_zone"] == "Asia/Tokyo"
    # 08:00 in Tokyo is 23:00 the day before in UTC: moving the practitioner's profile to UTC
    # does not open check-in on that UTC day.
    ok(clinic.client.patch(f"/api/v1/practitioners/{far['id']}", json={"time_zone": "UTC"}))
    clinic.clock.travel_to(start - timedelta(hours=11))  # 21:00 in Tokyo, the day before
    assert_problem(clinic.check_in(visit), 409, "check-in-not-open")
    clinic.clock.travel_to(start - timedelta(minutes=30))
    assert ok(clinic.check_in(visit))["status"] == "arrived"


def a_session_checked_in_early_before_this_rule_still_waits_for_its_day(clinic: Clinic) -> None:
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    # Checked in today, as the service once allowed.
    with make_sessionmaker(clinic.engine).begin() as db:
        stored = db.get(TreatmentSession, uuid.UUID(visit["id"]))
        stored.status = SessionStatus.ARRIVED
        db.add(
            SessionEvent(
                session_id=stored.id, action="check-in", from_status="booked", to_status="arrived"
            )
        )
    refused = clinic.complete(visit)
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "administered_at",
    ]
    assert count_rows(clinic.engine, "completion_records") == 0
    clinic.clock.on_the_day_of(visit)
    assert ok(clinic.complete(visit))["session"]["status"] == "fulfilled"


def a_treatment_given_late_flags_the_next_session_too_close(clinic: Clinic) -> None:
    patient = clinic.patient()
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(17, 10))  # 14 days: exactly enough
    clinic.clock.on_the_day_of(first)
    ok(clinic.check_in(first))
    clinic.clock.travel_to(paris_day(3, 11, 40))
    done = ok(clinic.complete(first, administered_at=paris_day(3, 11, 30).isoformat()))
    assert [s["id"] for s in done["affected_sessions"]] == [second["id"]]
    assert reasons(clinic.read(second)) == ["interval-too-short"]
    assert clinic.review() == [second["id"]]
    clinic.clock.on_the_day_of(second)
    assert reasons(ok(clinic.check_in(second))) == ["interval-too-short"]
    refused_treatment(clinic, second, 422, "interval-too-short")
    clinic.clock.travel_to(paris_day(17, 10, 31))  # 14 x 24 hours less one since the first
    assert ok(clinic.complete(second))["session"]["status"] == "fulfilled"


def fourteen_days_are_counted_where_the_session_takes_place(clinic: Clinic) -> None:
    """The clinic is on Paris time; the practitioner in Kathmandu (UTC+5:45). Tuesday 01:00
    and 13 days later at 23:00 are 14 days apart in Paris, 13 where the sessions happen."""
    kathmandu = ZoneInfo("Asia/Kathmandu")
    far = new_practitioner(
        clinic.client,
        name="Dr K",
        time_zone="Asia/Kathmandu",
        availability=[{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)],
    )
    patient = clinic.patient()
    day = datetime.now(kathmandu).date() + timedelta(days=3)
    first = datetime.combine(day, time(1), tzinfo=kathmandu)
    second = datetime.combine(day + timedelta(days=13), time(23), tzinfo=kathmandu)
    assert (second.astimezone(PARIS).date() - first.astimezone(PARIS).date()).days == 14
    ok(clinic.try_book(patient, first, practitioner_id=far["id"]))
    refused = clinic.try_book(patient, second, practitioner_id=far["id"])
    assert_problem(refused, 422, "interval-too-short")
    assert ok(clinic.try_book(patient, second + timedelta(hours=2), practitioner_id=far["id"]))


def a_same_day_check_in_and_completion_succeed(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=70)
    visit = clinic.book(patient, paris_day(3, 10))
    done = clinic.treat(visit)
    assert (done["session"]["status"], done["warnings"]) == ("fulfilled", [])
    assert (done["session"]["needs_review"], done["session"]["review_reasons"]) == (False, [])
    assert clinic.review() == []


FINDINGS: list[Callable[[Clinic], None]] = [
    two_sessions_fourteen_days_apart_cannot_both_be_treated_today,
    the_day_of_a_session_closes_at_midnight,
    a_session_checked_in_early_before_this_rule_still_waits_for_its_day,
    a_new_time_zone_does_not_move_a_booked_sessions_day,
    a_treatment_given_late_flags_the_next_session_too_close,
    fourteen_days_are_counted_where_the_session_takes_place,
    a_same_day_check_in_and_completion_succeed,
]
