"""The OpenAPI document as a contract for client developers.

FastAPI writes the document from the routes; this module settles what a generated client reads
from it: readable operation ids (`bookSession`), tags declared with descriptions, `servers`,
license and contact, `security: []` on the public routes and the permission each other route
needs (`x-permission`), the headers each answer carries (`ETag`, `Location`, `Retry-After`, the
request id), each error's possible `code` values as an enum with an example problem, and an
example on every request body and success answer. Request defaults are said in words: a
generator that reads `default` as "always present" would make those fields required.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute

from app.access.limits import TooManyRequests
from app.errors import ConcurrentUpdate, Conflict, DomainError, InvalidValue, VersionMismatch
from app.idempotency import (
    IdempotencyKeyInFlight,
    IdempotencyKeyNotTaken,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from app.logging import REQUEST_ID_HEADER
from app.web.access import api_key_scheme, is_protected, login_scheme, required_permission
from app.web.params import HOLDS_SECRET, PreconditionRequired
from app.web.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    problems_only_as_problem_json,
)
from app.web.routes import REPLAYED

TAGS: list[dict[str, str]] = [
    {"name": "health", "description": "Liveness and readiness probes for load balancers."},
    {
        "name": "access",
        "description": "Logging in, who the caller is, staff accounts and integrations' keys.",
    },
    {"name": "patients", "description": "Patients: registration, search, demographics."},
    {
        "name": "practitioners",
        "description": "Practitioners, their weekly hours at each location, and time off.",
    },
    {
        "name": "locations",
        "description": "The clinic's sites, their treatment rooms (one session at a time in "
        "each), and when a room is closed.",
    },
    {
        "name": "evaluations",
        "description": "The medical evaluation before treatment, its flags and outcome, "
        "clearances of relative contraindications, and a patient's eligibility.",
    },
    {
        "name": "consents",
        "description": "Patients' informed consent to a procedure, and its withdrawal: a "
        "treatment is recorded only while the patient's consent stands.",
    },
    {
        "name": "treatment-plans",
        "description": "Courses of treatment: several sessions about a month apart, reviews "
        "of how the treated sites respond, and each course's summary.",
    },
    {"name": "scheduling", "description": "Free slots and proposed follow-up visits."},
    {
        "name": "sessions",
        "description": "Treatment sessions: booking and their life cycle up to the treatment "
        "record.",
    },
    {
        "name": "waitlist",
        "description": "Patients waiting for an earlier visit, and the freed slots offered "
        "to them: each offer a hold, refused as booking would be.",
    },
    {"name": "audit", "description": "The append-only audit trail."},
    {
        "name": "webhooks",
        "description": "Signed webhooks (Standard Webhooks) telling receivers what changed, "
        "and their deliveries.",
    },
]
SERVERS = [{"url": "/", "description": "The server that serves this document"}]
LICENSE = {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}
CONTACT = {"name": "sclerosched maintainers"}

_HEADERS: dict[str, dict[str, Any]] = {
    REQUEST_ID_HEADER: {
        "description": "The request's id, made by the server: quote it to support (an "
        "`X-Request-ID` the client sent, if plain, comes back as `X-Client-Request-ID`)",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The record's version and a digest of this answer, e.g. "
        '`W/"3-1f2e3d4c5b6a7988"`: send it as `If-Match` to change the record only if nobody '
        "changed it since, or as `If-None-Match` to read it again only if what it shows changed",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where the record just made can be read",
        "schema": {"type": "string"},
    },
    REPLAYED: {
        "description": "`true` when this answer is the one kept for the request's "
        "`Idempotency-Key`, given again to a retry",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    },
}
# What a change can meet in the database whatever route makes it (app.web.problems).
_STORAGE_PROBLEMS: dict[int, list[type[DomainError]]] = {
    409: [Conflict, ConcurrentUpdate],
    422: [InvalidValue],
}
_CODES = "x-problem-codes"
_SENDS = "x-sends-headers"


def operation_id(route: APIRoute | Any) -> str:
    """`book_session` -> `bookSession`: the endpoint function's name, in camelCase."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def install_contract(app: FastAPI) -> None:
    """Make `app.openapi()` return the finished document (built once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(problems_only_as_problem_json(generate()), api_routes(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Each documented route (an `APIRoute`, or what an included router expands to: FastAPI
    keeps an included router as one entry), with its `name` and `dependant`."""
    for route in app.routes:
        contexts: Callable[[], Any] | None = getattr(route, "effective_route_contexts", None)
        for each in contexts() if contexts is not None else (route,):
            if getattr(each, "include_in_schema", False) and hasattr(each, "dependant"):
                yield each


