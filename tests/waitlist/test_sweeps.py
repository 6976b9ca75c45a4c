"""The sweep: offers whose time is up expire and pass on, run by the worker with its clock, and
several sweeps at once (PostgreSQL's SKIP LOCKED, SQLite's one writer) never offer one slot
twice. The events carry ids only, as every other event does."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.db import WRITE_LOCK, make_sessionmaker
from app.events.worker import Worker, payload
from app.models import FreedSlot, OutboxEvent, WaitlistOffer
from app.patients.service import patient_lock
from app.policy import ClinicPolicy, WebhookRules
from app.vocabulary import FreedSlotStatus, OfferStatus
from app.waitlist.offers import OfferRules, Swept, sweep, sweep_chore
from tests.factories import POSTGRES_URL
from tests.sessions.clinic import Clinic, paris_day
from tests.waitlist.steps import Waitlist

SLOTS = 4


def _rules(app: FastAPI) -> OfferRules:
    policy: ClinicPolicy = app.state.policy
    return OfferRules(booking=policy.booking, waitlist=policy.waitlist)


def _writers(engine: Engine) -> sessionmaker[Session]:
    """Sessions that write as the worker's do (on SQLite, the write lock from the start)."""
    if engine.dialect.name == "sqlite":
        return make_sessionmaker(engine.execution_options(**{WRITE_LOCK: True}))
    return make_sessionmaker(engine)


def _offers(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(WaitlistOffer.freed_slot_id, WaitlistOffer.patient_id, WaitlistOffer.status)
            )
        )


def _offers_made(clinic: Clinic, waitlist: Waitlist, patients: int) -> tuple[datetime, datetime]:
    """`SLOTS` cancelled sessions on one day, each offered to one of `patients` waiting: when
    the first of the offers expires, and when the last does."""
    visits = [clinic.book(clinic.patient(), paris_day(21, 9 + hour)) for hour in range(SLOTS)]
    for _ in range(patients):
        waitlist.add(clinic.patient())
    for visit in visits:
        waitlist.cancel(visit)
    standing = waitlist.standing()
    assert len(standing) == SLOTS
    expiries = [datetime.fromisoformat(offer["expires_at"]) for offer in standing]
    return min(expiries), max(expiries)


def test_two_sweeps_at_once_expire_each_offer_once_and_offer_each_slot_once(
    app: FastAPI, clinic: Clinic, waitlist: Waitlist, engine: Engine
) -> None:
    _, expiry = _offers_made(clinic, waitlist, patients=3 * SLOTS)
    writers, rules = _writers(engine), _rules(app)
    racers = 4
    barrier = threading.Barrier(racers)
    results: list[Swept | BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            with writers.begin() as db:
                results.append(sweep(db=db, now=expiry, rules=rules))
        except BaseException as failure:
            results.append(failure)

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(isinstance(r, Swept) for r in results), results
    swept = [r for r in results if isinstance(r, Swept)]
    assert sum(s.expired for s in swept) == SLOTS  # each once, by one sweep
    offers = _offers(engine)
    assert Counter(o.status for o in offers) == {
        OfferStatus.EXPIRED: SLOTS,
        OfferStatus.OFFERED: SLOTS,
    }
    standing = [o for o in offers if o.status is OfferStatus.OFFERED]
    assert len({o.freed_slot_id for o in standing}) == SLOTS  # one offer a slot
    assert len({o.patient_id for o in standing}) == SLOTS  # one standing offer a patient
    assert len({(o.freed_slot_id, o.patient_id) for o in offers}) == 2 * SLOTS  # a slot once each
    assert len(waitlist.told("waitlist.expired")) == SLOTS


def test_two_sweeps_at_once_offer_open_slots_once(
    app: FastAPI, clinic: Clinic, waitlist: Waitlist, engine: Engine
) -> None:
    """Slots left open (a lock was busy when they were freed) are offered by whichever sweep
    takes them first."""
    visits = [clinic.book(clinic.patient(), paris_day(21, 9 + hour)) for hour in range(SLOTS)]
    for visit in visits:
        waitlist.cancel(visit)  # nobody waiting yet: unfilled
    for _ in range(2 * SLOTS):
        waitlist.add(clinic.patient())
    with engine.begin() as connection:
        connection.execute(FreedSlot.__table__.update().values(status=FreedSlotStatus.OPEN))
    writers, rules, now = _writers(engine), _rules(app), clinic.clock()
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            with writers.begin() as db:
                sweep(db=db, now=now, rules=rules)
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    offers = _offers(engine)
    assert len(offers) == SLOTS
    assert len({o.freed_slot_id for o in offers}) == SLOTS
    assert len({o.patient_id for o in offers}) == SLOTS


def test_the_worker_sweeps_the_waitlist_with_its_clock(
    app: FastAPI, clinic: Clinic, waitlist: Waitlist, engine: Engine
) -> None:
    first, last = _offers_made(clinic, waitlist, patients=SLOTS + 1)
    moments = [first - timedelta(seconds=1), last]
    worker = Worker(
        engine=engine,
        rules=WebhookRules(),
        clock=lambda: moments[0],
        chores=[sweep_chore(_rules(app))],
    )
    try:
        assert worker.do_chores() == 0  # not yet
        moments.pop(0)
        assert worker.do_chores() >= 2  # expired, then offered to the one left
    finally:
        worker.close()
    statuses = Counter(o.status for o in _offers(engine))
    assert statuses[OfferStatus.EXPIRED] >= 1
    assert statuses[OfferStatus.OFFERED] == SLOTS


def test_waitlist_events_carry_ids_only(clinic: Clinic, waitlist: Waitlist, engine: Engine) -> None:
    _offers_made(clinic, waitlist, patients=SLOTS)
    offer = waitlist.standing()[0]
    assert waitlist.answer(offer, "decline").status_code == 200
    events = OutboxEvent.__table__
    with engine.connect() as connection:
        rows = connection.execute(select(events).where(events.c.type.like("waitlist.%")))
        bodies = [json.loads(payload({**row, "event_id": row["id"]})) for row in rows.mappings()]
    assert {body["type"] for body in bodies} == {"waitlist.offered", "waitlist.declined"}
    for body in bodies:
        assert set(body["data"]) <= {"session_id", "patient_id", "plan_id"}


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL's advisory locks (SQLite: one writer)")
def test_a_patient_whose_care_is_being_changed_is_never_waited_for(
    clinic: Clinic, waitlist: Waitlist, engine: Engine
) -> None:
    """Another transaction holds the waiting patient's lock (their care is being changed): the
    cancellation goes through at once, leaving the slot open, and a later sweep offers it."""
    cancelled = waitlist.booked_at_slot()
    waiting = clinic.patient()
    waitlist.add(waiting)
    with engine.connect() as other, other.begin():
        other.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": patient_lock(uuid.UUID(waiting))},
        )
        waitlist.cancel(cancelled)
        with engine.connect() as connection:
            status = connection.scalar(select(FreedSlot.status))
        assert status is FreedSlotStatus.OPEN
    assert waitlist.offered_to() == [waiting]  # reading the offers swept
