"""The clinic's policy (built once at start-up) as a request dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.policy import ClinicPolicy


async def clinic_policy(request: Request) -> ClinicPolicy:
    """Async: no I/O, so no worker thread. An API route's endpoint is handed it without a
    dependency to solve (`app.web.routes.ApiRoute`)."""
    return policy_of(request)


def policy_of(request: Request) -> ClinicPolicy:
    policy: ClinicPolicy = request.app.state.policy
    return policy


Policy = Annotated[ClinicPolicy, Depends(clinic_policy)]
