"""Search parameters parsed strictly: what a route declares, with the modifiers, prefixes and
values it takes; anything else a 400 OperationOutcome naming it, never a 500 and never ignored
(an ignored typo would answer every patient on file)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.fhir import patients
from app.fhir.search import (
    DateRange,
    InvalidSearch,
    Moment,
    Ref,
    Text,
    Token,
    UnknownSearchParameter,
    instant,
    parse_search,
    reference,
)
from tests.factories import new_patient
from tests.fhir.fhir import BASE, fhir, outcome

PARIS = ZoneInfo("Europe/Paris")
DECLARED = patients.SEARCH.search


def _parse(*query: tuple[str, str]) -> Any:
    return parse_search(list(query), DECLARED, zone=PARIS)


def test_values_are_parsed_by_type() -> None:
    query = _parse(
        ("name:exact", "Dubois"),
        ("family", "du,mo"),
        ("identifier", "urn:mrn|7"),
        ("identifier", "|8"),
        ("_id", "abc"),
        ("birthdate", "ge1984-03"),
        ("birthdate", "2000"),
        ("_count", "7"),
    )
    assert query.params["name"] == [(Text("Dubois", "exact"),)]
    assert query.params["family"] == [(Text("du", None), Text("mo", None))]
    assert query.params["identifier"] == [(Token("urn:mrn", "7"),), (Token("", "8"),)]
    assert query.params["_id"] == [(Token(None, "abc"),)]
    assert query.params["birthdate"] == [
        (DateRange("ge", date(1984, 3, 1), date(1984, 4, 1)),),
        (DateRange("eq", date(2000, 1, 1), date(2001, 1, 1)),),
    ]
    assert query.count == 7
    assert query.searched_by() == ["_id", "birthdate", "family", "identifier", "name"]


def test_an_escaped_comma_is_part_of_the_value() -> None:
    assert _parse(("family", r"a\,b,c")).params["family"] == [(Text("a,b", None), Text("c", None))]


def test_instants_and_references() -> None:
    declared = (
        instant("start", "", ("ge", "lt")),
        reference("schedule", "Schedule", ""),
    )
    query = parse_search(
        [
            ("start", "ge2027-01-04T09:00:00+01:00"),
            ("start", "lt2027-01-05"),
            ("schedule", "Schedule/0b0b0b0b-0000-4000-8000-000000000000"),
            ("schedule", "other-id"),
        ],
        declared,
        zone=PARIS,
    )
    # Each value also says where the span it names ends: a second, a whole day.
    assert query.params["start"] == [
        (
            Moment(
                "ge", datetime(2027, 1, 4, 8, tzinfo=UTC), datetime(2027, 1, 4, 8, 0, 1, tzinfo=UTC)
            ),
        ),
        (Moment("lt", datetime(2027, 1, 5, tzinfo=PARIS), datetime(2027, 1, 6, tzinfo=PARIS)),),
    ]
    assert query.params["schedule"] == [
        (Ref(uuid.UUID("0b0b0b0b-0000-4000-8000-000000000000")),),
        (Ref(None),),
    ]


@pytest.mark.parametrize(
    "query",
    [
        [("mrn", "7")],
        [("name:missing", "x")],
        [("family:text", "x")],
        [("_sort", "family")],
        [("_summary", "count")],
    ],
)
def test_unknown_parameters_and_modifiers_are_refused(query: list[tuple[str, str]]) -> None:
    with pytest.raises((UnknownSearchParameter, InvalidSearch)):
        _parse(*query)


@pytest.mark.parametrize(
    "query",
    [
        [("name", "")],
        [("birthdate", "1984-13-01")],
        [("birthdate", "1984-02-30")],
        [("birthdate", "84")],
        [("birthdate", "ne1984")],
        [("birthdate", "ap1984")],
        [("birthdate", "1984-03-12T10:00:00Z")],
        [("birthdate", "0001")],
        [("identifier", "a|b|c")],
        [("identifier", "system|")],
        [("name", "a\x00b")],
        [("name", "x" * 301)],
        [("name", ",".join("x" * 21))],
        [("_count", "0")],
        [("_count", "ten")],
        [("_count", "-5")],
        [("_count", "1e3")],
    ],
)
def test_malformed_values_are_refused(query: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidSearch):
        _parse(*query)


@pytest.mark.parametrize(
    "params",
    [
        {"mrn": "7"},
        {"name": ""},
        {"birthdate": "yesterday"},
        {"birthdate": "sa1984"},
        {"identifier": "a|b|c"},
        {"name": "a\x00b"},
        {"_count": "0"},
        {"_count": "many"},
        {"_cursor": "not-a-cursor"},
        {"_cursor": "WyJhIl0"},
        {"_id": "a|b"},
        {"active": "perhaps"},
        {"name:below": "x"},
    ],
)
def test_bad_patient_searches_are_400_outcomes(client: TestClient, params: dict[str, str]) -> None:
    new_patient(client)
    answer = client.get(f"{BASE}/Patient", params=params)
    body = fhir(answer, 400)
    code = body["issue"][0]["details"]["coding"][0]["code"]
    assert code in {"unknown-search-parameter", "invalid-search-parameter"}
    named = next(iter(params)).partition(":")[0]
    assert named in body["issue"][0]["diagnostics"]


def test_an_unknown_parameter_is_named_with_what_the_search_takes(client: TestClient) -> None:
    body = outcome(
        client.get(f"{BASE}/Patient", params={"mrn": "7", "name": "x"}),
        400,
        "unknown-search-parameter",
        "not-supported",
    )
    diagnostics = body["issue"][0]["diagnostics"]
    assert "mrn" in diagnostics
    assert "identifier" in diagnostics


def test_a_cursor_of_another_search_is_refused(client: TestClient) -> None:
    for name in ("A", "B", "C"):
        new_patient(client, given_name=name)
    page = fhir(client.get(f"{BASE}/Patient", params={"_count": 1}))
    cursor = page["link"][1]["url"].partition("_cursor=")[2]
    refused = client.get(f"{BASE}/Practitioner", params={"_cursor": cursor})
    outcome(refused, 400, "invalid-search-parameter", "invalid")
