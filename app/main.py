"""The application factory: settings, database, routers, error handlers and offline docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import __version__
from app.config import Settings, load_settings
from app.db import make_engine, make_sessionmaker
from app.errors import (
    DatabaseUnavailable,
    InternalError,
    install_error_handlers,
    problem_responses,
    problems_only_as_problem_json,
)
from app.evaluations.router import router as evaluations_router
from app.health.router import router as health_router
from app.logging import RequestIdMiddleware
from app.patients.router import router as patients_router
from app.plans.router import router as plans_router
from app.practitioners.router import router as practitioners_router
from app.scheduling.router import router as scheduling_router
from app.sessions.router import router as sessions_router

DESCRIPTION = """
Patients, the medical evaluation before treatment, and courses of micro-sclerotherapy
sessions about a month apart, for vein clinics.

Errors are `application/problem+json` (RFC 9457) with a stable `code`. Times are RFC 3339
with an explicit offset. Lists are cursor-paginated: `{"items": [...], "next_cursor": ...}`.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API. The database schema is managed by Alembic (`sclerosched migrate`)."""
    settings = settings or load_settings()
    # The docs explorer's JavaScript and CSS are served by the app itself: clinics run it on
    # closed networks with no CDN.
    app = FastAPIOffline(
        title="sclerosched",
        version=__version__,
        description=DESCRIPTION,
        static_url="/docs-assets",
        lifespan=_lifespan,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)

    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    routers = (
        health_router,
        patients_router,
        practitioners_router,
        evaluations_router,
        plans_router,
        scheduling_router,
        sessions_router,
    )
    for router in routers:
        app.include_router(
            router,
            responses=problem_responses(InternalError, DatabaseUnavailable, validation=False),
        )
    _document_problems_as_problem_json(app)
    return app


def _document_problems_as_problem_json(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_only_as_problem_json(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
