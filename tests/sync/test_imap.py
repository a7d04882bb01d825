"""The IMAP sync engine against the real Dovecot fixture: the store equals the server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import MailAccount, User
from tests.protocols.test_imap import make_message
from tests.servers.dovecot import DovecotServer
from webmail.mail import blobs
from webmail.mail.models import (
    BodyState,
    Folder,
    Message,
    OperationKind,
    OperationState,
    UpstreamOperation,
)
from webmail.protocols.imap import ImapClient
from webmail.sync import lease
from webmail.sync.connect import imap_client_for, imap_endpoint_for
from webmail.sync.imap import sync_imap_account
from webmail.sync.imap_store import message_flags
from webmail.sync.stats import SyncStats

pytestmark = pytest.mark.django_db


def imap_account(owner: User, dovecot: DovecotServer, user: str = "alice") -> MailAccount:
    account = MailAccount(owner=owner, email=f"{user}@mail.example.test", protocol="imap",
                          incoming_host=dovecot.host, incoming_port=dovecot.ports.imap,
                          incoming_security="none", incoming_username=user)
    account.set_incoming_password(dovecot.users[user])
    account.save()
    return account


def run_sync(account: MailAccount, client_factory=imap_client_for) -> SyncStats:  # type: ignore[no-untyped-def]
    account.refresh_from_db()
    stats = SyncStats(account_id=account.pk, protocol="imap")
    with lease.account_lease(account.pk) as owner:
        sync_imap_account(account, stats, lease_owner=owner, client_factory=client_factory)
    return stats


def assert_store_equals_server(account: MailAccount, dovecot: DovecotServer,
                               user: str = "alice") -> None:
    """Same folder tree; per folder the same messages byte for byte and the same flags."""
    server_folders = set(dovecot.folders(user))
    local = {f.name: f for f in Folder.objects.filter(account=account)}
    assert set(local) == server_folders
    for name, folder in local.items():
        if not folder.selectable:
            continue
        rows = list(Message.objects.filter(folder=folder).order_by("uid"))
        assert [blobs.get(m.blob_id) for m in rows if m.blob_id] == dovecot.messages(user, name)
        assert all(m.body_state == BodyState.FULL for m in rows)
        assert [message_flags(m) for m in rows] == dovecot.flags(user, name)
        assert folder.total_count == len(rows)
        assert folder.unread_count == sum(1 for m in rows if not m.is_seen)


@pytest.fixture
def account(alice: User, dovecot_user: str, dovecot: DovecotServer) -> MailAccount:
    return imap_account(alice, dovecot)


def other_client(account: MailAccount) -> ImapClient:
    return ImapClient.connect(imap_endpoint_for(account, timeout=10))


def test_a_first_sync_equals_the_server_byte_for_byte(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", [make_message(f"in {n}", b"body %d\r\n" % n) for n in range(7)])
    dovecot.deliver("alice", make_message("read"), flags=["\\Seen", "$Work"])
    dovecot.deliver_many("alice", [make_message("plan ü")], folder="Pläne/Übersicht",
                         flags=["\\Flagged"])
    dovecot.deliver_many("alice", [make_message("sent")], folder="Sent", flags=["\\Seen"])
    dovecot.deliver_many("alice", [make_message("日本")], folder="日本語")
    stats = run_sync(account)
    assert_store_equals_server(account, dovecot)
    assert stats.messages_fetched == 11
    assert stats.bytes_fetched > 0
    roles = dict(Folder.objects.filter(account=account).values_list("name", "role"))
    assert roles["INBOX"] == "inbox" and roles["Sent"] == "sent" and roles["Trash"] == "trash"
    inbox = Folder.objects.get(account=account, name="INBOX")
    assert (inbox.total_count, inbox.unread_count) == (8, 7)
    assert inbox.uidvalidity and inbox.highestmodseq and inbox.last_seen_uid == 8
    message = Message.objects.get(folder=inbox, subject="in 0")
    assert message.from_address == "bob@example.org"
    assert message.snippet.startswith("body 0")


def test_flags_changed_elsewhere_appear_after_the_next_sync(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", [make_message(f"m{n}") for n in range(4)])
    run_sync(account)
    other = other_client(account)
    other.select("INBOX")
    other.set_flags([1, 2], add=["\\Seen"])
    other.set_flags([3], add=["\\Flagged", "$Todo"])
    other.logout()
    stats = run_sync(account)
    assert stats.flags_updated == 3
    assert stats.messages_fetched == 0
    assert_store_equals_server(account, dovecot)
    assert Folder.objects.get(account=account, name="INBOX").unread_count == 2


def test_flags_and_expunges_also_follow_without_qresync(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    def plain_client(acc: MailAccount) -> ImapClient:
        client = imap_client_for(acc)
        client.enabled = frozenset()  # as if the server offered neither extension
        return client

    dovecot.deliver_many("alice", [make_message(f"m{n}") for n in range(4)])
    run_sync(account, plain_client)
    other = other_client(account)
    other.select("INBOX")
    other.set_flags([2], add=["\\Answered"])
    other.set_flags([3], add=["\\Deleted"])
    other.expunge([3])
    other.logout()
    dovecot.deliver("alice", make_message("new"))
    run_sync(account, plain_client)
    assert_store_equals_server(account, dovecot)


def test_messages_expunged_elsewhere_disappear(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", [make_message(f"m{n}") for n in range(5)])
    run_sync(account)
    other = other_client(account)
    other.select("INBOX")
    other.move([2, 4], "Trash")
    other.logout()
    stats = run_sync(account)
    assert stats.messages_deleted_locally == 2
    assert_store_equals_server(account, dovecot)


def test_new_mail_is_fetched_and_a_no_change_resync_fetches_nothing(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", [make_message(f"m{n}") for n in range(3)])
    run_sync(account)
    dovecot.deliver("alice", make_message("late"))
    assert run_sync(account).messages_fetched == 1
    quiet = run_sync(account)
    assert (quiet.messages_fetched, quiet.bytes_fetched, quiet.flags_updated) == (0, 0, 0)
    assert quiet.messages_deleted_locally == 0
    assert_store_equals_server(account, dovecot)


def test_a_folder_deleted_and_recreated_is_rebuilt(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", [make_message("old 1"), make_message("old 2")], folder="Work")
    run_sync(account)
    before = Folder.objects.get(account=account, name="Work")
    other = other_client(account)
    other.delete_folder("Work")
    other.logout()
    dovecot.deliver_many("alice", [make_message("new 1")], folder="Work")
    stats = run_sync(account)
    after = Folder.objects.get(account=account, name="Work")
    assert after.pk == before.pk
    assert after.uidvalidity != before.uidvalidity
    assert any("UIDVALIDITY" in note for note in stats.notes)
    assert [m.subject for m in Message.objects.filter(folder=after)] == ["new 1"]
    assert_store_equals_server(account, dovecot)


def test_folders_created_renamed_and_deleted_upstream_follow(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver("alice", make_message("a"), folder="Alt")
    dovecot.deliver("alice", make_message("b"), folder="Gone")
    run_sync(account)
    other = other_client(account)
    other.rename_folder("Alt", "Neu")
    other.delete_folder("Gone")
    other.create_folder(other.encode_name("Frisch/Ärger"))
    other.logout()
    run_sync(account)
    names = set(Folder.objects.filter(account=account).values_list("name", flat=True))
    assert {"Neu", "Frisch", "Frisch/Ärger"} <= names
    assert not {"Alt", "Gone"} & names
    assert_store_equals_server(account, dovecot)


def test_a_no_change_resync_is_one_list_and_writes_no_message_or_folder_row(
    account: MailAccount, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dovecot.deliver_many("alice", [make_message(f"m{n}") for n in range(3)])
    dovecot.deliver("alice", make_message("t"), folder="Trash")
    run_sync(account)
    commands: list[str] = []
    original = ImapClient.select

    def select(self: ImapClient, remote_name: str, **kwargs: object) -> object:
        commands.append(remote_name)
        return original(self, remote_name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ImapClient, "select", select)
    with CaptureQueriesContext(connection) as queries:
        quiet = run_sync(account)
    assert commands == []  # LIST-STATUS said every folder is as we left it
    assert "quota" not in quiet.seconds  # asked a moment ago, and nothing changed
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]
    assert not [w for w in writes if "mail_message" in w or "mail_folder" in w]

    dovecot.deliver("alice", make_message("new"), folder="Trash")
    changed = run_sync(account)
    assert commands == ["Trash"] and changed.messages_fetched == 1
    assert "quota" in changed.seconds
    assert_store_equals_server(account, dovecot)


def test_the_quota_is_stored_on_the_account(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver("alice", make_message("q", b"x" * 40_000))
    run_sync(account)
    account.refresh_from_db()
    quota = account.sync_progress["quota"]
    assert quota["limit"] == 100 * 1024 * 1024
    assert quota["used"] >= 40_000



def later_operation(account: MailAccount, folder: Folder) -> UpstreamOperation:
    """A queued operation on `folder` whose retry is not due (the replay leaves it)."""
    return UpstreamOperation.objects.create(
        account=account, kind=OperationKind.CREATE_FOLDER,
        arguments={"folder_id": folder.pk, "folder_name": folder.name,
                   "folder": folder.remote_name},
        attempts=1, next_attempt_at=timezone.now() + timedelta(hours=1))


def test_a_folder_gone_upstream_stays_while_an_operation_on_it_is_pending(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver("alice", make_message("kept"), folder="Pending")
    run_sync(account)
    folder = Folder.objects.get(account=account, name="Pending")
    operation = later_operation(account, folder)
    other = other_client(account)
    other.delete_folder("Pending")
    other.logout()
    run_sync(account)
    assert Folder.objects.filter(pk=folder.pk).exists()
    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING


def test_a_rebuild_keeps_pending_operations_and_reports_progress(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", [make_message("old")], folder="Work")
    run_sync(account)
    folder = Folder.objects.get(account=account, name="Work")
    operation = later_operation(account, folder)
    other = other_client(account)
    other.delete_folder("Work")
    other.logout()
    dovecot.deliver_many("alice", [make_message("new 1"), make_message("new 2")], folder="Work")
    run_sync(account)
    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING
    folder.refresh_from_db()
    assert [m.subject for m in Message.objects.filter(folder=folder).order_by("uid")] == [
        "new 1", "new 2"]
    assert folder.sync_progress["phase"] == "bodies"
    assert folder.sync_progress["done"] == folder.sync_progress["total"] == 2
    assert folder.sync_progress["rate"] > 0


def test_a_sync_keeps_local_flags_that_a_pending_operation_still_has_to_send(
    account: MailAccount, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many("alice", [make_message("a"), make_message("b")])
    run_sync(account)
    inbox = Folder.objects.get(account=account, name="INBOX")
    mine = Message.objects.get(folder=inbox, subject="a")
    Message.objects.filter(pk=mine.pk).update(is_flagged=True)  # the person's action
    UpstreamOperation.objects.create(
        account=account, kind=OperationKind.SET_FLAGS,
        arguments={**{"folder_id": inbox.pk, "folder": "INBOX"}, "add": ["\\Flagged"],
                   "messages": [{"id": mine.pk, "uid": mine.uid, "mid": mine.message_id}]},
        attempts=1, next_attempt_at=timezone.now() + timedelta(hours=1))
    other = other_client(account)
    other.select("INBOX")
    other.set_flags([1, 2], add=["\\Seen"])  # another client changes both
    other.logout()
    run_sync(account)
    mine.refresh_from_db()
    assert mine.is_flagged and not mine.is_seen  # untouched until the replay sends it
    assert Message.objects.get(folder=inbox, subject="b").is_seen
