"""A person opens the docs explorer: headless Chromium renders it from a real server with
every outside host unreachable, as on a clinic's closed network."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import running_server

pytestmark = pytest.mark.browser

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (Debian package: chromium)")
        pytest.skip("Chromium is not installed (Debian package: chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sclerosched serve` as a newcomer runs it, on a fresh SQLite file."""
    database = tmp_path_factory.mktemp("server") / "clinic.db"
    with running_server(f"sqlite:///{database}") as base:
        yield base


def _render(chromium: str, url: str, *extra: str) -> str:
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"chromium-profile-{os.getpid()}"
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            # Nothing but this machine resolves: a CDN reference would leave the page blank.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    shutil.rmtree(profile, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_docs_explorer_renders_offline(chromium: str, server: str, tmp_path: Path) -> None:
    dom = _render(chromium, f"{server}/docs", "--dump-dom")
    assert 'class="swagger-ui' in dom, dom[:2000]
    assert "opblock" in dom  # the operations are drawn, so the OpenAPI document loaded
    assert "Register a patient" in dom
    assert "Record time off" in dom
    screenshot = tmp_path / "docs.png"
    _render(chromium, f"{server}/docs", f"--screenshot={screenshot}", "--window-size=1280,900")
    assert screenshot.stat().st_size > 10_000
