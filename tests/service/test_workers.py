"""`sclerosched serve --workers N`: several API processes on PostgreSQL, one signing key."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import httpx
import pytest

from app.cli import build_parser, main
from app.main import create_served_app
from app.roles import Role
from tests.factories import POSTGRES_URL, TEST_PASSWORD, UserFactory
from tests.servers import running_server


def test_workers_are_one_by_default_and_a_plausible_number() -> None:
    assert build_parser().parse_args(["serve"]).workers == 1
    assert build_parser().parse_args(["serve", "--workers", "4"]).workers == 4
    for wrong in ("0", "65", "two"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", "--workers", wrong])


def test_several_workers_need_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", f"sqlite:///{tmp_path}/clinic.db")
    assert main(["serve", "--workers", "2"]) == 2
    assert "needs PostgreSQL" in capsys.readouterr().err


@pytest.mark.skipif(not POSTGRES_URL, reason="several workers run on PostgreSQL (CI runs it)")
def test_two_workers_share_one_signing_key(database_url: str, make_user: UserFactory) -> None:
    """Without SCLEROSCHED_SECRET_KEY the workers still share a key: a token one worker
    issued opens every other."""
    user = make_user(Role.RECEPTIONIST)
    environ = {k: v for k, v in os.environ.items() if k != "SCLEROSCHED_SECRET_KEY"}
    command = (sys.executable, "-m", "app.cli", "serve", "--workers", "2")
    with running_server(database_url, command=command, environ=environ) as base:
        token = None
        statuses = []
        for _ in range(20):  # a new connection each time: the workers share the listening socket
            with httpx.Client(base_url=base) as each:
                if token is None:
                    name = f"{Role.RECEPTIONIST.value}-{user.hex[:8]}"
                    answer = each.post(
                        "/api/v1/auth/token", data={"username": name, "password": TEST_PASSWORD}
                    )
                    assert answer.status_code == 200, answer.text
                    token = answer.json()["access_token"]
                me = each.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
                statuses.append(me.status_code)
    assert statuses == [200] * 20


def test_a_served_app_keeps_its_start_up_out_of_the_collectors_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A worker's app freezes what start-up built: a full collection (tens of milliseconds,
    the event loop stopped, over 200,000 objects) walks only what serving made since."""
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", f"sqlite:///{tmp_path}/clinic.db")
    gc.unfreeze()
    try:
        create_served_app()
        assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()
