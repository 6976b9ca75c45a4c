"""Service settings: the only place that reads the environment."""

from __future__ import annotations

import ipaddress
import logging
import re
from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.vocabulary import LONGEST_BUFFER_MINUTES, LONGEST_NOTICE_MINUTES

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Environment = Literal["development", "production"]
SmtpSecurity = Literal["starttls", "tls", "none"]

# Keys that appear in examples and templates: never acceptable in production.
_KNOWN_KEYS = frozenset({"changethis", "change-me", "changeme", "secret", "dev", "development"})
MIN_SECRET_KEY_LENGTH = 32
# The furthest ahead a reminder may be told: 30 days.
MAX_REMINDER_HOURS = 24 * 30
# zxcvbn's estimate of the guesses the key takes, as a power of ten: 10^24 is about 80 bits.
# Over 10,000 keys each, the least seen was 10^26 for secrets.token_hex(16) (zxcvbn reads
# words and dates in hex) and 10^40 for token_urlsafe(32); "Secret-Key-For-...-2026", 10^23.
MIN_SECRET_KEY_GUESSES_LOG10 = 24
# A signing key is never typed: one half words is a phrase, not a random key (random keys
# seen over 10,000 each: at most 0.38, the short words that turn up in hex by chance).
MAX_SECRET_KEY_WORD_SHARE = 0.5
# What an attacker tries first for this service's key.
_KEY_WORDS = ("sclerosched", "secret", "key", "signing", "production", "clinic", "jwt")
_HOW_TO_MAKE_A_KEY = 'e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


