"""End to end with the real sync engine, the real Celery worker and the real Dovecot:
actions reach the server through the replay task, syncs never duplicate what the
replay moved, and the IDLE supervisor brings new mail into the store within 2 s."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from accounts.models import MailAccount
from tests.conftest import make_account, make_user
from tests.servers.dovecot import DovecotServer
from tests.sync.test_operations import raw_message, subjects_on_server
from webmail.mail import actions
from webmail.mail.models import Folder, Message, OperationState, UpstreamOperation
from webmail.sync.engine import sync_account
from webmail.sync.idle import IdleSettings, Supervisor
from webmail.sync.operations import replay_operations


def alice_account(dovecot: DovecotServer) -> MailAccount:
    account = make_account(make_user("alice"), password=dovecot.users["alice"])
    account.incoming_port = dovecot.ports.imap
    account.save()
    return account


def wait_until(check: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> float:
    """Seconds until `check()` held; fails the test after `timeout`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(step)
    return time.monotonic() - start


def folder(account: MailAccount, name: str) -> Folder:
    return Folder.objects.get(account=account, name=name)


@pytest.mark.django_db(transaction=True)
def test_an_action_reaches_the_server_through_the_real_worker(
        celery_worker: object, dovecot_user: str, running_dovecot: DovecotServer) -> None:
    account = alice_account(running_dovecot)
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    sync_account(account.pk)
    first = Message.objects.get(folder__account=account, folder__name="INBOX", uid=1)

    actions.mark_read(messages=[first])
    actions.move_messages(messages=[first], to_folder=folder(account, "Archive"))

    wait_until(lambda: not UpstreamOperation.objects.filter(
        account=account, state=OperationState.PENDING).exists())
    assert set(UpstreamOperation.objects.values_list("state", flat=True)) == {"done"}
    assert subjects_on_server(running_dovecot, "Archive") == ["Message 1"]
    assert running_dovecot.flags("alice", "Archive") == [{"\\Seen"}]
    assert subjects_on_server(running_dovecot, "INBOX") == ["Message 2"]


@pytest.mark.django_db
def test_a_message_moved_into_a_new_folder_is_not_duplicated_by_the_next_sync(
        dovecot_user: str, running_dovecot: DovecotServer) -> None:
    account = alice_account(running_dovecot)
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    sync_account(account.pk)
    first = Message.objects.get(folder__account=account, folder__name="INBOX", uid=1)

    projects = actions.create_folder(account=account, name="Projects")
    actions.move_messages(messages=[first], to_folder=projects)
    actions.mark_read(messages=[first])
    sync_account(account.pk)  # replays first, then syncs every folder

    assert set(UpstreamOperation.objects.values_list("state", flat=True)) == {"done"}
    in_projects = list(Message.objects.filter(folder=projects))
    assert [(m.pk, m.uid, m.is_seen) for m in in_projects] == [(first.pk, 1, True)]
    assert folder(account, "INBOX").total_count == 1
    assert folder(account, "Projects").total_count == 1
    assert running_dovecot.flags("alice", "Projects") == [{"\\Seen"}]


@pytest.mark.django_db
def test_offline_changes_survive_a_sync_while_the_server_is_down(
        dovecot_user: str, running_dovecot: DovecotServer) -> None:
    account = alice_account(running_dovecot)
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    sync_account(account.pk)
    first, second = Message.objects.filter(folder__name="INBOX").order_by("uid")

    running_dovecot.stop()
    try:
        actions.flag(messages=[first])
        actions.delete_messages(messages=[second])
        stats = replay_operations(account.pk)
    finally:
        running_dovecot.start()
    assert stats.remaining == 2 and stats.retry_at is not None

    replay_operations(account.pk, force=True)
    sync_account(account.pk)

    assert running_dovecot.flags("alice") == [{"\\Flagged"}]
    assert subjects_on_server(running_dovecot, "Trash") == ["Message 2"]
    assert Message.objects.filter(folder__name="Trash").count() == 1
    assert Message.objects.filter(folder__name="INBOX").count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_the_supervisor_running_new_mail_is_in_the_store_within_two_seconds(
        celery_worker: object, dovecot_user: str, running_dovecot: DovecotServer) -> None:
    account = alice_account(running_dovecot)
    sync_account(account.pk)
    supervisor = Supervisor("push-test", settings=IdleSettings(debounce_seconds=0.05))
    try:
        supervisor.run_once()
        for watcher in supervisor.watchers.values():
            assert watcher.connected.wait(10), watcher.last_error
        latencies = []
        for n in range(1, 11):
            running_dovecot.deliver("alice", raw_message(n))
            latencies.append(wait_until(
                lambda n=n: Message.objects.filter(  # type: ignore[misc]
                    folder__account=account, folder__name="INBOX").count() >= n,
                timeout=2.0))
    finally:
        supervisor.stop()
    median = statistics.median(latencies)
    print(f"push latency delivery -> store over {len(latencies)} messages: "
          f"median {median * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    assert max(latencies) < 2.0
