"""Sync tasks: thin wrappers that take an id, call one function, and decide on retry."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.app.task import Task
from django.db.models import Q
from django.utils import timezone

from accounts.models import MailAccount
from webmail.protocols.errors import ProtocolError
from webmail.sync.engine import sync_account
from webmail.sync.lease import LeaseBusy

log = logging.getLogger(__name__)

# Backoff for temporary failures: 30 s, 1, 2, 4, 8 min, then wait for the next poll.
RETRY_BASE_SECONDS = 30
MAX_RETRIES = 5
LEASE_BUSY_RETRY_SECONDS = 10


@shared_task(bind=True, max_retries=MAX_RETRIES)
def sync_account_task(
    self: Task[[int], dict[str, object] | None], account_id: int
) -> dict[str, object] | None:
    try:
        return sync_account(account_id).as_dict()
    except LeaseBusy as exc:
        if self.request.retries >= MAX_RETRIES:
            return None
        # Another sync (or a replay) holds the account: try again shortly, since a push
        # that arrived during that sync may announce mail it did not see.
        raise self.retry(exc=exc, countdown=LEASE_BUSY_RETRY_SECONDS) from exc
    except MailAccount.DoesNotExist:
        return None
    except ProtocolError as exc:
        if exc.temporary:
            raise self.retry(
                exc=exc, countdown=RETRY_BASE_SECONDS * 2**self.request.retries
            ) from exc
        return None  # recorded on the account; a person must fix the settings


def due_account_ids() -> list[int]:
    """Enabled accounts whose poll interval has passed since their last sync."""
    now = timezone.now()
    # An account waiting for its person to reconnect (OAuth2) is not polled.
    enabled = MailAccount.objects.filter(enabled=True, reconnect_needed=False)
    # One condition per distinct interval (there are a handful): SQLite cannot multiply
    # an integer column by a duration, and this stays a plain indexable comparison.
    due = Q(last_sync_at__isnull=True)
    intervals = enabled.order_by().values_list("poll_interval_minutes", flat=True)
    for minutes in intervals.distinct():
        due |= Q(poll_interval_minutes=minutes,
                 last_sync_at__lte=now - timedelta(minutes=minutes))
    return list(
        enabled.filter(due)
        .filter(Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now))
        .values_list("pk", flat=True)
    )


@shared_task
def poll_due_accounts() -> int:
    """Beat's fallback to push: queue a sync for every account that is due."""
    ids = due_account_ids()
    for account_id in ids:
        sync_account_task.delay(account_id)
    return len(ids)

# Registers the replay tasks with the worker (autodiscovery imports only this module).
from webmail.sync.tasks_operations import (  # noqa: E402,F401
    replay_due_operations,
    replay_operations_task,
)
