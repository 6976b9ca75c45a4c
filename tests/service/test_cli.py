"""The `sclerosched` command: migrate, accounts and keys, and an idempotent demo seed."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.cli import build_parser, main
from app.config import Settings
from app.db import make_engine
from app.demo import DEMO_MRN_SYSTEM, demo_id
from app.main import create_app
from app.models import Consent, Patient, PatientIdentifier, Practitioner
from app.roles import Role
from tests.factories import TEST_SECRET_KEY, ApiClient, dispose


def test_seed_demo_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", url)
    monkeypatch.setenv("SCLEROSCHED_CLINIC_TIME_ZONE", "Europe/Brussels")
    assert main(["seed-demo"]) == 0
    first = capsys.readouterr().out
    assert "1 location(s) with their rooms, 2 practitioners, 12 patients, 8 evaluations" in first
    assert main(["seed-demo"]) == 0
    again = capsys.readouterr().out
    assert "0 location(s) with their rooms, 0 practitioners, 0 patients, 0 evaluations" in again

    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Patient)) == 12
        practitioners = connection.execute(select(Practitioner.time_zone)).scalars().all()
        assert practitioners == ["Europe/Brussels", "Europe/Brussels"]
        mrns = connection.scalars(
            select(PatientIdentifier.value).where(PatientIdentifier.system == DEMO_MRN_SYSTEM)
        ).all()
        assert len(set(mrns)) == 12
        # The patients who may be treated signed their consent at their evaluation.
        consented = connection.scalars(select(Consent.patient_id)).all()
        assert sorted(consented) == sorted(demo_id("patient", i) for i in (1, 3, 4, 6))
    engine.dispose()


def test_seed_demo_is_refused_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The finding: in production it added made-up patients and printed an admin password."""
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", url)
    monkeypatch.setenv("SCLEROSCHED_ENVIRONMENT", "production")
    monkeypatch.setenv("SCLEROSCHED_SECRET_KEY", TEST_SECRET_KEY)
    assert main(["seed-demo"]) == 2
    printed = capsys.readouterr()
    assert "seed-demo is refused in production" in printed.err
    assert "demo.admin" not in printed.out + printed.err
    assert not (tmp_path / "clinic.db").exists()  # not even the schema


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


def _sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", url)
    monkeypatch.setenv("SCLEROSCHED_SECRET_KEY", TEST_SECRET_KEY)
    return url


@pytest.fixture
def app_on() -> Iterator[Callable[[str], TestClient]]:
    """A client of the app served on a database URL (its connections closed afterwards)."""
    apps: list[FastAPI] = []

    def serve(url: str) -> TestClient:
        apps.append(create_app(Settings(database_url=url, secret_key=TEST_SECRET_KEY)))  # type: ignore[arg-type]
        return ApiClient(apps[-1], raise_server_exceptions=False)

    yield serve
    for app in apps:
        dispose(app)


