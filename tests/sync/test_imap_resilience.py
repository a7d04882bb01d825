"""A sync killed, cut or left without its server ends, run again, exactly like the server."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import MailAccount, User
from tests.protocols.test_imap import make_message
from tests.servers.dovecot import DovecotServer
from tests.sync.test_imap import assert_store_equals_server, imap_account, run_sync
from webmail.mail.models import BodyState, Message
from webmail.protocols.errors import ProtocolError
from webmail.protocols.imap import ImapClient
from webmail.sync.connect import imap_client_for

ROOT = Path(__file__).resolve().parents[2]


def many_messages(count: int, size: int = 20_000) -> Iterator[bytes]:
    for n in range(count):
        yield make_message(f"message {n}", (b"%06d " % n) * (size // 7) + b"\r\n")


def database_url() -> str:
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    return (f"postgres://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:"
            f"{settings['PORT']}/{settings['NAME']}")


def sync_command(account: MailAccount) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url()}
    return subprocess.Popen(
        [sys.executable, "manage.py", "sync_account", str(account.pk), "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _parent(entry: Path) -> int:
    return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])


def leftover_workers(data_dir: str, killed: int) -> list[tuple[int, int, bytes]]:
    """Pool processes the killed sync left alive (its children, or orphans now)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"multiprocessing" in cmdline and f"WEBMAIL_DATA_DIR={data_dir}".encode() in environ:
            parent = _parent(entry)
            if parent in (killed, 1):
                found.append((int(entry.name), parent, cmdline[:120]))
    return found


def expire_lease(account: MailAccount) -> None:
    """What the lease's expiry does for a worker that died holding it."""
    MailAccount.objects.filter(pk=account.pk).update(
        sync_lease_until=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_mid_bodies_and_run_again_equals_the_server(
    alice: User, dovecot_user: str, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", many_messages(1500))
    dovecot.deliver_many("alice", many_messages(20), folder="Archive", flags=["\\Seen"])
    account = imap_account(alice, dovecot)
    process = sync_command(account)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and process.poll() is None:
        stored = Message.objects.filter(account=account, body_state=BodyState.FULL).count()
        if stored >= 200:
            break
        time.sleep(0.02)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGKILL)
    process.wait()
    total = Message.objects.filter(account=account).count()
    full = Message.objects.filter(account=account, body_state=BodyState.FULL).count()
    assert 200 <= full < total  # killed in the middle of the bodies
    deadline = time.monotonic() + 5
    data_dir = os.environ["WEBMAIL_DATA_DIR"]
    while leftover_workers(data_dir, process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftover_workers(data_dir, process.pid) == []  # the pool died with it

    expire_lease(account)
    again = sync_command(account)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    stats = json.loads(out)
    assert stats["messages_fetched"] == total - full
    assert_store_equals_server(account, dovecot)
    assert Message.objects.filter(account=account).count() == 1520


@pytest.mark.django_db
def test_a_connection_cut_in_the_middle_of_a_fetch_is_retried(
    alice: User, dovecot_user: str, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", many_messages(300))
    cuts: list[int] = []

    def cutting_client(account: MailAccount) -> ImapClient:
        client = imap_client_for(account)
        fetch = client.fetch_messages

        def fetch_then_cut(*args: object, **kwargs: object) -> Iterator[tuple[int, bytes]]:
            for count, item in enumerate(fetch(*args, **kwargs)):  # type: ignore[arg-type]
                if count == 3 and not cuts:
                    cuts.append(item[0])
                    client._c.socket().shutdown(socket.SHUT_RDWR)
                yield item

        client.fetch_messages = fetch_then_cut  # type: ignore[method-assign]
        return client

    account = imap_account(alice, dovecot)
    stats = run_sync(account, cutting_client)
    assert cuts
    assert any("Retrying on a new connection" in note for note in stats.notes)
    assert stats.messages_fetched == 300
    assert_store_equals_server(account, dovecot)


@pytest.mark.django_db
def test_a_server_stopped_mid_sync_is_a_temporary_error_and_the_next_sync_completes(
    alice: User, dovecot_user: str, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", many_messages(300))

    def stopping_client(account: MailAccount) -> ImapClient:
        client = imap_client_for(account)
        fetch = client.fetch_messages

        def fetch_then_stop(*args: object, **kwargs: object) -> Iterator[tuple[int, bytes]]:
            for count, item in enumerate(fetch(*args, **kwargs)):  # type: ignore[arg-type]
                if count == 3 and dovecot.running:
                    # Stopping Dovecot leaves running sessions alone: end ours first.
                    dovecot.doveadm("kick", "alice")
                    dovecot.stop()
                yield item

        client.fetch_messages = fetch_then_stop  # type: ignore[method-assign]
        return client

    account = imap_account(alice, dovecot)
    try:
        with pytest.raises(ProtocolError) as info:
            run_sync(account, stopping_client)
        assert info.value.temporary
    finally:
        dovecot.start()
    assert Message.objects.filter(account=account).count() == 300  # the list is there
    run_sync(account)
    assert_store_equals_server(account, dovecot)


@pytest.mark.django_db
def test_sync_account_json_reports_messages_bytes_phases_and_errors(
    alice: User, dovecot_user: str, dovecot: DovecotServer
) -> None:
    raws = [make_message(f"m{n}") for n in range(3)]
    dovecot.deliver_many("alice", raws)
    account = imap_account(alice, dovecot)
    out = io.StringIO()
    before = time.time()
    call_command("sync_account", str(account.pk), "--json", stdout=out)
    stats = json.loads(out.getvalue())
    assert before <= stats["started_at"] <= before + stats["seconds"]["total"]
    assert stats["messages_fetched"] == 3
    assert stats["bytes_fetched"] >= sum(len(r) for r in raws)
    assert {"connect", "folders", "headers", "bodies", "quota", "total"} <= set(stats["seconds"])
    assert stats["errors"] == []
    account.refresh_from_db()
    assert account.sync_status == "ok"
    assert "quota" in account.sync_progress
