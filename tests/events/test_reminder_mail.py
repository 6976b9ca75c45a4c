"""Reminder e-mails, sent by the worker through a real SMTP server the tests start: once per
reminder, to the patient's address, naming only their given name, with the time where the
session takes place, the clinic, what to expect, and an `.ics`; none without an address; a
server refusing for a while is tried again, one refusing for good is not; logs without PHI."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, select

from app.events.worker import Worker
from app.models import ReminderEmail
from app.policy import ReminderMail, WebhookRules
from tests.events.mailbox import Mailbox, mailbox
from tests.events.reminding import SetClock, run_at, start_of
from tests.factories import new_patient
from tests.sessions.clinic import Clinic, paris_day

H48, H2 = timedelta(hours=48), timedelta(hours=2)


def _worker(engine: Engine, clock: SetClock, box: Mailbox) -> Worker:
    mail = ReminderMail(
        host="127.0.0.1",
        port=box.port,
        security="none",
        sender="Clinique des Lilas <rappels@lilas.example>",
        clinic_name="Clinique des Lilas",
        first_retry=timedelta(minutes=5),
    )
    return Worker(
        engine=engine, rules=WebhookRules(public_targets_only=False), clock=clock, mail=mail
    )


def _patient(clinic: Clinic, **fields: Any) -> str:
    patient_id: str = new_patient(clinic.client, **fields)["id"]
    clinic.evaluate(patient_id)
    return patient_id


def _statuses(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        table = ReminderEmail.__table__
        return [row.status for row in connection.execute(select(table).order_by(table.c.event_seq))]


def test_each_reminder_is_mailed_once_to_the_patient(
    clinic: Clinic, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    patient = _patient(clinic, given_name="Inès", family_name="Moreau", email="ines@example.org")
    visit = clinic.book(patient, paris_day(5, 10, 30))
    start = start_of(visit)
    clock = SetClock(start - H48)
    caplog.set_level(logging.INFO, logger="sclerosched.worker")
    with mailbox() as box:
        worker = _worker(engine, clock, box)
        run_at(worker, clock, start - H48 - timedelta(minutes=1))
        assert box.taken == []  # not before its time
        run_at(worker, clock, start - H48)
        run_at(worker, clock, start - H2 - timedelta(minutes=1))
        assert len(box.taken) == 1  # once
        run_at(worker, clock, start - H2)
        run_at(worker, clock, start + timedelta(days=1))
    assert len(box.taken) == 2
    assert _statuses(engine) == ["sent", "sent"]
    recipients, letter = box.taken[0]
    assert recipients == ["ines@example.org"]
    assert letter["To"] == "ines@example.org"
    assert letter["From"] == "Clinique des Lilas <rappels@lilas.example>"
    assert letter["Date"]  # RFC 5322 asks for one
    body = letter.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Hello Inès,")
    assert "Moreau" not in letter.as_string()  # the given name only
    local = start.astimezone(ZoneInfo("Europe/Paris"))
    assert f"at {local:%H:%M} (Europe/Paris)" in text
    assert f"{local.day} {local:%B %Y}" in text
    assert "Clinique des Lilas" in text
    for expected in ("under an hour", "No anaesthetic", "walk"):
        assert expected in text
    (attachment,) = list(letter.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "appointment.ics"
    (event,) = Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    assert event.decoded("dtstart") == start.astimezone(UTC)
    assert event.decoded("dtend") == start_of({"start": visit["end"]}).astimezone(UTC)
    assert "Inès" not in str(event.get("summary"))
    # Logs: ids and outcomes, never the address, the name or the time.
    logged = caplog.text
    assert "reminder e-mail for event" in logged
    for secret in ("ines@example.org", "Inès", "Moreau", f"{local:%H:%M}"):
        assert secret not in logged


def test_no_address_no_letter(clinic: Clinic, engine: Engine) -> None:
    visit = clinic.book(_patient(clinic), paris_day(5, 10))  # no e-mail address
    start = start_of(visit)
    clock = SetClock(start - H48)
    with mailbox() as box:
        run_at(_worker(engine, clock, box), clock, start - H2)
    assert box.taken == []
    assert box.tried == 0
    assert _statuses(engine) == ["skipped", "skipped"]


def test_a_server_busy_for_a_while_is_tried_again_once_it_takes_it(
    clinic: Clinic, engine: Engine
) -> None:
    patient = _patient(clinic, email="claire@example.org")
    visit = clinic.book(patient, paris_day(5, 10))
    start = start_of(visit)
    clock = SetClock(start - H48)
    with mailbox(lambda n: "451 4.3.0 busy, try later" if n == 0 else "250 OK") as box:
        worker = _worker(engine, clock, box)
        run_at(worker, clock, start - H48)
        assert (box.tried, box.taken) == (1, [])
        assert _statuses(engine) == ["pending"]
        run_at(worker, clock, start - H48 + timedelta(minutes=4))
        assert box.tried == 1  # the wait (5 minutes) is not over
        run_at(worker, clock, start - H48 + timedelta(minutes=5))
        run_at(worker, clock, start - H48 + timedelta(hours=1))
    assert box.tried == 2
    assert len(box.taken) == 1
    assert _statuses(engine) == ["sent"]


def test_a_server_refusing_for_good_is_not_tried_again(clinic: Clinic, engine: Engine) -> None:
    patient = _patient(clinic, email="nobody@example.org")
    visit = clinic.book(patient, paris_day(5, 10))
    start = start_of(visit)
    clock = SetClock(start - H48)
    with mailbox(lambda n: "550 5.1.1 no such mailbox") as box:
        worker = _worker(engine, clock, box)
        run_at(worker, clock, start - H48)
        run_at(worker, clock, start - H48 + timedelta(hours=3))
    assert box.tried == 1
    assert _statuses(engine) == ["failed"]


def test_without_a_mail_server_no_letter_is_made(clinic: Clinic, engine: Engine) -> None:
    visit = clinic.book(_patient(clinic, email="claire@example.org"), paris_day(5, 10))
    start = start_of(visit)
    clock = SetClock(start - H48)
    worker = Worker(engine=engine, rules=WebhookRules(public_targets_only=False), clock=clock)
    run_at(worker, clock, start + timedelta(days=1))
    assert _statuses(engine) == []


def test_an_archived_patient_gets_no_letter(clinic: Clinic, engine: Engine) -> None:
    patient = _patient(clinic, email="gone@example.org")
    visit = clinic.book(patient, paris_day(5, 10))
    assert clinic.client.delete(f"/api/v1/patients/{patient}").status_code == 200
    start = start_of(visit)
    clock = SetClock(start - H48)
    with mailbox() as box:
        run_at(_worker(engine, clock, box), clock, start - H2)
    assert box.taken == []
    assert _statuses(engine) == ["skipped", "skipped"]


def test_a_moved_sessions_letter_carries_a_newer_calendar_entry(
    clinic: Clinic, engine: Engine
) -> None:
    patient = _patient(clinic, email="moved@example.org")
    visit = clinic.book(patient, paris_day(5, 10))
    moved = clinic.client.post(
        f"/api/v1/sessions/{visit['id']}/reschedule", json={"start": paris_day(6, 11).isoformat()}
    ).json()
    start = start_of(moved)
    clock = SetClock(start - H48)
    with mailbox() as box:
        run_at(_worker(engine, clock, box), clock, start - H48)
    (_, letter) = box.taken[0]
    (attachment,) = list(letter.iter_attachments())
    (event,) = Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    assert event.decoded("sequence") == 1
