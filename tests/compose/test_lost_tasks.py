"""Work whose task was lost (Redis away when it was queued, a worker that died in the
middle) is done by beat's dispatch_due, once, against the real Dovecot."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import pytest
import redis
from celery.app.task import Task
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import MailAccount
from tests.compose.conftest import wait_for
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from webmail.compose import sent
from webmail.compose.drafts import (
    discard_draft,
    new_draft,
    remove_draft_copy,
    remove_remote_copy,
    save_draft,
    take_due_removals,
)
from webmail.compose.models import Draft, DraftCopyRemoval, SentCopyState
from webmail.compose.relay import relay
from webmail.compose.sending import send_draft
from webmail.compose.tasks import dispatch_due
from webmail.mail.models import FolderRole, Message, UpstreamOperation
from webmail.sync.operations import replay_operations

RedisAway = Callable[[], AbstractContextManager[None]]


def subjects(dovecot: DovecotServer, folder: str) -> list[str]:
    return sorted(str(message_from_bytes(raw)["Subject"])
                  for raw in dovecot.messages("alice", folder))


@pytest.fixture
def redis_away() -> RedisAway:
    """What a stopped Redis does to this process: the broker refuses every task (as
    kombu does once its publish retries are spent) and the cache refuses every call."""
    def refuse_task(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def refuse_cache(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    @contextmanager
    def away() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Task, "apply_async", refuse_task)
            for name in ("add", "get", "set", "delete"):
                patch.setattr(RedisCache, name, refuse_cache)
            yield
    return away


@pytest.mark.django_db(transaction=True)
def test_drafts_saved_and_discarded_while_redis_is_away_reach_imap_drafts_through_beat(
        imap_account: MailAccount, running_dovecot: DovecotServer, celery_worker: object,
        redis_away: RedisAway, settings: Any) -> None:
    settings.WEBMAIL_DRAFT_PUSH_DELAY_SECONDS = 1  # the cache collapses pushes
    settings.WEBMAIL_SENT_COPY_GRACE_SECONDS = 0
    kept = new_draft(owner=imap_account.owner, account=imap_account)
    save_draft(kept, subject="Kept, first", body_html="<p>1</p>")
    dropped = new_draft(owner=imap_account.owner, account=imap_account)
    save_draft(dropped, subject="Dropped", body_html="<p>x</p>")
    wait_for(lambda: set(Draft.objects.values_list("remote_version", flat=True)) == {1},
             what="both drafts in IMAP Drafts")
    assert subjects(running_dovecot, "Drafts") == ["Dropped", "Kept, first"]

    with redis_away():
        # The person's save and discard succeed; only the IMAP copies wait.
        save_draft(kept, subject="Kept, second", body_html="<p>2</p>")
        discard_draft(Draft.objects.get(pk=dropped.pk))
    assert not Draft.objects.filter(pk=dropped.pk).exists()
    assert Draft.objects.get(pk=kept.pk).remote_version == 1
    assert DraftCopyRemoval.objects.count() == 1
    time.sleep(1.2)  # the push delay passes: the push is now overdue
    assert subjects(running_dovecot, "Drafts") == ["Dropped", "Kept, first"]

    # Redis is back: beat's next pass hands out the push and the removal.
    assert dispatch_due() == 2
    wait_for(lambda: subjects(running_dovecot, "Drafts") == ["Kept, second"],
             what="the new version in Drafts and the discarded draft gone")
    # The push records the new copy right after its APPEND and EXPUNGE.
    wait_for(lambda: Draft.objects.get(pk=kept.pk).remote_version == 2,
             what="the push recorded")
    wait_for(lambda: not DraftCopyRemoval.objects.exists(), what="the removal recorded")
    assert dispatch_due() == 0


@pytest.mark.django_db
def test_a_removal_the_server_cannot_take_now_backs_off_and_a_paused_account_waits(
        imap_account: MailAccount, settings: Any) -> None:
    settings.WEBMAIL_SENT_COPY_GRACE_SECONDS = 0
    MailAccount.objects.filter(pk=imap_account.pk).update(incoming_port=1)  # refused
    removal_id = remove_remote_copy(account_id=imap_account.pk, uidvalidity=5, uid=7)
    assert take_due_removals() == [removal_id]

    assert remove_draft_copy(removal_id) == "retry"
    row = DraftCopyRemoval.objects.get(pk=removal_id)
    assert row.attempts == 1 and row.last_error
    assert row.next_attempt_at is not None
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert take_due_removals() == []

    DraftCopyRemoval.objects.filter(pk=removal_id).update(next_attempt_at=timezone.now())
    MailAccount.objects.filter(pk=imap_account.pk).update(reconnect_needed=True)
    assert take_due_removals() == []
    MailAccount.objects.filter(pk=imap_account.pk).update(reconnect_needed=False)
    assert take_due_removals() == [removal_id]


class WorkerDied(BaseException):
    """What SIGKILL does to the code that was running: nothing after it runs, and the
    database rolls back the transaction the dead connection had open."""


@pytest.mark.django_db
def test_a_worker_dying_while_filing_the_sent_copy_leaves_it_to_beat_and_it_is_filed_once(
        imap_account: MailAccount, smtp: SMTPServer, running_dovecot: DovecotServer,
        settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.WEBMAIL_SENT_COPY_GRACE_SECONDS = 0
    draft = new_draft(owner=imap_account.owner, account=imap_account, to="bob@example.net",
                      subject="Filed once", body_html="<p>x</p>")
    row = send_draft(draft)
    assert relay(row.pk).state == "sent"  # after_send is not queued: no commit here
    row.refresh_from_db()
    assert row.sent_copy == SentCopyState.PENDING

    def die(*args: Any, **kwargs: Any) -> None:
        raise WorkerDied  # after the claim and the append, before the copy is recorded

    with monkeypatch.context() as patch:
        patch.setattr(sent, "assign_thread_keys", die)
        with pytest.raises(WorkerDied):
            sent.after_send(row.pk)
    sent_folder = sent.sent_folder(imap_account.pk)
    assert sent_folder is not None and sent_folder.role == FolderRole.SENT
    row.refresh_from_db()
    assert row.sent_copy == SentCopyState.PENDING  # the claim died with the worker
    assert not Message.objects.filter(folder=sent_folder).exists()
    assert not UpstreamOperation.objects.exists()

    assert sent.forgotten_copy_ids() == [row.pk]  # what beat's dispatch_due queues again
    assert sent.after_send(row.pk) == SentCopyState.DONE
    assert sent.after_send(row.pk) == SentCopyState.DONE  # a duplicate task: nothing more
    assert sent.forgotten_copy_ids() == []
    assert Message.objects.filter(folder=sent_folder).count() == 1
    replay_operations(imap_account.pk, force=True)
    assert subjects(running_dovecot, "Sent") == ["Filed once"]
