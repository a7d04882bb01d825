"""Fault suite fixtures: a private Redis the tests may restart, real worker and IDLE
supervisor processes on the test database, accounts on the real Dovecot and SMTP
servers, and a probe that keeps asking the live app for /healthz and a page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from accounts.models import MailAccount
from tests.conftest import make_account, make_user
from tests.faults.checks import Beat
from tests.faults.network import AppProbe
from tests.faults.processes import Child, ProcessEnv, RedisServer, celery_worker, idle_supervisor
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from tests.servers.tls import TLSFiles

# Every fault test runs real processes against real servers: a hang must fail the test.
FAULT_TIMEOUT = 150


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.timeout(FAULT_TIMEOUT))


@pytest.fixture(scope="session")
def fault_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def broker(fault_redis: RedisServer, settings: Any) -> Iterator[RedisServer]:
    """This process's Celery app (what .delay() in actions and the outbox uses) and the
    health check, pointed at the private Redis for the test."""
    from webmail.celery import app

    if not _up(fault_redis):  # an earlier test may have failed while it was down
        fault_redis.start()
    old = app.conf.broker_url
    _drop_connections(app)
    app.conf.update(broker_url=fault_redis.url)
    settings.CELERY_BROKER_URL = fault_redis.url
    try:
        yield fault_redis
    finally:
        _drop_connections(app)
        app.conf.update(broker_url=old)


def _drop_connections(app: Any) -> None:
    """Forget the app's pooled broker connections, so the next .delay() connects to
    the broker_url in force (what Celery itself does in a forked child)."""
    app._after_fork()


def _up(server: RedisServer) -> bool:
    return server._proc is not None and server._proc.poll() is None


@pytest.fixture
def process_env(broker: RedisServer, transactional_db: None, tls_ca: TLSFiles,
                tmp_path: Path) -> ProcessEnv:
    return ProcessEnv(
        db_name=str(connection.settings_dict["NAME"]),
        keyprefix=str(django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]),
        redis_url=broker.url,
        data_dir=str(django_settings.DATA_DIR),
        ca_file=tls_ca.ca_file,
        logs=tmp_path,
    )


@pytest.fixture
def spawn(process_env: ProcessEnv) -> Iterator[Callable[..., Child]]:
    """spawn("worker", "w1") or spawn("idle", "s1"): started and ready; all killed at
    the end, before the test database is flushed."""
    children: list[Child] = []
    makers = {"worker": celery_worker, "idle": idle_supervisor}

    def start(kind: str, name: str, *, wait: bool = True) -> Child:
        child = makers[kind](process_env, name)
        children.append(child)
        return child.start(wait=wait)

    yield start
    for child in children:  # nothing to wait for: the database is flushed next
        child.kill()


@pytest.fixture
def beat() -> Iterator[Callable[[list[int]], Beat]]:
    started: list[Beat] = []

    def start(account_ids: list[int]) -> Beat:
        ticker = Beat(account_ids)
        ticker.start()
        started.append(ticker)
        return ticker

    yield start
    for ticker in started:
        ticker.stop()


def mail_account(user: str, dovecot: DovecotServer, smtp: SMTPServer,
                 *, imap_port: int | None = None) -> MailAccount:
    """`user` on Dovecot (IMAP, plain on loopback) and on the SMTP server (STARTTLS)."""
    owner = make_user(user)
    return make_account(
        owner, email=f"{user}@example.org", password=dovecot.users[user],
        incoming_username=user, incoming_port=imap_port or dovecot.ports.imap,
        smtp_host="127.0.0.1", smtp_port=smtp.starttls_port, smtp_security="starttls")


@pytest.fixture
def mailboxes(running_dovecot: DovecotServer) -> Iterator[DovecotServer]:
    """Dovecot with alice, bob and charlie's mailboxes empty before and after."""
    for user in ("alice", "bob", "charlie"):
        running_dovecot.reset_user(user)
    yield running_dovecot
    running_dovecot.start()
    for user in ("alice", "bob", "charlie"):
        running_dovecot.reset_user(user)


@pytest.fixture
def probe(live_server: Any) -> Iterator[Callable[[MailAccount], AppProbe]]:
    """probe(account): /healthz and the account owner's mail page, asked every 0.25 s."""
    probes: list[AppProbe] = []

    def start(account: MailAccount) -> AppProbe:
        client = Client()
        client.force_login(account.owner)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        running = AppProbe(live_server.url, ["/healthz", "/"], cookie=cookie).start()
        probes.append(running)
        return running

    yield start
    for running in probes:
        running.stop()
