"""Lines of injections against the hard limits, through HTTP: lines that pass alone and not
together, the day's doses and foam across sessions (one marked entered in error among them),
no weight, and the label's warnings. Each refusal names the limit, the total, its unit and its
source, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.factories import assert_problem, new_patient, table_snapshot
from tests.sessions.clinic import RECORDS, Clinic, foam, line, ok, paris_day, same_day_clinic


def _refused(clinic: Clinic, visit: dict[str, Any], *lines: dict[str, Any]) -> dict[str, Any]:
    """A 422 `dose-limit-exceeded` that writes nothing: the session stays checked in."""
    before = table_snapshot(clinic.engine, *RECORDS)
    body = assert_problem(clinic.inject(visit, *lines), 422, "dose-limit-exceeded")
    assert table_snapshot(clinic.engine, *RECORDS) == before
    assert clinic.read(visit)["status"] == "arrived"
    return body


def lines_under_the_limit_alone_are_refused_together(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=50)  # 2 mg/kg/day: 100 mg
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    spider = line(volume_ml=10, count=50)  # 0.5%: 50 mg
    reticular = line(  # 1%: 60 mg
        site="right-thigh", vessel="reticular", concentration_percent=1, volume_ml=6, count=30
    )
    body = _refused(clinic, visit, spider, reticular)
    assert {k: body[k] for k in ("limit", "total", "allowed", "unit")} == {
        "limit": "polidocanol-per-kg-per-day",
        "total": 110,
        "allowed": 100,
        "unit": "mg",
    }
    assert "Aethoxysklerol" in body["source"]
    # As before lines were kept: this session's dose and the limit, in milligrams.
    assert (body["dose_mg"], body["limit_mg"]) == (110, 100)
    done = ok(clinic.inject(visit, reticular))
    assert done["warnings"] == []
    assert done["session"]["completion"]["totals"]["doses"] == [
        {"sclerosant": "polidocanol", "dose_mg": 60}
    ]


def a_record_entered_in_error_still_counts_when_a_new_one_replaces_it(clinic: Clinic) -> None:
    """A session recorded in the morning is marked entered in error (booked with the wrong
    practitioner, say) and a new session records the treatment that afternoon. The erroneous
    record still counts towards the day: marking a session entered in error says the entry
    should not have been made, not that no sclerosant was given, and the service cannot tell
    the two apart. Counting it can only refuse a second dose the clinician then records at a
    later session; not counting it could let the patient receive twice the daily limit."""
    with same_day_clinic(clinic) as other:
        patient = other.patient(weight_kg=60)  # 120 mg a day
        morning = other.book(patient, paris_day(3, 9))
        afternoon = other.book(patient, paris_day(3, 15))
        other.clock.on_the_day_of(morning)
        ok(other.check_in(morning))
        ok(other.inject(morning, line(volume_ml=10, count=50), foam(3)))  # 50 + 6 mg, 3 mL foam
        reason = {"reason": "Booked with the wrong practitioner"}
        ok(other.client.post(f"/api/v1/sessions/{morning['id']}/entered-in-error", json=reason))
        other.clock.on_the_day_of(afternoon)
        ok(other.check_in(afternoon))
        same_again = (line(volume_ml=10, count=50), foam(3))
        body = _refused(other, afternoon, *same_again, line(site="right-thigh", volume_ml=3))
        assert (body["limit"], body["total"], body["allowed"]) == (
            "polidocanol-per-kg-per-day",
            127,  # 56 mg in the morning, 71 now
            120,
        )
        assert body["dose_mg"] == 71  # this session's share
        done = ok(other.inject(afternoon, *same_again))  # 112 mg that day, 6 mL of foam
        totals = done["session"]["completion"]["totals"]
        assert (totals["liquid_ml"], totals["foam_ml"]) == (10, 3)


def foam_over_ten_ml_in_one_session_is_refused(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=90)
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    body = _refused(clinic, visit, foam(6), foam(5, site="right-thigh"))  # 22 mg: far under
    assert {k: body[k] for k in ("limit", "total", "allowed", "unit")} == {
        "limit": "foam-per-session",
        "total": 11,
        "allowed": 10,
        "unit": "mL",
    }
    assert "whatever the body weight" in body["source"]
    assert "dose_mg" not in body
    assert "limit_mg" not in body
    done = ok(clinic.inject(visit, foam(6), foam(4, site="right-thigh")))
    completion = done["session"]["completion"]
    assert completion["totals"] == {
        "doses": [{"sclerosant": "polidocanol", "dose_mg": 20}],  # 2 mL of the solution
        "liquid_ml": 0,
        "foam_ml": 10,
    }
    assert [i["foam_ratio"] for i in completion["injections"]] == ["1:4", "1:4"]


def foam_over_ten_ml_in_a_day_is_refused(clinic: Clinic) -> None:
    with same_day_clinic(clinic) as other:
        patient = other.patient(weight_kg=90)
        morning = other.book(patient, paris_day(3, 9))
        afternoon = other.book(patient, paris_day(3, 15))
        other.clock.on_the_day_of(morning)
        ok(other.check_in(morning))
        ok(other.inject(morning, foam(6)))
        other.clock.on_the_day_of(afternoon)
        ok(other.check_in(afternoon))
        # Another sclerosant's foam counts too.
        sts = foam(5, sclerosant="sodium-tetradecyl-sulfate")
        body = _refused(other, afternoon, sts)
        assert (body["limit"], body["total"], body["allowed"], body["unit"]) == (
            "foam-per-day",
            11,
            10,
            "mL",
        )
        assert ok(other.inject(afternoon, foam(4)))["session"]["status"] == "fulfilled"


def without_a_weight_the_limit_per_kg_is_not_checked_but_foam_is(clinic: Clinic) -> None:
    patient = clinic.patient()  # no weight anywhere
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    _refused(clinic, visit, foam(11))  # whatever the weight
    big = line(concentration_percent=3, volume_ml=8, count=40)  # 240 mg
    done = ok(clinic.inject(visit, big))
    assert "weight-missing" in [w["code"] for w in done["warnings"]]


def outside_the_label_is_recorded_with_warnings(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=70)  # 140 mg a day
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    done = ok(
        clinic.inject(
            visit,
            line(concentration_percent=1, volume_ml=3, count=15),  # 1% into spider veins
            line(site="right-thigh", volume_ml=8, count=16),  # 0.5 mL each; 11 mL in all
        )
    )
    codes = [w["code"] for w in done["warnings"]]
    assert codes == [
        "outside-label-concentration",
        "outside-label-injection-volume",
        "outside-label-session-volume",
    ]
    assert [w["severity"] for w in done["warnings"]] == ["warning"] * 3
    stored = done["session"]["completion"]["warnings"]
    assert [w["code"] for w in stored] == codes
    assert "line 1 (left-calf: 1% into telangiectasia)" in stored[0]["message"]
    assert "line 2 (right-thigh: 0.5% into telangiectasia): 0.5 mL each" in stored[1]["message"]


def a_day_is_the_24_hours_either_side_not_the_calendar_day(clinic: Clinic) -> None:
    """An outside finding: with no interval rule, 120 mg at 20:00 and 120 mg at 07:00 the next
    morning were each a calendar day's dose. The day is now the 24 hours either side."""
    with same_day_clinic(clinic) as other:
        patient = other.patient(weight_kg=60)  # 120 mg a day
        evening = other.book(patient, paris_day(3, 20))
        morning = other.book(patient, paris_day(4, 7))
        other.clock.on_the_day_of(evening)
        ok(other.check_in(evening))
        ok(other.inject(evening, line(concentration_percent=3, volume_ml=4, count=20)))
        other.clock.on_the_day_of(morning)
        ok(other.check_in(morning))
        body = _refused(other, morning, line(volume_ml=1, count=5))  # 5 mg more
        assert (body["limit"], body["total"], body["allowed"]) == (
            "polidocanol-per-kg-per-day",
            125,
            120,
        )


