"""The treatment record: the sites, the sclerosant's dose limit, the weight it goes by."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    Clock,
    assert_problem,
    count_rows,
)
from tests.sessions.steps import (
    arrived_for_completion,
)


@pytest.mark.parametrize(
    ("weight", "record", "status", "code"),
    [
        (
            50,
            {"sclerosant": "polidocanol", "concentration_percent": 3, "volume_ml": 4},
            422,
            "dose-limit-exceeded",
        ),  # 120 > 100 mg
        (
            50,
            {"sclerosant": "polidocanol", "concentration_percent": 2.5, "volume_ml": 4},
            200,
            None,
        ),  # 100 mg
        (
            None,
            {
                "sclerosant": "sodium-tetradecyl-sulfate",
                "concentration_percent": 3,
                "volume_ml": 11,
            },
            422,
            "dose-limit-exceeded",
        ),
        (
            None,
            {
                "sclerosant": "sodium-tetradecyl-sulfate",
                "concentration_percent": 3,
                "volume_ml": 10,
            },
            200,
            None,
        ),
        (
            None,
            {
                "sclerosant": "sodium-tetradecyl-sulfate",
                "concentration_percent": 3,
                "volume_ml": 10.00001,
            },
            422,
            "dose-limit-exceeded",
        ),  # 300.0003 mg, shown as 300
        (
            60,
            {
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
                "treated_sites": ["face"],
            },
            422,
            "facial-veins-excluded",
        ),
        (
            60,
            {
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
                "treated_sites": ["left-calf", "face"],
            },
            422,
            "facial-veins-excluded",
        ),
        (
            60,
            {"sclerosant": "ethanol", "concentration_percent": 0.5, "volume_ml": 2},
            422,
            "validation-error",
        ),
        (
            60,
            {"sclerosant": "polidocanol", "concentration_percent": 0, "volume_ml": 2},
            422,
            "validation-error",
        ),
        (
            60,
            {
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
                "complications": ["headache"],
            },
            422,
            "validation-error",
        ),
    ],
)
def test_completion_checks(
    client: TestClient,
    engine: Engine,
    clock: Clock,
    doctor: dict[str, Any],
    weight: float | None,
    record: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    _, url = arrived_for_completion(client, clock, doctor, weight_kg=weight)
    response = client.post(url, json={"treated_sites": ["left-calf"], **record})
    if code is None:
        assert response.status_code == status, response.text
        assert response.json()["session"]["status"] == "fulfilled"
    else:
        assert_problem(response, status, code)
        assert count_rows(engine, "completion_records") == 0
        assert client.get(url.removesuffix("/complete")).json()["status"] == "arrived"


def test_polidocanol_without_weight_is_accepted_with_a_warning(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    _, url = arrived_for_completion(client, clock, doctor)
    response = client.post(
        url,
        json={
            "treated_sites": ["left-calf"],
            "sclerosant": "polidocanol",
            "concentration_percent": 1,
            "volume_ml": 2,
        },
    )
    assert response.status_code == 200
    assert [w["code"] for w in response.json()["warnings"]] == ["weight-missing"]
    assert response.json()["session"]["completion"]["warnings"][0]["code"] == "weight-missing"
