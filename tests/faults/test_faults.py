"""Faults while syncing and sending, with real processes and real servers.

Each test starts Celery workers (`celery -A webmail worker`, subprocesses) on the test
database and a private Redis, has them sync accounts on the test Dovecot and send
through the test SMTP server, does one fault in the middle, and then checks what a
person relies on: the store equals the server (bytes and flags), every sent message was
delivered exactly once, no queued action was lost, and the app answered throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from accounts.models import MailAccount, SyncStatus
from tests.faults.checks import (
    Beat,
    delivery_counts,
    operation_problems,
    operations_finished,
    queue_sends,
    raw_message,
    send_problems,
    sends_finished,
    settle_uncertain,
    store_differences,
    unanswered,
    wait_for,
)
from tests.faults.conftest import mail_account
from tests.faults.network import AppProbe, CuttingProxy
from tests.faults.processes import Child, RedisServer
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from webmail.compose.models import Outbox, OutboxState, SentCopyState
from webmail.mail import actions
from webmail.mail.models import Folder, FolderRole, IdleLease, Message
from webmail.sync.tasks import sync_account_task

Spawn = Callable[..., Child]
SETTLE_TIMEOUT = 60.0


def deliver(dovecot: DovecotServer, user: str, numbers: range, size: int = 2000) -> None:
    dovecot.deliver_many(user, [raw_message(user, n, size=size) for n in numbers])


def act_on_inbox(account: MailAccount, count: int = 5) -> None:
    """What a person does meanwhile: read some, flag some, move one to Archive."""
    inbox = Message.objects.filter(folder__account=account, folder__name="INBOX")
    rows = list(inbox.order_by("uid")[:count])
    assert rows, "nothing synced yet to act on"
    actions.mark_read(messages=rows)
    actions.flag(messages=rows[: max(1, count // 2)])
    archive = Folder.objects.filter(account=account, name="Archive").first()
    if archive is not None and len(rows) > 1:
        actions.move_messages(messages=[rows[-1]], to_folder=archive)


def settle(accounts: list[tuple[MailAccount, str]], dovecot: DovecotServer,
           smtp: SMTPServer, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until every queued action and send is done and the store equals the server."""
    def quiet() -> bool:
        settle_uncertain(smtp)
        return operations_finished() and sends_finished()

    wait_for(quiet, timeout=timeout, what="queued actions and sends to finish")
    last: list[str] = []

    def same() -> bool:
        last[:] = [p for account, user in accounts
                   for p in store_differences(account, dovecot, user)]
        if last:
            print("[faults] differences:", last[:4])  # noqa: T201
        # Still quiet after the comparison: nothing new was queued meanwhile.
        return not last and quiet()

    try:
        wait_for(same, timeout=timeout, what="the store to equal the server", step=1.0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {last[:10]}") from None


def check_everything(accounts: list[tuple[MailAccount, str]], sends: list[Outbox],
                     smtp: SMTPServer, probe: AppProbe,
                     broker_down: Sequence[tuple[float, float]] = ()) -> None:
    answers = probe.stop()
    assert send_problems(sends, smtp) == []
    assert operation_problems() == []
    assert [p for p in delivery_counts(smtp).values() if p != 1] == []
    assert len(answers) > 10
    assert unanswered(answers, broker_down=list(broker_down)) == []


def first_sync_started(account: MailAccount) -> bool:
    status = MailAccount.objects.filter(pk=account.pk).values_list(
        "sync_status", flat=True).first()
    return status == SyncStatus.SYNCING and Message.objects.filter(account=account).exists()


def synced_once(account: MailAccount) -> bool:
    return bool(MailAccount.objects.filter(pk=account.pk, last_sync_at__isnull=False).exists())


def test_a_worker_killed_mid_sync_loses_nothing(
        mailboxes: DovecotServer, smtp: SMTPServer, spawn: Spawn,
        beat: Callable[[list[int]], Beat], probe: Callable[[MailAccount], AppProbe]) -> None:
    alice = mail_account("alice", mailboxes, smtp)
    # Enough that the first sync takes a few batches (400 x 10 KB = 4 MB of bodies).
    deliver(mailboxes, "alice", range(400), size=10_000)
    watching = probe(alice)
    first = spawn("worker", "w1")
    sync_account_task.delay(alice.pk)
    sends = queue_sends(alice, 3, tag="before-kill")

    wait_for(lambda: first_sync_started(alice), timeout=30, what="the first sync",
             step=0.05)
    first.kill()
    alice.refresh_from_db()
    assert alice.sync_lease_owner, "the worker was killed outside the sync"
    # While no worker runs: the person keeps reading and writing.
    act_on_inbox(alice)
    sends += queue_sends(alice, 3, tag="after-kill")

    spawn("worker", "w2")
    beat([alice.pk])
    settle([(alice, "alice")], mailboxes, smtp)
    check_everything([(alice, "alice")], sends, smtp, watching)


def test_redis_restarted_loses_no_sync_send_or_action(
        mailboxes: DovecotServer, smtp: SMTPServer, spawn: Spawn, broker: RedisServer,
        beat: Callable[[list[int]], Beat], probe: Callable[[MailAccount], AppProbe]) -> None:
    alice = mail_account("alice", mailboxes, smtp)
    deliver(mailboxes, "alice", range(200), size=5000)
    watching = probe(alice)
    spawn("worker", "w1")
    sync_account_task.delay(alice.pk)
    sends = queue_sends(alice, 2, tag="before-redis")
    wait_for(lambda: synced_once(alice), timeout=40, what="the first sync")
    beat([alice.pk])

    down = time.monotonic()
    broker.stop()  # no persistence: every queued task is gone
    # The web keeps taking actions and sends while the broker is away.
    act_on_inbox(alice)
    sends += queue_sends(alice, 2, tag="redis-down")
    deliver(mailboxes, "alice", range(200, 220), size=5000)
    time.sleep(2)
    broker.start()
    up = time.monotonic()

    settle([(alice, "alice")], mailboxes, smtp)
    check_everything([(alice, "alice")], sends, smtp, watching, broker_down=[(down, up)])


def test_dovecot_restarted_mid_sync_loses_nothing(
        mailboxes: DovecotServer, smtp: SMTPServer, spawn: Spawn,
        beat: Callable[[list[int]], Beat], probe: Callable[[MailAccount], AppProbe]) -> None:
    alice = mail_account("alice", mailboxes, smtp)
    deliver(mailboxes, "alice", range(400), size=15_000)
    watching = probe(alice)
    spawn("worker", "w1")
    sync_account_task.delay(alice.pk)
    sends = queue_sends(alice, 2, tag="before-dovecot")
    wait_for(lambda: first_sync_started(alice), timeout=30, what="the first sync")

    mailboxes.stop()
    act_on_inbox(alice)  # replayed once Dovecot is back (after the backoff)
    sends += queue_sends(alice, 2, tag="dovecot-down")
    time.sleep(2)
    mailboxes.start()
    deliver(mailboxes, "alice", range(400, 410))
    beat([alice.pk])

    settle([(alice, "alice")], mailboxes, smtp, timeout=90)
    check_everything([(alice, "alice")], sends, smtp, watching)


def test_smtp_refusing_for_a_while_delivers_each_message_once(
        mailboxes: DovecotServer, smtp: SMTPServer, spawn: Spawn,
        beat: Callable[[list[int]], Beat], probe: Callable[[MailAccount], AppProbe]) -> None:
    alice = mail_account("alice", mailboxes, smtp)
    deliver(mailboxes, "alice", range(100), size=5000)
    watching = probe(alice)
    spawn("worker", "w1")
    smtp.fail_next(451, "4.3.0 Try again later", at="data", count=8)
    smtp.fail_next(421, "4.7.0 Too busy", at="rcpt", count=3)
    sync_account_task.delay(alice.pk)
    sends = queue_sends(alice, 4, tag="smtp-refusing")
    beat([alice.pk])
    wait_for(lambda: synced_once(alice), timeout=40, what="the first sync")
    act_on_inbox(alice)

    settle([(alice, "alice")], mailboxes, smtp)
    check_everything([(alice, "alice")], sends, smtp, watching)
    assert sum(row.attempts for row in Outbox.objects.all()) >= 4 + 8 + 3


def test_a_connection_cut_in_the_middle_of_a_fetch_loses_nothing(
        mailboxes: DovecotServer, smtp: SMTPServer, spawn: Spawn,
        beat: Callable[[list[int]], Beat], probe: Callable[[MailAccount], AppProbe]) -> None:
    # The first two connections (the sync's, then its retry on a fresh one) are cut
    # after 300 KB, inside the FETCH of the message bodies.
    proxy = CuttingProxy((mailboxes.host, mailboxes.ports.imap), cut_after=300_000,
                         cuts=2).start()
    try:
        alice = mail_account("alice", mailboxes, smtp, imap_port=proxy.port)
        deliver(mailboxes, "alice", range(100), size=20_000)
        watching = probe(alice)
        spawn("worker", "w1")
        sync_account_task.delay(alice.pk)
        sends = queue_sends(alice, 2, tag="cut-fetch")
        wait_for(lambda: proxy.cut_done == 2, timeout=30, what="two cut connections")
        beat([alice.pk])
        wait_for(lambda: synced_once(alice), timeout=40, what="a whole sync")
        act_on_inbox(alice)

        settle([(alice, "alice")], mailboxes, smtp)
        check_everything([(alice, "alice")], sends, smtp, watching)
    finally:
        proxy.stop()


def test_two_workers_and_two_idle_supervisors_share_the_accounts(
        mailboxes: DovecotServer, smtp: SMTPServer, spawn: Spawn,
        beat: Callable[[list[int]], Beat], probe: Callable[[MailAccount], AppProbe]) -> None:
    users = ["alice", "bob", "charlie"]
    accounts = [(mail_account(user, mailboxes, smtp), user) for user in users]
    for _, user in accounts:
        deliver(mailboxes, user, range(80), size=5000)
    watching = probe(accounts[0][0])
    for name in ("w1", "w2"):
        spawn("worker", name, wait=False)
    supervisors = [spawn("idle", name, wait=False) for name in ("s1", "s2")]
    for child in supervisors:
        child.wait_ready()
    # Syncs come from the first sync each account gets and from push only; the beat
    # stand-in only hands out due sends and replays.
    beat([])
    for account, _ in accounts:
        sync_account_task.delay(account.pk)
    sends = [row for account, _ in accounts for row in queue_sends(account, 2, tag="two")]
    for account, _ in accounts:
        wait_for(partial(synced_once, account), timeout=40, what="the first syncs")
        act_on_inbox(account, count=3)

    def both_supervisors_hold() -> bool:
        owners = list(IdleLease.objects.exclude(owner="").values_list("owner", flat=True))
        return len(owners) == 3 and set(owners) == {"s1", "s2"}

    wait_for(both_supervisors_hold, timeout=30, what="each supervisor to hold a share")
    # New mail reaches the store by push alone.
    time.sleep(1.0)  # IDLE is (re)issued on the INBOX after the claim
    for _, user in accounts:
        mailboxes.deliver(user, raw_message(user, 80))
    settle(accounts, mailboxes, smtp, timeout=20)

    # One supervisor dies with its leases held; mail arrives before the other one
    # takes its accounts over (lease 4 s), and must still reach the store by push.
    supervisors[1].kill()
    for _, user in accounts:
        mailboxes.deliver(user, raw_message(user, 81))
    wait_for(lambda: set(IdleLease.objects.values_list("owner", flat=True)) == {"s1"},
             timeout=20, what="the live supervisor to take every account")
    settle(accounts, mailboxes, smtp, timeout=20)
    check_everything(accounts, sends, smtp, watching)


def _waiting_on_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND wait_event_type = 'Lock'")
        row = cursor.fetchone()
    return bool(row and row[0])


def _claimed_and_waiting() -> bool:
    """A session waits on a lock in a transaction that has already updated the outbox
    (the claim of the copy)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE a.wait_event_type = 'Lock' AND l.granted AND l.mode = 'RowExclusiveLock' "
            "AND l.relation = %s::regclass", [Outbox._meta.db_table])
        row = cursor.fetchone()
    return bool(row and row[0])


def test_a_worker_killed_while_filing_a_sent_copy_leaves_it_to_beat_and_it_is_filed_once(
        mailboxes: DovecotServer, smtp: SMTPServer, spawn: Spawn,
        beat: Callable[[list[int]], Beat]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("holding the worker just after its claim takes a row lock (PostgreSQL); "
                    "a SQLite writer would block the claim itself")
    alice = mail_account("alice", mailboxes, smtp)
    first = spawn("worker", "w1")
    sync_account_task.delay(alice.pk)
    wait_for(lambda: synced_once(alice), timeout=40, what="the first sync")
    sent = Folder.objects.get(account=alice, role=FolderRole.SENT)

    # Another session holds the Sent folder's row: the worker's filing transaction
    # claims the copy (sent_copy pending -> claimed), then waits to insert the message.
    holder = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {Folder._meta.db_table} WHERE id = %s FOR UPDATE",  # noqa: S608
                           [sent.pk])
        (row,) = queue_sends(alice, 1, tag="filing")
        wait_for(lambda: Outbox.objects.filter(pk=row.pk, state=OutboxState.SENT).exists(),
                 timeout=30, what="the send")
        wait_for(_waiting_on_a_row_lock, timeout=30, what="the filing to wait on the lock")
        claimed_when_killed = _claimed_and_waiting()
        first.kill()
    finally:
        holder.rollback()
        holder.close()
    # PostgreSQL rolls the dead worker's transaction back: the copy is still to file.
    wait_for(lambda: not _waiting_on_a_row_lock(), timeout=10, what="the dead session to end")
    assert Outbox.objects.get(pk=row.pk).sent_copy == SentCopyState.PENDING
    assert claimed_when_killed, "the worker died before its claim: nothing was tested"
    assert not Message.objects.filter(folder=sent).exists()

    spawn("worker", "w2")
    beat([alice.pk])  # dispatch_due queues the forgotten copy again after the grace
    wait_for(lambda: Outbox.objects.get(pk=row.pk).sent_copy == SentCopyState.DONE,
             timeout=30, what="the copy filed")
    wait_for(operations_finished, timeout=30, what="the copy appended upstream")
    time.sleep(2.5)  # a second hand-out after another grace period would show now
    assert Message.objects.filter(folder=sent).count() == 1
    assert [m for m in mailboxes.messages("alice", "Sent") if b"filing send 0" in m] != []
    assert len(mailboxes.messages("alice", "Sent")) == 1
    assert delivery_counts(smtp)[row.message_id] == 1
