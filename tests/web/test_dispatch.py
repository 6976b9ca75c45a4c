"""A request's route is found through the route index (`app.web.dispatch`) in a few steps, and
it is the route FastAPI's own dispatch chooses, handed the same scope: checked for every
route, every method, and paths that look like theirs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.types import Message, Scope

from app.config import Settings
from app.main import create_app
from app.web.dispatch import RouteIndex
from tests.factories import assert_problem, dispose, new_patient
from tests.fhir.fhir import BASE, fhir, outcome
from tests.routes import concrete, every_route

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Paths no route serves as such, near those some route does.
LOOKALIKES = [
    "/",
    "/nothing-here",
    "/api",
    "/api/v1",
    "/api/v1/",
    "/api/v1/nothing-here",
    "/api/v1/patients//x",
    "/api/v1/patients/a/b/c/d",
    "/api/v1/patients/\u00e9t\u00e9",
    "/api/v1/waitlist/offers",
    "/api/v1/waitlist/offers/",
    f"/api/v1/waitlist/{uuid.uuid4()}/offers",
    "/health",
    "/health/live\n",  # a pattern's `$` takes a final newline: FastAPI's own dispatch
    "/fhir",
    f"{BASE}",
    f"{BASE}/",
    f"{BASE}/Nothing",
    f"{BASE}/Patient",
    f"{BASE}/Patient/x/y",
    "/docs-assets",
    "/docs-assets/",
    "/docs-assets/swagger-ui.css",
    "/docs/",
    "/openapi.json/",
]


def index_of(app: FastAPI) -> RouteIndex:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex), "the app's router dispatches without its index"
    return index


class Dispatches:
    """Send scopes through the app router's dispatch, FastAPI's own or the index's, with each
    route's `handle` (and the 404) replaced by a record of what it was given."""

    def __init__(self, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        self.app = app
        self.seen: list[tuple[object, ...]] = []

        async def handled(route: object, scope: Scope, receive: Any, send: Any) -> None:
            self.seen.append((route, _copy(scope)))

        for kind in (APIRoute, Route, Mount):
            monkeypatch.setattr(kind, "handle", handled)

    def outcome(self, dispatch: Callable[..., Any], scope: Scope) -> tuple[object, ...]:
        """What the dispatch chose for the scope: the route and the scope it was handed, or
        the error it raised (a 404) and the scope then."""
        self.seen.clear()

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            self.seen.append(("sent", message))

        try:
            asyncio.run(dispatch(scope, receive, send))
        except HTTPException as error:
            return ("raised", error.status_code, error.headers, _copy(scope))
        [chosen] = self.seen
        return chosen

    def both(self, method: str, path: str, root_path: str = "") -> tuple[object, object]:
        """The outcome of FastAPI's dispatch and the index's, each with a scope of its own."""
        router = self.app.router
        fastapi = self.outcome(router.app, self.scope(method, path, root_path))
        indexed = self.outcome(index_of(self.app), self.scope(method, path, root_path))
        return fastapi, indexed

    def scope(self, method: str, path: str, root_path: str = "") -> Scope:
        return {
            "type": "http",
            "method": method,
            "path": root_path + path,
            "root_path": root_path,
            "raw_path": (root_path + path).encode(),
            "query_string": b"",
            "headers": [],
            "app": self.app,
        }


def _copy(scope: Scope) -> dict[str, Any]:
    """The scope as it is now (FastAPI keeps its own keys in a dict of its own)."""
    if "fastapi" in scope:
        return {**scope, "fastapi": dict(scope["fastapi"])}
    return dict(scope)


@pytest.fixture
def dispatches(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Dispatches:
    index_of(app).current()  # built before `handle` is replaced
    return Dispatches(app, monkeypatch)


def _paths(app: FastAPI) -> Iterator[str]:
    seen: set[str] = set()
    for _, template, _ in every_route(app):
        path = concrete(template.replace("{path}", "swagger-ui.css"))
        for each in (path, path + "/", path.rsplit("/", 1)[0] + "/offers"):
            if each not in seen:
                seen.add(each)
                yield each
    yield from LOOKALIKES


def test_every_route_method_and_lookalike_path_goes_where_fastapi_sends_it(
    app: FastAPI, dispatches: Dispatches
) -> None:
    compared = 0
    for path in _paths(app):
        for method in METHODS:
            fastapi, indexed = dispatches.both(method, path)
            assert indexed == fastapi, (method, path)
            compared += 1
    assert compared > 1000


ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("method", "path", "chosen", "params"),
    [
        ("GET", f"/api/v1/patients/{ID}", "/api/v1/patients/{patient_id}", {"patient_id": ID}),
        # the offers' path, a 405 (its route chosen, partly), not an entry's
        ("DELETE", "/api/v1/waitlist/offers", "/api/v1/waitlist/offers", {}),
        ("GET", f"{BASE}/Patient/{ID}", f"{BASE}/Patient/{{patient_id}}", {"patient_id": ID}),
        ("GET", "/docs-assets/swagger-ui.css", "/docs-assets", {}),
    ],
)
def test_the_route_chosen_and_its_path_parameters(
    dispatches: Dispatches, method: str, path: str, chosen: str, params: dict[str, str]
) -> None:
    fastapi, indexed = dispatches.both(method, path, root_path="/behind-a-proxy")
    assert indexed == fastapi
    route, scope = indexed
    assert isinstance(route, APIRoute | Mount)
    assert route.path == chosen
    assert scope["path_params"] == params
    if isinstance(route, APIRoute):
        assert scope["route"] is route


def test_a_path_no_route_serves_is_the_404_fastapi_raises(dispatches: Dispatches) -> None:
    for path, root_path in [
        ("/api/v1/patients/", ""),
        ("/nothing-here", ""),
        (f"{BASE}/Nothing", ""),
        ("", "/behind-a-proxy"),  # the proxy's root itself: FastAPI's own dispatch
    ]:
        fastapi, indexed = dispatches.both("GET", path, root_path)
        assert indexed == fastapi
        assert indexed[:2] == ("raised", 404)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each route's `matches` counts its calls (included routers' too)."""
    asked: list[object] = []
    for kind in (APIRoute, Route, Mount, _IncludedRouter):
        original = kind.matches

        def counted(route: Any, scope: Scope, original: Any = original) -> Any:
            asked.append(route)
            return original(route, scope)

        monkeypatch.setattr(kind, "matches", counted)
    return asked


def test_a_late_route_is_found_by_trying_a_few_routes_not_all(
    app: FastAPI, dispatches: Dispatches, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = every_route(app)
    api = [(method, path) for method, path, route in routes if isinstance(route, APIRoute)]
    asked = _counting(monkeypatch)
    # The first route registered, the last, the last API route: the same few steps each.
    for method, template in (api[0], api[-1], routes[-1][:2], (routes[-1][0], "/nothing")):
        path = concrete(template)
        asked.clear()
        dispatches.outcome(index_of(app), dispatches.scope(method, path))
        assert len(asked) <= 3, (method, template, len(asked))
        asked.clear()
        dispatches.outcome(app.router.app, dispatches.scope(method, path))
        if template == api[-1][1]:  # FastAPI's own scan tries every route before it
            assert len(asked) > len(routes)


def test_a_router_included_later_or_a_route_added_later_is_found(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings)
    try:
        index = index_of(app)
        dispatches = Dispatches(app, monkeypatch)
        dispatches.outcome(index, dispatches.scope("GET", "/health/live"))  # index built
        later = APIRouter(prefix="/api/v1/later")

        @later.get("")
        def first() -> None:
            """A route included once the app serves."""

        app.include_router(later)
        fastapi, indexed = dispatches.both("GET", "/api/v1/later")
        assert indexed == fastapi
        assert indexed[0].endpoint is first  # type: ignore[union-attr]

        @later.get("/{thing}")
        def second(thing: str) -> None:
            """A route added to a router already included."""

        fastapi, indexed = dispatches.both("GET", "/api/v1/later/x")
        assert indexed == fastapi
        assert indexed[0].endpoint is second  # type: ignore[union-attr]
    finally:
        dispose(app)


# The same answers through HTTP, the middleware and the error handlers, as before the index.


def test_a_path_no_route_serves_is_a_problem_404(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")
    # No redirect for a trailing slash: `/patients/` is not `/patients`.
    slash = client.get("/api/v1/patients/", follow_redirects=False)
    assert assert_problem(slash, 404, "not-found")["instance"] == "/api/v1/patients/"


def test_another_method_on_a_route_s_path_is_a_405_naming_its_methods(
    client: TestClient,
) -> None:
    answer = client.put(f"/api/v1/patients/{uuid.uuid4()}")
    assert_problem(answer, 405, "method-not-allowed")
    assert answer.headers["allow"] == "GET, HEAD, PATCH, DELETE"
    offers = client.delete("/api/v1/waitlist/offers")  # the offers' path, not an entry's
    assert_problem(offers, 405, "method-not-allowed")
    assert offers.headers["allow"] == "GET, HEAD"


def test_path_parameters_reach_the_endpoint(client: TestClient) -> None:
    patient = new_patient(client)
    answer = client.get(f"/api/v1/patients/{patient['id']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == patient["id"]
    assert_problem(client.get(f"/api/v1/patients/{uuid.uuid4()}"), 404, "not-found")


def test_fhir_routes_answer_in_their_dialect(client: TestClient) -> None:
    assert fhir(client.get(f"{BASE}/metadata"))["resourceType"] == "CapabilityStatement"
    patient = new_patient(client)
    assert fhir(client.get(f"{BASE}/Patient/{patient['id']}"))["id"] == patient["id"]
    outcome(client.get(f"{BASE}/Nothing"), 404, "not-found")
    outcome(client.delete(f"{BASE}/metadata"), 405, "method-not-allowed")
