"""The `sclerosched` command: migrate and an idempotent demo seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cli import build_parser, main
from app.db import make_engine
from app.demo import DEMO_MRN_SYSTEM
from app.models import Patient, PatientIdentifier, Practitioner


def test_seed_demo_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", url)
    monkeypatch.setenv("SCLEROSCHED_CLINIC_TIME_ZONE", "Europe/Brussels")
    assert main(["seed-demo"]) == 0
    assert "2 practitioners, 12 patients and 6 evaluations added" in capsys.readouterr().out
    assert main(["seed-demo"]) == 0
    assert "0 practitioners, 0 patients and 0 evaluations added" in capsys.readouterr().out

    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Patient)) == 12
        practitioners = connection.execute(select(Practitioner.time_zone)).scalars().all()
        assert practitioners == ["Europe/Brussels", "Europe/Brussels"]
        mrns = connection.scalars(
            select(PatientIdentifier.value).where(PatientIdentifier.system == DEMO_MRN_SYSTEM)
        ).all()
        assert len(set(mrns)) == 12
    engine.dispose()


def test_migrate_creates_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0  # nothing pending the second time
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / "fresh.db").stat().st_size > 0


def test_serve_takes_host_and_port() -> None:
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert (args.host, args.port) == ("0.0.0.0", 9000)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--port", "eighty"])
