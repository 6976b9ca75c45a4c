"""Service settings: the only place that reads the environment."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Configuration read from `SCLEROSCHED_*` environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(
        env_prefix="SCLEROSCHED_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default="sqlite:///./sclerosched.db",
        description="SQLAlchemy URL: a SQLite file (the default) or postgresql+psycopg://...",
    )
    clinic_time_zone: str = Field(
        default="UTC", description="IANA time zone of the clinic, e.g. Europe/Paris"
    )
    log_level: LogLevel = "INFO"
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
    polidocanol_max_mg_per_kg_per_day: float = Field(default=2.0, gt=0, le=10)
    sts_max_mg_per_session: float = Field(
        default=300.0, gt=0, le=1000, description="Sodium tetradecyl sulfate: 10 mL of 3%"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        if backend not in {"sqlite", "postgresql"}:
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

    @field_validator("clinic_time_zone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        return validate_time_zone(value)

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
    return frozenset(available_timezones())


class SettingsError(RuntimeError):
    """Raised at start-up when the environment holds an invalid setting."""


def load_settings() -> Settings:
    """Read and validate the settings, turning a validation error into one readable message."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  SCLEROSCHED_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def configure_logging(level: LogLevel) -> None:
    """Send log records, tagged with the request id, to standard error."""
    from app.logging import RequestIdFilter  # local: logging setup is a start-up concern

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [request_id=%(request_id)s] %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
