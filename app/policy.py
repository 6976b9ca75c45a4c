"""The clinic's policy: its settings turned, once at start-up, into the rule objects the
services take. No environment here (`app.config` reads it) and no web framework: the HTTP side
hands the one policy to every request (`app.web.policy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.access.credentials import Argon2Parameters, Passwords
from app.config import Settings


@dataclass(frozen=True)
class Margins:
    """The time a practitioner's diary keeps around bookings: `buffer_minutes` free before and
    after each of their sessions (clean-down, notes), and no booking starting sooner than
    `min_notice_minutes` from now (the clinic's preparation). The clinic's settings stand for a
    practitioner who set none (`own`)."""

    buffer_minutes: int = 0
    min_notice_minutes: int = 0

    def own(self, buffer_minutes: int | None, min_notice_minutes: int | None) -> Margins:
        """A practitioner's margins: their own where set (not null), else these."""
        return Margins(
            self.buffer_minutes if buffer_minutes is None else buffer_minutes,
            self.min_notice_minutes if min_notice_minutes is None else min_notice_minutes,
        )

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)

    @property
    def notice(self) -> timedelta:
        return timedelta(minutes=self.min_notice_minutes)


@dataclass(frozen=True)
class BookingRules:
    # Calendar days, where the session takes place, between two treatments of a patient.
    min_gap_days: int
    # Check-in opens on the session's local day, or this long before its start if earlier.
    check_in_ahead: timedelta = timedelta(0)
    # How long a hold keeps its slot while the patient confirms.
    hold_lifetime: timedelta = timedelta(minutes=10)
    # A `session.reminder` this many hours before each booked session's start (none: none).
    reminder_offsets_hours: tuple[int, ...] = ()
    # The clinic's buffer and notice, for practitioners who set none.
    margins: Margins = Margins()


@dataclass(frozen=True)
class WaitlistRules:
    """How freed slots are offered round the waitlist."""

    # How long an offer holds its slot for the patient before passing it on.
    offer_lifetime: timedelta = timedelta(hours=2)
    # A patient is offered a slot at most this many days before their next visit falls due
    # (their last treatment plus their course's interval): the proposals' tolerance.
    early_days: int = 7


@dataclass(frozen=True)
class SchedulingRules:
    """How free slots and follow-up proposals are laid out."""

    grid: timedelta  # slots start on this grid, counted from local midnight
    tolerance_days: int  # how far a follow-up may fall from its target day
    min_gap_days: int  # as BookingRules.min_gap_days
    clinic_zone: ZoneInfo  # the clinic's calendar: proposals' target days
    margins: Margins = Margins()  # as BookingRules.margins


@dataclass(frozen=True)
class DoseLimits:
    """The hard limits on what one patient is given (`app.sessions.dosing` cites each)."""

    # Aethoxysklerol (polidocanol) product information: 2 mg/kg/day.
    polidocanol_mg_per_kg_per_day: float
    # Sotradecol (sodium tetradecyl sulfate) US label: 10 mL of a 3% solution, 300 mg.
    sts_mg_per_session: float
    # Aethoxysklerol product information: 10 mL of foam per session and per day, whatever
    # the weight (a session lies within its day: one figure bounds both).
    foam_ml_per_day: float = 10.0


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int  # failed logins for one username ...
    window: timedelta  # ... within this window pause its logins
    token_lifetime: timedelta
    max_failures_per_address: int = 30  # ... and from one client address, any usernames
    # The clinic's Argon2id parameters, and this process's cap on hashes at once.
    passwords: Passwords = field(default_factory=Passwords)


@dataclass(frozen=True)
class WebhookRules:
    """Where webhooks may go, and how the worker delivers them."""

    # Production: HTTPS only, and never to a loopback, private or link-local address.
    public_targets_only: bool = True
    timeout: timedelta = timedelta(seconds=5)
    first_retry: timedelta = timedelta(seconds=10)  # doubled after each failure ...
    longest_retry: timedelta = timedelta(hours=1)  # ... up to this
    retry_for: timedelta = timedelta(hours=24)  # then the delivery has failed
    poll: timedelta = timedelta(seconds=1)  # an idle worker's wait

    @property
    def lease(self) -> timedelta:
        """How long a worker trying a delivery keeps it from the others: well past the
        timeout, so a live worker is never overtaken, and a dead one's is tried again soon."""
        return self.timeout * 2 + timedelta(seconds=1)