def finish(document: dict[str, Any], routes: Iterator[Any]) -> dict[str, Any]:
    document["servers"] = SERVERS
    _name_bounds(document)  # first: the examples made below keep to the bounds
    access = {
        operation_id(route): (is_protected(route), required_permission(route)) for route in routes
    }
    document.setdefault("components", {})["securitySchemes"] = {
        scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        for scheme in (login_scheme, api_key_scheme)
    }
    components = document["components"].setdefault("schemas", {})
    for operations in document["paths"].values():
        for method, operation in operations.items():
            protected, permission = access.get(operation["operationId"], (False, None))
            _access(operation, protected, permission)
            if protected:  # the per-credential rate limit (`app.access.limits`), when set
                answer = operation["responses"].setdefault("429", {"description": ""})
                answer.setdefault(_CODES, []).append((TooManyRequests.code, TooManyRequests.title))
            if operation.pop(HOLDS_SECRET, False):  # its answer is never kept for a retry
                answer = operation["responses"].setdefault("400", {"description": ""})
                answer.setdefault(_CODES, []).append(
                    (IdempotencyKeyNotTaken.code, IdempotencyKeyNotTaken.title)
                )
            elif protected and method in ("post", "patch"):
                _idempotent(operation)
            _conditional(operation, method)
            for parameter in operation.get("parameters", []):
                _not_nullable(parameter)
            _answers(operation, method, components)
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                media.setdefault("example", example_of(media["schema"], components))
    _defaults_in_words(document, components)
    return document


# An integer that also takes 45.0 (`app.schemas.Integer`) keeps its bounds under pydantic's
# names; JSON Schema's are these.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _name_bounds(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for ours, theirs in _BOUNDS.items():
                if ours in node:
                    node[theirs] = node.pop(ours)
        for value in node.values():
            _name_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _name_bounds(value)


def _access(operation: dict[str, Any], protected: bool, permission: object) -> None:
    if not protected:
        operation["security"] = []  # public: no credential needed
        return
    # Either credential: a staff login's token or an integration's key.
    operation["security"] = [{login_scheme.scheme_name: []}, {api_key_scheme.scheme_name: []}]
    if permission is None:
        needs = "Any valid credential may call it."
    else:
        operation["x-permission"] = str(permission)
        needs = f"Needs the `{permission}` permission (see the README's permission table)."
    operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{needs}"


def _conditional(operation: dict[str, Any], method: str) -> None:
    """`If-Match` (a change) may be refused 412, or 428 when the server requires it; a GET
    whose answer has an `ETag` takes `If-None-Match` and may answer 304."""
    names = {p["name"].lower() for p in operation.get("parameters", [])}
    if "if-match" in names:
        for status, problem in ((412, VersionMismatch), (428, PreconditionRequired)):
            answer = operation["responses"].setdefault(str(status), {"description": ""})
            answer.setdefault(_CODES, []).append((problem.code, problem.title))
    if method == "get" and "ETag" in operation.get(_SENDS, []):
        operation.setdefault("parameters", []).append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "The `ETag` you hold: 304, with no body, if it is still the "
                "record's",
                "schema": {"type": "string", "maxLength": 200},
                "example": 'W/"3-1f2e3d4c5b6a7988"',
            }
        )
        operation["responses"]["304"] = {
            "description": "Not modified: the `ETag` sent in `If-None-Match` is still what this "
            "answer shows",
            "headers": {"ETag": _HEADERS["ETag"]},
        }


def _not_nullable(parameter: dict[str, Any]) -> None:
    """An optional parameter is left out, never sent as null: no `null` in its schema."""
    schema = parameter.get("schema", {})
    variants = schema.get("anyOf")
    if not parameter.get("required") and variants:
        kept = [v for v in variants if v.get("type") != "null"]
        if len(kept) == 1:
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            parameter["schema"] = {**kept[0], **rest}


def _idempotent(operation: dict[str, Any]) -> None:
    """A write that takes `Idempotency-Key` (`app.web.routes`): the header, its refusals, and
    the mark on a replayed answer."""
    operation.setdefault("parameters", []).append(
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Any key of yours (a UUID, say), sent again unchanged on every retry "
            "of this request: a retry gets the first answer again (marked "
            "`Idempotent-Replayed: true`) instead of a second change. Answers are kept 24 "
            "hours by default; the same key with another request is a 422.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": _KEY},
            "example": "5f0c6a2e-8d1b-4b52-9a53-0f1e2d3c4b5a",
        }
    )
    operation.setdefault(_SENDS, []).append(REPLAYED)
    for status, problem in (
        (400, InvalidIdempotencyKey),
        (409, IdempotencyKeyInFlight),
        (422, IdempotencyKeyReused),
    ):
        answer = operation["responses"].setdefault(str(status), {"description": ""})
        answer.setdefault(_CODES, []).append((problem.code, problem.title))
    operation["responses"]["409"].setdefault("headers", {})["Retry-After"] = _HEADERS["Retry-After"]


