"""Shared fixtures: people (alice, bob), a real Celery worker on the real Redis.

Mail servers (Dovecot, SMTP) and the test CA come from tests.servers.fixtures.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.signals import request_finished, request_started
from django.test import Client
from django.utils import translation

from accounts.models import MailAccount, User
from accounts.setup import forget_setup_state

pytest_plugins = ["tests.servers.fixtures"]

# One Playwright and one chromium for the whole run: Playwright's sync API cannot be
# started twice in one process while the first is alive.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (requirements-dev.txt)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


DEFAULT_PASSWORD = "correct horse battery"  # noqa: S105


def make_user(username: str, *, password: str = DEFAULT_PASSWORD, **extra: object) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.test", password=password, **extra
    )


def make_account(owner: User, *, email: str | None = None, password: str = "secret",  # noqa: S107
                 **fields: object) -> MailAccount:
    values: dict[str, object] = {
        "email": email or f"{owner.username}@mail.example.test",
        "incoming_host": "127.0.0.1",
        "incoming_port": 10143,
        "incoming_security": "none",
        "incoming_username": owner.username,
        **fields,
    }
    account = MailAccount(owner=owner, **values)
    account.set_incoming_password(password)
    account.save()
    return account


@pytest.fixture(autouse=True)
def _fresh_setup_state() -> Iterator[None]:
    forget_setup_state()
    yield
    forget_setup_state()


@pytest.fixture(autouse=True)
def _default_language_after() -> Iterator[None]:
    """A request in French leaves French active in this thread (LocaleMiddleware does not
    switch back); code a later test calls directly would then speak French."""
    yield
    translation.deactivate()


class _RequestsInFlight:
    """Counts the live server's requests between Django's request_started and
    request_finished signals (sent in the server's threads)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def started(self, **_: object) -> None:
        with self._lock:
            self.count += 1

    def finished(self, **_: object) -> None:
        with self._lock:
            self.count -= 1

    def wait_until_idle(self, *, timeout: float = 10.0, quiet: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while time.monotonic() < deadline:
            if self.count > 0:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= quiet:
                return
            time.sleep(0.02)


@pytest.fixture(autouse=True)
def _live_server_requests_settle(request: pytest.FixtureRequest) -> Iterator[None]:
    """A browser test can end while its page still has a request in the live server
    (an autosave, a poll). The database flush after the test then races that request
    and fails (CI: "Database test_webmail couldn't be flushed", and the next test found
    the last one's rows). Asking for transactional_db here puts the flush after this
    teardown, and the browser's fixtures (closed first) after its setup."""
    if "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    in_flight = _RequestsInFlight()
    request_started.connect(in_flight.started, weak=False)
    request_finished.connect(in_flight.finished, weak=False)
    try:
        yield
        in_flight.wait_until_idle()
    finally:
        request_started.disconnect(in_flight.started)
        request_finished.disconnect(in_flight.finished)


@pytest.fixture
def alice(db: None) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob")


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture(scope="session")
def celery_session_worker() -> Iterator[object]:
    """A real Celery worker (a thread in this process) consuming the real Redis broker.

    Tests that use it need `transactional_db`, since the worker's thread reads what
    the test wrote.
    """
    from webmail.celery import app

    app.loader.import_module("celery.contrib.testing.tasks")
    with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture
def celery_worker(celery_session_worker: object, transactional_db: None) -> object:
    return celery_session_worker


# --- No secrets in the logs ---------------------------------------------------------------
# Every log record of the whole run (web, worker thread, sync engines) is kept and scanned
# at the end for the test passwords and a message-body marker.
LOG_SECRETS = ["alice-pw", "bob-pw", "charlie-pw", DEFAULT_PASSWORD, "hunter2",
               "alice-only-subject-7Q body"]


class _KeepRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{record.name}: {record.getMessage()} {record.__dict__!r}")
        except Exception:  # noqa: BLE001 - a broken record must not break the run
            self.lines.append(f"{record.name}: <unformattable>")


_kept = _KeepRecords()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_kept)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = [line for line in _kept.lines if any(secret in line for secret in LOG_SECRETS)]
    if leaks:
        print("\nSecrets or message bodies found in the logs:", *leaks[:5], sep="\n  ")
        session.exitstatus = 1
