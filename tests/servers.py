"""Real `sclerosched serve` processes for tests that need a server over TCP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Address(str):
    """A running server's base URL, which knows the server's process id."""

    pid: int


@contextmanager
def running_server(
    database_url: str,
    *,
    log: Path | None = None,
    command: Sequence[str] = (sys.executable, "-m", "app.cli", "serve"),
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **settings: str,
) -> Iterator[Address]:
    """Start the service as a newcomer would (`sclerosched serve`) and yield its base URL.

    `command` and `cwd` start it another way (an installed package's own script, from another
    directory); `environ` replaces this process's environment. Its output goes to `log` (a
    file: a pipe nobody reads would stall a chatty server)."""
    port = free_port()
    env = {
        **(os.environ if environ is None else environ),
        "SCLEROSCHED_DATABASE_URL": database_url,
        "SCLEROSCHED_LOG_LEVEL": "WARNING",
        # Several servers share one PostgreSQL server's 100 connections in a test.
        "SCLEROSCHED_DATABASE_POOL_SIZE": "10",
        **{f"SCLEROSCHED_{k.upper()}": v for k, v in settings.items()},
    }
    if log is None:
        log = Path(tempfile.mkdtemp(prefix="sclerosched-server-")) / "server.log"
    if cwd is None:  # a directory of its own: no developer's `.env` is read
        cwd = log.parent
    output = log.open("wb")
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = Address(f"http://127.0.0.1:{port}")
    base.pid = process.pid
    try:
        # Generous: on a loaded machine (both suites at once on two cores) a start can take long.
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def race(
    bases: tuple[str, ...],
    path: str,
    bodies: list[dict[str, Any]],
    credential: str,
    method: str = "POST",
) -> list[httpx.Response]:
    """Send each body to `path` at once (`method`; an empty body is none), from a thread each,
    spread over the servers."""
    barrier = threading.Barrier(len(bodies))
    responses: list[httpx.Response | None] = [None] * len(bodies)

    def attempt(index: int) -> None:
        headers = {"Authorization": credential}
        with httpx.Client(base_url=bases[index % len(bases)], timeout=60, headers=headers) as http:
            barrier.wait()
            responses[index] = http.request(method, path, json=bodies[index] or None)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]
