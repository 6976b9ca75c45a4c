"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.db import database_is_reachable
from app.web.problems import DatabaseUnavailable, problem_responses

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


@router.get(
    "/live",
    summary="Liveness probe",
    responses=problem_responses(validation=False),
    response_description="The process is up",
)
async def check_liveness() -> Health:
    """The process is up and answering. Does not touch the database."""
    return Health(status="ok")


@router.get(
    "/ready",
    summary="Readiness probe",
    responses=problem_responses(DatabaseUnavailable, validation=False),
    response_description="The process is up and the database answers",
)
async def check_readiness(request: Request) -> Health:
    """The service can serve requests: its database answers. 503 when it does not."""
    if not await database_is_reachable(request.app.state.engine):
        raise DatabaseUnavailable("The database cannot be reached.")
    return Health(status="ok")
