"""Treatment-safety findings: the dose limit takes the lowest weight the records allow, and
every dose given counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from app.roles import Role
from tests.factories import assert_problem
from tests.sessions.clinic import Clinic, ok, paris_day, same_day_clinic


def a_receptionists_weight_never_raises_the_limit(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=50)  # the clinician's weight: 100 mg a day
    desk = clinic.client_as(Role.RECEPTIONIST)
    ok(desk.patch(f"/api/v1/patients/{patient}", json={"weight_kg": 400}))
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    big = {"concentration_percent": 3, "volume_ml": 20}  # 600 mg
    body = assert_problem(clinic.complete(visit, **big), 422, "dose-limit-exceeded")
    assert (body["dose_mg"], body["limit_mg"]) == (600, 100)
    # The clinician states today's weight in the record: that sets the limit.
    body = assert_problem(clinic.complete(visit, weight_kg=55, **big), 422, "dose-limit-exceeded")
    assert body["limit_mg"] == 110
    done = ok(clinic.complete(visit, weight_kg=55, concentration_percent=2.5, volume_ml=4.4))
    assert done["warnings"] == []
    assert done["session"]["completion"]["weight_kg"] == 55
    events = ok(
        clinic.client.get(
            "/api/v1/audit-events", params={"resource_id": patient, "resource_type": "patient"}
        )
    )["items"]
    (update,) = [e for e in events if e["action"] == "update"]
    assert (update["role"], update["changes"]) == (
        "receptionist",
        {"weight_kg": {"old": None, "new": 400.0}},
    )


def a_lighter_weight_stated_at_an_earlier_treatment_is_not_lost(clinic: Clinic) -> None:
    """Found from outside: the evaluation said 80 kg, the clinician weighed 50 kg at the first
    treatment; at the next one, 101 mg was accepted against the evaluation's 80 kg."""
    patient = clinic.patient(weight_kg=80)
    first = clinic.book(patient, paris_day(3, 10))
    clinic.treat(first, weight_kg=50, concentration_percent=1, volume_ml=4)
    second = clinic.book(patient, paris_day(18, 10))
    clinic.clock.on_the_day_of(second)
    ok(clinic.check_in(second))
    over = {"concentration_percent": 3, "volume_ml": 3.3667}  # 101 mg
    body = assert_problem(clinic.complete(second, **over), 422, "dose-limit-exceeded")
    assert body["limit_mg"] == 100
    done = ok(clinic.complete(second, concentration_percent=2.5, volume_ml=4))  # 100 mg
    assert [w["code"] for w in done["warnings"]] == ["weight-from-earlier-record"]


def the_latest_clinical_weight_is_used_and_a_lower_one_on_record_wins(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=60)  # 120 mg a day
    clinic.evaluate(patient, notes="Follow-up, not weighed")  # current, no weight
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    big = {"concentration_percent": 3, "volume_ml": 4.1}  # 123 mg
    assert (
        assert_problem(clinic.complete(visit, **big), 422, "dose-limit-exceeded")["limit_mg"] == 120
    )
    # The front desk typed 45 kg on the record: the lower weight sets the limit (90 mg) ...
    ok(
        clinic.client_as(Role.RECEPTIONIST).patch(
            f"/api/v1/patients/{patient}", json={"weight_kg": 45}
        )
    )
    body = {"concentration_percent": 2.5, "volume_ml": 4}  # 100 mg
    assert (
        assert_problem(clinic.complete(visit, **body), 422, "dose-limit-exceeded")["limit_mg"] == 90
    )
    # ... until the clinician weighs the patient and says so.
    done = ok(clinic.complete(visit, weight_kg=61, **body))
    assert done["warnings"] == []


def a_weight_recorded_since_the_stated_time_is_not_dated_away(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=50)  # 100 mg a day
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    then = clinic.clock()
    clinic.clock.travel_to(then + timedelta(minutes=5))
    clinic.evaluate(patient, weight_kg=30, performed_at=clinic.clock())  # 60 mg: a correction
    clinic.clock.travel_to(then + timedelta(minutes=30))
    dose = {"concentration_percent": 2, "volume_ml": 4.5, "administered_at": then.isoformat()}
    body = assert_problem(clinic.complete(visit, **dose), 422, "dose-limit-exceeded")  # 90 mg
    assert body["limit_mg"] == 60
    # A weight stated well above the one on record is kept, but flagged.
    done = ok(clinic.complete(visit, weight_kg=45, concentration_percent=1, volume_ml=4))
    assert [w["code"] for w in done["warnings"]] == ["stated-weight-above-record"]


def the_patients_record_weight_bounds_the_dose_when_no_clinician_weighed(clinic: Clinic) -> None:
    patient = clinic.patient()  # no weight on the evaluation
    ok(clinic.client.patch(f"/api/v1/patients/{patient}", json={"weight_kg": 20}))  # 40 mg
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    body = assert_problem(
        clinic.complete(visit, concentration_percent=1, volume_ml=5), 422, "dose-limit-exceeded"
    )
    assert body["limit_mg"] == 40
    done = ok(clinic.complete(visit, concentration_percent=1, volume_ml=4))
    assert [w["code"] for w in done["warnings"]] == ["weight-not-clinical"]


