"""Treatment-safety findings: a patient's standing is judged again when the sclerosant is given,
and no contraindication is hidden by its date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.factories import (
    NO_RISKS,
    assert_problem,
    count_rows,
    new_patient,
    table_snapshot,
)
from tests.sessions.clinic import (
    Clinic,
    ok,
    paris_day,
    reasons,
    refused_treatment,
)


def _strand_and_refuse(clinic: Clinic, later: dict[str, Any], codes: list[str]) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    recorded = clinic.evaluate(patient, **later)
    assert [s["id"] for s in recorded["affected_sessions"]] == [visit["id"]]
    assert clinic.review() == [visit["id"]]
    assert reasons(clinic.read(visit)) == codes
    clinic.clock.on_the_day_of(visit)
    arrived = ok(clinic.check_in(visit))  # the desk checks in; the reasons come with it
    assert (arrived["status"], arrived["needs_review"], reasons(arrived)) == (
        "arrived",
        True,
        codes,
    )
    body = refused_treatment(clinic, visit, 409, "eligibility-blocked")
    assert [f["code"] for f in body["flags"]] == codes


def acute_thrombosis_found_after_booking(clinic: Clinic) -> None:
    _strand_and_refuse(clinic, {"risks": {"acute_thrombosis": True}}, ["acute-thrombosis"])


def varicose_veins_found_after_booking(clinic: Clinic) -> None:
    _strand_and_refuse(
        clinic, {"ceap_class": "C2", "varicose_veins": "present"}, ["varicose-treatment-first"]
    )


def relative_flag_not_cleared_then_cleared(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    pill = clinic.evaluate(patient, risks={"hormonal_contraception": True})
    assert [s["id"] for s in pill["affected_sessions"]] == [visit["id"]]
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    body = refused_treatment(clinic, visit, 409, "eligibility-blocked")
    assert (body["outcome"], [f["code"] for f in body["flags"]]) == (
        "clearance-required",
        ["hormonal-contraception"],
    )
    clearance = {"practitioner_id": clinic.doctor["id"], "reason": "Pill stopped 6 weeks ago"}
    ok(clinic.client.post(f"/api/v1/evaluations/{pill['id']}/clearance", json=clearance))
    assert clinic.review() == []
    assert ok(clinic.complete(visit))["session"]["status"] == "fulfilled"


def an_expired_evaluation_stops_treatment_but_not_the_record_of_one_given_in_time(
    clinic: Clinic,
) -> None:
    patient = new_patient(clinic.client)["id"]
    start = paris_day(2, 10)
    # Valid until 11:00 on the session's day.
    clinic.evaluate(patient, performed_at=(start + timedelta(hours=1)).replace(year=start.year - 1))
    visit = clinic.book(patient, start)
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    clinic.clock.travel_to(start + timedelta(hours=2))
    # Given now, after it expired: refused.
    body = refused_treatment(clinic, visit, 409, "eligibility-blocked")
    assert body["outcome"] == "evaluation-expired"
    # Given at 10:15, while it was valid, and written up now: kept, with a warning.
    done = ok(clinic.complete(visit, administered_at=paris_day(2, 10, 15).isoformat()))
    assert [w["code"] for w in done["warnings"]] == ["weight-missing", "found-since-treatment"]
    assert "evaluation-expired" in done["warnings"][1]["message"]


def a_site_no_longer_evaluated_since_the_stated_time_is_warned_of(clinic: Clinic) -> None:
    patient = clinic.patient()  # left calf and right thigh
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    then = clinic.clock()
    clinic.clock.travel_to(then + timedelta(minutes=20))
    clinic.evaluate(patient, spider_vein_sites=["right-calf"], performed_at=clinic.clock())
    done = ok(clinic.complete(visit, administered_at=then.isoformat()))
    assert [w["code"] for w in done["warnings"]][-1] == "found-since-treatment"
    assert "site-not-evaluated" in done["warnings"][-1]["message"]


def a_contraindication_on_record_when_it_was_given_is_not_dated_away(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    clinic.evaluate(patient, risks={"acute_thrombosis": True})
    then = clinic.clock()
    clinic.clock.travel_to(then + timedelta(minutes=20))
    clinic.evaluate(patient, notes="Duplex scan: no thrombosis after all")
    # Treated at `then`, when an acute thrombosis was the current finding: refused.
    refused = clinic.complete(visit, administered_at=then.isoformat())
    assert [f["code"] for f in assert_problem(refused, 409, "eligibility-blocked")["flags"]] == [
        "acute-thrombosis"
    ]
    assert count_rows(clinic.engine, "completion_records") == 0
    assert ok(clinic.complete(visit))["session"]["status"] == "fulfilled"


def an_evaluation_dated_ahead_does_not_outrank_a_later_one(clinic: Clinic) -> None:
    patient = new_patient(clinic.client)["id"]
    ahead = clinic.evaluate(patient, performed_at=clinic.clock() + timedelta(minutes=4))
    # Stored as the moment of recording: a clock a little fast is not "the future".
    assert datetime.fromisoformat(ahead["performed_at"]) <= clinic.clock()
    clinic.evaluate(patient, performed_at=clinic.clock(), risks={"acute_thrombosis": True})
    standing = ok(clinic.client.get(f"/api/v1/patients/{patient}/eligibility"))
    assert (standing["bookable"], standing["outcome"]) == (False, "contraindicated")
    assert_problem(clinic.try_book(patient, paris_day(3, 10)), 409, "eligibility-blocked")
    later = clinic.clock() + timedelta(minutes=10)
    body = {"performed_at": later.isoformat()}
    refused = clinic.client.post(
        f"/api/v1/patients/{patient}/evaluations",
        json={
            **body,
            "practitioner_id": clinic.doctor["id"],
            "spider_vein_sites": ["left-calf"],
            "ceap_class": "C1",
            "varicose_veins": "absent",
            "risk_factors": NO_RISKS,
            "benefits_and_risks_explained": True,
        },
    )
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "performed_at",
    ]


def an_evaluation_before_the_patient_was_born_is_refused(clinic: Clinic) -> None:
    patient = new_patient(clinic.client, birth_date="1984-03-12")["id"]
    refused = clinic.client.post(
        f"/api/v1/patients/{patient}/evaluations",
        json={
            "practitioner_id": clinic.doctor["id"],
            "performed_at": "1984-03-10T10:00:00+01:00",
            "spider_vein_sites": ["left-calf"],
            "ceap_class": "C1",
            "varicose_veins": "absent",
            "risk_factors": NO_RISKS,
            "benefits_and_risks_explained": True,
        },
    )
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "performed_at",
    ]
    # Nor can a birth date move after an evaluation already recorded.
    evaluated = clinic.patient(performed_at=clinic.clock() - timedelta(days=100))
    ten_days_ago = (clinic.clock() - timedelta(days=10)).date().isoformat()
    later = clinic.client.patch(f"/api/v1/patients/{evaluated}", json={"birth_date": ten_days_ago})
    assert assert_problem(later, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "birth_date",
    ]


def a_backdated_allergy_is_not_ignored(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    backdated = clinic.evaluate(
        patient,
        performed_at=clinic.clock() - timedelta(days=30),
        risks={"sclerosant_allergy": True},
    )
    assert [s["id"] for s in backdated["affected_sessions"]] == [visit["id"]]
    standing = ok(clinic.client.get(f"/api/v1/patients/{patient}/eligibility"))
    assert standing["bookable"] is False
    assert [f["code"] for f in standing["flags"]] == [
        "evaluation-recorded-later",
        "sclerosant-allergy",
    ]
    assert_problem(clinic.try_book(patient, paris_day(20, 10)), 409, "eligibility-blocked")
    # A clinician looks again and records a newer evaluation: the patient may be treated.
    clinic.evaluate(patient, notes="Allergy ruled out by the allergist")
    assert clinic.review() == []
    assert clinic.treat(visit)["session"]["status"] == "fulfilled"


def a_patient_already_checked_in_is_among_the_affected(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    clinic.clock.travel_to(paris_day(3, 11, 30))  # in the chair longer than booked
    recorded = clinic.evaluate(patient, risks={"local_infection": True})
    assert [(s["id"], s["status"]) for s in recorded["affected_sessions"]] == [
        (visit["id"], "arrived")
    ]
    archived = ok(clinic.client.delete(f"/api/v1/patients/{patient}"))
    assert [s["id"] for s in archived["affected_sessions"]] == [visit["id"]]


def an_archived_patient_is_not_treated(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    archived = ok(clinic.client.delete(f"/api/v1/patients/{patient}"))
    assert [s["id"] for s in archived["affected_sessions"]] == [visit["id"]]
    assert reasons(clinic.read(visit)) == ["patient-archived"]
    # Moved as booked: refused as archived, with the code booking gives (found from outside).
    moved = clinic.client.post(
        f"/api/v1/sessions/{visit['id']}/reschedule", json={"start": paris_day(10, 10).isoformat()}
    )
    assert_problem(moved, 409, "patient-archived")
    clinic.clock.on_the_day_of(visit)
    assert reasons(ok(clinic.check_in(visit))) == ["patient-archived"]
    refused_treatment(clinic, visit, 409, "patient-archived")
    refused = clinic.client.patch(f"/api/v1/patients/{patient}", json={"phone": "+33 1 23 45"})
    assert_problem(refused, 409, "patient-archived")


def a_treatment_stated_before_the_archive_is_still_refused(clinic: Clinic) -> None:
    """Found from outside: checked in, archived a second later, then completed with a time
    before the archive: 200."""
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    then = clinic.clock()
    clinic.clock.travel_to(then + timedelta(seconds=1))
    ok(clinic.client.delete(f"/api/v1/patients/{patient}"))
    before = table_snapshot(clinic.engine, "completion_records", "treatment_sessions")
    refused = clinic.complete(
        visit, administered_at=(then + timedelta(milliseconds=500)).isoformat()
    )
    assert_problem(refused, 409, "patient-archived")
    assert table_snapshot(clinic.engine, "completion_records", "treatment_sessions") == before


def a_finding_made_before_the_stated_time_is_not_dated_away(clinic: Clinic) -> None:
    """Found from outside: an acute thrombosis found at 13:56:01 and recorded at 13:56:03, then
    a treatment stated as given at 13:56:02: 200, with only a warning. The same for a site the
    evaluation no longer lists."""
    cases = [
        ({"risks": {"acute_thrombosis": True}}, 409, "eligibility-blocked"),
        ({"spider_vein_sites": ["right-calf"]}, 422, "site-not-evaluated"),
    ]
    for hour, (finding, status, code) in enumerate(cases, start=10):
        patient = clinic.patient()  # left calf and right thigh
        visit = clinic.book(patient, paris_day(3, hour))
        clinic.clock.on_the_day_of(visit)
        ok(clinic.check_in(visit))
        found = clinic.clock()
        clinic.clock.travel_to(found + timedelta(seconds=2))
        clinic.evaluate(patient, performed_at=found, **finding)
        given = (found + timedelta(seconds=1)).isoformat()
        assert_problem(clinic.complete(visit, administered_at=given), status, code)
        assert clinic.read(visit)["status"] == "arrived"


FINDINGS: list[Callable[[Clinic], None]] = [
    acute_thrombosis_found_after_booking,
    varicose_veins_found_after_booking,
    relative_flag_not_cleared_then_cleared,
    an_expired_evaluation_stops_treatment_but_not_the_record_of_one_given_in_time,
    a_contraindication_on_record_when_it_was_given_is_not_dated_away,
    a_site_no_longer_evaluated_since_the_stated_time_is_warned_of,
    an_evaluation_dated_ahead_does_not_outrank_a_later_one,
    an_evaluation_before_the_patient_was_born_is_refused,
    a_backdated_allergy_is_not_ignored,
    a_patient_already_checked_in_is_among_the_affected,
    an_archived_patient_is_not_treated,
    a_treatment_stated_before_the_archive_is_still_refused,
    a_finding_made_before_the_stated_time_is_not_dated_away,
]
