"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from app.events.outbox import outbox_backlog
from app.web.problems import DatabaseUnavailable, problem_responses

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(Health):
    """Ready, and what the webhook worker still has to send (left out: nothing)."""

    outbox_backlog: int | None = Field(
        default=None,
        description="Webhook deliveries not yet made (events not yet fanned out included); "
        "left out when there are none",
    )
    oldest_undelivered_seconds: float | None = Field(
        default=None, description="How long the oldest of them has waited, in seconds"
    )


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
    response_model_exclude_none=True,
)
async def check_readiness(request: Request) -> Readiness:
    """The service can serve requests: its database answers (503 when it does not). Also the
    webhook backlog, when there is one: `outbox_backlog` deliveries not yet made, the oldest
    waiting `oldest_undelivered_seconds` (a worker down, or a receiver failing, shows here).
    One cheap statement, which is also the database check."""
    try:
        backlog = await outbox_backlog(request.app.state.engine)
    except Exception:  # any driver error means "not ready"
        raise DatabaseUnavailable("The database cannot be reached.") from None
    if not backlog.undelivered:
        return Readiness(status="ok")
    return Readiness(
        status="ok",
        outbox_backlog=backlog.undelivered,
        oldest_undelivered_seconds=round(backlog.oldest_seconds or 0.0, 3),
    )
