"""Compose fixtures: an account that sends through the real SMTP test server and keeps
its mail on the real Dovecot, and helpers to wait for what a worker does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import MailAccount, User
from tests.conftest import make_account
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from tests.servers.tls import TLSFiles
from webmail.compose.models import Outbox
from webmail.mail.models import Folder, FolderRole


@pytest.fixture
def compose_settings(settings: Any, tls_ca: TLSFiles) -> Any:
    settings.WEBMAIL_EXTRA_CA_FILE = tls_ca.ca_file
    settings.WEBMAIL_UNDO_SECONDS = 0
    settings.WEBMAIL_SEND_RETRY_BASE_SECONDS = 0.3
    settings.WEBMAIL_SEND_RETRY_MAX_SECONDS = 1
    settings.WEBMAIL_SMTP_TIMEOUT = 10
    settings.WEBMAIL_DRAFT_PUSH_DELAY_SECONDS = 0
    return settings


def sending_account(owner: User, smtp: SMTPServer, *, security: str = "starttls",
                    imap_port: int = 10143, **fields: Any) -> MailAccount:
    port = {"starttls": smtp.starttls_port, "tls": smtp.tls_port, "none": smtp.plain_port}
    return make_account(
        owner, email=f"{owner.username}@example.org", password="alice-pw",
        smtp_host="127.0.0.1", smtp_port=port[security], smtp_security=security,
        incoming_port=imap_port, incoming_username="alice", **fields,
    )


@pytest.fixture
def account(alice: User, smtp: SMTPServer, compose_settings: Any) -> MailAccount:
    return sending_account(alice, smtp)


@pytest.fixture
def imap_account(alice: User, smtp: SMTPServer, compose_settings: Any,
                 dovecot_user: str, running_dovecot: DovecotServer) -> MailAccount:
    account = sending_account(alice, smtp, imap_port=running_dovecot.ports.imap)
    for role, name in ((FolderRole.INBOX, "INBOX"), (FolderRole.SENT, "Sent"),
                       (FolderRole.DRAFTS, "Drafts")):
        Folder.objects.create(account=account, name=name, remote_name=name, role=role)
    return account


def wait_for(condition: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def wait_for_state(outbox_id: int, *states: str, timeout: float = 15) -> Outbox:
    def done() -> Outbox | None:
        row = Outbox.objects.get(pk=outbox_id)
        return row if row.state in states else None

    return wait_for(done, timeout, f"outbox {outbox_id} to be {states}")  # type: ignore[no-any-return]


class _ActiveTasks:
    """Tasks running in the worker thread (same process): counted by Celery signals."""

    def __init__(self) -> None:
        self.count = 0
        self.last_change = time.monotonic()

    def started(self, **_: Any) -> None:
        self.count += 1
        self.last_change = time.monotonic()

    def finished(self, **_: Any) -> None:
        self.count -= 1
        self.last_change = time.monotonic()


_active = _ActiveTasks()


@pytest.fixture(autouse=True)
def _worker_idle_at_teardown(request: pytest.FixtureRequest) -> Any:
    """A task still running when the test's database is flushed would hit a locked or
    vanished table: wait until the worker has been idle for a moment."""
    if "celery_worker" not in request.fixturenames:
        yield
        return
    # Set up after the worker and the database fixtures, so torn down before them.
    request.getfixturevalue("celery_worker")
    for name in ("live_server", "dovecot_user"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_active.started, weak=False)
    task_postrun.connect(_active.finished, weak=False)
    yield
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _active.count <= 0 and time.monotonic() - _active.last_change > 1.0:
            break
        time.sleep(0.05)
