"""Browser fixtures: pytest-playwright drives Debian's Chromium (never a downloaded build).

Without Chromium the browser tests skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in the main thread; pytest-django's DB set-up must still work.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("RECOUP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MISSING = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None  # a path: checks that the file exists and is executable


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_available() or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason=MISSING)
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not chromium_available():
        pytest.fail(f"{MISSING}; CI=true needs it.")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def screenshot(page):
    """screenshot("name") saves a full-page PNG into test-artifacts/ and returns its path."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        return path

    return take


@pytest.fixture
def shot(page, screenshot):
    """A full-page screenshot taken from the top, so the sticky bar sits where it belongs."""

    def take(name: str) -> Path:
        page.evaluate("window.scrollTo(0, 0)")
        return screenshot(name)

    return take


@pytest.fixture
def log_in(page):
    """log_in(base) signs in as the manager "mia" (password pw-mia-manager), whom the tests create, and lands
    on `then` (the customer list unless told otherwise; the home page itself is the dashboard)."""

    def sign_in(
        base: str, username: str = "mia", password: str = "pw-mia-manager", then: str = "/customers/"
    ) -> None:
        page.goto(f"{base}/login/?next={then}")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base}{then}")

    return sign_in
