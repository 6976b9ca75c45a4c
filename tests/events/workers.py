"""Real `sclerosched worker` processes for the events tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

# Quick to notice a dead worker's lease (twice the timeout, and a second) and new events.
FAST = {"SCLEROSCHED_WEBHOOK_TIMEOUT_SECONDS": "1", "SCLEROSCHED_WEBHOOK_POLL_SECONDS": "0.1"}


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_running(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while "webhook worker started" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.05)

    def kill(self) -> None:
        """As the machine would: no chance to finish anything."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextmanager
def running_worker(database_url: str) -> Iterator[WorkerProcess]:
    """`sclerosched worker` in a process of its own, stopped (SIGTERM) after the block."""
    directory = Path(tempfile.mkdtemp(prefix="sclerosched-worker-"))
    log = directory / "worker.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SCLEROSCHED_")},
        "SCLEROSCHED_DATABASE_URL": database_url,
        "SCLEROSCHED_LOG_LEVEL": "INFO",
        **FAST,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            cwd=directory,  # no developer's `.env`
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, log)
    try:
        yield worker
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


def wait_until_delivered(engine: Engine, count: int, timeout: float) -> None:
    """Until `count` deliveries are delivered (and none is left pending)."""
    deadline = time.monotonic() + timeout
    query = text(
        "SELECT count(*) FILTER (WHERE status = 'delivered'), "
        "count(*) FILTER (WHERE status = 'pending') FROM webhook_deliveries"
    )
    while True:
        with engine.connect() as connection:
            delivered, pending = connection.execute(query).one()
        if delivered >= count and not pending:
            return
        assert time.monotonic() < deadline, f"{delivered} delivered, {pending} pending"
        time.sleep(0.1)
