"""The application factory: settings, database, routers, error handlers and offline docs."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import __version__
from app.access.principals import AuthenticationRequired, Forbidden, InvalidToken
from app.accounts.router import login_router
from app.accounts.router import router as access_router
from app.audit.router import router as audit_router
from app.calendar_feeds.router import feed_router
from app.calendar_feeds.router import router as calendar_feeds_router
from app.config import Settings, configure_logging, load_settings
from app.consents.router import router as consents_router
from app.db import make_async_engine, request_sessions
from app.evaluations.router import router as evaluations_router
from app.events.router import router as webhooks_router
from app.fhir import BASE_PATH as FHIR_BASE
from app.fhir.outcomes import as_outcome
from app.fhir.router import router as fhir_router
from app.fhir.scheduling.router import router as fhir_scheduling_router
from app.health.router import router as health_router
from app.holds.router import router as holds_router
from app.locations.router import router as locations_router
from app.logging import CLIENT_REQUEST_ID_HEADER, REQUEST_ID_HEADER
from app.pagination import CursorSeal
from app.patients.router import router as patients_router
from app.patients.service import install_on_archive
from app.plans.router import router as plans_router
from app.policy import ClinicPolicy
from app.practitioners.router import router as practitioners_router
from app.progress.router import router as progress_router
from app.scheduling.router import router as scheduling_router
from app.sessions.freed import install_offering
from app.sessions.router import router as sessions_router
from app.waitlist.offers import offer_at_once
from app.waitlist.router import router as waitlist_router
from app.waitlist.service import end_for_archived
from app.web.access import is_protected
from app.web.clock import system_clock
from app.web.dispatch import install_route_index
from app.web.docs import OAUTH2_REDIRECT_URL, install_docs
from app.web.middleware import ApiMiddleware
from app.web.openapi import CONTACT, LICENSE, TAGS, install_contract, operation_id
from app.web.problems import (
    DatabaseUnavailable,
    InternalError,
    install_error_handlers,
    problem_responses,
)
from app.web.protocol import HeadDeadlineProtocol

DESCRIPTION = """
Patients, the medical evaluation before treatment, and courses of micro-sclerotherapy
sessions about a month apart, for vein clinics.