def test_create_user_reads_the_password_from_stdin_and_the_user_can_log_in(
    app_on: Callable[[str], TestClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _sqlite(tmp_path, monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO("first admin password\n"))
    assert main(["create-user", "Chief", "--role", "admin", "--password-stdin"]) == 0
    assert "user chief (admin) created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("another password here\n"))
    assert main(["create-user", "chief", "--role", "clinician", "--password-stdin"]) == 1
    assert "already in use" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["create-user", "other", "--role", "admin", "--password-stdin"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("Password1234\n"))
    assert main(["create-user", "other", "--role", "admin", "--password-stdin"]) == 1
    assert "most common" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["create-user", "other", "--role", "janitor"])

    client = app_on(url)
    token = client.post(
        "/api/v1/auth/token", data={"username": "chief", "password": "first admin password"}
    )
    assert token.status_code == 200
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    events = client.get("/api/v1/audit-events", headers=headers).json()["items"]
    assert [(e["actor_kind"], e["actor_name"], e["action"]) for e in events[-2:]] == [
        ("user", "chief", "log-in"),
        ("system", "sclerosched create-user", "create"),
    ]


def test_create_user_links_the_account_to_a_practitioner(
    app_on: Callable[[str], TestClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _sqlite(tmp_path, monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO("first admin password\n"))
    assert main(["create-user", "chief", "--role", "admin", "--password-stdin"]) == 0
    client = app_on(url)
    token = client.post(
        "/api/v1/auth/token", data={"username": "chief", "password": "first admin password"}
    )
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    laurent = client.post(
        "/api/v1/practitioners", json={"name": "Dr Laurent", "time_zone": "Europe/Paris"}
    ).json()["id"]
    capsys.readouterr()

    for practitioner, error in (("dr-laurent", "valid UUID"), (str(uuid.uuid4()), "No practit")):
        monkeypatch.setattr("sys.stdin", io.StringIO("a clinician password\n"))
        args = ["create-user", "a.laurent", "--role", "clinician", "--password-stdin"]
        assert main([*args, "--practitioner", practitioner]) == 1
        assert error in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a clinician password\n"))
    assert main([*args, "--practitioner", laurent]) == 0
    assert f"signing as practitioner {laurent}" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a clinician password\n"))
    args = ["create-user", "not.laurent", "--role", "clinician", "--password-stdin"]
    assert main([*args, "--practitioner", laurent]) == 1
    assert "linked to the account 'a.laurent'" in capsys.readouterr().err
    users = client.get("/api/v1/users").json()["items"]
    assert {u["username"]: u["practitioner_id"] for u in users} == {
        "a.laurent": laurent,
        "chief": None,
    }


def test_create_user_prompts_twice_for_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _sqlite(tmp_path, monkeypatch)
    answers = iter(["typed once carefully", "typed twice differently"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["create-user", "typo", "--role", "admin"]) == 1
    assert "the two passwords differ" in capsys.readouterr().err


def test_create_api_key_prints_a_working_key_once(
    app_on: Callable[[str], TestClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _sqlite(tmp_path, monkeypatch)
    assert main(["create-api-key", "--name", "Hospital EHR", "--role", "integration"]) == 0
    printed = capsys.readouterr()
    key = printed.out.splitlines()[-1]
    assert key.startswith("scl_")
    assert "shown this once" in printed.err
    client = app_on(url)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert (me["name"], me["role"]) == ("Hospital EHR", "integration")
    assert main(["create-api-key", "--name", " "]) == 1


def test_seed_demo_prints_one_working_login_per_role(
    app_on: Callable[[str], TestClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _sqlite(tmp_path, monkeypatch)
    assert main(["seed-demo"]) == 0
    first = _logins(capsys.readouterr().out)
    assert set(first) == {f"demo-{role.value}" for role in Role}
    client = app_on(url)
    tokens = {}
    for username, password in first.items():
        response = client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, username
        tokens[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        role = client.get("/api/v1/auth/me", headers=tokens[username]).json()["role"]
        assert username == f"demo-{role}"

    # The demo clinician is the first demo practitioner: they clear the pill in their name.
    on_the_pill = demo_id("patient", 3)
    clinician = tokens["demo-clinician"]
    standing = client.get(f"/api/v1/patients/{on_the_pill}/eligibility", headers=clinician)
    cleared = client.post(
        f"/api/v1/evaluations/{standing.json()['evaluation_id']}/clearance",
        json={"reason": "Pill stopped six weeks ago."},
        headers=clinician,
    )
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["clearance"]["practitioner_id"] == str(demo_id("practitioner", 1))

    # An admin switches a demo account off; seeding again leaves every account as it is.
    me = client.get("/api/v1/auth/me", headers=tokens["demo-clinician"]).json()
    switched_off = client.patch(
        f"/api/v1/users/{me['id']}", json={"active": False}, headers=tokens["demo-admin"]
    )
    assert switched_off.status_code == 200
    assert main(["seed-demo"]) == 0
    output = capsys.readouterr().out
    assert "demo-admin" in output
    assert _logins(output) == {}  # no new passwords printed
    again = client.post(
        "/api/v1/auth/token",
        data={"username": "demo-admin", "password": first["demo-admin"]},
    )
    assert again.status_code == 200
    off = client.post(
        "/api/v1/auth/token",
        data={"username": "demo-clinician", "password": first["demo-clinician"]},
    )
    assert off.status_code == 401

    # What the command added is in the audit trail, as its doing.
    trail = client.get(
        "/api/v1/audit-events", params={"limit": 200}, headers=tokens["demo-admin"]
    ).json()["items"]
    seeded = [e for e in trail if e["actor_name"] == "sclerosched seed-demo"]
    kinds = Counter(e["resource_type"] for e in seeded)
    assert kinds == {
        "location": 1,
        "room": 2,
        "practitioner": 2,
        "patient": 12,
        "evaluation": 8,
        "consent": 4,
        "user": len(Role),
    }


def _logins(output: str) -> dict[str, str]:
    """The printed usernames and their new passwords."""
    lines = output.split("Demo logins", 1)[1].splitlines()[1:]
    pairs = [line.split() for line in lines if line.startswith("  demo-")]
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-directory/sclerosched.db",
        "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/none",
    ],
)
def test_an_unreachable_database_stops_start_up_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", url)
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sclerosched: cannot use the database")
    assert "Traceback" not in err
    assert "hunter2" not in err
