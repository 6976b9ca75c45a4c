"""Which evaluation eligibility goes by: the newest, while valid, and never one dated ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.evaluations.steps import evaluation_body, record
from tests.factories import assert_problem


def test_the_newest_evaluation_supersedes(client: TestClient, people: tuple[str, str]) -> None:
    patient_id, practitioner_id = people
    month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    first = record(
        client,
        patient_id,
        evaluation_body(
            practitioner_id, performed_at=month_ago, varicose_veins="present", ceap_class="C2"
        ),
    )
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["outcome"], standing["bookable"]) == ("varicose-treatment-first", False)

    treated = {
        "kind": "foam-sclerotherapy",
        "completed_on": (datetime.now(UTC) - timedelta(days=10)).date().isoformat(),
    }
    second = record(
        client,
        patient_id,
        evaluation_body(
            practitioner_id, varicose_veins="treated", ceap_class="C2", varicose_treatment=treated
        ),
    )
    assert second["varicose_treatment"] == treated
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["outcome"], standing["bookable"], standing["evaluation_id"]) == (
        "eligible",
        True,
        second["id"],
    )

    # A back-dated entry recorded later does not displace the newer evaluation.
    record(
        client,
        patient_id,
        evaluation_body(practitioner_id, performed_at=month_ago, risks={"immobility": True}),
    )
    assert (
        client.get(f"/api/v1/patients/{patient_id}/eligibility").json()["evaluation_id"]
        == second["id"]
    )

    listed = client.get(f"/api/v1/patients/{patient_id}/evaluations", params={"limit": 2}).json()
    assert listed["items"][0]["id"] == second["id"]
    rest = client.get(
        f"/api/v1/patients/{patient_id}/evaluations",
        params={"limit": 2, "cursor": listed["next_cursor"]},
    ).json()
    assert len(listed["items"]) + len(rest["items"]) == 3
    assert first["id"] in {e["id"] for e in listed["items"] + rest["items"]}
    assert rest["next_cursor"] is None


def test_missing_and_expired_evaluations(
    client: TestClient, engine: Engine, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert standing["bookable"] is False
    assert standing["outcome"] == "evaluation-missing"
    assert [f["code"] for f in standing["flags"]] == ["evaluation-missing"]
    assert standing["evaluation_id"] is None

    thirteen_months_ago = (datetime.now(UTC) - timedelta(days=396)).isoformat()
    old = record(
        client, patient_id, evaluation_body(practitioner_id, performed_at=thirteen_months_ago)
    )
    assert old["outcome"] == "eligible"
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert standing["bookable"] is False
    assert standing["outcome"] == "evaluation-expired"
    assert standing["flags"][0]["code"] == "evaluation-expired"
    assert standing["evaluation_id"] == old["id"]


def test_archived_patient_is_not_bookable_and_takes_no_evaluation(
    client: TestClient, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    record(client, patient_id, evaluation_body(practitioner_id))
    client.delete(f"/api/v1/patients/{patient_id}")
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["bookable"], standing["outcome"]) == (False, "patient-archived")
    response = client.post(
        f"/api/v1/patients/{patient_id}/evaluations", json=evaluation_body(practitioner_id)
    )
    assert_problem(response, 409, "patient-archived")


def test_an_evaluation_a_few_minutes_ahead_counts_at_once(
    client: TestClient, people: tuple[str, str]
) -> None:
    # A clinician's clock a little fast: the evaluation is accepted, and it is the current one.
    patient_id, practitioner_id = people
    record(client, patient_id, evaluation_body(practitioner_id))
    soon = (datetime.now(UTC) + timedelta(minutes=3)).isoformat()
    newest = record(
        client,
        patient_id,
        evaluation_body(practitioner_id, performed_at=soon, risks={"acute_thrombosis": True}),
    )
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["evaluation_id"], standing["outcome"], standing["bookable"]) == (
        newest["id"],
        "contraindicated",
        False,
    )


def test_of_two_evaluations_at_one_moment_the_later_recorded_is_current(
    client: TestClient, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    moment = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    for _ in range(3):
        record(client, patient_id, evaluation_body(practitioner_id, performed_at=moment))
    last = record(
        client,
        patient_id,
        evaluation_body(practitioner_id, performed_at=moment, risks={"pregnancy": True}),
    )
    listed = client.get(f"/api/v1/patients/{patient_id}/evaluations").json()["items"]
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert listed[0]["id"] == standing["evaluation_id"] == last["id"]
    assert standing["outcome"] == "clearance-required"
