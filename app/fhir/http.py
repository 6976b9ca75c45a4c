"""The FHIR interface's HTTP machinery: its media type, format negotiation, the router whose
routes declare what they implement (the CapabilityStatement is built from them), and searches
parsed and answered as Bundles.

Every FHIR route is an `ApiRoute` (`FhirRoute`): the same credential check, permission, one
transaction and audit trail as `/api/v1`. Its errors are OperationOutcomes
(`app.web.problems` renders every problem under the FHIR base in its dialect, `as_outcome`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import InvalidCursor, NotFound
from app.fhir import BASE_PATH, MEDIA_TYPE
from app.fhir.bundles import Page, searchset
from app.fhir.capability import Interaction
from app.fhir.search import COUNT, CURSOR, InvalidSearch, SearchQuery, parse_search
from app.pagination import CursorSeal
from app.policy import ClinicPolicy
from app.roles import Permission
from app.web.access import requires
from app.web.routes import ApiRoute


class FhirResponse(JSONResponse):
    media_type = MEDIA_TYPE


# What an answer may be sent as: FHIR's JSON (and plain JSON, which it is). `_format` takes
# FHIR's short name too.
_JSON_TYPES = frozenset(
    {"application/fhir+json", "application/json", "application/json+fhir", "application/*", "*/*"}
)
_FORMATS = _JSON_TYPES | {"json"}


def not_acceptable(request: Request) -> str | None:
    """Why the client cannot take JSON, if it cannot: `_format` (which wins over `Accept`, as
    FHIR says) names another format, or `Accept` lists no JSON type and no wildcard (XML only,
    say). None: JSON will do."""
    formats = request.query_params.getlist("_format")
    if formats:
        wanted = [f.split(";")[0].strip().lower() for f in formats]
        if all(f in _FORMATS for f in wanted):
            return None
        return "This server speaks JSON only: `_format` may be json or application/fhir+json."
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return None
    for media_range in accept.split(","):
        kind, *parameters = (part.strip().lower() for part in media_range.split(";"))
        if kind in _JSON_TYPES and _weight(parameters) > 0:
            return None
    return "This server speaks JSON only: send `Accept: application/fhir+json`."


def _weight(parameters: list[str]) -> float:
    """A media range's `q` (1 when absent or unreadable): 0 means "not this one"."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0


class FhirRoute(ApiRoute):
    """An API route of the FHIR interface: what it implements (`interaction`, None for the
    CapabilityStatement itself), answers in JSON only (406 otherwise, before anything else),
    and its `ETag` is `W/"<versionId>"`, as FHIR clients compare it with `meta.versionId`."""

    interaction: Interaction | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def negotiated(request: Request) -> Response:
            refusal = not_acceptable(request)
            if refusal is not None:
                raise HTTPException(406, refusal)
            response = await handle(request)
            tag = response.headers.get("etag")
            if tag and 200 <= response.status_code < 300:
                # The API's tags add a digest of the answer (`app.web.params.content_tag`).
                response.headers["etag"] = tag.partition("-")[0] + '"' if "-" in tag else tag
            return response

        return negotiated


class FhirRouter(APIRouter):
    """The FHIR routes: each declares its `Interaction`, which fixes its method and path."""

    def __init__(self) -> None:
        super().__init__(prefix=BASE_PATH, tags=["fhir"], route_class=FhirRoute)

    def serves(
        self, interaction: Interaction, *, permission: Permission | None, summary: str
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated endpoint as the route of `interaction`, which needs
        `permission` (None: open to anyone)."""

        def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            self.add_api_route(
                interaction.path,
                endpoint,
                methods=[interaction.method],
                dependencies=[requires(permission)] if permission is not None else None,
                response_class=FhirResponse,
                summary=summary,
                # The FHIR interface is described by its CapabilityStatement, not OpenAPI.
                include_in_schema=False,
            )
            route = self.routes[-1]
            assert isinstance(route, FhirRoute)
            route.interaction = interaction
            return endpoint

        return register


def _routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route
            continue
        for context in contexts():
            yield context.original_route


def declared_interactions(app: FastAPI) -> list[Interaction]:
    """What the app's FHIR routes implement, as they declare it."""
    return [
        route.interaction
        for route in _routes(app.router.routes)
        if isinstance(route, FhirRoute) and route.interaction is not None
    ]


def base_url(request: Request) -> str:
    """The interface's absolute base URL, as the client reached it."""
    return str(request.base_url).rstrip("/") + BASE_PATH


def resource_id(text: str, kind: str) -> uuid.UUID:
    """The id of a resource stored under a UUID, or 404 (an id no record can have is not
    found, not malformed: FHIR ids are opaque to the client)."""
    try:
        if len(text) == 36:
            return uuid.UUID(text)
    except ValueError:
        pass
    raise NotFound(f"No {kind} with id {text[:64]}.")


def read(resource: dict[str, Any], *, version: int | None) -> FhirResponse:
    """A read's answer: the resource, and its version as the `ETag`."""
    headers = {"ETag": f'W/"{version}"'} if version is not None else None
    return FhirResponse(resource, headers=headers)


@dataclass(frozen=True)
class Search:
    """A search request, parsed against its route's declared parameters, with its page's
    place opened; `bundle` answers a page of it."""

    query: SearchQuery
    after: str | None  # the cursor the service pages from (opened), None: the first page
    base: str
    path: str
    seal: CursorSeal
    list_name: str
    now: datetime

    def bundle(self, resources: list[dict[str, Any]], next_cursor: str | None) -> FhirResponse:
        """The searchset Bundle of a page and the cursor the service gave for the next."""
        sealed = (
            None if next_cursor is None else self.seal.seal(next_cursor, list_name=self.list_name)
        )
        page = Page(resources, sealed, first=self.after is None)
        criteria = [*self.query.criteria, (COUNT, str(self.query.count))]
        here = [*criteria, (CURSOR, self.query.cursor)] if self.query.cursor else criteria
        following = None if sealed is None else self._url([*criteria, (CURSOR, sealed)])
        return FhirResponse(
            searchset(
                page, base_url=self.base, self_url=self._url(here), next_url=following, now=self.now
            )
        )

    def _url(self, query: list[tuple[str, str]]) -> str:
        return f"{self.base}{self.path}?{urlencode(query)}"


async def fhir_search(request: Request) -> Search:
    """The request's search, parsed against what its route declares: 400 for an unknown
    parameter or a malformed value, or a cursor this server did not issue for this search."""
    route = request.scope["route"]
    assert isinstance(route, FhirRoute)
    assert route.interaction is not None
    policy: ClinicPolicy = request.app.state.policy
    query = parse_search(
        request.query_params.multi_items(),
        route.interaction.search,
        zone=policy.scheduling.clinic_zone,
    )
    seal: CursorSeal = request.app.state.cursor_seal
    try:
        after = seal.open(query.cursor, list_name=route.path) if query.cursor else None
    except InvalidCursor:
        raise InvalidSearch(
            "`_cursor` is not one this server issued for this search: follow the Bundle's "
            "`next` link as it is."
        ) from None
    return Search(
        query=query,
        after=after,
        base=base_url(request),
        path=route.path.removeprefix(BASE_PATH),
        seal=seal,
        list_name=route.path,
        now=request.app.state.clock(),
    )


FhirSearch = Annotated[Search, Depends(fhir_search)]
