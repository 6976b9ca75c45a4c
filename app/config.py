"""Service settings: the only place that reads the environment."""

from __future__ import annotations

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

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Environment = Literal["development", "production"]

# Keys that appear in examples and templates: never acceptable in production.
_KNOWN_KEYS = frozenset({"changethis", "change-me", "changeme", "secret", "dev", "development"})
MIN_SECRET_KEY_LENGTH = 32
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
    def _real_secret_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if not key:
            raise ValueError(
                "SCLEROSCHED_SECRET_KEY is required in production: set it to a random value, "
                'e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        if key.lower() in _KNOWN_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                "SCLEROSCHED_SECRET_KEY is a default or too short: use at least "
                f"{MIN_SECRET_KEY_LENGTH} random characters"
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
