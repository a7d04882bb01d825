"""Replay tasks: thin wrappers around webmail.sync.operations.replay_operations."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.app.task import Task
from django.utils import timezone

from accounts.models import MailAccount
from webmail.broker import send_or_leave_to_beat
from webmail.sync.lease import LeaseBusy
from webmail.sync.operations import due_account_ids, replay_operations

log = logging.getLogger(__name__)

# A sync or another replay holds the account: look again soon. A first sync can hold
# the lease for minutes, so the re-queues are bounded; beat's fallback takes over after.
BUSY_COUNTDOWN_SECONDS = 10
MAX_BUSY_REQUEUES = 60
# Temporary failures: the operation's own backoff (recorded on it) decides when; the
# task retries at that time a few times, then beat's fallback keeps going.
MAX_RETRIES = 5


def queue_replay(account_id: int) -> None:
    """Queue a replay now (called by mail.actions after their transaction commits); with
    the broker away, beat's replay_due_operations picks the operations up later."""
    send_or_leave_to_beat(lambda: replay_operations_task.delay(account_id),
                          task="replay_operations", object_id=account_id)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def replay_operations_task(self: Task[[int, int], dict[str, object] | None],
                           account_id: int, busy_requeues: int = 0
                           ) -> dict[str, object] | None:
    try:
        stats = replay_operations(account_id)
    except MailAccount.DoesNotExist:
        return None
    except LeaseBusy:
        if busy_requeues < MAX_BUSY_REQUEUES:
            replay_operations_task.apply_async(
                (account_id,), {"busy_requeues": busy_requeues + 1},
                countdown=BUSY_COUNTDOWN_SECONDS)
        return None
    if stats.retry_at is not None and stats.remaining:
        countdown = max(1.0, (stats.retry_at - timezone.now()).total_seconds())
        if self.request.retries < MAX_RETRIES:
            raise self.retry(countdown=countdown)
    return stats.as_dict()


@shared_task
def replay_due_operations() -> int:
    """Beat's fallback: queue a replay for every account with an operation due."""
    ids = due_account_ids()
    for account_id in ids:
        replay_operations_task.delay(account_id)
    return len(ids)
