"""Finding a request's route in a few steps, however many routes the app has.

FastAPI (since 0.137) keeps each included router as one entry of the app's routes. It finds a
request's route by asking every entry in turn, each trying its own routes' patterns in turn,
and then the router it chose tries them all once more to handle the request: the cost grows
with the routes registered before the one asked for (here up to 0.3 ms of CPU for a late
route, 0.5 ms for a path no route serves).

`RouteIndex` takes the place of the app router's dispatch. A trie of the routes' path segments
(a literal, or a parameter of one segment) gives, in the order FastAPI tries them, every route
whose pattern could match the path: the rest cannot, so FastAPI's scan would pass them by. Each
of those few is matched by its own `matches`, as FastAPI would, and the one chosen (the first
full match, else the first partial one: a 405) is handled as FastAPI's router handles it, with
the scope FastAPI gives it (`route`, path parameters, the route's effective context and form
limits). A path no route matches goes to the router's `default` (the 404) when FastAPI would
do nothing else first. What the index does not know it leaves to FastAPI: a websocket, the
lifespan, an entry it cannot see into (it is then asked about every path, in its turn), a slash
redirect or a low-priority route to look for.

It leans on FastAPI's routing internals (the version is pinned); `tests/web/test_dispatch.py`
checks it against FastAPI's own dispatch for every route, method and a few lookalike paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from fastapi import FastAPI
from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    _SCOPE_MISSING,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
    _get_fastapi_scope,
    _IncludedRouter,
    _restore_fastapi_scope_key,
    _update_scope,
)
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.convertors import (
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    StringConvertor,
    UUIDConvertor,
)
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Receive, Scope, Send

# Parameters whose pattern matches within one path segment (never a `/`).
_ONE_SEGMENT = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)
# Routes whose `matches` is their path pattern's (and, for an API route, its method's).
_PATTERN_MATCHES = frozenset({Route.matches, APIRoute.matches, Mount.matches})
_VERSION = attrgetter("_routes_version")


def install_route_index(app: FastAPI) -> None:
    """Dispatch the app's requests through a `RouteIndex`: its router's own dispatch (the
    bottom of the middleware stack) is replaced, nothing else. An app whose router has
    middleware of its own keeps FastAPI's dispatch."""
    router = app.router
    if router.middleware_stack == router.app:
        router.middleware_stack = RouteIndex(router)


