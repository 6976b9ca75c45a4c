"""Errors as HTTP answers: RFC 9457 `application/problem+json` with a stable `code`, for
domain errors, request validation failures, unknown routes and methods, database failures and
the unexpected; and how each route documents the problems it may answer. Under the base of an
interface that speaks another dialect the same problems are rendered as it says them, with
the same status and code: the FHIR interface (`/fhir/R4`) as OperationOutcomes
(`app.fhir.outcomes.as_outcome`, installed by `app.main`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import ConcurrentUpdate, Conflict, DomainError, InvalidValue
from app.logging import REQUEST_ID_HEADER, logged_path

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://sclerosched.dev/problems/"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the error is, e.g. ['body', 'birth_date']")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem detail, extended with a stable `code`. A refusal may add members
    that say more (the optional ones below); a client ignores those it does not know."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No patient with id 0d9c...."])
    code: str = Field(examples=["not-found"], description="Stable machine-readable error code")
    instance: str | None = Field(default=None, description="The request path")
    request_id: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="For validation errors: each field at fault"
    )
    flags: list[ProblemFlag] | None = Field(
        default=None, description="`eligibility-blocked`: what stands in the way"
    )
    outcome: str | None = Field(default=None, description="`eligibility-blocked`: the standing")
    current_version: int | None = Field(
        default=None, description="`version-mismatch`: the version stored now"
    )
    session_status: str | None = Field(
        default=None, description="`invalid-transition`: the session's status now"
    )
    opens: str | None = Field(default=None, description="`check-in-not-open`: when it opens")
    closes: str | None = Field(default=None, description="`check-in-not-open`: when it closes")
    sites: list[str] | None = Field(default=None, description="The sites at fault")
    dose_mg: float | None = Field(
        default=None,
        description="`dose-limit-exceeded`, a limit in mg: this session's dose of the sclerosant",
    )
    limit_mg: float | None = Field(
        default=None, description="`dose-limit-exceeded`, a limit in mg: the limit"
    )
    limit: str | None = Field(
        default=None,
        description="`dose-limit-exceeded`: which limit (`polidocanol-per-kg-per-day`, "
        "`sodium-tetradecyl-sulfate-per-session`, `foam-per-session`, `foam-per-day`)",
    )
    total: float | None = Field(
        default=None,
        description="`dose-limit-exceeded`: what counts against the limit (a daily one: with "
        "what was given earlier that day), in `unit`",
    )
    allowed: float | None = Field(
        default=None, description="`dose-limit-exceeded`: the limit, in `unit`"
    )
    unit: str | None = Field(default=None, description="`dose-limit-exceeded`: `mg` or `mL` (UCUM)")
    source: str | None = Field(
        default=None, description="`dose-limit-exceeded`: where the limit comes from"
    )
    identifier: dict[str, str] | None = Field(
        default=None, description="`duplicate-identifier`: the identifier already in use"
    )
    required_permission: str | None = Field(default=None, description="`forbidden`")
    earliest_start: str | None = Field(
        default=None, description="`too-short-notice`: the first start the notice allows now"
    )
    min_notice_minutes: int | None = Field(
        default=None, description="`too-short-notice`: the practitioner's minimum notice"
    )
    buffer_minutes: int | None = Field(
        default=None, description="`buffer-conflict`: the practitioner's buffer"
    )


class ProblemFlag(BaseModel):
    code: str
    severity: str
    message: str


_INSTANCE_CHARS = 2048


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    all_headers = dict(headers or {})
    if request_id:
        all_headers[REQUEST_ID_HEADER] = request_id
    dialect = _dialect(request)
    if dialect is not None:  # the same problem, as an interface under its own base says it
        rendered, media_type = dialect(
            status=status, code=code, title=title, detail=detail, extensions=extensions
        )
        return JSONResponse(
            rendered, status_code=status, media_type=media_type, headers=all_headers
        )
    body: dict[str, Any] = {
        **(extensions or {}),  # first, so no extension can overwrite a standard member
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        # A refused long URL is not echoed whole (`app.web.middleware` lets none longer in).
        "instance": request.url.path[:_INSTANCE_CHARS],
        "request_id": request_id,
    }
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )


class Dialect(Protocol):
    """How an interface mounted under its own base renders a problem: the body and its
    media type (the FHIR interface: an OperationOutcome, `app.fhir.outcomes`)."""

    def __call__(
        self,
        *,
        status: int,
        code: str,
        title: str,
        detail: str,
        extensions: Mapping[str, Any] | None,
    ) -> tuple[dict[str, Any], str]: ...


def _dialect(request: Request) -> Dialect | None:
    path = request.url.path
    dialects: Mapping[str, Dialect] = getattr(request.app.state, "problem_dialects", {})
    for base, dialect in dialects.items():
        if path == base or path.startswith(base + "/"):
            return dialect
    return None


def problem_responses(
    *errors: type[DomainError], validation: bool = True
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: the problems it may answer, plus validation (422)."""
    documented: list[type[DomainError]] = [*errors]
    if validation:
        documented += [RequestValidation, MalformedBody]
    by_status: dict[int, list[type[DomainError]]] = {}
    for error in documented:
        by_status.setdefault(error.status, []).append(error)
    # `app.web.openapi` turns the codes into the answer's description, an enum and an example.
    return {
        status: {
            "model": Problem,
            "description": "; ".join(f"`{e.code}`: {e.title}" for e in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "x-problem-codes": [(e.code, e.title) for e in group],
        }
        for status, group in sorted(by_status.items())
    }


def problems_only_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI lists a response `model` under application/json too; error responses are only
    ever sent as application/problem+json, so the OpenAPI document says just that."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and PROBLEM_MEDIA_TYPE in content:
                    content.pop("application/json", None)
    return schema


class RequestValidation(DomainError):
    """Documentation stand-in for FastAPI's request validation failures."""

    status = 422
    code = "validation-error"
    title = "The request is not valid"


class MalformedBody(DomainError):
    """Documentation stand-in for a body that cannot even be decoded."""

    status = 400
    code = "malformed-body"
    title = "The request body cannot be read"


class InternalError(DomainError):
    """Documentation stand-in for an unexpected failure (logged with the request id)."""

    status = 500
    code = "internal-error"
    title = "Internal server error"


class DatabaseUnavailable(DomainError):
    status = 503
    code = "database-unavailable"
    title = "Database unavailable"
    headers = {"Retry-After": "5"}


_HTTP_CODES = {
    400: MalformedBody.code,  # the only 400 the framework raises: an undecodable body
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    principal = getattr(request.state, "principal", None)
    exc = exc.as_seen_by(principal.role if principal is not None else None)
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=exc.response_headers,
        extensions=exc.extensions,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
    return problem_response(
        request,
        status=422,
        code=RequestValidation.code,
        title=RequestValidation.title,
        detail=f"Invalid input at: {fields}" if fields else "Invalid input",
        extensions={"errors": errors},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if status == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if status == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = (
            f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}"
        )
    return problem_response(
        request,
        status=status,
        code=_HTTP_CODES.get(status, f"http-{status}"),
        title=phrase,
        detail=detail,
        headers=headers,
    )


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts on this path: each is tried against the routes, which
    works whether a router was included as one entry or expanded."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]


# Database failures that no service turned into a domain error: what the client is told.
# Only the exception's type is logged: its text may hold SQL parameters, i.e. patient data.
_DATABASE_FAILURES: list[tuple[type[Exception], type[DomainError], str]] = [
    (
        IntegrityError,
        Conflict,
        "The change conflicts with data stored meanwhile; reload and try again.",
    ),
    (
        StaleDataError,
        ConcurrentUpdate,
        "Someone else changed this record at the same time; reload and try again.",
    ),
    (
        DataError,
        InvalidValue,
        "A value in the request cannot be stored (out of range or not plain text).",
    ),
    (
        OperationalError,
        DatabaseUnavailable,
        "The database cannot be reached; try again shortly.",
    ),
]


async def _database_failure(request: Request, exc: Exception) -> JSONResponse:
    problem, detail = next((p, d) for kind, p, d in _DATABASE_FAILURES if isinstance(exc, kind))
    logger.warning(
        "%s on %s %s answered %s",
        type(exc).__name__,
        request.method,
        logged_path(request.url.path),
        problem.code,
    )
    return await _domain_error(request, problem(detail))


def unexpected_failure(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "-")
    logger.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        logged_path(request.url.path),
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return problem_response(
        request,
        status=InternalError.status,
        code=InternalError.code,
        title=InternalError.title,
        detail=f"Something went wrong on our side. Quote request id {request_id} to support.",
    )


def install_error_handlers(app: FastAPI, dialects: Mapping[str, Dialect] | None = None) -> None:
    """Every refusal and failure as a problem: `application/problem+json`, or, under the base
    of an interface that speaks another dialect (`dialects`: base path -> renderer), that."""
    app.state.problem_dialects = dict(dialects or {})
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for kind, _, _ in _DATABASE_FAILURES:
        app.add_exception_handler(kind, _database_failure)
