"""What the reminder tests share: a worker on a clock the test sets, and the reminders a real
receiver was told."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from app.events.worker import Worker
from app.policy import WebhookRules
from tests.events.receiver import Receiver
from tests.sessions.clinic import ok


class SetClock:
    """The worker's clock: where the test puts it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def reminder_worker(engine: Engine, clock: SetClock) -> Worker:
    rules = WebhookRules(public_targets_only=False, timeout=timedelta(seconds=2))
    return Worker(engine=engine, rules=rules, clock=clock)


def run_at(worker: Worker, clock: SetClock, at: datetime) -> None:
    """The worker's rounds at `at`, until it finds nothing more to do."""
    clock.at = at
    for _ in range(20):
        if not worker.work_once():
            return
    raise AssertionError("the worker never ran out of work")


def subscribe_to_reminders(client: TestClient, url: str) -> Webhook:
    body = {"url": url, "event_types": ["session.reminder"]}
    return Webhook(ok(client.post("/api/v1/webhooks", json=body))["secret"])


def told(receiver: Receiver, webhook: Webhook) -> list[dict[str, Any]]:
    """The reminders the receiver was sent, each verified, in the order they came."""
    return [webhook.verify(got.body, got.headers) for got in receiver.received]


def told_as(messages: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    """(session id, offset, start) of each reminder told."""
    return [
        (m["data"]["session_id"], m["data"]["offset_hours"], m["data"]["start"]) for m in messages
    ]


def start_of(visit: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(visit["start"])
