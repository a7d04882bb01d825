"""Playwright driving Debian's chromium (never `playwright install`) against live_server.

Tests here skip with one line when /usr/bin/chromium or the playwright package is
missing. Django ORM calls from a Playwright test run inside its event loop's thread,
which Django refuses unless DJANGO_ALLOW_ASYNC_UNSAFE is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (the browser fixture is there)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.js_errors = errors
    try:
        yield page
    finally:
        context.close()


def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{base_url}/")
