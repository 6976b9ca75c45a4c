"""List cursors are opaque: sealed with the secret key, for one list, holding nothing readable."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from app.pagination import CursorSeal
from tests.factories import assert_problem, new_patient, new_practitioner


def _bytes_of(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _next_cursor(client: TestClient, path: str, **params: object) -> str:
    page = client.get(path, params={"limit": 1, **params})
    assert page.status_code == 200, page.text
    cursor: str = page.json()["next_cursor"]
    assert cursor
    return cursor


def test_a_cursor_holds_no_patient_data(client: TestClient) -> None:
    """Finding 7: `next_cursor` decoded to `["de vries","pieter",...]`."""
    for given in ("Pieter", "Pieter", "Anneke"):
        new_patient(client, given_name=given, family_name="de Vries")
    cursor = _next_cursor(client, "/api/v1/patients")
    raw = _bytes_of(cursor)
    for personal in (b"vries", b"VRIES", b"anneke", b"pieter"):
        assert personal not in raw.lower()
    # The same page asked twice gets two different cursors, both good: nothing to compare.
    again = _next_cursor(client, "/api/v1/patients")
    assert again != cursor
    second = [
        client.get("/api/v1/patients", params={"limit": 1, "cursor": c}) for c in (cursor, again)
    ]
    assert second[0].json()["items"] == second[1].json()["items"] != []


def test_pages_follow_each_other_through_sealed_cursors(client: TestClient) -> None:
    names = ["Zoë", "Émile", "Anna", "Ödön", "Bram"]
    for family in names:
        new_patient(client, family_name=family * 20)  # long names fit in a cursor too
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/patients", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [p["family_name"][: len(p["family_name"]) // 20] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(names, key=str.casefold)


def test_a_changed_forged_or_foreign_cursor_is_a_422(client: TestClient) -> None:
    for _ in range(2):
        new_patient(client)
        new_practitioner(client)
    cursor = _next_cursor(client, "/api/v1/patients")
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    other_key = CursorSeal("another server's secret key, as long as any").seal(
        client.app.state.cursor_seal.open(cursor, list_name="/api/v1/patients"),  # type: ignore[attr-defined]
        list_name="/api/v1/patients",
    )
    for bad in (flipped, cursor[:-4], cursor + "AAAA", "AAAA", "A", other_key):
        response = client.get("/api/v1/patients", params={"cursor": bad})
        problem = assert_problem(response, 422, "invalid-cursor")
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "issued" in problem["detail"]
    # A patients cursor given to another list: refused, not read as that list's key.
    assert_problem(
        client.get("/api/v1/practitioners", params={"cursor": cursor}), 422, "invalid-cursor"
    )
    practitioners = _next_cursor(client, "/api/v1/practitioners")
    assert_problem(
        client.get("/api/v1/patients", params={"cursor": practitioners}), 422, "invalid-cursor"
    )


def test_an_empty_cursor_is_the_first_page(client: TestClient) -> None:
    new_patient(client)
    first = client.get("/api/v1/patients").json()
    assert client.get("/api/v1/patients", params={"cursor": ""}).json() == first
