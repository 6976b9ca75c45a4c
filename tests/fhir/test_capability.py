"""The CapabilityStatement says exactly what the routes serve: every FHIR route is listed, and
everything listed has a route (read here from the app's routes and its router's matching, not
from the declarations the statement is built from)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match

from tests.fhir.fhir import BASE, fhir
from tests.routes import every_route

# The path a FHIR interaction is served at, as FHIR's RESTful API names it.
_PATHS = {
    "read": ("GET", "/{type}/{id}"),
    "search-type": ("GET", "/{type}"),
    "update": ("PUT", "/{type}/{id}"),
    "create": ("POST", "/{type}"),
}
_EXAMPLE_ID = "0b0b0b0b-0000-4000-8000-000000000000"


def _listed(statement: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of every interaction and operation the statement lists, the id filled."""
    found = set()
    for resource in statement["rest"][0]["resource"]:
        kind = resource["type"]
        for interaction in resource.get("interaction", []):
            method, path = _PATHS[interaction["code"]]
            found.add((method, BASE + path.format(type=kind, id=_EXAMPLE_ID)))
        for operation in resource.get("operation", []):
            found.add(("POST", f"{BASE}/{kind}/${operation['name']}"))
    return found


def _served(app: FastAPI, method: str, path: str) -> bool:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def test_every_listed_interaction_has_a_route_and_every_route_is_listed(
    app: FastAPI, anonymous: TestClient
) -> None:
    statement = fhir(anonymous.get(f"{BASE}/metadata"))
    listed = _listed(statement)
    assert listed, "nothing listed"
    for method, path in listed:
        assert _served(app, method, path), f"{method} {path} is listed but no route serves it"
    routes = {
        (method, re.sub(r"\{[^}]+\}", _EXAMPLE_ID, path))
        for method, path, _ in every_route(app)
        if path.startswith(BASE + "/") and path != f"{BASE}/metadata"
    }
    assert routes, "no FHIR route found"
    assert routes == listed


def test_search_parameters_listed_are_the_ones_taken(
    anonymous: TestClient, client: TestClient
) -> None:
    """Each search parameter listed is taken (not refused as unknown), and a parameter not
    listed is refused: the list is the parser's own."""
    statement = fhir(anonymous.get(f"{BASE}/metadata"))
    for resource in statement["rest"][0]["resource"]:
        params = resource.get("searchParam", [])
        for param in params:
            assert param["type"] in {"string", "token", "date", "reference"}
            assert param["documentation"]
            answer = client.get(f"{BASE}/{resource['type']}", params={param["name"]: "x"})
            body = fhir(answer, answer.status_code)
            codes = [i["details"]["coding"][0]["code"] for i in body.get("issue", [])]
            assert "unknown-search-parameter" not in codes, (resource["type"], param["name"])
        if params:
            refused = client.get(f"{BASE}/{resource['type']}", params={"not-listed": "x"})
            body = fhir(refused, 400)
            assert body["issue"][0]["details"]["coding"][0]["code"] == "unknown-search-parameter"
            assert "not-listed" in body["issue"][0]["diagnostics"]


def test_the_resources_built_so_far_are_listed(anonymous: TestClient) -> None:
    statement = fhir(anonymous.get(f"{BASE}/metadata"))
    kinds = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"Patient", "Practitioner", "Schedule", "Slot"} <= set(kinds)
    patient = kinds["Patient"]
    assert {i["code"] for i in patient["interaction"]} == {"read", "search-type"}
    assert {p["name"]: p["type"] for p in patient["searchParam"]} == {
        "_id": "token",
        "identifier": "token",
        "name": "string",
        "family": "string",
        "given": "string",
        "birthdate": "date",
        "active": "token",
    }
    slot = {p["name"]: p["type"] for p in kinds["Slot"]["searchParam"]}
    assert slot == {"schedule": "reference", "start": "date", "status": "token"}
