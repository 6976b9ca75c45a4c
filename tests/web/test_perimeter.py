"""What an unauthenticated stranger can make the server do before the credential is checked:
little, and quickly. A request over the bounds of its head (URL, headers, number of query
parameters) is a problem answered at once, and a health check sent alongside is not kept
waiting; every answer carries the security headers, and no banner names the server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.web.middleware import (
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
    MAX_QUERY_PARAMETERS,
    MAX_URL_BYTES,
)
from tests.factories import TEST_SECRET_KEY, ApiClient, assert_problem, dispose
from tests.servers import running_server

# The finding: 21,000 keys, 63 KB, once took 3.9 s of the event loop, and a health check sent
# alongside waited 7.2 s.
MANY_KEYS = "/health/live?" + "&".join(["ab"] * 21_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = f"sqlite:///{tmp_path_factory.mktemp('perimeter') / 'clinic.db'}"
    with running_server(database, secret_key=TEST_SECRET_KEY) as base:
        yield base


def _raw(base: str, head: bytes) -> tuple[int, bytes, float]:
    """Send a request head as is (httpx refuses URLs this long); its status, the answer, and
    the seconds it took."""
    host, port = base.removeprefix("http://").split(":")
    began = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        with contextlib.suppress(OSError):  # it may answer and close before it has it all
            sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer, time.perf_counter() - began


_HEADERS = "request-header-fields-too-large"
_KEYS = "too-many-query-parameters"


def _get(target: str, *headers: bytes) -> bytes:
    lines = [f"GET {target} HTTP/1.1".encode(), b"Host: 127.0.0.1", *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_a_21000_key_url_and_a_health_check_alongside_both_answer_at_once(server: str) -> None:
    answers: list[tuple[int, bytes, float]] = []
    strangers = [
        threading.Thread(target=lambda: answers.append(_raw(server, _get(MANY_KEYS))))
        for _ in range(10)
    ]
    for stranger in strangers:
        stranger.start()
    began = time.perf_counter()
    health = httpx.get(f"{server}/health/live", timeout=30)
    waited = time.perf_counter() - began
    for stranger in strangers:
        stranger.join()
    assert health.status_code == 200
    assert waited < 0.5, f"a health check waited {waited:.2f} s"
    assert len(answers) == 10
    for status, answer, took in answers:
        assert status == 414
        assert b"application/problem+json" in answer
        assert b'"code":"uri-too-long"' in answer
        assert took < 0.5, f"the long URL took {took:.2f} s"


@pytest.mark.parametrize(
    ("head", "status", "code"),
    [
        (_get("/health/live?q=" + "a" * MAX_URL_BYTES), 414, "uri-too-long"),
        (_get("/health/live", b"X-Big: " + b"a" * MAX_HEADER_BYTES), 431, _HEADERS),
        (_get("/health/live", *[b"X-%d: a" % i for i in range(MAX_HEADER_LINES)]), 431, _HEADERS),
        (_get("/health/live?" + "&".join(["a"] * (MAX_QUERY_PARAMETERS + 1))), 400, _KEYS),
        (_get("/api/v1/patients?" + "&".join(["q=a"] * 1000)), 400, _KEYS),
    ],
    ids=["long-url", "big-header", "many-headers", "many-parameters", "many-before-login"],
)
def test_a_request_over_the_bounds_of_its_head_is_a_problem_at_once(
    server: str, head: bytes, status: int, code: str
) -> None:
    answered, answer, took = _raw(server, head)
    assert answered == status, answer[:300]
    assert b"content-type: application/problem+json" in answer.lower()
    assert f'"code":"{code}"'.encode() in answer
    assert took < 0.5


def test_a_head_of_megabytes_is_refused_unread_at_the_protocol(server: str) -> None:
    """uvicorn gathers at most 64 KiB of an incomplete head (httptools took any size, at a
    cost growing with its square: 30 MB held the event loop 2.6 s)."""
    status, _, took = _raw(server, _get("/health/live", b"X-Big: " + b"a" * 8_000_000))
    assert status == 400
    assert took < 1
    assert httpx.get(f"{server}/health/live", timeout=5).status_code == 200


def test_requests_within_the_bounds_are_served(client: TestClient) -> None:
    near = "&".join(f"k{i}=v" for i in range(MAX_QUERY_PARAMETERS - 1))
    assert client.get(f"/health/live?{near}").status_code == 200
    listed = client.get("/api/v1/sessions?" + "&".join(["status=booked"] * 20))
    assert listed.status_code == 200


# --- Production defaults -----------------------------------------------------------------

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


@pytest.mark.parametrize("path", ["/health/live", "/api/v1/auth/me", "/api/v1/nowhere"])
def test_every_answer_carries_the_security_headers(anonymous: TestClient, path: str) -> None:
    answer = anonymous.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, (path, name)
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "strict-transport-security" not in answer.headers  # not in development


def test_the_docs_explorer_may_run_its_own_assets_and_nothing_else(anonymous: TestClient) -> None:
    """The finding: the docs login could be framed. (tests/web/test_browser.py renders the
    pages under this policy.)"""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        page = anonymous.get(path)
        policy = dict(
            d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";")
        )
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["script-src"].startswith("'self'"), path
        assert "unsafe" not in policy["script-src"], path
        assert page.headers["x-content-type-options"] == "nosniff"
    # Swagger UI's start-up script is allowed by its digest, and only it.
    swagger = anonymous.get("/docs").headers["content-security-policy"]
    assert swagger.count("'sha256-") == 1


@pytest.fixture
def production(database_url: str) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            database_url=database_url,
            environment="production",
            secret_key=TEST_SECRET_KEY,
            docs_explorer=False,
        )
    )
    yield ApiClient(app)
    dispose(app)


def test_production_sends_hsts(production: TestClient) -> None:
    for path in ("/health/live", "/api/v1/auth/me"):
        hsts = production.get(path).headers["strict-transport-security"]
        assert hsts.startswith("max-age=31536000")


def test_the_docs_explorer_can_be_turned_off(production: TestClient) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/docs-assets/swagger-ui.css"):
        assert_problem(production.get(path), 404, "not-found")
    # The contract stays: client generators read it (and it is published with the code).
    assert production.get("/openapi.json").json()["info"]["title"] == "sclerosched"


def test_the_docs_explorer_is_on_by_default(app: FastAPI) -> None:
    assert Settings().docs_explorer is True
    assert {"/docs", "/redoc"} <= {getattr(r, "path", "") for r in app.routes}


def test_no_server_banner(server: str) -> None:
    answer = httpx.get(f"{server}/health/live", timeout=5)
    assert "server" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_head_trickled_byte_by_byte_loses_its_connection(tmp_path: object) -> None:
    """The finding: a head sent a byte every few seconds held its connection for ever, and
    20,000 of them every connection the server could hold. Now a head has a deadline."""
    database = f"sqlite:///{tmp_path}/clinic.db"
    with running_server(database, secret_key=TEST_SECRET_KEY, request_head_seconds="1") as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
            began = time.monotonic()
            closed = False
            while time.monotonic() - began < 5:
                time.sleep(0.3)
                try:
                    slow.sendall(b"X")  # one more byte of a header that never ends
                    slow.settimeout(0.01)
                    closed = slow.recv(1) == b""
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                if closed:
                    break
            assert closed, "the trickled head kept its connection"
            assert time.monotonic() - began < 3
        # A client that sends its head at once, and waits between requests, is served.
        with httpx.Client(base_url=base) as patient_client:
            assert patient_client.get("/health/live").status_code == 200
            time.sleep(0.5)
            assert patient_client.get("/health/live").status_code == 200


def test_a_refused_long_path_is_not_echoed_whole(server: str) -> None:
    status, answer, _ = _raw(server, _get("/" + "a" * 60_000))
    assert status == 414
    assert len(answer) < 4096  # the 60 kB path is not sent back


def test_a_body_that_stalls_loses_its_connection(tmp_path: object) -> None:
    """The finding: a login body of 3,000 declared bytes, stalled after 10, kept its connection
    for ever (and 4,000 of them 77 MB). Now a body has a deadline from its head."""
    database = f"sqlite:///{tmp_path}/clinic.db"
    with running_server(database, secret_key=TEST_SECRET_KEY, request_body_seconds="1") as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(
                b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 3000\r\n\r\nusername=a"
            )
            began = time.monotonic()
            slow.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                while slow.recv(4096):  # whatever is answered, until the server hangs up
                    pass
            assert time.monotonic() - began < 4
        # A body sent at once is served as usual.
        answer = httpx.post(f"{base}/api/v1/auth/token", data={"username": "a", "password": "b"})
        assert answer.status_code == 401
