"""Reminder e-mails: a plain-text letter to the patient, with the session as an `.ics`
attachment, sent through the clinic's mail server (SMTP).

The letter names the patient by their given name only, and says no more than the time (in the
zone where the session takes place), the clinic, and what to expect. `compose` is a pure
function; `SmtpPostbox` is the only part that talks to the network.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from app.policy import ReminderMail

PRODUCT_ID = "-//sclerosched//Session reminder//EN"
WHAT_TO_EXPECT = (
    "What to expect:\n"
    "- The session takes under an hour.\n"
    "- No anaesthetic is needed.\n"
    "- You walk out afterwards: walking is part of the treatment, so plan a short walk.\n"
)


@dataclass(frozen=True)
class Letter:
    """What a reminder e-mail needs to know, and no more."""

    session_id: uuid.UUID
    to: str
    given_name: str
    start_at: datetime
    end_at: datetime
    time_zone: str  # where the session takes place
    sequence: int = 0  # how many times it was moved: a calendar keeps the newest


def when(start_at: datetime, zone: ZoneInfo) -> str:
    """`Tuesday 9 March 2027 at 10:00 (Europe/Paris)`: the same in every locale."""
    local = start_at.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({zone.key})"


def session_ics(letter: Letter, *, clinic: str, stamped_at: datetime) -> bytes:
    """The session as one VEVENT (RFC 5545), times in UTC, no name in it."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{letter.session_id}@sclerosched")
    event.add("sequence", letter.sequence)
    event.add("dtstamp", stamped_at)
    event.add("dtstart", letter.start_at)
    event.add("dtend", letter.end_at)
    event.add("summary", f"Appointment at {clinic}")
    event.add("description", WHAT_TO_EXPECT)
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics


def compose(letter: Letter, *, rules: ReminderMail, now: datetime) -> EmailMessage:
    """The reminder e-mail: plain text, and the `.ics`."""
    clinic = rules.clinic_name
    moment = when(letter.start_at, ZoneInfo(letter.time_zone))
    message = EmailMessage()
    message["From"] = rules.sender
    message["To"] = letter.to
    message["Subject"] = f"Reminder: your appointment at {clinic}"
    message["Date"] = format_datetime(now)  # RFC 5322: every message has one
    message["Message-ID"] = make_msgid(domain=rules.sender.rpartition("@")[2].strip("> "))
    message.set_content(
        f"Hello {letter.given_name},\n\n"
        f"This is a reminder of your appointment at {clinic} on {moment}.\n\n"
        f"{WHAT_TO_EXPECT}\n"
        "The attached file adds the appointment to your calendar. If you cannot come, "
        "please let us know so that we can offer the time to someone else.\n\n"
        f"{clinic}\n"
    )
    message.add_attachment(
        session_ics(letter, clinic=clinic, stamped_at=now),
        maintype="text",
        subtype="calendar",
        filename="appointment.ics",
    )
    return message


class MailNotSent(Exception):
    """The mail server did not take the message. `lasting`: trying again will not help (the
    address refused); else it may (the server away, or busy)."""

    def __init__(self, reason: str, *, lasting: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lasting = lasting


class Postbox(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass
class SmtpPostbox:
    """Sends through the clinic's SMTP server: TLS from the start, STARTTLS, or plain (a relay
    on the same host); certificates checked against the system's (or `ssl_context`'s) CAs."""

    rules: ReminderMail
    ssl_context: ssl.SSLContext | None = None

    def send(self, message: EmailMessage) -> None:
        rules = self.rules
        context = self.ssl_context or ssl.create_default_context()
        seconds = rules.timeout.total_seconds()
        try:
            if rules.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    rules.host, rules.port, timeout=seconds, context=context
                )
            else:
                smtp = smtplib.SMTP(rules.host, rules.port, timeout=seconds)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(type(exc).__name__, lasting=False) from None
        try:
            if rules.security == "starttls":
                smtp.starttls(context=context)
            if rules.username is not None and rules.password is not None:
                smtp.login(rules.username, rules.password)
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise MailNotSent("recipient-refused", lasting=True) from None
        except smtplib.SMTPResponseException as exc:
            # 5xx: refused for good; 4xx: for now.
            raise MailNotSent(f"smtp-{exc.smtp_code}", lasting=exc.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(type(exc).__name__, lasting=False) from None
        finally:
            # Once the message is taken, a failed goodbye changes nothing.
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
