"""The OpenAPI document and the docs explorer: complete, and usable with no internet."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.config import Settings
from app.logging import REQUEST_ID_HEADER
from app.main import create_app
from app.web.access import required_permission
from app.web.openapi import api_routes, operation_id
from tests.factories import new_patient, new_practitioner, record_evaluation, tag_version


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, object]]]:
    paths = app.openapi()["paths"]
    return [(path, method, op) for path, ops in paths.items() for method, op in ops.items()]


def test_every_route_is_documented_with_its_errors(app: FastAPI) -> None:
    operations = _operations(app)
    documented = {(path, method.upper()) for path, method, _ in operations}
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods:
                assert (route.path, method) in documented
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), f"{where} has no summary"
        assert op.get("description"), f"{where} has no description"
        responses = op["responses"]
        assert isinstance(responses, dict)
        errors = [status for status in responses if status[0] in "45"]
        assert "500" in errors, f"{where} does not declare its 500"
        for status in errors:
            content = responses[status]["content"]
            assert list(content) == ["application/problem+json"], f"{where} {status}: {content}"


def test_routes_taking_input_declare_validation_errors(app: FastAPI) -> None:
    for path, method, op in _operations(app):
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in op["responses"], f"{method.upper()} {path}"  # type: ignore[operator]


@pytest.mark.parametrize("page_path", ["/docs", "/redoc"])
def test_docs_pages_load_only_their_own_assets(client: TestClient, page_path: str) -> None:
    page = client.get(page_path)
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/"), f"{page_path} loads {source} from elsewhere"
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 1000, source
    assert "cdn" not in page.text.lower()
    assert client.get("/openapi.json").json()["info"]["title"] == "sclerosched"


def test_missing_asset_is_a_problem_404(client: TestClient) -> None:
    response = client.get("/docs-assets/nothing.js")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


# --- The contract as a client developer reads it -------------------------------------------

CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite://", secret_key="k" * 40)).openapi()


def _each_operation(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def _valid(value: Any, schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    root = {**schema, "components": document["components"]}
    validator = jsonschema_rs.Draft202012Validator(root)
    return [error.message for error in validator.iter_errors(value)]


def test_operation_ids_are_readable_and_listed_in_the_changelog(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, operation in _each_operation(document)]
    assert len(ids) == len(set(ids))
    changelog = (ROOT / "CHANGELOG.md").read_text()
    for name in ids:
        assert CAMEL.match(name), name
        assert f"`{name}`" in changelog, f"{name} is not in CHANGELOG.md"
    assert {"bookSession", "listPatients", "logIn"} <= set(ids)


def test_schemas_have_names_a_generator_can_print(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])
    for name in names:
        assert re.match(r"^[A-Z][A-Za-z0-9]*$", name), name  # no Body_..., Page_Union_...
    assert {"LoginForm", "PatientPage", "SessionPage", "EvaluationPage"} <= names


def test_tags_servers_license_and_contact_are_declared(document: dict[str, Any]) -> None:
    declared = {tag["name"]: tag for tag in document["tags"]}
    for where, operation in _each_operation(document):
        for tag in operation["tags"]:
            assert tag in declared, f"{where}: tag {tag!r} not declared"
    for name, tag in declared.items():
        assert " " not in name
        assert tag["description"], name
    assert document["servers"]
    assert document["info"]["license"]["identifier"]
    assert document["info"]["contact"]["name"]


def test_each_route_says_who_may_call_it(app: FastAPI, document: dict[str, Any]) -> None:
    needed = {operation_id(r): required_permission(r) for r in api_routes(app)}
    public = {"checkLiveness", "checkReadiness", "logIn", "readCalendarFeed"}
    for where, operation in _each_operation(document):
        name = operation["operationId"]
        if name in public:
            assert operation["security"] == [], where
            continue
        assert operation["security"], where
        permission = needed[name]
        assert operation.get("x-permission") == (permission and permission.value), where
        if permission is not None:
            assert f"`{permission.value}`" in operation["description"], where


def test_every_answer_is_described_with_an_example_that_fits_its_schema(
    document: dict[str, Any],
) -> None:
    for where, operation in _each_operation(document):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            assert "example" in media, f"{where} request {media_type}"
            assert not _valid(media["example"], media["schema"], document), where
        for status, answer in operation["responses"].items():
            assert answer["description"] not in ("", "Successful Response"), f"{where} {status}"
            assert REQUEST_ID_HEADER in answer["headers"], f"{where} {status}"
            for media in answer.get("content", {}).values():
                assert "example" in media, f"{where} {status}"
                problems = _valid(media["example"], media["schema"], document)
                assert not problems, f"{where} {status}: {problems}"


def test_each_error_lists_its_codes(document: dict[str, Any]) -> None:
    for where, operation in _each_operation(document):
        for status, answer in operation["responses"].items():
            if status[0] not in "45":
                continue
            (media,) = answer["content"].values()
            codes = media["schema"]["allOf"][1]["properties"]["code"]["enum"]
            assert media["example"]["code"] in codes
            assert all(f"`{code}`" in answer["description"] for code in codes)
            if status in ("429", "503"):
                assert "Retry-After" in answer["headers"], f"{where} {status}"
    booking = document["paths"]["/api/v1/sessions"]["post"]["responses"]["409"]
    enum = booking["content"]["application/problem+json"]["schema"]["allOf"][1]
    assert {"eligibility-blocked", "slot-taken"} <= set(enum["properties"]["code"]["enum"])


def test_etag_and_location_are_documented_where_they_are_sent(
    app: FastAPI, document: dict[str, Any]
) -> None:
    by_id = {op["operationId"]: op for _, op in _each_operation(document)}
    etagged = set()
    for route in api_routes(app):
        source = inspect.getsource(route.endpoint)
        operation = by_id[operation_id(route)]
        (success,) = [a for s, a in operation["responses"].items() if s[0] == "2"]
        sends_etag = "set_etag(" in source or ("_read(" in source and "sessions" in route.path)
        assert ("ETag" in success["headers"]) == sends_etag, operation_id(route)
        sends_location = 'headers["Location"]' in source
        assert ("Location" in success["headers"]) == sends_location, operation_id(route)
        if sends_etag:
            etagged.add(operation_id(route))
    assert {"readPatient", "updatePatient", "bookSession", "readSession"} <= etagged


def test_the_headers_documented_are_the_headers_sent(client: TestClient) -> None:
    patient = new_patient(client)
    read = client.get(f"/api/v1/patients/{patient['id']}")
    assert tag_version(read.headers["ETag"]) == patient["version"]
    assert read.headers[REQUEST_ID_HEADER]


def test_views_are_a_discriminated_union(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for full, summary in (
        ("EvaluationRead", "EvaluationSummary"),
        ("ClearanceRead", "ClearanceSummary"),
        ("ConsentRead", "ConsentSummary"),
    ):
        assert schemas[full]["properties"]["view"]["const"] == "full"
        assert schemas[summary]["properties"]["view"]["const"] == "summary"
        assert "view" in schemas[full]["required"]
        assert "view" in schemas[summary]["required"]
    answer = document["paths"]["/api/v1/evaluations/{evaluation_id}"]["get"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["discriminator"]["propertyName"] == "view"
    risk = schemas["EvaluationRead"]["properties"]["risk_factors"]
    assert risk == {"$ref": "#/components/schemas/RiskFactors"}


def test_request_defaults_are_said_in_words(document: dict[str, Any]) -> None:
    """A generator reading `default` as "always there" would make these fields required."""
    schemas = document["components"]["schemas"]
    duration = schemas["SessionCreate"]["properties"]["duration_minutes"]
    assert "default" not in duration
    assert "Default: `45`" in duration["description"]
    assert "duration_minutes" not in schemas["HoldCreate"]["required"]
    assert "patient_id" in schemas["HoldCreate"]["required"]
    grant = schemas["LoginForm"]["properties"]["grant_type"]
    assert "default" not in grant
    assert "grant_type" not in schemas["LoginForm"]["required"]
    # Answers keep them, and say the field is always there.
    assert "status" in schemas["SessionRead"]["required"]


def test_the_document_offers_only_what_the_server_accepts(
    document: dict[str, Any], client: TestClient
) -> None:
    schemas = document["components"]["schemas"]
    # A partial update's field that may be left out but not sent as null.
    given = schemas["PatientUpdate"]["properties"]["given_name"]
    assert "anyOf" not in given
    assert "default" not in given
    patient = new_patient(client)
    refused = client.patch(f"/api/v1/patients/{patient['id']}", json={"given_name": None})
    assert refused.status_code == 422
    assert "null" in str(schemas["PatientUpdate"]["properties"]["phone"])  # this one clears
    # An API key never carries the admin role: the document does not offer it.
    assert schemas["ApiKeyCreate"]["properties"]["role"]["enum"] == [
        "clinician",
        "receptionist",
        "integration",
    ]
    # An optional header or query parameter is left out, never null.
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert "null" not in str(parameter["schema"]), parameter
    # Bounds under JSON Schema's names.
    assert schemas["SessionCreate"]["properties"]["duration_minutes"]["minimum"] == 15


def test_integers_are_json_schemas_and_an_empty_cursor_is_the_first_page(
    client: TestClient,
) -> None:
    patient = new_patient(client)
    record_evaluation(client, patient["id"], new_practitioner(client)["id"])
    plan = {"planned_sessions": 3.0, "interval_days": 28}
    made = client.post(f"/api/v1/patients/{patient['id']}/treatment-plans", json=plan)
    assert made.status_code == 201, made.text  # 3.0 is the integer 3
    assert made.json()["planned_sessions"] == 3
    for wrong in (True, 3.5, "3"):
        answer = client.post(
            f"/api/v1/patients/{patient['id']}/treatment-plans", json={"planned_sessions": wrong}
        )
        assert answer.status_code == 422, wrong
    assert client.get("/api/v1/patients", params={"cursor": ""}).status_code == 200