class RouteIndex:
    """The app router's dispatch, by way of an index of its routes' paths; built at the first
    request and again whenever the routes change (as FastAPI notices it: the routers' route
    versions, and the app's entries)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._index: _Index | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self.router
        if scope["type"] != "http":
            await router.app(scope, receive, send)
            return
        path = get_route_path(scope)
        # A pattern's `$` matches before a final newline too: such a path is left to FastAPI.
        if not path.startswith("/") or "\n" in path:
            await router.app(scope, receive, send)
            return
        index = self.current()
        # What FastAPI's router does first.
        _apply_router_form_limits(scope, router.form_limits)
        if "router" not in scope:
            scope["router"] = router
        chosen, match, child_scope = index.match(scope, path)
        if index.asks_included_before(chosen, match):
            _get_fastapi_scope(scope)  # FastAPI's scan leaves it (empty) in the scope
        if chosen is None:
            if router.redirect_slashes or index.low_priority:
                await router.app(scope, receive, send)  # FastAPI's own steps after its scan
            else:
                await router.default(scope, receive, send)
            return
        await chosen.handle(scope, receive, send, child_scope)

    def current(self) -> _Index:
        """The index of the routes as they are now."""
        index = self._index
        if index is None or not index.describes(self.router):
            index = self._index = _Index.of(self.router)
        return index


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A route FastAPI's scan may reach: one of the app router's entries, or a route of a
    router included there (with FastAPI's effective context of it: its path, its handler)."""

    order: int  # when FastAPI's scan would try it
    route: BaseRoute
    entry: BaseRoute  # the app router's entry it belongs to (itself, when it is one)
    context: _EffectiveRouteContext | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """As FastAPI's scan matches it: an included route with its effective context."""
        if self.context is None:
            return self.route.matches(scope)
        fastapi_scope = _get_fastapi_scope(scope)
        previous = fastapi_scope.get(_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, _SCOPE_MISSING)
        fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = self.context
        try:
            return self.route.matches(scope)
        finally:
            _restore_fastapi_scope_key(scope, _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, previous)

    async def handle(self, scope: Scope, receive: Receive, send: Send, child_scope: Scope) -> None:
        """As FastAPI's router handles the route it chose."""
        context = self.context
        if context is None:  # a route of the app's router (or an entry the index cannot see into)
            _update_scope(scope, child_scope)
            _route_selected(
                scope=scope,
                path=getattr(self.route, "path_format", None),
                mount=isinstance(self.route, Mount),
            )
            await self.route.handle(scope, receive, send)
            return
        # A route of an included router: what `_IncludedRouter.handle` and `_handle_selected`
        # do, without matching the router's routes once more.
        assert isinstance(self.entry, _IncludedRouter)
        _apply_router_form_limits(scope, self.entry.include_context.form_limits)
        _get_fastapi_scope(scope)[_FASTAPI_INCLUDED_ROUTER_KEY] = self.entry
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=context.path_format, mount=False)
        _get_fastapi_scope(scope)[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        scope["route"] = self.route
        await self.route.handle(scope, receive, send)


@dataclass(slots=True)
class _Node:
    """A place in the trie of path segments: the routes whose pattern ends here, those that
    may match any path below it, and the next segment, a literal or any one segment."""

    ends: list[int] = field(default_factory=list)
    below: list[int] = field(default_factory=list)
    literal: dict[str, _Node] = field(default_factory=dict)
    segment: _Node | None = None


@dataclass(frozen=True)
class _Index:
    leaves: list[_Leaf]
    root: _Node
    entries: list[BaseRoute]  # the app router's entries when it was built
    routers: tuple[APIRouter, ...]  # the routers included there, whose routes it holds
    versions: int  # the sum of their route versions (each only grows)
    first_included: int | None  # the order of the first route of an included router
    low_priority: bool  # routes FastAPI looks for after its scan finds none (a frontend)

    @classmethod
    def of(cls, router: APIRouter) -> _Index:
        root = _Node()
        leaves: list[_Leaf] = []
        routers: list[APIRouter] = []
        first_included: int | None = None
        for entry in router.routes:
            if isinstance(entry, _IncludedRouter) and first_included is None:
                first_included = len(leaves)
            if isinstance(entry, _IncludedRouter) and (contexts := _contexts(entry)) is not None:
                routers.append(entry.original_router)
                for context in contexts:
                    route = context.original_route
                    leaf = _Leaf(len(leaves), route, entry, context)
                    leaves.append(leaf)
                    path_format = context.path_format if _by_path(route) else ""
                    _insert(root, leaf.order, path_format, context)
                continue
            leaf = _Leaf(len(leaves), entry, entry)
            leaves.append(leaf)
            path_format = getattr(entry, "path_format", "") if _by_path(entry) else ""
            _insert(root, leaf.order, path_format, entry)
        return cls(
            leaves=leaves,
            root=root,
            entries=list(router.routes),
            routers=tuple(routers),
            versions=sum(map(_VERSION, routers)),
            first_included=first_included,
            low_priority=any(True for _ in router._iter_low_priority_routes()),
        )

    def describes(self, router: APIRouter) -> bool:
        return router.routes == self.entries and self.versions == sum(map(_VERSION, self.routers))

    def match(self, scope: Scope, path: str) -> tuple[_Leaf | None, Match, Scope]:
        """The route FastAPI's scan would choose: the first full match, else the first
        partial one (the path's, another method's), with its child scope."""
        partial: tuple[_Leaf, Scope] | None = None
        for order in sorted(_candidates(self.root, path[1:].split("/"))):
            leaf = self.leaves[order]
            match, child_scope = leaf.matches(scope)
            if match is Match.FULL:
                return leaf, match, child_scope
            if match is Match.PARTIAL and partial is None:
                partial = (leaf, child_scope)
        if partial is not None:
            return partial[0], Match.PARTIAL, partial[1]
        return None, Match.NONE, {}

    def asks_included_before(self, chosen: _Leaf | None, match: Match) -> bool:
        """Whether FastAPI's scan would have asked an included router before settling: it
        asks every entry but for a full match, found in its turn."""
        if self.first_included is None:
            return False
        if chosen is None or match is not Match.FULL:
            return True
        return self.first_included < chosen.order


def _contexts(entry: _IncludedRouter) -> list[_EffectiveRouteContext] | None:
    """An included router's routes as FastAPI serves them (their effective contexts), when
    each is an API route and the router dispatches as FastAPI's own; else None: the entry is
    then asked as a whole, by FastAPI's code."""
    router = type(entry.original_router)
    if router.handle is not APIRouter.handle or router.matches is not APIRouter.matches:
        return None
    candidates = entry.effective_candidates()
    contexts = [
        candidate
        for candidate in candidates
        if isinstance(candidate, _EffectiveRouteContext)
        and isinstance(candidate.original_route, APIRoute)
    ]
    return contexts if len(contexts) == len(candidates) else None


def _by_path(route: BaseRoute) -> bool:
    """Whether the route matches no path its pattern does not take: its `matches` is its
    pattern's, or refuses only more (it says so with `matches_within_path`)."""
    return type(route).matches in _PATTERN_MATCHES or getattr(route, "matches_within_path", False)


def _insert(root: _Node, order: int, path_format: str, route: Any) -> None:
    """File a route under the segments of its path, as far as they are literal or a parameter
    of one segment; past that (a `path` parameter, a segment mixing text and a parameter, a
    mount's remainder), or for no known path, it may match anything below."""
    node = root
    if not path_format.startswith("/"):
        node.below.append(order)
        return
    convertors: dict[str, Convertor[Any]] = route.param_convertors
    for segment in path_format[1:].split("/"):
        if "{" not in segment:
            node = node.literal.setdefault(segment, _Node())
            continue
        name = segment[1:-1]
        if not (segment.startswith("{") and segment.endswith("}") and name in convertors):
            node.below.append(order)
            return
        if type(convertors[name]) not in _ONE_SEGMENT:
            node.below.append(order)
            return
        if node.segment is None:
            node.segment = _Node()
        node = node.segment
    node.ends.append(order)


def _candidates(root: _Node, segments: list[str]) -> Iterator[int]:
    """Every route filed where the path's segments lead (the literal and the parameter
    branches both), and those that may match anything on the way."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        yield from node.below
        if depth == len(segments):
            yield from node.ends
            continue
        child = node.literal.get(segments[depth])
        if child is not None:
            stack.append((child, depth + 1))
        if node.segment is not None:
            stack.append((node.segment, depth + 1))
