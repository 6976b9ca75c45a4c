"""The benchmark still runs end to end: a tiny clinic, one short round of every endpoint beside
its reference (speed is not judged here). It needs PostgreSQL and wrk, as the benchmark does.
And its report reads scaling against the machine's own drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.db import make_engine
from bench.run import Figures, Measured, report
from tests.factories import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not POSTGRES_URL, reason="the benchmark runs on PostgreSQL (CI runs it)")
def test_benchmark_runs_and_reports_every_endpoint_beside_its_reference() -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (Debian: wrk); .ci/run installs it")
    assert POSTGRES_URL is not None
    # Its own database, named after the suite's: suites run at once on one server (each on
    # its own test database) do not reset each other's clinic.
    suite = make_url(POSTGRES_URL)
    name = f"{suite.database}_bench_smoke"
    url = suite.set(database=name)
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    result = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--smoke",
            "--database-url",
            url.render_as_string(hide_password=False),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout.split("sclerosched beside its references")[1]
    for endpoint in (
        "patient read",
        "day list (past)",
        "day list (ahead)",
        "booking",
        "FHIR patient read",
    ):
        (line,) = [row for row in table.splitlines() if row.startswith(f"{endpoint}  ")]
        assert line.rstrip().endswith(" 0/0"), line  # every request answered 2xx, both sides
        assert "%" in line  # beside its reference
    for endpoint in (
        "framework (hello)",
        "proposals, c8",
        "proposals, 200 past, c8",
        "free slots (week), c8",
        "FHIR $find, c8",
    ):
        assert endpoint in table
    assert "2 workers against 1" in result.stdout


def test_scaling_is_read_against_the_machines_own_drift(capsys: pytest.CaptureFixture[str]) -> None:
    """Between the two sizes the machine itself may speed up or slow down: each endpoint's
    scaling is shown beside its reference's (the hello app's where it has none)."""

    def figures(cpu_ms: float) -> Figures:
        return Figures(requests=1, rps=1.0, p50_ms=1.0, p99_ms=1.0, errors=0, cpu_ms=cpu_ms)

    results = [
        Measured("framework (hello)", 10, [figures(0.2)], [figures(0.1)]),
        Measured("patient read", 10, [figures(2.0)], [figures(0.5)]),
        Measured("free slots", 10, [figures(6.0)]),
        Measured("framework (hello)", 1000, [figures(0.3)], [figures(0.15)]),
        Measured("patient read", 1000, [figures(3.0)], [figures(1.0)]),
        Measured("free slots", 1000, [figures(6.6)]),
    ]
    report(results, {})
    scaling = capsys.readouterr().out.split("scaling:")[1]
    lines = {line.split("  ")[1]: line for line in scaling.splitlines() if line.startswith("  ")}
    assert lines["patient read"].split()[-3:] == ["2.00x", "net", "0.75x"]  # 1.5x over 2x
    assert lines["free slots"].split()[-3:] == ["1.50x", "net", "0.73x"]  # 1.1x over hello's 1.5x
