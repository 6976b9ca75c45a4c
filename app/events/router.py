"""Webhook routes (admins): subscriptions, their deliveries, sending one again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from app.auditing import AuditTrail, Resource
from app.errors import InvalidCursor, NotFound, VersionMismatch
from app.events import webhooks
from app.events.schemas import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
)
from app.events.targets import WebhookTargetRefused
from app.roles import Permission
from app.web.access import AuditDep, requires
from app.web.db import Db
from app.web.params import Cursor, ExpectedVersion, Limit, holds_secret, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(
    prefix="/api/v1/webhooks",
    tags=["webhooks"],
    route_class=ApiRoute,
    dependencies=[requires(Permission.WEBHOOKS_MANAGE)],
)


def _audited(audit: AuditTrail, action: str, webhook_id: uuid.UUID) -> None:
    audit.record(action, Resource.WEBHOOK, webhook_id, patient_id=None)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe to events",
    responses=problem_responses(WebhookTargetRefused),
    response_description="The subscription, with its signing secret shown this once",
    openapi_extra={**holds_secret(), **sends("ETag", "Location")},
)
def create_webhook(
    body: WebhookCreate, db: Db, audit: AuditDep, policy: Policy, response: Response
) -> WebhookCreated:
    """Events of the `event_types` listed (none: every type) are POSTed to `url` as JSON,
    signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)
    with the `secret` of this answer, shown this once. The body is thin: the event's id,
    type and time and the ids of what changed; read the rest with your own credentials.

    In production the URL must be https:// and resolve to public addresses only (422
    `webhook-target-refused`); redirects are never followed."""
    subscription = webhooks.create_webhook(db=db, data=body, rules=policy.webhooks)
    _audited(audit, "create", subscription.id)
    set_etag(response, subscription.version)
    response.headers["Location"] = f"{router.prefix}/{subscription.id}"
    read = WebhookRead.model_validate(subscription)
    return WebhookCreated(**read.model_dump(), secret=subscription.secret)


@router.get(
    "",
    summary="List webhook subscriptions",
    responses=problem_responses(InvalidCursor),
    response_description="A page of subscriptions (never their secrets)",
)
def list_webhooks(db: Db, cursor: Cursor, limit: Limit = 50) -> WebhookPage:
    """Subscriptions, newest first."""
    items, next_cursor = webhooks.list_webhooks(db=db, limit=limit, cursor=cursor.after)
    return WebhookPage(
        items=[WebhookRead.model_validate(s) for s in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/{webhook_id}",
    summary="Read a webhook subscription",
    responses=problem_responses(NotFound),
    response_description="The subscription (never its secret)",
    openapi_extra=sends("ETag"),
)
def read_webhook(webhook_id: uuid.UUID, db: Db, response: Response) -> WebhookRead:
    """One subscription."""
    subscription = webhooks.get_webhook(db=db, webhook_id=webhook_id)
    set_etag(response, subscription.version)
    return WebhookRead.model_validate(subscription)


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook subscription",
    responses=problem_responses(NotFound, VersionMismatch, WebhookTargetRefused),
    response_description="The subscription, changed",
    openapi_extra=sends("ETag"),
)
def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    if_match: ExpectedVersion,
) -> WebhookRead:
    """Change the URL, the event types, or switch the subscription off (`active: false`: no
    new deliveries are made for it) or on again. The secret stays."""
    subscription = webhooks.update_webhook(
        db=db,
        webhook_id=webhook_id,
        changes=body,
        rules=policy.webhooks,
        expected_version=if_match,
    )
    changed = ",".join(sorted(body.model_fields_set))
    _audited(audit, f"update:{changed}"[:40], subscription.id)
    set_etag(response, subscription.version)
    return WebhookRead.model_validate(subscription)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe",
    responses=problem_responses(NotFound, VersionMismatch),
    response_description="Unsubscribed",
)
def delete_webhook(
    webhook_id: uuid.UUID, db: Db, audit: AuditDep, if_match: ExpectedVersion
) -> None:
    """The subscription goes, with its deliveries: nothing more is sent to it."""
    webhooks.delete_webhook(db=db, webhook_id=webhook_id, expected_version=if_match)
    _audited(audit, "delete", webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    summary="List a webhook's deliveries",
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of deliveries, each with its attempts",
)
def list_webhook_deliveries(
    webhook_id: uuid.UUID, db: Db, cursor: Cursor, limit: Limit = 50
) -> DeliveryPage:
    """Deliveries newest first: the event, the status (`pending`, `delivered`, `failed`),
    when the next try is due, and every attempt (when, how long, the response code)."""
    items, next_cursor = webhooks.list_deliveries(
        db=db, webhook_id=webhook_id, limit=limit, cursor=cursor.after
    )
    return DeliveryPage(
        items=[DeliveryRead.model_validate(d) for d in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again",
    responses=problem_responses(NotFound, webhooks.DeliveryPending),
    response_description="The delivery, pending again",
)
def retry_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, db: Db, audit: AuditDep
) -> DeliveryRead:
    """A delivered or failed delivery is sent again by the worker, at once, with the same
    `webhook-id` (409 `delivery-pending` while it is still being tried)."""
    delivery = webhooks.retry_delivery(
        # Deliveries keep to the system clock, as the worker does.
        db=db,
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        now=datetime.now(UTC),
    )
    _audited(audit, "retry-delivery", webhook_id)
    return DeliveryRead.model_validate(delivery)