class Settings(BaseSettings):
    """Configuration read from `SCLEROSCHED_*` environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(
        env_prefix="SCLEROSCHED_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default="sqlite:///./sclerosched.db",
        description="SQLAlchemy URL: a SQLite file (the default) or postgresql+psycopg://...",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="PostgreSQL: the URL of the role that owns the schema and runs the "
        "migrations, so that the API's own role (SCLEROSCHED_DATABASE_URL) may only read and "
        "add audit events; the migrations grant that role what it needs. Unset: "
        "SCLEROSCHED_DATABASE_URL does both (SQLite, a one-role set-up)",
    )
    database_pool_size: int = Field(
        default=32,
        ge=1,
        le=500,
        description="PostgreSQL connections each API process keeps (requests beyond wait)",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="The largest request body accepted (413 beyond it, read no further)",
    )
    idempotency_key_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 30,
        description="How long the answer to a request sent with an Idempotency-Key is kept",
    )
    require_if_match: bool = Field(
        default=False,
        description="Refuse (428) a change to a record sent without If-Match",
    )
    requests_per_minute: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="At most this many requests a minute for one user or API key (429 beyond "
        "it), counted across API processes; 0: no limit",
    )
    clinic_time_zone: str = Field(
        default="UTC", description="IANA time zone of the clinic, e.g. Europe/Paris"
    )
    log_level: LogLevel = "INFO"
    environment: Environment = Field(
        default="development",
        description="`production` requires a real SCLEROSCHED_SECRET_KEY",
    )
    request_head_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="How long a client has to send a request's head whole, from the connection "
        "opening or the last answer; a slower one is disconnected",
    )
    request_body_seconds: float = Field(
        default=30,
        gt=0,
        le=3600,
        description="How long a client has to send a request's body whole, from its head; a "
        "slower one is disconnected",
    )
    docs_explorer: bool = Field(
        default=True,
        description="Serve the docs explorer (/docs, /redoc); off: they answer 404. The "
        "OpenAPI document (/openapi.json) stays: client generators need it",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs login tokens; at least 32 characters. Without it (development "
        "only) a random key is made at start-up and tokens end with the process.",
    )
    access_token_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="How long a login token stays valid"
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed logins for one username before a pause"
    )
    login_window_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="The window those failures are counted in"
    )
    login_max_failures_per_address: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="Failed logins from one client address, whatever the usernames, before "
        "logins from it pause (counted in the same window)",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated addresses or networks (e.g. 127.0.0.1,10.0.0.0/8) of the "
        "reverse proxies in front of the API: only from them is X-Forwarded-For believed for "
        "the client's address; none: the connection's own address is the client's",
    )
    login_hashes_at_once: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Password checks running at once in one API process (each holds "
        "SCLEROSCHED_PASSWORD_HASH_MEMORY_KIB); a login beyond them is answered 503 at once",
    )
    password_hash_memory_kib: int = Field(
        default=19 * 1024,
        ge=7 * 1024,
        le=1024 * 1024,
        description="Argon2id memory per password hash, in KiB (OWASP: 19 MiB)",
    )
    password_hash_iterations: int = Field(
        default=2, ge=1, le=20, description="Argon2id iterations (OWASP: 2)"
    )
    password_hash_parallelism: int = Field(
        default=1, ge=1, le=16, description="Argon2id lanes (OWASP: 1)"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated browser origins allowed to call the API; none: CORS off",
    )
    evaluation_validity_months: int = Field(
        default=12, ge=1, le=60, description="How long an evaluation stays valid for booking"
    )
    slot_grid_minutes: int = Field(default=15, ge=5, le=60, description="Slots start on this grid")
    proposal_tolerance_days: int = Field(
        default=7, ge=0, le=21, description="How far a follow-up may fall from its target day"
    )
    min_session_interval_days: int = Field(
        default=14, ge=0, le=56, description="Least time between two sessions of one patient"
    )
    check_in_hours_before: int = Field(
        default=0,
        ge=0,
        le=24,
        description="Check-in opens on the session's local day, or this many hours before its "
        "start when that is earlier (0: the day itself)",
    )
    hold_minutes: int = Field(
        default=10,
        ge=1,
        le=60,
        description="How long a hold (`POST /api/v1/holds`, FHIR `$hold`) keeps its slot",
    )
    buffer_minutes: int = Field(
        default=0,
        ge=0,
        le=LONGEST_BUFFER_MINUTES,
        description="Minutes kept free before and after each session of a practitioner who "
        "sets no buffer of their own (0: sessions may follow each other back to back)",
    )
    min_notice_minutes: int = Field(
        default=0,
        ge=0,
        le=LONGEST_NOTICE_MINUTES,
        description="No booking starts sooner than this many minutes from now, for a "
        "practitioner who sets no notice of their own (0: any time still to come)",
    )
    waitlist_offer_minutes: int = Field(
        default=120,
        ge=1,
        le=2880,
        description="How long a freed slot offered to a waitlisted patient is held for them "
        "before it passes to the next (never past the slot's start)",
    )
    reminder_offsets_hours: Annotated[list[int], NoDecode] = Field(
        default=[48, 2],
        description="Comma-separated hours before each booked session's start at which a "
        "`session.reminder` event is told (e.g. 48,2); each a whole number from 1 to "
        f"{MAX_REMINDER_HOURS}, none twice; empty: no reminders",
    )
    clinic_name: str = Field(
        default="",
        max_length=200,
        description="The clinic's name, as reminder e-mails give it (needed to send them)",
    )
    smtp_host: str | None = Field(
        default=None,
        description="The mail server reminder e-mails go through; none: no reminder e-mails",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="The mail server's port")
    smtp_security: SmtpSecurity = Field(
        default="starttls",
        description="`starttls` (upgrade the connection, usually port 587), `tls` (TLS from "
        "the start, usually port 465) or `none` (a relay on the same host only)",
    )
    smtp_sender: str | None = Field(
        default=None,
        max_length=254,
        description="The From address of reminder e-mails (e.g. `Clinic <noreply@clinic.example>`)",
    )
    smtp_username: str | None = Field(default=None, description="The mail server's login, if any")
    smtp_password: SecretStr | None = Field(default=None, description="Its password")
    calendar_full_names: bool = Field(
        default=False,
        description="Practitioners' calendar feeds show patients' full names; off: their "
        "initials only (a feed's URL is a secret, yet calendar apps copy what they fetch)",
    )
    webhook_timeout_seconds: float = Field(
        default=5,
        gt=0,
        le=30,
        description="How long the webhook worker waits for a receiver to answer one delivery",
    )
    webhook_first_retry_seconds: float = Field(
        default=10,
        gt=0,
        le=3600,
        description="The webhook worker's first wait after a failed delivery; each next wait "
        "doubles (with jitter), up to an hour",
    )
    webhook_retry_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 7,
        description="How long a delivery is retried before it is marked failed",
    )
    webhook_poll_seconds: float = Field(
        default=1,
        gt=0,
        le=60,
        description="How often an idle webhook worker looks for new events",
    )
    polidocanol_max_mg_per_kg_per_day: float = Field(default=2.0, gt=0, le=10)
    sts_max_mg_per_session: float = Field(
        default=300.0, gt=0, le=1000, description="Sodium tetradecyl sulfate: 10 mL of 3%"
    )

    @property
    def migration_url(self) -> str:
        """The URL the migrations run with."""
        return self.migration_database_url or self.database_url

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        if backend not in {"sqlite", "postgresql"}:
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _migrations_on_the_same_kind_of_database(self) -> Settings:
        if self.migration_database_url is None:
            return self
        runtime, owner = make_url(self.database_url), make_url(self.migration_database_url)
        if runtime.get_backend_name() != owner.get_backend_name():
            raise ValueError(
                "SCLEROSCHED_MIGRATION_DATABASE_URL must name the same database as "
                "SCLEROSCHED_DATABASE_URL, as another role"
            )
        return self

    @field_validator("clinic_time_zone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        return validate_time_zone(value)

    @field_validator("reminder_offsets_hours", mode="before")
    @classmethod
    def _split_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return []  # none: no reminders
            hours = [part.strip() for part in value.split(",")]
            if not all(hours):
                raise ValueError("a reminder offset is empty: write hours, comma-separated")
            return hours
        return value

    @field_validator("reminder_offsets_hours")
    @classmethod
    def _offsets(cls, offsets: list[int]) -> list[int]:
        for hours in offsets:
            if not 1 <= hours <= MAX_REMINDER_HOURS:
                raise ValueError(
                    f"a reminder offset is 1 to {MAX_REMINDER_HOURS} hours, not {hours}"
                )
        if len(set(offsets)) != len(offsets):
            raise ValueError("a reminder offset is given twice")
        return sorted(offsets, reverse=True)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [proxy.strip() for proxy in value.split(",") if proxy.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/8)"
                ) from None
        return proxies

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _plain_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], "
                    "e.g. https://desk.clinic.example"
                )
        return origins

    @model_validator(mode="after")
    def _smtp_complete(self) -> Settings:
        for name in ("clinic_name", "smtp_sender", "smtp_host", "smtp_username"):
            value = getattr(self, name)
            if value is not None and any(not c.isprintable() for c in value):
                # An e-mail header made of it could carry another header.
                raise ValueError(f"SCLEROSCHED_{name.upper()} has a control character")
        if self.smtp_host is None:
            return self
        if not self.smtp_sender or "@" not in self.smtp_sender:
            raise ValueError(
                "SCLEROSCHED_SMTP_SENDER (an e-mail address) is needed with SCLEROSCHED_SMTP_HOST"
            )
        if not self.clinic_name.strip():
            raise ValueError(
                "SCLEROSCHED_CLINIC_NAME is needed with SCLEROSCHED_SMTP_HOST: reminders name it"
            )
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SCLEROSCHED_SMTP_USERNAME and SCLEROSCHED_SMTP_PASSWORD go together")
        return self

    @model_validator(mode="after")
    def _real_secret_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if not key:
            raise ValueError(
                "SCLEROSCHED_SECRET_KEY is required in production: set it to a random value, "
                + _HOW_TO_MAKE_A_KEY
            )
        if key.lower() in _KNOWN_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                "SCLEROSCHED_SECRET_KEY is a default or too short: use at least "
                f"{MIN_SECRET_KEY_LENGTH} random characters, {_HOW_TO_MAKE_A_KEY}"
            )
        from app.access.guesses import estimate  # zxcvbn's word lists: loaded when needed

        guessed = estimate(key, known_words=_KEY_WORDS)
        if guessed.guesses_log10 < MIN_SECRET_KEY_GUESSES_LOG10:
            raise ValueError(
                "SCLEROSCHED_SECRET_KEY is too predictable to sign logins with: zxcvbn "
                f"guesses it in about 10^{guessed.guesses_log10:.0f} tries (keyboard rows, "
                f"sequences, repeats, words), 10^{MIN_SECRET_KEY_GUESSES_LOG10} at least; "
                f"use a random value, {_HOW_TO_MAKE_A_KEY}"
            )
        if guessed.word_share > MAX_SECRET_KEY_WORD_SHARE:
            raise ValueError(
                "SCLEROSCHED_SECRET_KEY is too predictable to sign logins with: it is mostly "
                f"words ({guessed.word_share:.0%}), a phrase rather than a random key; "
                f"use a random value, {_HOW_TO_MAKE_A_KEY}"
            )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def validate_time_zone(name: str) -> str:
    """Return `name` if it is an IANA time zone name, else raise ValueError."""
    if name not in _zone_names():
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. Europe/Paris, America/New_York)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None
    return name


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # The tzdata package's list, the same on every machine and in the image: not the host's
    # own names such as `localtime` (whatever /etc/localtime is there), nor `Factory`.
    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(listed) - {"Factory"}


class SettingsError(RuntimeError):
    """Raised at start-up when the environment holds an invalid setting."""


def load_settings() -> Settings:
    """Read and validate the settings, turning a validation error into one readable message."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  SCLEROSCHED_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            if err["loc"]
            else f"  {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def configure_logging(level: LogLevel) -> None:
    """Send log records, tagged with the request id, to standard error."""
    # local: logging setup is a start-up concern
    from app.logging import PhiSafeFormatter, RequestIdFilter

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        PhiSafeFormatter(
            "%(asctime)s %(levelname)s %(name)s [request_id=%(request_id)s] %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (patient data) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # httpx logs every request it sends with its whole URL (a webhook's query string may hold
    # a receiver's secret): the worker logs its deliveries by id instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
