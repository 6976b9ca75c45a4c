"""Settings are validated at start-up; a bad one stops the service with a clear message."""

from __future__ import annotations

import secrets

import pytest

from app.cli import main
from app.config import Settings, SettingsError, load_settings
from app.policy import reminder_mail


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "CLINIC_TIME_ZONE", "LOG_LEVEL"):
        monkeypatch.delenv(f"SCLEROSCHED_{name}", raising=False)
    monkeypatch.chdir("/")  # no .env file here
    settings = load_settings()
    assert settings.database_url == "sqlite:///./sclerosched.db"
    assert settings.clinic_time_zone == "UTC"
    assert settings.log_level == "INFO"
    assert settings.reminder_offsets_hours == [48, 2]
    assert reminder_mail(settings) is None  # reminder e-mails are off until a server is set


def test_reminder_mail_needs_a_sender_and_the_clinics_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCLEROSCHED_SMTP_HOST", "mail.clinic.example")
    monkeypatch.setenv("SCLEROSCHED_SMTP_SENDER", "Lilas <rappels@lilas.example>")
    with pytest.raises(SettingsError, match="SCLEROSCHED_CLINIC_NAME"):
        load_settings()
    monkeypatch.setenv("SCLEROSCHED_CLINIC_NAME", "Clinique des Lilas")
    mail = reminder_mail(load_settings())
    assert mail is not None
    assert (mail.host, mail.port, mail.security) == ("mail.clinic.example", 587, "starttls")
    assert mail.clinic_name == "Clinique des Lilas"


@pytest.mark.parametrize(
    ("value", "offsets"), [("2, 48,24", [48, 24, 2]), ("72", [72]), ("", []), ("02", [2])]
)
def test_reminder_offsets_are_read_from_a_list(
    monkeypatch: pytest.MonkeyPatch, value: str, offsets: list[int]
) -> None:
    monkeypatch.setenv("SCLEROSCHED_REMINDER_OFFSETS_HOURS", value)
    assert load_settings().reminder_offsets_hours == offsets


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCLEROSCHED_CLINIC_TIME_ZONE", "Europe/Paris")
    monkeypatch.setenv("SCLEROSCHED_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.clinic_time_zone == "Europe/Paris"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLINIC_TIME_ZONE", "Europe/Atlantis"),
        ("DATABASE_URL", "mysql://root@localhost/clinic"),
        ("DATABASE_URL", "not a url"),
        ("LOG_LEVEL", "CHATTY"),
        ("ACCESS_TOKEN_MINUTES", "0"),
        ("LOGIN_MAX_FAILURES", "many"),
        ("CORS_ORIGINS", "*"),
        ("CORS_ORIGINS", "https://desk.example/path"),
        ("ENVIRONMENT", "staging"),
        ("DOCS_EXPLORER", "perhaps"),
        ("REMINDER_OFFSETS_HOURS", "48,soon"),
        ("REMINDER_OFFSETS_HOURS", "0"),
        ("REMINDER_OFFSETS_HOURS", "721"),
        ("REMINDER_OFFSETS_HOURS", "2,48,2"),
        ("REMINDER_OFFSETS_HOURS", "2,,1"),
        ("REMINDER_OFFSETS_HOURS", ","),
        ("CLINIC_NAME", "Lilas\r\nBcc: x@evil.example"),
        ("SMTP_HOST", "mail.clinic.example"),  # without a sender nor the clinic's name
        ("SMTP_SECURITY", "ssl"),
        ("SMTP_PORT", "0"),
    ],
)
def test_invalid_setting_stops_start_up_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(f"SCLEROSCHED_{name}", value)
    with pytest.raises(SettingsError, match=f"SCLEROSCHED_{name}"):
        load_settings()
    assert main(["migrate"]) == 2
    assert f"SCLEROSCHED_{name}" in capsys.readouterr().err


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.clinic_time_zone = "Europe/Paris"  # type: ignore[misc]


