"""A real webhook receiver on loopback for the tests: a threading HTTP server that keeps what
it was sent and answers as the test says."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


# How the receiver answers the n-th request (from 0) and what it was sent: a status, after
# blocking on nothing or on an event the test sets.
Answering = Callable[[int, Received], int]


@dataclass
class Receiver:
    url: str
    answering: Answering
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def take(self, got: Received) -> int:
        with self.lock:
            number = len(self.received)
            self.received.append(got)
            self.arrived.notify_all()
        return self.answering(number, got)

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.webhook_id for r in self.received]


@contextmanager
def receiving(answering: Answering = lambda n, got: 204) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, on a free port, for the `with` block."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            got = Received({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            status = receiver.take(got)
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", answering)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