Every route but the health checks, logging in and a calendar feed (whose secret URL is its
own credential) needs a credential: press **Authorize**
and log in with a username and password (or paste an integration's API key). What each role
may do is in the README's permission table; a forbidden action is a 403.

Errors are `application/problem+json` (RFC 9457) with a stable `code`. Times are RFC 3339
with an explicit offset. Lists are cursor-paginated: `{"items": [...], "next_cursor": ...}`.
"""

logger = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API. The database schema is managed by Alembic (`sclerosched migrate`)."""
    settings = settings or load_settings()
    app = FastAPI(
        title="sclerosched",
        version=__version__,
        description=DESCRIPTION,
        # The docs explorer is `app.web.docs`'s (offline, under its own security policy).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=OAUTH2_REDIRECT_URL if settings.docs_explorer else None,
        lifespan=_lifespan,
        openapi_tags=TAGS,
        license_info=LICENSE,
        contact=CONTACT,
        generate_unique_id_function=operation_id,
        # `/patients/` is a 404, not a redirect built from the request's own Host header
        # (a stranger's host, and always http://).
        redirect_slashes=False,
        # The service exports no OpenTelemetry: FastAPI's own hooks would only look for a
        # provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    engine = make_async_engine(settings.database_url, pool_size=settings.database_pool_size)
    app.state.settings = settings
    app.state.policy = ClinicPolicy.from_settings(settings)
    app.state.clock = system_clock  # the clinic's now; the tests move it
    app.state.engine = engine
    app.state.sessions = request_sessions(engine)
    app.state.idempotency_lifetime = timedelta(hours=settings.idempotency_key_hours)
    app.state.require_if_match = settings.require_if_match
    app.state.requests_per_minute = settings.requests_per_minute

    app.state.signing_key = _signing_key(settings)
    app.state.cursor_seal = CursorSeal(app.state.signing_key)

    # Outermost last. CORS answers browsers' preflights itself, and adds its headers to every
    # answer, a problem for an unexpected failure included.
    # The routes anyone may send a body to (logging in): a small one, credentials or not.
    public_paths = frozenset(
        route.path
        for router in (health_router, login_router)
        for route in router.routes
        if isinstance(route, APIRoute)
        and not is_protected(route)
        and (route.methods or set()) - {"GET", "HEAD"}
    )
    app.add_middleware(
        ApiMiddleware,
        max_body_bytes=settings.max_body_bytes,
        public_paths=public_paths,
        strict_transport_security=settings.environment == "production",
    )
    if settings.trusted_proxies:
        # The client's address (login throttle, audit) from X-Forwarded-For, and the scheme
        # from X-Forwarded-Proto, believed only when the connection comes from one of these.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", REQUEST_ID_HEADER],
            expose_headers=[
                "ETag",
                "Location",
                "Retry-After",
                REQUEST_ID_HEADER,
                CLIENT_REQUEST_ID_HEADER,
            ],
        )
    # Under the FHIR interface's base, every problem is an OperationOutcome.
    install_error_handlers(app, dialects={FHIR_BASE: as_outcome})
    # A slot a session gives back goes round the waitlist at once (the waitlist books through
    # the session services, which do not import it).
    install_offering(offer_at_once)
    # Archiving a patient ends their place on the waitlist (likewise installed).
    install_on_archive(end_for_archived)
    server_errors = problem_responses(InternalError, DatabaseUnavailable, validation=False)
    # A calendar feed's URL is its own credential (its token), like a login's form.
    for public in (health_router, login_router, feed_router):
        app.include_router(public, responses=server_errors)
    protected = (
        access_router,
        patients_router,
        practitioners_router,
        locations_router,
        calendar_feeds_router,
        evaluations_router,
        consents_router,
        plans_router,
        progress_router,
        scheduling_router,
        sessions_router,
        holds_router,
        waitlist_router,
        audit_router,
        webhooks_router,
    )
    access_errors = problem_responses(
        AuthenticationRequired, InvalidToken, Forbidden, validation=False
    )
    for router in protected:
        app.include_router(router, responses={**access_errors, **server_errors})
    # FHIR R4 (`/fhir/R4`): the same credentials, permissions, transactions and audit trail;
    # described by its own CapabilityStatement rather than the OpenAPI document.
    app.include_router(fhir_router)
    app.include_router(fhir_scheduling_router)
    install_contract(app)
    if settings.docs_explorer:
        install_docs(app)
    # A request's route found in a few steps, not by trying every route (`app.web.dispatch`).
    install_route_index(app)
    return app


def create_served_app() -> FastAPI:
    """The app of one of several worker processes (`sclerosched serve --workers N`): each
    reads the settings from the environment and sets up its own logging."""
    settings = load_settings()
    configure_logging(settings.log_level)
    HeadDeadlineProtocol.head_seconds = settings.request_head_seconds
    HeadDeadlineProtocol.body_seconds = settings.request_body_seconds
    return ready_to_serve(create_app(settings))


def ready_to_serve(app: FastAPI) -> FastAPI:
    """What start-up built (modules, routes, schemas, the app) lives as long as the process:
    frozen out of the garbage collector's reach. A full collection walks every object it
    tracks, over 200,000 after start-up, and stops the event loop for tens of milliseconds
    while it does: every request waiting then pays for it. Frozen, a full collection walks
    only what serving made since."""
    gc.collect()
    gc.freeze()
    return app


def _signing_key(settings: Settings) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    # Development only (production refuses to start without a key): tokens end with the process.
    logger.warning(
        "SCLEROSCHED_SECRET_KEY is not set: using a random key; logins end when the server stops"
    )
    return secrets.token_urlsafe(48)
