"""One sync per account at a time: a lease on the account row with an expiry.

Claimed with a conditional UPDATE, so beat, push and a person's "refresh" can race
for it safely; a worker that dies leaves a lease that simply expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import MailAccount

# Longer than one sync batch takes; a running sync renews it between batches. It is
# also how long an account waits after a worker died holding it (kill -9, OOM): the
# setting WEBMAIL_SYNC_LEASE_SECONDS trades one against the other.
LEASE_DURATION = timedelta(minutes=10)


def lease_duration() -> timedelta:
    seconds = getattr(settings, "WEBMAIL_SYNC_LEASE_SECONDS", None)
    return timedelta(seconds=seconds) if seconds else LEASE_DURATION


class LeaseBusy(Exception):
    """Another sync of this account holds the lease."""


def claim(account_id: int, owner: str, duration: timedelta | None = None) -> bool:
    now = timezone.now()
    duration = duration or lease_duration()
    claimed = (
        MailAccount.objects.filter(pk=account_id)
        .filter(Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
                | Q(sync_lease_owner=owner))
        .update(sync_lease_owner=owner, sync_lease_until=now + duration)
    )
    return claimed == 1


def renew(account_id: int, owner: str, duration: timedelta | None = None) -> bool:
    return (
        MailAccount.objects.filter(pk=account_id, sync_lease_owner=owner)
        .update(sync_lease_until=timezone.now() + (duration or lease_duration()))
        == 1
    )


def release(account_id: int, owner: str) -> None:
    MailAccount.objects.filter(pk=account_id, sync_lease_owner=owner).update(
        sync_lease_owner="", sync_lease_until=None
    )


@contextmanager
def account_lease(account_id: int, duration: timedelta | None = None) -> Iterator[str]:
    """Hold the account's sync lease for the block, or raise LeaseBusy."""
    owner = uuid.uuid4().hex
    if not claim(account_id, owner, duration):
        raise LeaseBusy(f"account {account_id} is being synced already")
    try:
        yield owner
    finally:
        release(account_id, owner)
