"""The clinic's clock: the one source of "now" for the clinical and scheduling rules.

Routers take `now: Now` and hand it to the services, which never read the time themselves.
The application keeps its clock in `app.state.clock` (the system's UTC clock); the tests move
it to the day a session takes place. Credentials keep to the system clock (`app.access`): a
token's lifetime is real time whatever the clinic's clock says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


async def current_time(request: Request) -> datetime:
    """The clinic's now, aware UTC. Async: no I/O, so no worker thread. An API route's
    endpoint is handed it without a dependency to solve (`app.web.routes.ApiRoute`)."""
    return clinic_now(request)


def clinic_now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock()


Now = Annotated[datetime, Depends(current_time)]