@dataclass(frozen=True)
class ReminderMail:
    """How reminder e-mails leave: the mail server, its security, who they are from, and the
    clinic they name."""

    host: str
    port: int
    security: str  # starttls, tls or none
    sender: str
    clinic_name: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: timedelta = timedelta(seconds=10)
    attempts: int = 5  # tries while the server refuses for a while, then `failed`
    first_retry: timedelta = timedelta(minutes=1)  # doubled after each refusal


def reminder_mail(settings: Settings) -> ReminderMail | None:
    """The reminder e-mails' settings; none: the clinic sends none (no SMTP host set)."""
    if settings.smtp_host is None or settings.smtp_sender is None:
        return None
    return ReminderMail(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        sender=settings.smtp_sender,
        clinic_name=settings.clinic_name.strip(),
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
    )


@dataclass(frozen=True)
class ClinicPolicy:
    """Every rule the clinic's settings shape, built once."""

    clinic_time_zone: str  # the default for new practitioners
    evaluation_validity_months: int
    booking: BookingRules
    scheduling: SchedulingRules
    doses: DoseLimits
    login: LoginPolicy
    # Calendar feeds name patients in full, else by their initials.
    calendar_full_names: bool = False
    webhooks: WebhookRules = field(default_factory=WebhookRules)
    waitlist: WaitlistRules = field(default_factory=WaitlistRules)

    @classmethod
    def from_settings(cls, settings: Settings) -> ClinicPolicy:
        margins = Margins(settings.buffer_minutes, settings.min_notice_minutes)
        return cls(
            clinic_time_zone=settings.clinic_time_zone,
            evaluation_validity_months=settings.evaluation_validity_months,
            booking=BookingRules(
                min_gap_days=settings.min_session_interval_days,
                check_in_ahead=timedelta(hours=settings.check_in_hours_before),
                hold_lifetime=timedelta(minutes=settings.hold_minutes),
                reminder_offsets_hours=tuple(settings.reminder_offsets_hours),
                margins=margins,
            ),
            scheduling=SchedulingRules(
                grid=timedelta(minutes=settings.slot_grid_minutes),
                tolerance_days=settings.proposal_tolerance_days,
                min_gap_days=settings.min_session_interval_days,
                clinic_zone=ZoneInfo(settings.clinic_time_zone),
                margins=margins,
            ),
            doses=DoseLimits(
                polidocanol_mg_per_kg_per_day=settings.polidocanol_max_mg_per_kg_per_day,
                sts_mg_per_session=settings.sts_max_mg_per_session,
            ),
            login=LoginPolicy(
                max_failures=settings.login_max_failures,
                window=timedelta(minutes=settings.login_window_minutes),
                token_lifetime=timedelta(minutes=settings.access_token_minutes),
                max_failures_per_address=settings.login_max_failures_per_address,
                passwords=passwords_of(settings),
            ),
            calendar_full_names=settings.calendar_full_names,
            webhooks=webhook_rules(settings),
            waitlist=waitlist_rules(settings),
        )


def waitlist_rules(settings: Settings) -> WaitlistRules:
    return WaitlistRules(
        offer_lifetime=timedelta(minutes=settings.waitlist_offer_minutes),
        early_days=settings.proposal_tolerance_days,
    )


def webhook_rules(settings: Settings) -> WebhookRules:
    return WebhookRules(
        public_targets_only=settings.environment == "production",
        timeout=timedelta(seconds=settings.webhook_timeout_seconds),
        first_retry=timedelta(seconds=settings.webhook_first_retry_seconds),
        retry_for=timedelta(hours=settings.webhook_retry_hours),
        poll=timedelta(seconds=settings.webhook_poll_seconds),
    )


def passwords_of(settings: Settings) -> Passwords:
    """The password hasher the settings describe (the API's, and the command line's)."""
    return Passwords(
        Argon2Parameters(
            memory_kib=settings.password_hash_memory_kib,
            iterations=settings.password_hash_iterations,
            lanes=settings.password_hash_parallelism,
        ),
        at_once=settings.login_hashes_at_once,
    )
