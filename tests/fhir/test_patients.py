"""FHIR Patient: read and search, mapped from the patient's record, audited exactly as the
REST API's reads of patients are."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.roles import Role
from tests.factories import ClientFactory, new_patient, tag_version
from tests.fhir.fhir import BASE, Trail, entries, fhir, link, outcome

MRN = "urn:oid:1.2.36.146.595.217.0.1"


def _names(bundle: dict[str, Any]) -> set[str]:
    return {f"{p['name'][0]['given'][0]} {p['name'][0]['family']}" for p in entries(bundle)}


def test_a_patient_reads_as_a_fhir_patient(client: TestClient) -> None:
    made = new_patient(
        client,
        identifiers=[{"system": MRN, "value": "MRN-7"}],
        phone="+33 6 12 34 56 78",
        email="claire@example.org",
        sex="female",
    )
    answer = client.get(f"{BASE}/Patient/{made['id']}")
    patient = fhir(answer)
    assert patient["id"] == made["id"]
    assert patient["identifier"] == [{"system": MRN, "value": "MRN-7"}]
    assert patient["name"] == [{"family": "Dubois", "given": ["Claire"]}]
    assert patient["birthDate"] == "1984-03-12"
    assert patient["gender"] == "female"
    assert patient["active"] is True
    assert patient["telecom"] == [
        {"system": "phone", "value": "+33 6 12 34 56 78"},
        {"system": "email", "value": "claire@example.org"},
    ]
    assert patient["meta"]["versionId"] == str(made["version"])
    assert patient["meta"]["lastUpdated"] == made["updated_at"]  # both UTC, Z
    assert answer.headers["etag"] == f'W/"{made["version"]}"'


def test_the_version_follows_changes_and_archived_patients_are_inactive(
    client: TestClient,
) -> None:
    made = new_patient(client)
    client.patch(f"/api/v1/patients/{made['id']}", json={"phone": "+33 1 00 00 00 00"})
    archived = client.delete(f"/api/v1/patients/{made['id']}").json()
    answer = client.get(f"{BASE}/Patient/{made['id']}")
    patient = fhir(answer)
    assert patient["active"] is False
    assert patient["meta"]["versionId"] == str(archived["version"]) == "3"
    assert answer.headers["etag"] == 'W/"3"'
    assert "telecom" in patient


def test_a_read_is_audited_as_the_rest_read(client: TestClient, engine: Engine) -> None:
    made = new_patient(client)
    trail = Trail(engine)
    client.get(f"/api/v1/patients/{made['id']}")
    rest = trail.added()
    fhir(client.get(f"{BASE}/Patient/{made['id']}"))
    assert (
        trail.added()
        == rest
        == [("read", "patient", made["id"], made["id"], "success", None, [], [])]
    )


@pytest.mark.parametrize(
    "missing", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "x" * 80]
)
def test_an_unknown_id_is_a_404_outcome(client: TestClient, missing: str) -> None:
    outcome(client.get(f"{BASE}/Patient/{missing}"), 404, "not-found", "not-found")


def test_a_read_of_an_id_that_names_nothing_is_audited_as_rest(
    client: TestClient, engine: Engine
) -> None:
    missing = "6f1c1d6e-8f8c-4a57-9c5e-3b1c2d3e4f50"
    trail = Trail(engine)
    client.get(f"/api/v1/patients/{missing}")
    rest = trail.added()
    client.get(f"{BASE}/Patient/{missing}")
    assert trail.added() == rest
    assert rest[0][:6] == ("read", "patient", missing, None, "denied", "404 not-found")


def _clinic(client: TestClient) -> dict[str, dict[str, Any]]:
    return {
        "claire": new_patient(
            client,
            given_name="Claire",
            family_name="Dubois",
            birth_date="1984-03-12",
            identifiers=[{"system": MRN, "value": "MRN-1"}],
        ),
        "marc": new_patient(
            client, given_name="Marc", family_name="Dubreuil", birth_date="1990-07-01"
        ),
        "elodie": new_patient(
            client,
            given_name="Élodie",
            family_name="Moreau",
            birth_date="1984-11-30",
            identifiers=[{"system": "urn:other", "value": "MRN-1"}],
        ),
        "grace": new_patient(
            client, given_name="Grace", family_name="OConnor", birth_date="2001-01-01"
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"Claire Dubois", "Marc Dubreuil", "Élodie Moreau", "Grace OConnor"}),
        ({"name": "dub"}, {"Claire Dubois", "Marc Dubreuil"}),
        ({"name": "CLAIRE"}, {"Claire Dubois"}),
        ({"name": "bois"}, set()),  # starts with, not contains
        ({"name:contains": "bois"}, {"Claire Dubois"}),
        ({"name:exact": "claire"}, set()),
        ({"name:exact": "Claire"}, {"Claire Dubois"}),
        ({"name": "ÉLO"}, {"Élodie Moreau"}),  # case folds, accents count (as REST)
        ({"name": "elodie"}, set()),
        ({"family": "dub"}, {"Claire Dubois", "Marc Dubreuil"}),
        ({"family": "claire"}, set()),
        ({"given": "marc"}, {"Marc Dubreuil"}),
        ({"given": "marc,grace"}, {"Marc Dubreuil", "Grace OConnor"}),
        ({"name": "100%"}, set()),
        ({"name": "o_connor"}, set()),
        ({"identifier": f"{MRN}|MRN-1"}, {"Claire Dubois"}),
        ({"identifier": "MRN-1"}, {"Claire Dubois", "Élodie Moreau"}),
        ({"identifier": "urn:other|MRN-1"}, {"Élodie Moreau"}),
        ({"identifier": "|MRN-1"}, set()),
        ({"identifier": f"{MRN}|MRN-2"}, set()),
        ({"birthdate": "1984"}, {"Claire Dubois", "Élodie Moreau"}),
        ({"birthdate": "1984-03"}, {"Claire Dubois"}),
        ({"birthdate": "eq1984-03-12"}, {"Claire Dubois"}),
        ({"birthdate": "ge1990-07-01"}, {"Marc Dubreuil", "Grace OConnor"}),
        ({"birthdate": "gt1990-07-01"}, {"Grace OConnor"}),
        ({"birthdate": "gt1990"}, {"Grace OConnor"}),
        ({"birthdate": "le1984"}, {"Claire Dubois", "Élodie Moreau"}),
        ({"birthdate": "lt1984-11-30"}, {"Claire Dubois"}),
        ({"birthdate": ["ge1984", "lt1991"]}, {"Claire Dubois", "Élodie Moreau", "Marc Dubreuil"}),
        ({"name": "dub", "birthdate": "1990"}, {"Marc Dubreuil"}),
    ],
)
def test_search_by_name_identifier_and_birth_date(
    client: TestClient, params: dict[str, Any], expected: set[str]
) -> None:
    _clinic(client)
    assert _names(fhir(client.get(f"{BASE}/Patient", params=params))) == expected


def test_search_by_id_and_archived_patients_as_rest(client: TestClient) -> None:
    people = _clinic(client)
    claire, marc = people["claire"]["id"], people["marc"]["id"]
    found = fhir(client.get(f"{BASE}/Patient", params={"_id": f"{claire},{marc},nobody"}))
    assert {p["id"] for p in entries(found)} == {claire, marc}
    client.delete(f"/api/v1/patients/{marc}")
    # Archived patients leave the search, as they leave the REST list, unless asked for.
    assert {
        p["id"] for p in entries(fhir(client.get(f"{BASE}/Patient", params={"_id": marc})))
    } == set()
    archived = fhir(client.get(f"{BASE}/Patient", params={"active": "false"}))
    assert [p["id"] for p in entries(archived)] == [marc]
    on_file = client.get(f"{BASE}/Patient", params={"active": "true"})
    assert marc not in {p["id"] for p in entries(fhir(on_file))}
    everyone = fhir(client.get(f"{BASE}/Patient", params={"active": "true,false"}))
    assert marc in {p["id"] for p in entries(everyone)}


def test_pages_follow_next_links_with_sealed_cursors(client: TestClient) -> None:
    names = [("Ana", "Zeller"), ("Bo", "adams"), ("Cy", "Adams"), ("Di", "Müller"), ("Ed", "Adams")]
    made = [new_patient(client, given_name=g, family_name=f) for g, f in names * 3]
    first = fhir(client.get(f"{BASE}/Patient", params={"_count": 4}))
    assert "total" not in first  # not known without counting
    assert link(first, "self").endswith(f"{BASE}/Patient?_count=4")
    seen = [p["id"] for p in entries(first)]
    url = link(first, "next")
    pages = 1
    while url is not None:
        assert "_cursor=" in url
        assert "_count=4" in url
        page = fhir(client.get(url))
        seen += [p["id"] for p in entries(page)]
        url = link(page, "next")
        pages += 1
    assert pages == 4
    assert sorted(seen) == sorted(p["id"] for p in made)
    assert len(set(seen)) == len(seen)
    families = [p["family_name"].casefold() for p in made]
    assert len(families) == 15


def test_one_page_has_its_total(client: TestClient) -> None:
    _clinic(client)
    bundle = fhir(client.get(f"{BASE}/Patient", params={"name": "dub"}))
    assert bundle["total"] == 2
    assert link(bundle, "next") is None
    assert link(bundle, "self").endswith(f"{BASE}/Patient?name=dub&_count=20")


def test_count_is_at_most_100(client: TestClient) -> None:
    _clinic(client)
    bundle = fhir(client.get(f"{BASE}/Patient", params={"_count": 500}))
    assert link(bundle, "self").endswith("_count=100")
    assert len(entries(bundle)) == 4


def test_a_search_is_one_event_naming_every_patient_shown(
    client: TestClient, engine: Engine
) -> None:
    people = _clinic(client)
    trail = Trail(engine)
    client.get("/api/v1/patients", params={"identifier": f"{MRN}|MRN-1"})
    [rest] = trail.added()
    fhir(client.get(f"{BASE}/Patient", params={"identifier": f"{MRN}|MRN-1"}))
    [event] = trail.added()
    assert event == rest
    assert event[5] == "by identifier"
    fhir(client.get(f"{BASE}/Patient", params={"family": "dub"}))
    [event] = trail.added()
    both = sorted([people["claire"]["id"], people["marc"]["id"]])
    assert event == ("search", "patient", None, None, "success", "by family", both, both)
    fhir(client.get(f"{BASE}/Patient"))
    [listed] = trail.added()
    assert listed[0] == "list"
    assert len(listed[7]) == 4
    fhir(client.get(f"{BASE}/Patient", params={"name": "nobody"}))
    assert trail.added()[0][:6] == ("search", "patient", None, None, "success", "by name")


def test_an_integration_reads_patients_and_no_more(client_as: ClientFactory) -> None:
    integration = client_as(Role.INTEGRATION)
    made = new_patient(integration)
    assert tag_version(integration.get(f"/api/v1/patients/{made['id']}").headers["etag"]) == 1
    fhir(integration.get(f"{BASE}/Patient/{made['id']}"))
    fhir(integration.get(f"{BASE}/Patient", params={"name": "claire"}))
