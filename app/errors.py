"""Domain errors and their RFC 9457 problem+json rendering.

Services raise `DomainError` subclasses (they know nothing of HTTP beyond a status number);
`install_error_handlers` renders them, request validation failures, unknown routes and
unexpected exceptions as `application/problem+json` with a stable `code`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import REQUEST_ID_HEADER

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://sclerosched.dev/problems/"


class DomainError(Exception):
    """A refusal the client can act on. Subclasses fix `status`, `code` and `title`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        # The class's headers, plus any this refusal adds (e.g. how long to wait).
        self.response_headers = {**type(self).headers, **(headers or {})}


class NotFound(DomainError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class ConcurrentUpdate(Conflict):
    code = "concurrent-update"
    title = "Concurrent update"


class InvalidValue(DomainError):
    status = 422
    code = "invalid-value"
    title = "Invalid value"


class DuplicateIdentifier(Conflict):
    code = "duplicate-identifier"
    title = "Identifier already in use"


class VersionMismatch(DomainError):
    status = 412
    code = "version-mismatch"
    title = "The record has changed since it was read"


class InvalidCursor(DomainError):
    status = 422
    code = "invalid-cursor"
    title = "Invalid pagination cursor"


class InvalidQuery(DomainError):
    status = 422
    code = "invalid-query"
    title = "Invalid query parameter"


class InvalidField(DomainError):
    """A field well formed but wrong against the stored records or the clinic's clock, found
    by a service: answered exactly as a request validation failure is (`errors` lists it)."""

    status = 422
    code = "validation-error"
    title = "The request is not valid"

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(
            f"Invalid input at: {'.'.join(str(part) for part in loc)}",
            errors=[{"loc": list(loc), "msg": msg, "type": "value_error"}],
        )


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the error is, e.g. ['body', 'birth_date']")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem detail, extended with a stable `code`."""

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
    body: dict[str, Any] = {
        **(extensions or {}),  # first, so no extension can overwrite a standard member
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": request_id,
    }
    all_headers = dict(headers or {})
    if request_id:
        all_headers[REQUEST_ID_HEADER] = request_id
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )


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
    return {
        status: {
            "model": Problem,
            "description": "; ".join(f"`{e.code}`: {e.title}" for e in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
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
        request.url.path,
        problem.code,
    )
    return await _domain_error(request, problem(detail))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "-")
    logger.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
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


class UnexpectedErrorMiddleware:
    """Turns an exception no handler knows into a 500 problem, logged once with the request
    id. It sits inside the other middleware (request id, no-store), so the answer gets their
    headers, and it answers instead of re-raising, so the connection stays usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for a problem response: the client sees a cut answer
                raise
            await _unexpected(Request(scope), exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for kind, _, _ in _DATABASE_FAILURES:
        app.add_exception_handler(kind, _database_failure)
