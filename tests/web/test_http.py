"""Honest HTTP: HEAD on every GET route, bounded request bodies read only after the caller is
known, lost races answered 409 rather than 503, and a suite the developer's shell cannot sway."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.patients import service as patient_service
from app.roles import Role
from tests.factories import (
    TEST_SECRET_KEY,
    UserFactory,
    assert_problem,
    bearer,
    hermetic,
    new_patient,
    tag_version,
)
from tests.routes import concrete, every_route
from tests.servers import running_server


def test_every_get_route_answers_head_with_the_gets_status_and_headers(
    app: FastAPI, client: TestClient
) -> None:
    patient = new_patient(client)
    for method, path, _ in every_route(app):
        if method != "GET" or "{path}" in path:
            continue
        url = concrete(path).replace(concrete("{patient_id}"), patient["id"])
        got, head = client.get(url), client.head(url)
        assert head.status_code == got.status_code, url
        assert head.content == b"", url
        for name in ("content-type", "etag", "cache-control"):
            assert head.headers.get(name) == got.headers.get(name), (url, name)
    read = client.head(f"/api/v1/patients/{patient['id']}")
    assert tag_version(read.headers["etag"]) == 1
    assert int(read.headers["content-length"]) > 0  # the length the GET's body has


class _Deadlock(Exception):
    sqlstate = "40P01"


def _lost_race() -> OperationalError:
    return OperationalError("SELECT ...", {}, _Deadlock("deadlock detected"))


def test_a_lost_race_is_tried_again_and_then_answered_409(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = new_patient(client)
    real = patient_service.read_patient
    calls: list[int] = []

    def deadlocked_once(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise _lost_race()
        return real(**kwargs)

    monkeypatch.setattr(patient_service, "read_patient", deadlocked_once)
    assert client.get(f"/api/v1/patients/{patient['id']}").status_code == 200
    assert len(calls) == 2

    def always_deadlocked(**kwargs: Any) -> Any:
        raise _lost_race()

    monkeypatch.setattr(patient_service, "read_patient", always_deadlocked)
    answer = client.get(f"/api/v1/patients/{patient['id']}")
    assert_problem(answer, 409, "concurrent-update")  # a conflict, not an outage
    assert "retry-after" not in answer.headers


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _send_huge_body(base: str, headers: dict[str, str], megabytes: int) -> tuple[int, int]:
    """POST `megabytes` of JSON-looking bytes, a chunk at a time, until the server answers or
    stops reading; the status and how many bytes went out."""
    host, port = base.removeprefix("http://").split(":")
    lines = [
        "POST /api/v1/patients HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {megabytes * 1024 * 1024}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunk = b"[" + b"1," * (512 * 1024)
        sock.setblocking(False)
        answer = b""
        deadline = time.monotonic() + 60
        while sent < megabytes * 1024 * 1024 and time.monotonic() < deadline:
            try:
                answer += sock.recv(65536)
                break  # the server answered before the body was all sent
            except BlockingIOError:
                pass
            try:
                sent += sock.send(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
        sock.setblocking(True)
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
    assert b"content-type: application/problem+json" in answer.lower()
    assert b"connection: close" in answer.lower()  # the unread rest is dropped with it
    return int(answer.split(b" ", 2)[1]), sent


@pytest.mark.parametrize("credentials", [False, True])
def test_a_huge_body_is_refused_unread_and_the_server_stays_small(
    database_url: str, make_user: UserFactory, app: FastAPI, credentials: bool
) -> None:
    headers = bearer(app, make_user(Role.ADMIN)) if credentials else {}
    with running_server(
        database_url, secret_key=TEST_SECRET_KEY, max_body_bytes=str(1024 * 1024)
    ) as base:
        before = _rss_kb(base.pid)
        status, sent = _send_huge_body(base, headers, megabytes=100)
        grown = _rss_kb(base.pid) - before
    # Without a credential: 401 before a byte of the body is read; with one: 413 at the limit.
    assert status == (413 if credentials else 401)  # nothing parsed either way
    assert sent < 100 * 1024 * 1024  # the server answered without taking it all
    assert grown < 8 * 1024, f"the server grew by {grown} kB"


def test_a_body_over_the_limit_is_a_413_problem_declared_or_streamed(client: TestClient) -> None:
    big = b'{"given_name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = client.post(
        "/api/v1/patients", content=big, headers={"Content-Type": "application/json"}
    )
    assert_problem(declared, 413, "payload-too-large")
    streamed = client.post(
        "/api/v1/patients",
        content=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(streamed, 413, "payload-too-large")
    assert "1048576 bytes" in streamed.json()["detail"]


def test_the_developers_shell_and_env_file_do_not_sway_the_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCLEROSCHED_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SCLEROSCHED_CLINIC_TIME_ZONE", "Asia/Tokyo")
    (tmp_path / ".env").write_text("SCLEROSCHED_EVALUATION_VALIDITY_MONTHS=3\n")
    monkeypatch.chdir(tmp_path)
    hermetic()
    settings = Settings()
    assert settings.secret_key is None
    assert (settings.clinic_time_zone, settings.evaluation_validity_months) == ("UTC", 12)


def test_a_client_that_leaves_mid_body_is_logged_as_gone_not_as_a_failure(
    database_url: str, make_user: UserFactory, app: FastAPI, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    headers = bearer(app, make_user(Role.ADMIN))
    with running_server(
        database_url, log=log, secret_key=TEST_SECRET_KEY, log_level="INFO"
    ) as base:
        host, port = base.removeprefix("http://").split(":")
        lines = [
            "POST /api/v1/patients HTTP/1.1",
            f"Host: {host}",
            "Content-Type: application/json",
            "Content-Length: 90",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(("\r\n".join(lines) + '\r\n\r\n{"given_name": "Ada",').encode())
            time.sleep(0.3)  # the server is waiting for the rest
        deadline = time.monotonic() + 10
        while " 499 " not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    text = log.read_text()
    assert "POST /api/v1/patients 499" in text, text
    assert "unhandled" not in text, text
    assert "Traceback" not in text, text


def test_a_login_form_is_small_or_refused_unread(client: TestClient) -> None:
    """Without credentials only a login form can be sent: a body the size of one at most."""
    form = {"username": "someone", "password": "x" * 5000}
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    refused = anonymous.post("/api/v1/auth/token", data=form)
    body = assert_problem(refused, 413, "payload-too-large")
    assert "4096 bytes" in body["detail"]
    streamed = anonymous.post(
        "/api/v1/auth/token",
        content=iter([b"username=someone&password=" + b"x" * 3000, b"x" * 3000]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(streamed, 413, "payload-too-large")
    # A credential sent along to the login proves nothing: the form stays small.
    for authorization in ("Bearer zzz", "", "Basic eA=="):
        dressed = anonymous.post(
            "/api/v1/auth/token", data=form, headers={"Authorization": authorization}
        )
        assert_problem(dressed, 413, "payload-too-large")
    # A form of ordinary size gets its ordinary answer.
    assert_problem(
        anonymous.post("/api/v1/auth/token", data={"username": "someone", "password": "x" * 20}),
        401,
        "invalid-credentials",
    )


@pytest.mark.parametrize("path", ["/health/live/", "/api/v1/patients/?q=Dubois"])
def test_a_trailing_slash_is_not_found_never_redirected_to_the_host_sent(
    client: TestClient, path: str
) -> None:
    answer = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert_problem(answer, 404, "not-found")
    assert "location" not in answer.headers
