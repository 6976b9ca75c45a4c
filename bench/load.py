"""Load from wrk (Debian's package) and the server's CPU time, read from /proc."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "wrk" / "requests.lua"
THREADS = 2
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Figures:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors
    cpu_ms: float  # the server's CPU time per request

    def __str__(self) -> str:
        return (
            f"{self.rps:8.0f} req/s  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms  "
            f"{self.cpu_ms:5.2f} ms CPU/req  {self.errors} not 2xx"
        )


def write_requests(lines: Sequence[str]) -> Path:
    """A file of requests for `requests.lua`: METHOD<TAB>PATH[<TAB>BODY] a line."""
    file = Path(tempfile.mkstemp(prefix="bench-", suffix=".tsv")[1])
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return file


def run_wrk(
    base: str,
    requests: Path,
    *,
    pid: int,
    connections: int,
    seconds: float,
    authorization: str | None = None,
) -> Figures:
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk)")
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(LUA),
    ]
    if authorization:
        command += ["-H", f"Authorization: {authorization}"]
    env = {**os.environ, "BENCH_REQUESTS": str(requests), "BENCH_THREADS": str(THREADS)}
    before = tree_cpu_seconds(pid)
    output = subprocess.run(
        [*command, base], capture_output=True, text=True, env=env, check=True
    ).stdout
    spent = tree_cpu_seconds(pid) - before
    _settle(pid)  # requests still in flight when wrk stopped finish before anything else runs
    total = int(_find(r"(\d+) requests in", output))
    errors = int(_find(r"Non-2xx or 3xx responses: (\d+)", output, "0"))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return Figures(
        requests=total,
        rps=float(_find(r"Requests/sec:\s+([\d.]+)", output)),
        p50_ms=_latency(output, "50%"),
        p99_ms=_latency(output, "99%"),
        errors=errors,
        cpu_ms=spent * 1000 / max(total, 1),
    )


def _find(pattern: str, text: str, default: str | None = None) -> str:
    found = re.search(pattern, text)
    if found is None:
        if default is None:
            raise RuntimeError(f"wrk said:\n{text}")
        return default
    return found.group(1)


def _latency(output: str, percentile: str) -> float:
    found = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)\b", output)
    return float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")


def _settle(pid: int, quiet: float = 0.3, longest: float = 15.0) -> None:
    """Wait until the server has used no CPU for `quiet` seconds."""
    deadline, last = time.monotonic() + longest, tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = tree_cpu_seconds(pid)
        if now == last:
            return
        last = now


def tree_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and all its descendants (workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        fields = stats.get(current)
        if fields:
            total += (int(fields[11]) + int(fields[12])) / tick
        todo += children.get(current, [])
    return total


@dataclass
class Server:
    base: str
    pid: int


@contextmanager
def starting(
    command: Sequence[str], *, env: Mapping[str, str], probe: str, log: Path
) -> Iterator[Callable[[], Server]]:
    """Start a server process on a free port; what it yields waits until `probe` answers (so
    that several start at once: a start is seconds of importing)."""
    port = _free_port()
    output = log.open("ab")
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> Server:
        # Generous: servers starting at once on a loaded machine (CI runs two suites).
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + probe, timeout=2).status_code < 500:
                    return Server(base, process.pid)
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start; see {log}")
            time.sleep(0.2)

    try:
        yield ready
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
