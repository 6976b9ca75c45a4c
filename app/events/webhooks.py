"""Webhook subscriptions (an admin's) and their deliveries: subscribe, change, unsubscribe, see
what was sent and how it went, send a delivery again."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound, Versions, require_version
from app.events.schemas import WebhookCreate, WebhookUpdate
from app.events.targets import check_target
from app.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription, utcnow
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.policy import WebhookRules
from app.vocabulary import DeliveryStatus

# Standard Webhooks: a secret is `whsec_` and the base64 of 24 to 64 random bytes.
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32


class DeliveryPending(Conflict):
    code = "delivery-pending"
    title = "The delivery is still being tried"


_NEWEST_FIRST = Keyset(
    columns=(WebhookSubscription.created_at, WebhookSubscription.id),
    parsers=(cursor_datetime, cursor_uuid),
    descending=True,
)
_NEWEST_DELIVERIES_FIRST = Keyset(
    columns=(WebhookDelivery.created_at, WebhookDelivery.id),
    parsers=(cursor_datetime, cursor_uuid),
    descending=True,
)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def create_webhook(*, db: Session, data: WebhookCreate, rules: WebhookRules) -> WebhookSubscription:
    """A new subscription; its secret is in the answer to this request only."""
    check_target(data.url, public_only=rules.public_targets_only)
    subscription = WebhookSubscription(
        url=data.url,
        event_types=[t.value for t in data.event_types],
        active=data.active,
        secret=new_secret(),
    )
    db.add(subscription)
    db.flush()
    return subscription


def get_webhook(*, db: Session, webhook_id: uuid.UUID) -> WebhookSubscription:
    subscription = db.get(WebhookSubscription, webhook_id)
    if subscription is None:
        raise NotFound(f"No webhook with id {webhook_id}.")
    return subscription


def list_webhooks(
    *, db: Session, limit: int, cursor: str | None
) -> tuple[Sequence[WebhookSubscription], str | None]:
    """Subscriptions, newest first."""
    return paginate(db, select(WebhookSubscription), _NEWEST_FIRST, limit=limit, cursor=cursor)


def update_webhook(
    *,
    db: Session,
    webhook_id: uuid.UUID,
    changes: WebhookUpdate,
    rules: WebhookRules,
    expected_version: Versions | None = None,
) -> WebhookSubscription:
    """Change where, which events, or switch the subscription off or on."""
    subscription = get_webhook(db=db, webhook_id=webhook_id)
    require_version("Webhook", subscription.version, expected_version)
    if changes.url is not None:
        check_target(changes.url, public_only=rules.public_targets_only)
        subscription.url = changes.url
    if changes.event_types is not None:
        subscription.event_types = [t.value for t in changes.event_types]
    if changes.active is not None:
        subscription.active = changes.active
    if changes.model_fields_set:
        subscription.updated_at = utcnow()
        db.flush()
    return subscription


def delete_webhook(
    *, db: Session, webhook_id: uuid.UUID, expected_version: Versions | None = None
) -> WebhookSubscription:
    """Unsubscribe: the subscription goes, with its deliveries (no clinical record)."""
    subscription = get_webhook(db=db, webhook_id=webhook_id)
    require_version("Webhook", subscription.version, expected_version)
    # The database's cascade takes the deliveries and their attempts.
    db.execute(delete(WebhookSubscription).where(WebhookSubscription.id == webhook_id))
    db.expunge(subscription)
    return subscription


@dataclass(frozen=True)
class Delivery:
    """A delivery as listed: its event, status and every attempt, oldest first."""

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    status: DeliveryStatus
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: tuple[WebhookAttempt, ...]


def _deliveries(webhook_id: uuid.UUID) -> Select[Any]:
    query = (
        select(WebhookDelivery, OutboxEvent.id, OutboxEvent.type, OutboxEvent.occurred_at)
        .join(OutboxEvent, OutboxEvent.seq == WebhookDelivery.event_seq)
        .where(WebhookDelivery.subscription_id == webhook_id)
    )
    return cast("Select[Any]", query)  # read as whole rows


def list_deliveries(
    *, db: Session, webhook_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Delivery], str | None]:
    """The subscription's deliveries, newest first, each with its attempts."""
    get_webhook(db=db, webhook_id=webhook_id)
    rows, next_cursor = paginate(
        db, _deliveries(webhook_id), _NEWEST_DELIVERIES_FIRST, limit=limit, cursor=cursor, rows=True
    )
    return _with_attempts(db, rows), next_cursor


def _with_attempts(db: Session, rows: Sequence[Any]) -> list[Delivery]:
    """The deliveries of `rows`, with their attempts (one query for them all)."""
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {row[0].id: [] for row in rows}
    if attempts:
        for attempt in db.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.at, WebhookAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    found = []
    for row in rows:
        delivery, event_id, event_type, occurred_at = row
        pending = delivery.status is DeliveryStatus.PENDING
        found.append(
            Delivery(
                id=delivery.id,
                event_id=event_id,
                event_type=event_type,
                occurred_at=occurred_at,
                status=delivery.status,
                next_attempt_at=delivery.next_attempt_at if pending else None,
                created_at=delivery.created_at,
                delivered_at=delivery.delivered_at,
                attempts=tuple(attempts[delivery.id]),
            )
        )
    return found


def retry_delivery(
    *, db: Session, webhook_id: uuid.UUID, delivery_id: uuid.UUID, now: datetime
) -> Delivery:
    """Send a delivered or failed delivery again, at once (same `webhook-id`: a receiver that
    keeps the ids it has seen takes it once). One more try: retries on failure go on only
    within the retry period counted from the delivery's creation."""
    get_webhook(db=db, webhook_id=webhook_id)
    delivery = db.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == webhook_id)
        .with_for_update()
    )
    if delivery is None:
        raise NotFound(f"No delivery with id {delivery_id} for this webhook.")
    if delivery.status is DeliveryStatus.PENDING:
        raise DeliveryPending(
            "The delivery is pending: it is tried again on its schedule, or is being tried."
        )
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    db.flush()
    rows = db.execute(_deliveries(webhook_id).where(WebhookDelivery.id == delivery_id)).all()
    return _with_attempts(db, rows)[0]
