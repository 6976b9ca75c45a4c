"""The HTTP protocol (`app.web.protocol`): httptools, with the head bound counted by the
protocol itself. A head under the bound is the app's to judge, whatever writes carry it;
pipelined requests are each answered."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from app.web.protocol import MAX_REQUEST_HEAD_BYTES
from tests.factories import TEST_SECRET_KEY
from tests.servers import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    database = f"sqlite:///{tmp_path_factory.mktemp('protocol') / 'clinic.db'}"
    with running_server(database, secret_key=TEST_SECRET_KEY) as base:
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def _exchange(address: tuple[str, int], *writes: bytes) -> bytes:
    with socket.create_connection(address, timeout=10) as sock:
        for data in writes:
            sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_head_under_the_bound_in_many_writes_reaches_the_app(
    server: tuple[str, int],
) -> None:
    big = b"X-Big: " + b"a" * (MAX_REQUEST_HEAD_BYTES - 2048) + b"\r\n"
    pieces = [big[i : i + 4096] for i in range(0, len(big), 4096)]
    answer = _exchange(
        server, b"GET /health/live HTTP/1.1\r\nHost: x\r\n", *pieces, b"Connection: close\r\n\r\n"
    )
    # The app's own bound on headers answers, not the protocol's 400.
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_pipelined_requests_are_each_answered(server: tuple[str, int]) -> None:
    one = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = _exchange(server, one + one + last)
    assert answer.count(b"HTTP/1.1 200") == 3


def _problem(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    problem: dict[str, object] = json.loads(body)
    return problem


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS hello
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # HTTP/2's preface
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"POST /api/v1/patients HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",  # both framings: smuggling
    ],
)
def test_what_is_not_http_gets_a_problem_and_the_connection_closes(
    server: tuple[str, int], garbage: bytes
) -> None:
    problem = _problem(_exchange(server, garbage))
    assert problem["code"] == "malformed-request"
    assert problem["status"] == 400
    assert problem["type"] == "https://sclerosched.dev/problems/malformed-request"


def test_a_head_over_the_bound_is_refused_unread(server: tuple[str, int]) -> None:
    # Sent so that the bound is crossed by the last write only: nothing is left unread when
    # the server closes (unread bytes would make it reset the connection, answer and all).
    head = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_REQUEST_HEAD_BYTES
    answer = _exchange(
        server, head[: MAX_REQUEST_HEAD_BYTES - 4096], head[MAX_REQUEST_HEAD_BYTES - 4096 :]
    )
    assert _problem(answer)["code"] == "request-head-too-large"
