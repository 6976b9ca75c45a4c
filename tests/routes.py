"""Every route the app serves, with its methods, as a client would call it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

from app.roles import Permission
from app.web.access import PermissionCheck

_PARAM = re.compile(r"\{[^}]+\}")


def _flatten(routes: list[BaseRoute]) -> Iterator[Any]:
    for route in routes:
        # FastAPI includes a router as one entry that expands to its routes.
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            yield from contexts()
        else:
            yield route


def every_route(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path template, route) for every route, included routers expanded."""
    found = []
    for route in _flatten(app.routes):
        if isinstance(route, Mount):
            found.append(("GET", route.path + "/{path}", route))
            continue
        methods = getattr(route, "methods", None) or set()
        found += [(m, route.path, route) for m in sorted(methods) if m != "HEAD"]
    assert len(found) > 40, "the walk found too few routes: has FastAPI's routing changed?"
    return found


def concrete(path: str) -> str:
    """The template with each parameter filled (a random id: nothing will match)."""
    return _PARAM.sub(lambda _: str(uuid.uuid4()), path)


def required_permissions(route: Any) -> list[Permission]:
    """The permissions a route's dependencies demand (`requires(...)`)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    found: list[Permission] = []
    stack = list(dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if isinstance(dependency.call, PermissionCheck):
            found.append(dependency.call.permission)
        stack.extend(dependency.dependencies)
    return found


__all__ = ["APIRoute", "Route", "concrete", "every_route", "required_permissions"]