def the_lightest_weight_stated_that_day_sets_its_limit(clinic: Clinic) -> None:
    """An outside finding: 40 kg stated at the morning's session (80 mg a day), then 100 kg
    stated in the afternoon, allowed 160 mg that day. The lighter weight holds for the day."""
    with same_day_clinic(clinic) as other:
        patient = other.patient(weight_kg=100)
        morning = other.book(patient, paris_day(3, 9))
        afternoon = other.book(patient, paris_day(3, 15))
        other.clock.on_the_day_of(morning)
        ok(other.check_in(morning))
        ok(other.inject(morning, line(concentration_percent=3, volume_ml=2), weight_kg=40))
        other.clock.on_the_day_of(afternoon)
        ok(other.check_in(afternoon))
        over = line(concentration_percent=1, volume_ml=3)  # 30 mg: 90 in the day
        body = assert_problem(
            other.inject(afternoon, over, weight_kg=100), 422, "dose-limit-exceeded"
        )
        assert (body["total"], body["allowed"]) == (90, 80)
        done = ok(
            other.inject(afternoon, line(concentration_percent=1, volume_ml=2), weight_kg=100)
        )
        assert "weight-from-earlier-record" in [w["code"] for w in done["warnings"]]


def a_stated_weight_well_above_the_patients_record_is_warned_of(clinic: Clinic) -> None:
    """An outside finding: with no clinician's weight, 400 kg stated against a record of 30 kg
    passed without a word."""
    patient: str = new_patient(clinic.client, weight_kg=30)["id"]
    clinic.evaluate(patient)  # no weight on the evaluation
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    done = ok(clinic.inject(visit, line(), weight_kg=400))
    [warning] = [w for w in done["warnings"] if w["code"] == "stated-weight-above-record"]
    assert "30 kg the patient's record says" in warning["message"]


FINDINGS: list[Callable[[Clinic], None]] = [
    a_day_is_the_24_hours_either_side_not_the_calendar_day,
    the_lightest_weight_stated_that_day_sets_its_limit,
    a_stated_weight_well_above_the_patients_record_is_warned_of,
    lines_under_the_limit_alone_are_refused_together,
    a_record_entered_in_error_still_counts_when_a_new_one_replaces_it,
    foam_over_ten_ml_in_one_session_is_refused,
    foam_over_ten_ml_in_a_day_is_refused,
    without_a_weight_the_limit_per_kg_is_not_checked_but_foam_is,
    outside_the_label_is_recorded_with_warnings,
]
