"""Names as the clinic reads them: every character shows, and shows one way, so no two
patients or practitioners look alike yet differ; names in every script are kept as written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import assert_problem, new_patient


@pytest.mark.parametrize(
    "hidden",
    [
        *("\u200e", "\u200f", "\u061c", "\u200b", "\ufeff", "\u2060", "\u00ad", "\U000e0041"),
        # The second outside run: joiners among Latin letters, the combining grapheme joiner,
        # variation selectors, Khmer and Mongolian invisibles, the braille blank.
        *("\u3164", "\u200c", "\u200d", "\u034f", "\ufe0f", "\U000e0100", "\u17b4", "\u180b"),
        "\u2800",
    ],
)
def test_a_name_cannot_hide_characters(client: TestClient, hidden: str) -> None:
    """Names that look alike but differ (a direction mark, a zero-width space, a tag, a blank
    letter) are refused, for patients and practitioners alike; nothing is stored."""
    patient = new_patient(client)
    path = f"/api/v1/patients/{patient['id']}"
    refused = client.patch(path, json={"family_name": f"Dubois{hidden}"})
    assert_problem(refused, 422, "validation-error")
    assert client.get(path).json()["family_name"] == patient["family_name"]
    made = client.post("/api/v1/practitioners", json={"name": f"Dr X{hidden}Y", "availability": []})
    assert_problem(made, 422, "validation-error")


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0301\u0301",  # marks alone
        "Ann \u200cX",  # a joiner after a space
        "\u0915\u200da",  # a Devanagari joiner before a Latin letter
        "Ann \u0301x",  # a mark on a space
        "Ann" + "\u0301" * 10,  # a stack of marks
        "Ann\ufffcX",  # the object replacement character
        "\U0001f468\u200d\U0001f469",  # an emoji sequence joined
        "Ann\u00a0Marie",  # other spaces than the plain one
        "Ann\u2009Marie",
        "Ann\u3000Marie",
    ],
)
def test_a_name_that_looks_like_another_is_refused(client: TestClient, look_alike: str) -> None:
    patient = new_patient(client)
    refused = client.patch(f"/api/v1/patients/{patient['id']}", json={"given_name": look_alike})
    assert_problem(refused, 422, "validation-error")


def test_names_in_every_script_are_kept_as_written(client: TestClient) -> None:
    # Persian needs the zero-width non-joiner (U+200C) inside a word.
    malayalam = "\u0d36\u0d4d\u0d30\u0d40\u0d27\u0d30\u0d28\u0d4d\u200d"  # a final chillu
    vietnamese = "Nguye\u0302\u0303n"  # decomposed: two marks on one letter
    for family_name in (
        "می\u200cخواهم",  # noqa: RUF001
        "क्\u200dष",
        malayalam,
        vietnamese,
        "O'Brien-Łukasz",
        "山田",
    ):
        made = client.post(
            "/api/v1/patients",
            json={
                "given_name": "Sam",
                "family_name": family_name,
                "birth_date": "1980-01-01",
                "sex": "female",
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["family_name"] == family_name
