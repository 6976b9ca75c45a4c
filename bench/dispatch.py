"""CPU time to find a request's route, and of whole requests in process, through the route
index (`app.web.dispatch`) and through FastAPI's own dispatch, interleaved round by round in
one process (the app is the same; only its router's dispatch is switched).

    SCLEROSCHED_DATABASE_URL=sqlite:///dispatch.db SCLEROSCHED_SECRET_KEY=<48+ chars> \\
        python bench/dispatch.py [rounds]

The database is migrated and given an API key (a clinician's) for the authenticated request.
The access log is off (`SCLEROSCHED_LOG_LEVEL=WARNING` unless set): it costs both the same.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Match

from app.main import create_served_app
from app.migrations import upgrade_to_head
from app.web.dispatch import RouteIndex

LOOKUPS = 2000
REQUESTS = 1000
PROPOSALS = "/api/v1/scheduling/proposals"
FOUND = [
    ("GET", "/health/live"),
    ("GET", f"/api/v1/patients/{uuid.uuid4()}"),
    ("GET", "/api/v1/sessions"),
    ("POST", PROPOSALS),
    ("GET", "/nothing-here"),
]


def fastapi_scan(app: FastAPI, scope: dict[str, Any], path: str) -> None:
    """FastAPI's top-level scan: every entry asked in turn; the included router that has the
    route matches its routes once more to handle it."""
    for route in app.router.routes:
        if route.matches(scope)[0] == Match.FULL:
            if hasattr(route, "_match"):
                route._match(scope)
            return


def indexed(app: FastAPI, scope: dict[str, Any], path: str) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    index.current().match(scope, path)


def lookup_us(app: FastAPI, find: Callable[..., None], method: str, path: str) -> float:
    started = time.process_time()
    for _ in range(LOOKUPS):
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "app": app}
        find(app, scope, path)
    return (time.process_time() - started) / LOOKUPS * 1e6


def api_key() -> str:
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "create-api-key",
            "--name",
            "bench",
            "--role",
            "clinician",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().split()[-1]


async def requests_ms(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> float:
    started = time.process_time()
    for _ in range(REQUESTS):
        await client.request(method, path, **kwargs)
    return (time.process_time() - started) / REQUESTS * 1e3


async def main(rounds: int) -> None:
    os.environ.setdefault("SCLEROSCHED_LOG_LEVEL", "WARNING")
    upgrade_to_head(os.environ["SCLEROSCHED_DATABASE_URL"])
    key = api_key()
    app = create_served_app()
    router = app.router
    index = router.middleware_stack
    modes = {"fastapi": router.app, "index": index}
    auth = {"Authorization": f"Bearer {key}"}
    requests = [
        ("GET /health/live", "GET", "/health/live", {}),
        ("GET /nothing-here (404)", "GET", "/nothing-here", {}),
        (f"POST {PROPOSALS} {{}} (key, 422)", "POST", PROPOSALS, {"headers": auth, "json": {}}),
    ]
    lookups: dict[tuple[str, str], list[float]] = {}
    whole: dict[tuple[str, str], list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, method, path, kwargs in requests:
            answer = await client.request(method, path, **kwargs)
            print(f"{name}: {answer.status_code}")
        for _ in range(rounds):
            for mode, find in (("fastapi", fastapi_scan), ("index", indexed)):
                for method, path in FOUND:
                    row = (f"{method} {path[:40]}", mode)
                    lookups.setdefault(row, []).append(lookup_us(app, find, method, path))
            for mode, dispatch in modes.items():
                router.middleware_stack = dispatch
                for name, method, path, kwargs in requests:
                    figure = await requests_ms(client, method, path, **kwargs)
                    whole.setdefault((name, mode), []).append(figure)
    router.middleware_stack = index
    print(f"\n{rounds} rounds, min-max; saved: the median difference within a round (range)")
    print("\nFinding the route, CPU µs a lookup")
    _table(lookups, "{:.1f}")
    print("\nWhole requests in process, CPU ms a request")
    _table(whole, "{:.3f}")


def _table(figures: dict[tuple[str, str], list[float]], form: str) -> None:
    """Each mode's range over the rounds, and the difference within each round (the two
    modes ran one after the other: the machine's drift touches both alike)."""
    for name in dict.fromkeys(name for name, _ in figures):
        before, after = figures[(name, "fastapi")], figures[(name, "index")]
        saved = sorted(b - a for b, a in zip(before, after, strict=True))
        cells = [
            f"fastapi {form.format(min(before))}-{form.format(max(before))}",
            f"index {form.format(min(after))}-{form.format(max(after))}",
            f"saved {form.format(statistics.median(saved))}"
            f" ({form.format(saved[0])} to {form.format(saved[-1])})",
        ]
        print(f"  {name:48s} " + "   ".join(cells))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
