"""Settings are validated at start-up; a bad one stops the service with a clear message."""

from __future__ import annotations

import pytest

from app.cli import main
from app.config import Settings, SettingsError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "CLINIC_TIME_ZONE", "LOG_LEVEL"):
        monkeypatch.delenv(f"SCLEROSCHED_{name}", raising=False)
    monkeypatch.chdir("/")  # no .env file here
    settings = load_settings()
    assert settings.database_url == "sqlite:///./sclerosched.db"
    assert settings.clinic_time_zone == "UTC"
    assert settings.log_level == "INFO"


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