def without_any_weight_the_check_is_reported_not_done(clinic: Clinic) -> None:
    patient = clinic.patient()  # no weight on the evaluation, none ever on the record
    visit = clinic.book(patient, paris_day(3, 10))
    done = clinic.treat(visit)
    assert [w["code"] for w in done["warnings"]] == ["weight-missing"]


def clearing_or_raising_the_records_weight_loosens_nothing(clinic: Clinic) -> None:
    """Found from outside: with no weight on the evaluation, an integration raised the record's
    40 kg to 400 kg, or cleared it, and 600 mg was then accepted."""
    desk = clinic.client_as(Role.RECEPTIONIST)
    integration = clinic.client_as(Role.INTEGRATION)
    big = {"concentration_percent": 3, "volume_ml": 20}  # 600 mg
    for hour, change in ((10, {"weight_kg": 400}), (11, {"weight_kg": None})):
        patient = clinic.patient()  # no weight on the evaluation
        ok(desk.patch(f"/api/v1/patients/{patient}", json={"weight_kg": 40}))  # 80 mg a day
        visit = clinic.book(patient, paris_day(3, hour))
        clinic.clock.on_the_day_of(visit)
        ok(clinic.check_in(visit))
        assert_problem(clinic.complete(visit, **big), 422, "dose-limit-exceeded")
        ok(integration.patch(f"/api/v1/patients/{patient}", json=change))
        body = assert_problem(clinic.complete(visit, **big), 422, "dose-limit-exceeded")
        assert body["limit_mg"] == 80, change
        done = ok(clinic.complete(visit, concentration_percent=2, volume_ml=4))  # 80 mg
        assert [w["code"] for w in done["warnings"]] == ["weight-not-clinical"]


def a_lower_weight_on_record_stays_the_bound_once_cleared(clinic: Clinic) -> None:
    """Found from outside: the evaluation said 60 kg, the record was corrected to 40 kg, and an
    integration clearing the record brought the limit back to 120 mg."""
    patient = clinic.patient(weight_kg=60)
    ok(clinic.client.patch(f"/api/v1/patients/{patient}", json={"weight_kg": 40}))
    ok(
        clinic.client_as(Role.INTEGRATION).patch(
            f"/api/v1/patients/{patient}", json={"weight_kg": None}
        )
    )
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    body = assert_problem(
        clinic.complete(visit, concentration_percent=1, volume_ml=10), 422, "dose-limit-exceeded"
    )
    assert body["limit_mg"] == 80
    # A clinician weighing the patient again settles it.
    clinic.evaluate(patient, weight_kg=60, notes="Weighed again")
    assert ok(clinic.complete(visit, concentration_percent=1, volume_ml=10))["warnings"] == []


def a_treatment_marked_entered_in_error_still_counts(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=60)
    first = clinic.book(patient, paris_day(3, 10))
    clinic.treat(first, concentration_percent=2.5, volume_ml=4)  # 100 mg of 120
    erased = clinic.client.post(
        f"/api/v1/sessions/{first['id']}/entered-in-error", json={"reason": "Wrong form"}
    )
    assert ok(erased)["status"] == "entered-in-error"
    # The interval rule still sees the injection: nothing within 14 days of it.
    assert_problem(clinic.try_book(patient, paris_day(10, 10)), 422, "interval-too-short")
    assert clinic.book(patient, paris_day(17, 10))["status"] == "booked"


def same_day_doses_still_count_when_entered_in_error(clinic: Clinic) -> None:
    """With no interval rule at all (a clinic's setting), two sessions on one day: the first,
    marked entered in error, still counts towards the daily limit."""
    with same_day_clinic(clinic) as other:
        patient = other.patient(weight_kg=60)
        morning = other.book(patient, paris_day(3, 9))
        afternoon = other.book(patient, paris_day(3, 15))
        other.treat(morning, concentration_percent=2.5, volume_ml=4)  # 100 mg
        entered_in_error = f"/api/v1/sessions/{morning['id']}/entered-in-error"
        ok(other.client.post(entered_in_error, json={"reason": "x"}))
        other.clock.on_the_day_of(afternoon)
        ok(other.check_in(afternoon))
        body = assert_problem(
            other.complete(afternoon, concentration_percent=1, volume_ml=3),  # 30 mg more
            422,
            "dose-limit-exceeded",
        )
        assert body["limit_mg"] == 120
        assert ok(other.complete(afternoon, concentration_percent=1, volume_ml=2))  # 120 mg


FINDINGS: list[Callable[[Clinic], None]] = [
    a_receptionists_weight_never_raises_the_limit,
    a_lighter_weight_stated_at_an_earlier_treatment_is_not_lost,
    the_latest_clinical_weight_is_used_and_a_lower_one_on_record_wins,
    a_weight_recorded_since_the_stated_time_is_not_dated_away,
    the_patients_record_weight_bounds_the_dose_when_no_clinician_weighed,
    without_any_weight_the_check_is_reported_not_done,
    clearing_or_raising_the_records_weight_loosens_nothing,
    a_lower_weight_on_record_stays_the_bound_once_cleared,
    a_treatment_marked_entered_in_error_still_counts,
    same_day_doses_still_count_when_entered_in_error,
]
