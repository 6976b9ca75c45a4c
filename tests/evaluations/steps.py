"""Steps the evaluation tests share: an evaluation's body, recording it, the flags' severities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import NO_RISKS


def evaluation_body(practitioner_id: str, **changes: Any) -> dict[str, Any]:
    risks = {**NO_RISKS, **changes.pop("risks", {})}
    return {
        "practitioner_id": practitioner_id,
        "performed_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "spider_vein_sites": ["left-calf", "right-thigh"],
        "ceap_class": "C1",
        "varicose_veins": "absent",
        "risk_factors": risks,
        "benefits_and_risks_explained": True,
        "patient_expectations": "Fewer visible veins before summer.",
        **changes,
    }


# Each flag's severity, as the issue and the README's table give it.
SEVERITY = {
    "varicose-treatment-first": "blocking",
    "facial-veins-excluded": "blocking",
    "counselling-incomplete": "blocking",
    "risk-factor-unknown": "blocking",
    **dict.fromkeys(
        [
            "hormonal-contraception",
            "history-of-blood-clots",
            "thrombophilia",
            "hormone-replacement-therapy",
            "pregnancy",
            "breastfeeding",
            "peripheral-arterial-disease",
            "venous-work-up-needed",
        ],
        "relative",
    ),
    **dict.fromkeys(
        [
            "sclerosant-allergy",
            "acute-thrombosis",
            "local-infection",
            "immobility",
            "right-to-left-shunt",
        ],
        "absolute",
    ),
}


def record(client: TestClient, patient_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


FUTURE = (datetime.now(UTC) + timedelta(days=1)).isoformat()
