"""The webhook worker (`sclerosched worker`): fans the outbox's events out to the subscriptions
they match, and delivers them, signed per Standard Webhooks.

- Fan-out: one worker at a time (a PostgreSQL advisory lock; SQLite has one writer), in the
  order the events were written, so one session's deliveries are numbered in its order.
- Delivery: a worker claims due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
  workers share the work) by moving them past a lease, and commits; then it sends each, and
  records the outcome. A worker that dies mid-delivery leaves the delivery to be tried again
  once the lease is over, with the same `webhook-id`: at least once, never lost.
- Order: a delivery waits while an earlier event of the same session to the same subscription
  is still pending (being tried, or waiting to be tried again).
- Retries: exponential backoff with jitter, for `retry_for` (24 h) from the delivery's
  creation, then `failed`.
- Chores: each round also does the chores it was given, each in a transaction of its own
  (`sclerosched worker` gives it the waitlist's sweep, `app.waitlist.offers.sweep_chore`:
  offers whose time is up expire and their slots pass to the next patient; freed slots still
  open are offered).

Logs name ids only: never a patient, never a URL (it may hold a token), never a body.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker
from standardwebhooks.webhooks import Webhook

from app.db import WRITE_LOCK, make_sessionmaker, try_lock
from app.events.reminder_mail import Letter, MailNotSent, Postbox, SmtpPostbox, compose
from app.events.targets import WebhookTargetRefused, check_target
from app.models import (
    Base,
    OutboxEvent,
    Patient,
    ReminderEmail,
    SessionEvent,
    TreatmentSession,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    one_of,
    uuid7,
)
from app.policy import ReminderMail, WebhookRules
from app.vocabulary import DeliveryStatus, EventType, ReminderEmailStatus, SessionStatus

logger = logging.getLogger("sclerosched.worker")

Clock = Callable[[], datetime]

# A receiver's answer is read no further than this: only its status matters.
RESPONSE_BYTES = 1024
FAN_OUT_BATCH = 500
DELIVERY_BATCH = 20
_FAN_OUT_LOCK = "sclerosched:outbox-fan-out"
_USER_AGENT = "sclerosched-webhooks"
_IDS = ("session_id", "patient_id", "plan_id", "evaluation_id")


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]


_EVENTS = _table(OutboxEvent)
_DELIVERIES = _table(WebhookDelivery)
_SUBSCRIPTIONS = _table(WebhookSubscription)
_ATTEMPTS = _table(WebhookAttempt)
_NOW = bindparam("now", type_=_EVENTS.c.occurred_at.type)

# The events to fan out now, oldest first.
_UNDISPATCHED = (
    select(
        _EVENTS.c.seq,
        _EVENTS.c.type,
        _EVENTS.c.session_id,
        func.coalesce(_EVENTS.c.due_at, _EVENTS.c.occurred_at).label("happened_at"),
    )
    .where(
        _EVENTS.c.dispatched_at.is_(None),
        or_(_EVENTS.c.due_at.is_(None), _EVENTS.c.due_at <= _NOW),
    )
    .order_by(_EVENTS.c.seq)
    .limit(FAN_OUT_BATCH)
)
_ACTIVE = select(
    _SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.event_types, _SUBSCRIPTIONS.c.created_at
).where(_SUBSCRIPTIONS.c.active.is_(True))
_DISPATCHED = update(_EVENTS).where(one_of(_EVENTS.c.seq, "seqs")).values(dispatched_at=_NOW)

_EARLIER = aliased(WebhookDelivery, name="earlier")
_D = WebhookDelivery
# Due deliveries to an active subscription, with no earlier event of the same session still
# pending for it; claimed rows are locked, and those another worker holds are skipped.
_DUE = (
    select(
        _D.id,
        _D.attempts,
        _D.created_at,
        _D.subscription_id,
        OutboxEvent.id.label("event_id"),
        OutboxEvent.type,
        OutboxEvent.occurred_at,
        *(getattr(OutboxEvent, name) for name in _IDS),
        OutboxEvent.due_at,
        OutboxEvent.reminder_offset_hours,
        WebhookSubscription.url,
        WebhookSubscription.secret,
    )
    .join(OutboxEvent, OutboxEvent.seq == _D.event_seq)
    .join(WebhookSubscription, WebhookSubscription.id == _D.subscription_id)
    .where(
        _D.status == DeliveryStatus.PENDING,
        _D.next_attempt_at <= _NOW,
        WebhookSubscription.active.is_(True),
        ~exists().where(
            _EARLIER.subscription_id == _D.subscription_id,
            _EARLIER.session_id == _D.session_id,
            _EARLIER.event_seq < _D.event_seq,
            _EARLIER.status == DeliveryStatus.PENDING,
        ),
    )
    .order_by(_D.next_attempt_at, _D.event_seq)
    .limit(DELIVERY_BATCH)
    .with_for_update(skip_locked=True, of=_D)
)
_CLAIM = (
    update(_DELIVERIES)
    .where(one_of(_DELIVERIES.c.id, "ids"))
    .values(
        next_attempt_at=bindparam("until", type_=_DELIVERIES.c.next_attempt_at.type),
        attempts=_DELIVERIES.c.attempts + 1,
    )
)
# The outcome, only if the delivery is still the one this worker claimed (not unsubscribed,
# not claimed again after a lease this worker overran).
_SETTLE = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("delivery_id"),
        _DELIVERIES.c.attempts == bindparam("claimed"),
        _DELIVERIES.c.status == DeliveryStatus.PENDING,
    )
    .values(
        status=bindparam("status", type_=_DELIVERIES.c.status.type),
        next_attempt_at=bindparam("next_at", type_=_DELIVERIES.c.next_attempt_at.type),
        delivered_at=bindparam("delivered_at", type_=_DELIVERIES.c.delivered_at.type),
    )
)
_RECORD_ATTEMPT = insert(_ATTEMPTS)

_EMAILS = _table(ReminderEmail)
_E = ReminderEmail
# Reminder e-mails due now, with what the letter needs; claimed rows are locked, and those
# another worker holds are skipped.
_EMAILS_DUE = (
    select(
        _E.event_seq,
        _E.attempts,
        OutboxEvent.id.label("event_id"),
        TreatmentSession.id.label("session_id"),
        TreatmentSession.status,
        TreatmentSession.start_at,
        TreatmentSession.end_at,
        TreatmentSession.time_zone,
        Patient.given_name,
        Patient.email,
        Patient.archived,
        # How many times it was moved: the `.ics` is a newer version of the last one sent.
        select(func.count())
        .where(
            SessionEvent.session_id == TreatmentSession.id,
            SessionEvent.action == "reschedule",
        )
        .scalar_subquery()
        .label("moves"),
    )
    .join(OutboxEvent, OutboxEvent.seq == _E.event_seq)
    .join(TreatmentSession, TreatmentSession.id == OutboxEvent.session_id)
    .join(Patient, Patient.id == TreatmentSession.patient_id)
    .where(_E.status == ReminderEmailStatus.PENDING, _E.next_attempt_at <= _NOW)
    .order_by(_E.next_attempt_at, _E.event_seq)
    .limit(DELIVERY_BATCH)
    .with_for_update(skip_locked=True, of=_E)
)
_SET_EMAIL = (
    update(_EMAILS)
    .where(_EMAILS.c.event_seq == bindparam("seq"))
    .values(
        status=bindparam("status", type_=_EMAILS.c.status.type),
        attempts=bindparam("tries", type_=_EMAILS.c.attempts.type),
        next_attempt_at=bindparam("next_at", type_=_EMAILS.c.next_attempt_at.type),
        sent_at=bindparam("sent_at", type_=_EMAILS.c.sent_at.type),
    )
)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds until its lease ends: what to send, and where."""

    id: uuid.UUID
    attempts: int  # this try's number
    created_at: datetime
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    """How one attempt went."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def payload(row: Any) -> bytes:
    """The thin body: the event's id, type and time, and the ids of what changed (a reminder:
    also its offset and the session's start)."""
    data: dict[str, Any] = {name: str(row[name]) for name in _IDS if row[name] is not None}
    hours = row["reminder_offset_hours"]
    if hours is not None:  # a reminder: which one, and the start it was written for
        data["offset_hours"] = hours
        data["start"] = (row["due_at"] + timedelta(hours=hours)).isoformat()
    body = {
        "id": str(row["event_id"]),
        "type": row["type"],
        "timestamp": row["occurred_at"].isoformat(),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def matches(event_type: str, wanted: Sequence[str]) -> bool:
    return not wanted or event_type in wanted


# Something each round of the worker also does, in a transaction of its own, at the worker's
# clock: how many things it did.
Chore = Callable[[Session, datetime], int]


@dataclass
class Worker:
    """Delivers webhooks from one process; several may run at once on PostgreSQL."""

    engine: Engine
    rules: WebhookRules
    clock: Clock = system_clock
    jitter: random.Random = field(default_factory=random.Random)
    client: httpx.Client | None = None
    # Reminder e-mails: how they leave (none: the clinic sends none), and the postbox.
    mail: ReminderMail | None = None
    postbox: Postbox | None = None
    # What else each round does, each in its own transaction (none: only deliveries and mail).
    chores: Sequence[Chore] = ()
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        bind = self.engine
        if bind.dialect.name == "sqlite":  # the write lock before the first read
            bind = bind.execution_options(**{WRITE_LOCK: True})
        self.sessions = make_sessionmaker(bind)
        if self.client is None:
            seconds = self.rules.timeout.total_seconds()
            self.client = httpx.Client(
                timeout=httpx.Timeout(seconds), follow_redirects=False, trust_env=False
            )
        if self.mail is not None and self.postbox is None:
            self.postbox = SmtpPostbox(self.mail)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; idle, look again every `poll`."""
        logger.info("webhook worker started")
        while not stop.is_set():
            try:
                worked = self.work_once()
            except Exception:  # a database hiccup: log it (no PHI in it) and go on
                logger.exception("webhook worker: a round failed; trying again")
                worked = 0
            if not worked:
                stop.wait(self.rules.poll.total_seconds())
        logger.info("webhook worker stopped")

    def work_once(self) -> int:
        """One round: fan out, then deliver what is due. How many things were done."""
        fanned = self.fan_out()
        claimed = self.claim()
        for delivery in claimed:
            try:
                answer = self.send(delivery)
            except Exception:  # one delivery's fault is its own, never the next one's
                logger.exception("webhook worker: delivery %s could not be sent", delivery.id)
                answer = Answer(None, "error", 0)
            self.settle(delivery, answer)
        return fanned + len(claimed) + self.mail_reminders() + self.do_chores()

    def do_chores(self) -> int:
        """Each chore, in a transaction of its own. How many things were done."""
        done = 0
        for chore in self.chores:
            with self.sessions.begin() as db:
                done += chore(db, self.clock())
        return done

    def fan_out(self) -> int:
        """Make the deliveries of the events written since (one worker at a time)."""
        now = self.clock()
        with self.sessions.begin() as db:
            if not try_lock(db, _FAN_OUT_LOCK):
                return 0
            connection = db.connection()
            events = connection.execute(_UNDISPATCHED, {"now": now}).all()
            if not events:
                return 0
            subscriptions = connection.execute(_ACTIVE).all()
            rows = [
                {
                    "id": uuid7(),
                    "event_seq": event.seq,
                    "subscription_id": subscription.id,
                    "session_id": event.session_id,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "delivered_at": None,
                }
                for event in events
                for subscription in subscriptions
                if matches(event.type, subscription.event_types)
                # A subscriber hears of what happens from its subscription on, not before.
                and event.happened_at >= subscription.created_at
            ]
            if rows:
                connection.execute(insert(_DELIVERIES), rows)
            if self.mail is not None:  # each reminder's e-mail, made once with its telling
                letters = [
                    {
                        "event_seq": event.seq,
                        "status": ReminderEmailStatus.PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "sent_at": None,
                    }
                    for event in events
                    if event.type == EventType.SESSION_REMINDER
                ]
                if letters:
                    connection.execute(insert(_EMAILS), letters)
            connection.execute(_DISPATCHED, {"now": now, "seqs": [e.seq for e in events]})
        return len(events)

    def claim(self) -> list[Claimed]:
        """Take due deliveries for the length of a lease, and commit: the others skip them."""
        now = self.clock()
        with self.sessions.begin() as db:
            connection = db.connection()
            rows = connection.execute(_DUE, {"now": now}).mappings().all()
            if not rows:
                return []
            connection.execute(
                _CLAIM, {"ids": [row["id"] for row in rows], "until": now + self.rules.lease}
            )
        return [
            Claimed(
                id=row["id"],
                attempts=row["attempts"] + 1,
                created_at=row["created_at"],
                subscription_id=row["subscription_id"],
                event_id=row["event_id"],
                url=row["url"],
                secret=row["secret"],
                body=payload(row),
            )
            for row in rows
        ]

    def send(self, delivery: Claimed) -> Answer:
        """POST the event, signed; read no more of the answer than its head and a little."""
        started = time.monotonic()

        def answer(status_code: int | None, error: str | None) -> Answer:
            return Answer(status_code, error, int((time.monotonic() - started) * 1000))

        try:
            check_target(delivery.url, public_only=self.rules.public_targets_only)
        except WebhookTargetRefused:
            return answer(None, "target-refused")
        message_id = str(delivery.event_id)
        sent_at = datetime.now(UTC)  # the receiver checks it against its own clock
        headers = {
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(delivery.secret).sign(message_id, sent_at, delivery.body),
        }
        assert self.client is not None
        deadline = started + self.rules.timeout.total_seconds()
        try:
            with self.client.stream(
                "POST", delivery.url, content=delivery.body, headers=headers
            ) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read >= RESPONSE_BYTES or time.monotonic() > deadline:
                        break
                return answer(response.status_code, None)
        except httpx.TimeoutException:
            return answer(None, "timeout")
        except httpx.HTTPError:
            return answer(None, "connection")
        except (httpx.InvalidURL, ValueError):  # a URL stored before the checks refused it
            return answer(None, "invalid-url")

    def settle(self, delivery: Claimed, answer: Answer) -> DeliveryStatus:
        """Record the attempt, and what comes next: delivered, another try later, or failed."""
        now = self.clock()
        if answer.delivered:
            status, next_at, delivered_at = DeliveryStatus.DELIVERED, now, now
        else:
            next_at = now + self.backoff(delivery.attempts)
            delivered_at = None
            give_up = next_at > delivery.created_at + self.rules.retry_for
            status = DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING
        with self.sessions.begin() as db:
            connection = db.connection()
            settled = connection.execute(
                _SETTLE,
                {
                    "delivery_id": delivery.id,
                    "claimed": delivery.attempts,
                    "status": status,
                    "next_at": next_at,
                    "delivered_at": delivered_at,
                },
            )
            if settled.rowcount:
                connection.execute(
                    _RECORD_ATTEMPT,
                    {
                        "id": uuid7(),
                        "delivery_id": delivery.id,
                        "at": now,
                        "duration_ms": answer.duration_ms,
                        "status_code": answer.status_code,
                        "error": answer.error,
                    },
                )
        logger.info(
            "webhook delivery %s (event %s, webhook %s) attempt %d: %s -> %s",
            delivery.id,
            delivery.event_id,
            delivery.subscription_id,
            delivery.attempts,
            answer.status_code or answer.error,
            status.value,
        )
        return status

    def mail_reminders(self) -> int:
        """Send the reminder e-mails due, each at most once: taken (`sending`) and committed
        before it is sent, so a worker that dies meanwhile leaves it unsent rather than sent
        twice. How many were handled."""
        if self.mail is None or self.postbox is None:
            return 0
        now = self.clock()
        to_send: list[tuple[int, int, uuid.UUID, Letter]] = []
        with self.sessions.begin() as db:
            connection = db.connection()
            rows = connection.execute(_EMAILS_DUE, {"now": now}).all()
            for row in rows:
                if (
                    row.status != SessionStatus.BOOKED
                    or row.start_at <= now
                    or not row.email
                    or row.archived
                ):
                    # Nobody to write to (no address; a patient the clinic archived), or
                    # nothing to remind of any more.
                    self._set_email(connection, row.event_seq, ReminderEmailStatus.SKIPPED, 0, now)
                    logger.info("reminder e-mail for event %s: skipped", row.event_id)
                    continue
                tries = row.attempts + 1
                self._set_email(connection, row.event_seq, ReminderEmailStatus.SENDING, tries, now)
                letter = Letter(
                    session_id=row.session_id,
                    to=row.email,
                    given_name=row.given_name,
                    start_at=row.start_at,
                    end_at=row.end_at,
                    time_zone=row.time_zone,
                    sequence=row.moves,
                )
                to_send.append((row.event_seq, tries, row.event_id, letter))
        for seq, tries, event_id, letter in to_send:
            self._send_letter(seq, tries, event_id, letter)
        return len(rows)

    def _send_letter(self, seq: int, tries: int, event_id: uuid.UUID, letter: Letter) -> None:
        assert self.mail is not None
        assert self.postbox is not None
        now = self.clock()
        next_at, sent_at = now, None
        try:
            self.postbox.send(compose(letter, rules=self.mail, now=now))
            status, outcome = ReminderEmailStatus.SENT, "sent"
            sent_at = now
        except MailNotSent as refused:
            next_at = now + self.mail.first_retry * (1 << (tries - 1))
            again = not refused.lasting and tries < self.mail.attempts and next_at < letter.start_at
            status = ReminderEmailStatus.PENDING if again else ReminderEmailStatus.FAILED
            outcome = f"{refused.reason} -> {status.value}"
        with self.sessions.begin() as db:
            self._set_email(db.connection(), seq, status, tries, next_at, sent_at)
        # Ids only: never the address, the name or the time.
        logger.info("reminder e-mail for event %s attempt %d: %s", event_id, tries, outcome)

    @staticmethod
    def _set_email(
        connection: Any,
        seq: int,
        status: ReminderEmailStatus,
        tries: int,
        next_at: datetime,
        sent_at: datetime | None = None,
    ) -> None:
        connection.execute(
            _SET_EMAIL,
            {"seq": seq, "status": status, "tries": tries, "next_at": next_at, "sent_at": sent_at},
        )

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failure: doubled each time up to the longest wait,
        with jitter (a quarter either way, so each wait still exceeds the one before)."""
        doubled: timedelta = self.rules.first_retry * (1 << min(attempts - 1, 30))
        wait = min(doubled, self.rules.longest_retry)
        return wait * self.jitter.uniform(0.75, 1.25)
