"""POP3 sync against the real Dovecot: what is fetched, stored and deleted upstream."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from accounts.models import User
from bench.generator import generate_mailbox
from tests.servers.dovecot import DovecotServer
from tests.servers.tls import TLSFiles
from tests.sync.pop3_support import message, pop3_account, run_sync, stored_raws
from webmail.mail.models import Folder, Message, Pop3Uidl
from webmail.protocols.pop3 import Pop3Client
from webmail.sync.pop3 import endpoint_for

pytestmark = pytest.mark.django_db


def test_a_first_fetch_stores_every_message_byte_for_byte(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    raws = list(generate_mailbox(40, seed=11))
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot)

    stats = run_sync(account)

    assert stored_raws(account) == raws
    assert stats.messages_fetched == 40
    assert stats.bytes_fetched == sum(len(r) for r in raws)
    inbox = Folder.objects.get(account=account, role="inbox")
    assert (inbox.total_count, inbox.unread_count) == (40, 40)
    assert set(Message.objects.filter(account=account).values_list("folder", flat=True)) == {
        inbox.pk
    }
    assert not Message.objects.filter(account=account, uid__isnull=False).exists()


def test_stored_messages_carry_their_parsed_fields(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver(dovecot_user, message("Quarterly report"))
    account = pop3_account(alice, dovecot)

    run_sync(account)

    stored = Message.objects.get(account=account)
    assert stored.subject == "Quarterly report"
    assert stored.from_address == "bob@example.org"
    assert stored.message_id == "Quarterly.report@example.org"
    assert stored.date == datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    assert stored.body_state == "full"
    assert not stored.is_seen


def test_a_pop3_account_gets_its_local_folders(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    account = pop3_account(alice, dovecot)
    run_sync(account)
    folders = Folder.objects.filter(account=account)
    assert {f.role for f in folders} == {"inbox", "sent", "drafts", "archive", "trash", "junk"}
    assert all(f.local_only for f in folders)


def test_a_second_fetch_stores_nothing_new(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [message("one"), message("two")])
    account = pop3_account(alice, dovecot)
    run_sync(account)

    stats = run_sync(account)

    assert stats.messages_fetched == 0
    assert Message.objects.filter(account=account).count() == 2
    assert len(dovecot.messages(dovecot_user)) == 2  # policy "keep" is the default


def test_a_message_delivered_later_is_fetched_once(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [message("one"), message("two")])
    account = pop3_account(alice, dovecot)
    run_sync(account)
    dovecot.deliver(dovecot_user, message("three"))

    first = run_sync(account)
    second = run_sync(account)

    assert (first.messages_fetched, second.messages_fetched) == (1, 0)
    assert sorted(Message.objects.filter(account=account).values_list("subject", flat=True)) == [
        "one", "three", "two"]
    assert Folder.objects.get(account=account, role="inbox").total_count == 3


def test_delete_after_download_empties_the_server_and_keeps_everything_here(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    raws = list(generate_mailbox(12, seed=5))
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot, pop3_policy="delete")

    stats = run_sync(account)

    assert dovecot.messages(dovecot_user) == []
    assert stored_raws(account) == raws
    assert stats.messages_deleted_upstream == 12
    assert not Pop3Uidl.objects.filter(account=account, deleted_upstream_at__isnull=True).exists()
    assert run_sync(account).messages_fetched == 0


def test_keep_leaves_every_message_on_the_server_and_fetches_nothing_twice(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    raws = [message(f"kept {n}") for n in range(5)]
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot, pop3_policy="keep")

    run_sync(account)
    run_sync(account)
    run_sync(account)

    assert dovecot.messages(dovecot_user) == raws
    assert stored_raws(account) == raws


def test_delete_after_n_days_removes_only_the_older_messages(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    account = pop3_account(alice, dovecot, pop3_policy="delete_after_days",
                           pop3_delete_after_days=14)
    old = [message(f"old {n}") for n in range(3)]
    recent = [message(f"recent {n}") for n in range(2)]
    dovecot.deliver_many(dovecot_user, old)
    run_sync(account, now=lambda: start)
    assert len(dovecot.messages(dovecot_user)) == 3  # downloaded today: too young

    dovecot.deliver_many(dovecot_user, recent)
    run_sync(account, now=lambda: start + timedelta(days=10))
    assert len(dovecot.messages(dovecot_user)) == 5

    stats = run_sync(account, now=lambda: start + timedelta(days=15))

    assert dovecot.messages(dovecot_user) == recent
    assert stats.messages_deleted_upstream == 3
    assert stored_raws(account) == old + recent


def test_a_message_deleted_by_another_client_is_recorded_as_gone_upstream(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [message("one"), message("two")])
    account = pop3_account(alice, dovecot)
    run_sync(account)
    dovecot.reset_user(dovecot_user)

    run_sync(account)

    assert Pop3Uidl.objects.filter(account=account, deleted_upstream_at__isnull=False).count() == 2
    assert Message.objects.filter(account=account).count() == 2  # our copy stays


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_fetching_over_verified_tls(
    alice: User, dovecot: DovecotServer, dovecot_user: str, tls_ca: TLSFiles, security: str
) -> None:
    dovecot.deliver(dovecot_user, message("secure"))
    port = dovecot.ports.pop3s if security == "tls" else dovecot.ports.pop3
    account = pop3_account(alice, dovecot, incoming_security=security, incoming_port=port)

    with override_settings(WEBMAIL_EXTRA_CA_FILE=tls_ca.ca_file):
        stats = run_sync(account)

    assert stats.messages_fetched == 1


def test_a_pinned_certificate_is_trusted_without_its_ca(
    alice: User, dovecot: DovecotServer, dovecot_user: str, tls_ca: TLSFiles
) -> None:
    dovecot.deliver(dovecot_user, message("pinned"))
    account = pop3_account(alice, dovecot, incoming_security="tls",
                           incoming_port=dovecot.ports.pop3s,
                           trusted_cert_sha256=tls_ca.cert_sha256)

    assert run_sync(account).messages_fetched == 1


@pytest.mark.parametrize(("policy", "expected"), [
    ("delete", ["sync", "dele", "dele"]),
    ("keep", []),
])
def test_the_store_is_put_on_disk_before_any_message_is_deleted_upstream(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch,
    policy: str, expected: list[str],
) -> None:
    events: list[str] = []

    class Recording(Pop3Client):
        def dele(self, number: int) -> None:
            events.append("dele")
            super().dele(number)

    monkeypatch.setattr(os, "sync", lambda: events.append("sync"))
    dovecot.deliver_many(dovecot_user, list(generate_mailbox(2, seed=8)))
    account = pop3_account(alice, dovecot, pop3_policy=policy)

    run_sync(account, client_factory=lambda a: Recording(endpoint_for(a)))

    assert events == expected


def test_a_message_over_the_size_limit_stays_on_the_server_and_the_rest_is_fetched(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    small = [message("one"), message("three")]
    huge = message("two", ("y" * 76 + "\r\n") * 200)
    dovecot.deliver_many(dovecot_user, [small[0], huge, small[1]])
    account = pop3_account(alice, dovecot, pop3_policy="delete")

    def limited(a: object) -> Pop3Client:
        return Pop3Client(endpoint_for(a), max_message=8000)  # type: ignore[arg-type]

    stats = run_sync(account, client_factory=limited)

    assert stored_raws(account) == small
    assert dovecot.messages(dovecot_user) == [huge]  # the rest was deleted as asked
    assert any("1 message(s) larger than 7.8\xa0KB stay on the POP3 server" in note
               for note in stats.notes)
    again = run_sync(account, client_factory=limited)
    assert again.messages_fetched == 0 and again.notes == stats.notes
