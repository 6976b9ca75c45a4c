"""A person opens the docs explorer: headless Chromium renders it from a real server with
every outside host unreachable, as on a clinic's closed network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, running_server

pytestmark = pytest.mark.browser

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
CHROMEDRIVER = shutil.which("chromedriver")
USERNAME, PASSWORD = "newcomer", "a password for the docs"
# Nothing but this machine resolves: a CDN reference would leave the page blank.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (Debian package: chromium)")
        pytest.skip("Chromium is not installed (Debian package: chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """As the README's quick start goes: `sclerosched create-user`, then `sclerosched serve`,
    on a fresh SQLite file."""
    database = f"sqlite:///{tmp_path_factory.mktemp('server') / 'clinic.db'}"
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "create-user",
            USERNAME,
            "--role=admin",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env={**os.environ, "SCLEROSCHED_DATABASE_URL": database},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    with running_server(database) as base:
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
            OFFLINE,
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


def test_redoc_renders_offline_under_its_security_policy(chromium: str, server: str) -> None:
    dom = _render(chromium, f"{server}/redoc", "--dump-dom")
    assert "Register a patient" in dom, dom[:2000]


def test_a_newcomer_logs_in_on_the_docs_explorer_and_calls_a_protected_route(
    chromium: str, server: str, tmp_path: Path
) -> None:
    """Authorize with a username and password, then "Try it out" on GET /api/v1/auth/me."""
    if CHROMEDRIVER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ChromeDriver is required in CI (Debian package: chromium-driver)")
        pytest.skip("ChromeDriver is not installed (Debian package: chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_argument(OFFLINE)
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    wait = WebDriverWait(browser, 30)

    def click(css: str) -> None:
        element = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css)))
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    try:
        browser.get(f"{server}/docs")
        click("button.btn.authorize")
        wait.until(ready.visibility_of_element_located((By.ID, "oauth_username")))
        browser.find_element(By.ID, "oauth_username").send_keys(USERNAME)
        browser.find_element(By.ID, "oauth_password").send_keys(PASSWORD)
        click(".auth-container button.modal-btn.authorize")
        # Logged in: the dialog offers to log out instead.
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "button.btn-done")))
        wait.until(
            ready.text_to_be_present_in_element((By.CSS_SELECTOR, ".auth-container"), "Logout")
        )
        click("button.btn-done")

        operation = "#operations-access-whoAmI"
        click(f"{operation} .opblock-summary")
        click(f"{operation} button.try-out__btn")
        click(f"{operation} button.execute")
        status = f"{operation} .live-responses-table tr.response .response-col_status"
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, status)))
        assert browser.find_element(By.CSS_SELECTOR, status).text.strip() == "200"
        body = browser.find_element(By.CSS_SELECTOR, f"{operation} .live-responses-table").text
        assert f'"name": "{USERNAME}"' in body
        assert '"role": "admin"' in body
        browser.save_screenshot(str(tmp_path / "logged-in.png"))
    finally:
        browser.quit()
