"""Shared fixtures: people (alice, bob), a real Celery worker on the real Redis.

Mail servers (Dovecot, SMTP) and the test CA come from tests.servers.fixtures.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
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
