"""Helpers for the POP3 sync tests: accounts on the Dovecot fixture, one sync under
the account's lease, and what the store holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from accounts.models import MailAccount, User
from tests.servers.dovecot import DovecotServer
from webmail.mail import blobs
from webmail.mail.models import Message
from webmail.sync import lease
from webmail.sync.pop3 import ClientFactory, pop3_client_for, sync_pop3_account
from webmail.sync.stats import SyncStats


def pop3_account(owner: User, dovecot: DovecotServer, user: str = "alice", *,
                 password: str | None = None, **fields: object) -> MailAccount:
    values: dict[str, object] = {
        "email": f"{user}@mail.example.test",
        "protocol": "pop3",
        "incoming_host": dovecot.host,
        "incoming_port": dovecot.ports.pop3,
        "incoming_security": "none",
        "incoming_username": user,
        **fields,
    }
    account = MailAccount(owner=owner, **values)
    account.set_incoming_password(dovecot.users[user] if password is None else password)
    account.save()
    return account


def run_sync(account: MailAccount, *, now: Callable[[], datetime] = timezone.now,
             client_factory: ClientFactory = pop3_client_for) -> SyncStats:
    """One sync as the engine runs it: holding the account's lease."""
    account.refresh_from_db()
    stats = SyncStats(account_id=account.pk, protocol="pop3")
    with lease.account_lease(account.pk) as owner:
        sync_pop3_account(account, stats, lease_owner=owner, now=now,
                          client_factory=client_factory)
    return stats


def stored_raws(account: MailAccount) -> list[bytes]:
    """The raw bytes of every message the store holds for the account, oldest first."""
    return [
        blobs.get(sha)
        for sha in Message.objects.filter(account=account).order_by("id")
        .values_list("blob_id", flat=True)
    ]


def message(subject: str, body: str = "Hello.") -> bytes:
    return (
        f"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
        f"Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
        f"Subject: {subject}\r\n\r\n{body}\r\n"
    ).encode()
