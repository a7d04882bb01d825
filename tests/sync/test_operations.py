"""Local actions reach the real Dovecot through the UpstreamOperation replay, once each.

The local copy is built from the server by `mirror()` below (a minimal header sync),
so these tests depend only on the IMAP client, the actions and the replay.
"""

from __future__ import annotations

import email
import imaplib
from collections.abc import Callable, Iterator

import pytest

from accounts.models import MailAccount
from tests.conftest import make_account, make_user
from tests.servers.dovecot import DovecotServer
from webmail.mail import actions
from webmail.mail.models import Folder, Message, OperationState, UpstreamOperation
from webmail.protocols.imap import ImapClient
from webmail.protocols.tls import ServerEndpoint
from webmail.sync.operations import replay_operations

pytestmark = pytest.mark.django_db


def raw_message(n: int, subject: str = "") -> bytes:
    return (
        f"From: Sender {n} <sender{n}@example.test>\r\n"
        f"To: alice@example.test\r\n"
        f"Subject: {subject or f'Message {n}'}\r\n"
        f"Message-ID: <msg{n}@example.test>\r\n"
        f"Date: Mon, 2 Nov 2026 10:{n % 60:02d}:00 +0000\r\n"
        f"\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


def client_factory_for(dovecot: DovecotServer) -> Callable[[MailAccount], ImapClient]:
    def factory(account: MailAccount) -> ImapClient:
        return ImapClient.connect(ServerEndpoint(
            host=dovecot.host, port=dovecot.ports.imap, security="none",
            username=account.incoming_username, password=account.incoming_password(),
            timeout=5,
        ))
    return factory


def mirror(account: MailAccount, dovecot: DovecotServer) -> None:
    """Copy the server's folders and message headers into the store (test setup only)."""
    client = client_factory_for(dovecot)(account)
    try:
        for remote in client.list_folders():
            folder, _ = Folder.objects.update_or_create(
                account=account, name=remote.name,
                defaults={"remote_name": remote.remote_name, "delimiter": remote.delimiter,
                          "role": remote.role, "selectable": remote.selectable})
            if not remote.selectable:
                continue
            info = client.select(remote.remote_name, readonly=True)
            folder.uidvalidity = info.uidvalidity
            folder.save()
            uids = client.search_uids()
            for record in client.fetch_headers(uids):
                headers = email.message_from_bytes(record.header_bytes)
                Message.objects.update_or_create(
                    folder=folder, uidvalidity=info.uidvalidity, uid=record.uid,
                    defaults={"account": account, "subject": headers["Subject"] or "",
                              "message_id": (headers["Message-ID"] or "").strip(),
                              "is_seen": "\\Seen" in record.flags,
                              "is_flagged": "\\Flagged" in record.flags})
            actions._refresh_counts({folder.pk})
    finally:
        client.logout()


@pytest.fixture
def account(dovecot_user: str, running_dovecot: DovecotServer) -> MailAccount:
    owner = make_user("alice")
    account = make_account(owner, password=running_dovecot.users["alice"])
    account.incoming_port = running_dovecot.ports.imap
    account.save()
    return account


@pytest.fixture
def replay(running_dovecot: DovecotServer) -> Iterator[Callable[..., object]]:
    factory = client_factory_for(running_dovecot)

    def run(account: MailAccount, *, force: bool = True) -> object:
        return replay_operations(account.pk, client_factory=factory, force=force)
    yield run


def folder(account: MailAccount, name: str) -> Folder:
    return Folder.objects.get(account=account, name=name)


def inbox_messages(account: MailAccount) -> list[Message]:
    return list(Message.objects.filter(folder__account=account, folder__name="INBOX")
                .order_by("uid"))


def subjects_on_server(dovecot: DovecotServer, name: str) -> list[str]:
    return [email.message_from_bytes(raw)["Subject"] for raw in dovecot.messages("alice", name)]


def ops(account: MailAccount) -> list[UpstreamOperation]:
    return list(UpstreamOperation.objects.filter(account=account).order_by("id"))


# -- flags -----------------------------------------------------------------------------
def test_marking_read_changes_the_store_at_once_and_the_server_after_replay(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    mirror(account, running_dovecot)
    first, second = inbox_messages(account)

    assert actions.mark_read(messages=[first]) == 1

    first.refresh_from_db()
    assert first.is_seen
    assert folder(account, "INBOX").unread_count == 1
    assert [o.state for o in ops(account)] == ["pending"]
    assert running_dovecot.flags("alice") == [set(), set()]

    replay(account)

    assert running_dovecot.flags("alice") == [{"\\Seen"}, set()]
    assert [o.state for o in ops(account)] == ["done"]


def test_flag_unflag_and_unread_reach_the_server_in_order(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver("alice", raw_message(1), flags=["\\Seen"])
    mirror(account, running_dovecot)
    (message,) = inbox_messages(account)

    actions.flag(messages=[message])
    actions.mark_unread(messages=[message])
    actions.unflag(messages=[message])
    actions.flag(messages=[message])
    replay(account)

    assert running_dovecot.flags("alice") == [{"\\Flagged"}]
    assert [o.state for o in ops(account)] == ["done"] * 4


def test_an_action_that_changes_nothing_queues_nothing(
        account: MailAccount, running_dovecot: DovecotServer) -> None:
    running_dovecot.deliver("alice", raw_message(1), flags=["\\Seen"])
    mirror(account, running_dovecot)

    assert actions.mark_read(messages=inbox_messages(account)) == 0
    assert ops(account) == []


# -- moving and deleting ---------------------------------------------------------------------
def test_a_moved_message_is_moved_upstream_and_gets_its_new_uid(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    mirror(account, running_dovecot)
    first, _ = inbox_messages(account)
    archive = folder(account, "Archive")

    actions.move_messages(messages=[first], to_folder=archive)

    first.refresh_from_db()
    assert first.folder_id == archive.pk and first.uid is None
    assert (folder(account, "INBOX").total_count, folder(account, "Archive").total_count) == (1, 1)

    replay(account)

    assert subjects_on_server(running_dovecot, "INBOX") == ["Message 2"]
    assert subjects_on_server(running_dovecot, "Archive") == ["Message 1"]
    first.refresh_from_db()
    assert first.uid == 1 and first.uidvalidity == archive.uidvalidity


def test_delete_goes_to_trash_and_delete_from_trash_expunges(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    mirror(account, running_dovecot)
    first, second = inbox_messages(account)

    actions.delete_messages(messages=[first])
    replay(account)
    assert subjects_on_server(running_dovecot, "Trash") == ["Message 1"]
    assert subjects_on_server(running_dovecot, "INBOX") == ["Message 2"]

    first.refresh_from_db()
    actions.delete_messages(messages=[first])
    assert not Message.objects.filter(pk=first.pk).exists()
    replay(account)

    assert subjects_on_server(running_dovecot, "Trash") == []
    assert subjects_on_server(running_dovecot, "INBOX") == ["Message 2"]
    assert [o.kind for o in ops(account)] == ["delete", "expunge"]
    assert {o.state for o in ops(account)} == {"done"}


def test_emptying_junk_expunges_every_message_there(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver_many("alice", [raw_message(n) for n in range(5)], folder="Junk")
    mirror(account, running_dovecot)

    assert actions.empty_folder(folder=folder(account, "Junk")) == 5
    assert folder(account, "Junk").total_count == 0
    replay(account)

    assert running_dovecot.messages("alice", "Junk") == []


def test_a_copy_lands_upstream_and_the_original_stays(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver("alice", raw_message(1))
    mirror(account, running_dovecot)

    (copy,) = actions.copy_messages(messages=inbox_messages(account),
                                    to_folder=folder(account, "Archive"))
    replay(account)

    assert subjects_on_server(running_dovecot, "INBOX") == ["Message 1"]
    assert subjects_on_server(running_dovecot, "Archive") == ["Message 1"]
    copy.refresh_from_db()
    assert copy.uid == 1


def test_move_then_flag_then_move_again_follows_the_message(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver("alice", raw_message(1))
    mirror(account, running_dovecot)
    (message,) = inbox_messages(account)

    actions.move_messages(messages=[message], to_folder=folder(account, "Archive"))
    actions.flag(messages=[message])
    message.refresh_from_db()
    actions.move_messages(messages=[message], to_folder=folder(account, "Sent"))
    replay(account)

    assert running_dovecot.messages("alice", "INBOX") == []
    assert running_dovecot.messages("alice", "Archive") == []
    assert subjects_on_server(running_dovecot, "Sent") == ["Message 1"]
    assert running_dovecot.flags("alice", "Sent") == [{"\\Flagged"}]
    assert {o.state for o in ops(account)} == {"done"}


# -- folders ---------------------------------------------------------------------------------
def test_folder_create_rename_and_delete_reach_the_server(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    mirror(account, running_dovecot)

    projects = actions.create_folder(account=account, name="Projekte")
    child = actions.create_folder(account=account, name="Ünïcødé", parent=projects)
    replay(account)
    assert {"Projekte", "Projekte/Ünïcødé"} <= set(running_dovecot.folders("alice"))

    actions.rename_folder(folder=projects, new_name="Büro")
    child.refresh_from_db()
    assert child.name == "Büro/Ünïcødé"
    replay(account)
    server = set(running_dovecot.folders("alice"))
    assert {"Büro", "Büro/Ünïcødé"} <= server and "Projekte" not in server

    child.refresh_from_db()
    actions.delete_folder(folder=child)
    replay(account)
    assert "Büro/Ünïcødé" not in running_dovecot.folders("alice")
    assert {o.state for o in ops(account)} == {"done"}


def test_special_folders_and_the_inbox_are_protected(account: MailAccount,
                                                      running_dovecot: DovecotServer) -> None:
    mirror(account, running_dovecot)

    with pytest.raises(actions.ActionError):
        actions.delete_folder(folder=folder(account, "Trash"))
    with pytest.raises(actions.ActionError):
        actions.rename_folder(folder=folder(account, "INBOX"), new_name="Other")
    with pytest.raises(actions.ActionError):
        actions.create_folder(account=account, name="a/b")
    assert ops(account) == []


# -- append ----------------------------------------------------------------------------------
def test_an_appended_draft_is_stored_at_once_and_uploaded_byte_for_byte_once(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    mirror(account, running_dovecot)
    raw = raw_message(7, "Draft of a reply")

    draft = actions.append_message(folder=folder(account, "Drafts"), raw=raw, draft=True)
    assert draft.subject == "Draft of a reply" and draft.uid is None
    replay(account)
    # A worker that died after the APPEND but before marking it done: replay again.
    UpstreamOperation.objects.filter(account=account).update(state=OperationState.PENDING)
    replay(account)

    assert running_dovecot.messages("alice", "Drafts") == [raw]
    assert running_dovecot.flags("alice", "Drafts") == [{"\\Seen", "\\Draft"}]
    draft.refresh_from_db()
    assert draft.uid == 1


# -- exactly once, offline, conflicts ------------------------------------------------------------
def test_a_move_replayed_twice_after_a_crash_moves_once(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver("alice", raw_message(1))
    mirror(account, running_dovecot)
    (message,) = inbox_messages(account)
    actions.move_messages(messages=[message], to_folder=folder(account, "Archive"))

    replay(account)
    UpstreamOperation.objects.filter(account=account).update(state=OperationState.PENDING)
    Message.objects.filter(pk=message.pk).update(uid=None, uidvalidity=None)
    replay(account)

    assert subjects_on_server(running_dovecot, "Archive") == ["Message 1"]
    assert running_dovecot.messages("alice", "INBOX") == []
    assert [o.state for o in ops(account)] == ["done"]
    message.refresh_from_db()
    assert message.uid == 1


def test_actions_made_while_the_server_is_down_reach_it_once_when_it_is_back(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver_many("alice", [raw_message(n) for n in range(1, 5)])
    mirror(account, running_dovecot)
    m1, m2, m3, m4 = inbox_messages(account)

    running_dovecot.stop()
    try:
        actions.mark_read(messages=[m1, m2])
        actions.flag(messages=[m2])
        actions.move_messages(messages=[m3], to_folder=folder(account, "Archive"))
        actions.delete_messages(messages=[m4])
        actions.create_folder(account=account, name="Later")
        stats = replay(account)
        stats = replay(account)
    finally:
        running_dovecot.start()

    pending = ops(account)
    assert [o.state for o in pending] == ["pending"] * 5
    assert pending[0].attempts == 2 and pending[0].next_attempt_at is not None
    assert "refused" in pending[0].last_error.lower() or pending[0].last_error
    assert stats.retry_at is not None  # type: ignore[attr-defined]

    # Not due yet: a replay that respects the backoff leaves them alone.
    replay(account, force=False)
    assert {o.state for o in ops(account)} == {"pending"}

    replay(account)
    replay(account)

    assert {o.state for o in ops(account)} == {"done"}
    assert subjects_on_server(running_dovecot, "INBOX") == ["Message 1", "Message 2"]
    assert running_dovecot.flags("alice") == [{"\\Seen"}, {"\\Seen", "\\Flagged"}]
    assert subjects_on_server(running_dovecot, "Archive") == ["Message 3"]
    assert subjects_on_server(running_dovecot, "Trash") == ["Message 4"]
    assert "Later" in running_dovecot.folders("alice")


def test_flags_on_a_message_expunged_elsewhere_are_a_recorded_conflict_not_retried(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    mirror(account, running_dovecot)
    first, second = inbox_messages(account)
    actions.mark_read(messages=[first, second])
    expunge_elsewhere(running_dovecot, uid=1)

    replay(account)
    replay(account)

    (op,) = ops(account)
    assert op.state == "conflict" and op.attempts == 1
    assert "no longer" in op.last_error
    assert running_dovecot.flags("alice") == [{"\\Seen"}]


def test_moving_a_message_expunged_elsewhere_removes_the_local_ghost(
        account: MailAccount, running_dovecot: DovecotServer, replay: Callable[..., object]
) -> None:
    running_dovecot.deliver("alice", raw_message(1))
    mirror(account, running_dovecot)
    (message,) = inbox_messages(account)
    actions.move_messages(messages=[message], to_folder=folder(account, "Archive"))
    expunge_elsewhere(running_dovecot, uid=1)

    replay(account)

    (op,) = ops(account)
    assert op.state == "conflict"
    assert not Message.objects.filter(pk=message.pk).exists()
    assert folder(account, "Archive").total_count == 0
    assert running_dovecot.messages("alice", "Archive") == []


def test_a_pop3_account_changes_only_the_store(db: None) -> None:
    owner = make_user("bob")
    pop = make_account(owner, protocol="pop3")
    inbox = Folder.objects.create(account=pop, name="INBOX", role="inbox", local_only=True)
    message = Message.objects.create(account=pop, folder=inbox, subject="x")

    actions.mark_read(messages=[message])
    archive = actions.create_folder(account=pop, name="Kept")
    actions.move_messages(messages=[message], to_folder=archive)

    assert archive.local_only
    assert Message.objects.get(pk=message.pk).folder_id == archive.pk
    assert UpstreamOperation.objects.count() == 0


def expunge_elsewhere(dovecot: DovecotServer, *, uid: int, folder: str = "INBOX") -> None:
    """Another IMAP client deletes a message for good."""
    with dovecot.imap("alice") as conn:
        conn.select(folder)
        conn.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
        typ, _ = conn.expunge()
        assert typ == "OK", imaplib.IMAP4.error


def test_beat_replays_only_accounts_whose_oldest_pending_operation_is_due(db: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from webmail.sync.operations import due_account_ids

    waiting = make_account(make_user("bob"))
    due = make_account(make_user("charlie"))
    now = timezone.now()
    UpstreamOperation.objects.create(account=waiting, kind="set_flags",
                                     next_attempt_at=now + timedelta(minutes=2))
    UpstreamOperation.objects.create(account=waiting, kind="set_flags")
    UpstreamOperation.objects.create(account=due, kind="set_flags",
                                     next_attempt_at=now - timedelta(seconds=1))
    UpstreamOperation.objects.create(account=due, kind="move", state="done")

    assert due_account_ids(now) == [due.pk]
