"""The OpenAPI document and the docs explorer: complete, and usable with no internet."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient


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