# A key the server accepts, unquoted (`app.idempotency`): visible characters, no quote.
_KEY = r"^[\x20-\x21\x23-\x7e]*[\x21\x23-\x7e][\x20-\x21\x23-\x7e]*$"


def _answers(operation: dict[str, Any], method: str, components: dict[str, Any]) -> None:
    sends = operation.pop(_SENDS, [])
    responses = operation["responses"]
    if method != "get":
        for status, problems in _STORAGE_PROBLEMS.items():
            answer = responses.setdefault(str(status), {"description": ""})
            answer.setdefault(_CODES, [])
            answer[_CODES] += [(p.code, p.title) for p in problems]
    for status, answer in responses.items():
        headers = answer.setdefault("headers", {})
        headers[REQUEST_ID_HEADER] = _HEADERS[REQUEST_ID_HEADER]
        if status in ("429", "503"):
            headers["Retry-After"] = _HEADERS["Retry-After"]
        if status[0] == "2":
            for name in sends:
                headers[name] = _HEADERS[name]
            for media in answer.get("content", {}).values():
                if "schema" in media:
                    media.setdefault("example", example_of(media["schema"], components))
        elif _CODES in answer:
            _problem(answer, int(status))


def _problem(answer: dict[str, Any], status: int) -> None:
    codes = list(dict.fromkeys((code, title) for code, title in answer.pop(_CODES)))
    answer["description"] = "; ".join(f"`{code}`: {title}" for code, title in codes)
    first, title = codes[0]
    answer["content"] = {
        PROBLEM_MEDIA_TYPE: {
            "schema": {
                "allOf": [
                    {"$ref": "#/components/schemas/Problem"},
                    {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string", "enum": [code for code, _ in codes]}
                        },
                    },
                ]
            },
            "example": {
                "type": PROBLEM_TYPE_BASE + first,
                "title": title,
                "status": status,
                "detail": f"{title}.",
                "code": first,
                "instance": "/api/v1/...",
                "request_id": "3f2b9c1e5d7a4b60",
            },
        }
    }


def _defaults_in_words(document: dict[str, Any], components: dict[str, Any]) -> None:
    """Move `default` into the description in the schemas only requests use."""
    requested = _referenced(
        [
            media["schema"]
            for operations in document["paths"].values()
            for operation in operations.values()
            for media in operation.get("requestBody", {}).get("content", {}).values()
        ],
        components,
    )
    answered = _referenced(
        [
            media.get("schema", {})
            for operations in document["paths"].values()
            for operation in operations.values()
            for answer in operation["responses"].values()
            for media in answer.get("content", {}).values()
        ],
        components,
    )
    for name in requested - answered:
        for field in components[name].get("properties", {}).values():
            if "default" in field:
                default = field.pop("default")
                said = f"Default: `{_plain(default)}`."
                field["description"] = f"{field.get('description', '').rstrip('.')}. {said}".lstrip(
                    ". "
                )


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


_REF = re.compile(r"#/components/schemas/(.+)$")


def _referenced(schemas: list[Any], components: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    stack = list(schemas)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            match = _REF.match(node.get("$ref", ""))
            if match and match.group(1) not in found:
                found.add(match.group(1))
                stack.append(components.get(match.group(1), {}))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


_SAMPLE_UUID = "0d9c5a62-3b8e-4f4a-9c1d-7e2b6a5f4c31"
_SAMPLE_INSTANT = datetime(2027, 1, 11, 9, 30, tzinfo=UTC)
_FORMATS = {
    "uuid": _SAMPLE_UUID,
    "date-time": _SAMPLE_INSTANT.isoformat(),
    "date": _SAMPLE_INSTANT.date().isoformat(),
    "time": "09:30:00",
    "email": "front-desk@clinic.test",
    "uri": "https://clinic.test/",
    "duration": "P28D",
}


def example_of(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A plausible value for `schema`: its own examples first, else one built from its type."""
    if depth > 12:
        return None
    if "$ref" in schema:
        name = _REF.match(schema["$ref"])
        return example_of(components[name.group(1)] if name else {}, components, depth + 1)
    for key in ("example", "const"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "default" in schema and schema["default"] is not None:
        return copy.deepcopy(schema["default"])
    if "enum" in schema:
        return schema["enum"][0]
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example_of(part, components, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_of(options[0], components, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: example_of(field, components, depth + 1)
            for name, field in schema.get("properties", {}).items()
        }
    if kind == "array":
        item = example_of(schema.get("items", {}), components, depth + 1)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "string":
        return _FORMATS.get(schema.get("format", ""), "text")
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1))
    if kind == "number":
        return float(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1))
    if kind == "boolean":
        return True
    return None