@pytest.mark.parametrize("key", [None, "", "changethis", "short-but-random-8f3a"])
def test_production_refuses_to_start_without_a_real_secret_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: str | None
) -> None:
    monkeypatch.setenv("SCLEROSCHED_ENVIRONMENT", "production")
    if key is None:
        monkeypatch.delenv("SCLEROSCHED_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SCLEROSCHED_SECRET_KEY", key)
    with pytest.raises(SettingsError, match="SCLEROSCHED_SECRET_KEY"):
        load_settings()
    assert main(["serve"]) == 2
    assert "SCLEROSCHED_SECRET_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(
    "key",
    [
        "a" * 32,
        "ab" * 16,
        "secret" * 6,
        "0" * 63 + "1",
        "password" * 8,
        # an outside test's finding: each started a production service
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "qwertyuiopasdfghjklzxcvbnmqwertyu",
        "Secret-Key-For-Sclerosched-Production-2026",
        "My-Secret-Key-For-Sclerosched-Production-2026",  # mostly words
    ],
)
def test_production_refuses_a_long_but_predictable_secret_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    """The findings: a key of 32 x "a", then the alphabet, a keyboard row and a phrase."""
    monkeypatch.setenv("SCLEROSCHED_ENVIRONMENT", "production")
    monkeypatch.setenv("SCLEROSCHED_SECRET_KEY", key)
    with pytest.raises(SettingsError, match="SCLEROSCHED_SECRET_KEY is too predictable"):
        load_settings()
    assert main(["serve"]) == 2
    printed = capsys.readouterr().err
    assert "too predictable" in printed
    assert "secrets.token_urlsafe(48)" in printed  # how to make a good one


def test_random_keys_are_accepted() -> None:
    """zxcvbn reads words and dates into hex keys too: the least of 10,000 token_hex(16) was
    still 10^26 guesses, above the 10^24 required (a sample here, the figures in config.py)."""
    for _ in range(25):
        for key in (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(48),
            secrets.token_hex(16),
            secrets.token_hex(32),
        ):
            assert Settings(environment="production", secret_key=key).secret_key, key  # type: ignore[arg-type]


def test_production_starts_with_a_long_random_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCLEROSCHED_ENVIRONMENT", "production")
    monkeypatch.setenv("SCLEROSCHED_SECRET_KEY", "k" * 16 + "8f3a1c9e02b7d4e6a5f0c3b1")
    settings = load_settings()
    assert settings.secret_key is not None
    assert "8f3a" not in repr(settings)  # a secret is never printed


def test_development_without_a_key_makes_a_random_one(caplog: pytest.LogCaptureFixture) -> None:
    from app.main import create_app

    first = create_app(Settings(database_url="sqlite://"))
    second = create_app(Settings(database_url="sqlite://"))
    assert len(first.state.signing_key) >= 32
    assert first.state.signing_key != second.state.signing_key
    assert "SCLEROSCHED_SECRET_KEY is not set" in caplog.text


def test_cors_origins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SCLEROSCHED_CORS_ORIGINS", "https://desk.clinic.example, http://localhost:5173"
    )
    assert load_settings().cors_origins == [
        "https://desk.clinic.example",
        "http://localhost:5173",
    ]


def test_migrations_run_as_the_api_unless_an_owner_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = "postgresql+psycopg://clinic_api@db/clinic"
    owner = "postgresql+psycopg://clinic_owner@db/clinic"
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", runtime)
    assert load_settings().migration_url == runtime
    monkeypatch.setenv("SCLEROSCHED_MIGRATION_DATABASE_URL", owner)
    assert load_settings().migration_url == owner
    monkeypatch.setenv("SCLEROSCHED_MIGRATION_DATABASE_URL", "sqlite:///elsewhere.db")
    with pytest.raises(SettingsError, match="same database"):
        load_settings()
