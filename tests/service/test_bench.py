"""The benchmark script still runs end to end (on a tiny clinic; speed is not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_runs_and_reports_every_endpoint(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--database-url",
            f"sqlite:///{tmp_path / 'bench.db'}",
            "--patients",
            "40",
            "--sessions",
            "400",
            "--practitioners",
            "2",
            "--requests",
            "10",
            "--concurrency",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for endpoint in ("GET slots", "POST proposals", "POST sessions"):
        assert endpoint in result.stdout
    assert "{201: 10}" in result.stdout  # every benchmark booking went through
