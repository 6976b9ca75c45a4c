"""What an API route's endpoint is handed rather than solved as a dependency
(`app.web.routes.ApiRoute`): the clinic's clock and policy, and whether the caller's role holds
a permission, the same values the dependencies give; and a route that asks who is calling
without checking the caller first is refused when it is built, not answered 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.roles import Permission, Role
from app.web.access import ClinicalDetail, requires
from app.web.clock import Now
from app.web.policy import Policy
from app.web.routes import ApiRoute
from tests.factories import UserFactory, bearer, dispose

PEEK = "/api/v1/test-peek"


def _with_peek(app: FastAPI) -> FastAPI:
    """The app with one more route answering what its endpoint was handed."""
    peek = APIRouter(route_class=ApiRoute)

    @peek.get(PEEK, dependencies=[requires(Permission.PATIENTS_READ)])
    def what_it_was_handed(now: Now, policy: Policy, clinical: ClinicalDetail) -> dict[str, Any]:
        return {
            "now": now.isoformat(),
            "min_gap_days": policy.booking.min_gap_days,
            "clinical": clinical,
        }

    app.include_router(peek)
    return app


@pytest.fixture
def peek_app(settings: Settings) -> Iterator[FastAPI]:
    app = _with_peek(create_app(settings))
    yield app
    dispose(app)


def test_the_endpoint_is_handed_the_clock_the_policy_and_the_callers_permissions(
    peek_app: FastAPI, make_user: UserFactory
) -> None:
    moved = datetime(2031, 3, 4, 9, 30, tzinfo=UTC)
    peek_app.state.clock = lambda: moved  # the clinic's clock, as the tests move it
    with TestClient(peek_app) as client:
        clinician = client.get(PEEK, headers=bearer(peek_app, make_user(Role.CLINICIAN)))
        desk = client.get(PEEK, headers=bearer(peek_app, make_user(Role.RECEPTIONIST)))
        nobody = client.get(PEEK)
    assert clinician.status_code == 200, clinician.text
    assert clinician.json() == {
        "now": moved.isoformat(),
        "min_gap_days": peek_app.state.policy.booking.min_gap_days,
        "clinical": True,
    }
    assert desk.json()["clinical"] is False  # the front desk sees no clinical detail
    assert nobody.status_code == 401


def test_a_route_that_asks_the_callers_role_without_requires_is_not_built() -> None:
    router = APIRouter(route_class=ApiRoute)
    with pytest.raises(TypeError, match="without a `requires` dependency"):

        @router.get("/unchecked")
        def unchecked(clinical: ClinicalDetail) -> bool:
            return clinical
