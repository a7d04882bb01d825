"""Replay an account's queued UpstreamOperations on its IMAP server, in order, once each.

The queue is claimed by holding the account's sync lease (webmail.sync.lease), so a
replay never runs beside a sync or another replay of the same account. Each operation
is applied upstream, then marked (done, conflict or failed) in the same transaction as
the local fix-ups it implies; a worker that dies between the two leaves it pending,
and every kind is written so that applying it again is harmless (see replay.py).

Failures:
- temporary (network, server away, NO [UNAVAILABLE]): the replay stops there, the
  operation stays pending with attempts+1 and next_attempt_at = now + backoff, and
  every later one waits behind it (order matters: a flag change on a message moved
  before). Connection-level failures never give up: a server away for a day still gets
  every change when it is back.
- the server answering "no" for good to one operation: marked failed with the reason.
- conflict (message or folder gone, UIDVALIDITY changed and nothing matches): resolved
  (local state made to agree with the server), marked "conflict" with the reason in
  last_error, never retried.
- an OAuth2 account paused in "reconnect needed" (its grant is gone): nothing is tried,
  nothing counts as an attempt, and beat's fallback skips the account. The operations
  stay queued as they were; reconnecting makes them due at once (resume_after_reconnect)
  and the sync queued then replays them before it reads the server.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Min, Q
from django.utils import timezone

from accounts.models import MailAccount, Protocol
from accounts.oauth.tokens import ReconnectNeeded
from webmail.mail.models import OperationState, UpstreamOperation
from webmail.protocols.errors import ProtocolError, TemporaryServerError
from webmail.sync import lease

if TYPE_CHECKING:
    from webmail.protocols.imap import ImapClient

log = logging.getLogger(__name__)

ClientFactory = Callable[[MailAccount], "ImapClient"]

# Backoff after a temporary failure: 15 s, 30 s, 1, 2, 4 min, then every 5 min (beat's
# fallback checks every minute), with up to 10% jitter so many accounts behind one
# server that comes back do not all retry in the same second.
BACKOFF_BASE_SECONDS = 15
BACKOFF_MAX_SECONDS = 300
# An operation the server keeps refusing "for now" while it answers everything else
# (NO [UNAVAILABLE] on one folder, say) gives up after this many tries, so it cannot
# block the account's queue forever. Connection failures do not count.
MAX_SERVER_REFUSALS = 8
# ReplayStats.error of a replay that did not run: the account waits for its person.
PAUSED = "paused until the account is reconnected"


@dataclass
class ReplayStats:
    account_id: int
    done: int = 0
    conflicts: int = 0
    failed: int = 0
    remaining: int = 0
    # Set when a temporary failure stopped the replay: when the head is due again.
    retry_at: datetime | None = None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["retry_at"] = self.retry_at.isoformat() if self.retry_at else None
        return data


def backoff(attempts: int) -> timedelta:
    seconds = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * (1 + random.random() / 10))  # noqa: S311 - jitter


def default_client_factory(account: MailAccount) -> ImapClient:
    from webmail.sync.connect import imap_client_for

    return imap_client_for(account)


def replay_operations(
    account_id: int,
    *,
    client_factory: ClientFactory | None = None,
    force: bool = False,
) -> ReplayStats:
    """Replay the account's pending operations under its sync lease.

    Raises lease.LeaseBusy when a sync or another replay holds the lease. `force`
    ignores the backoff of a failed head operation (a person's "retry now", tests).
    """
    account = MailAccount.objects.get(pk=account_id)
    if not _pending(account_id).exists():
        return ReplayStats(account_id=account_id)
    with lease.account_lease(account_id) as owner:
        return replay_with_lease(account, lease_owner=owner,
                                 client_factory=client_factory, force=force)


def replay_with_lease(
    account: MailAccount,
    *,
    lease_owner: str,
    client: ImapClient | None = None,
    client_factory: ClientFactory | None = None,
    force: bool = False,
) -> ReplayStats:
    """The replay itself, for a caller that already holds the lease.

    A sync engine should call this with its own connected client before it syncs, so
    the server already holds the person's changes when the sync reads them (otherwise
    a sync between an action and its replay briefly undoes it locally).
    """
    from webmail.sync.replay import Replayer

    stats = ReplayStats(account_id=account.pk)
    op_ids = list(_pending(account.pk).values_list("pk", flat=True))
    if not op_ids:
        return stats
    if account.reconnect_needed:
        # Paused: connecting would only ask the provider again for a grant it refused.
        stats.remaining = len(op_ids)
        stats.error = PAUSED
        return stats
    if account.protocol != Protocol.IMAP:
        # Actions never queue operations for POP3; anything here is stale: say so.
        _finish_many(op_ids, OperationState.FAILED, "The account no longer uses IMAP.")
        stats.failed = len(op_ids)
        return stats
    head = UpstreamOperation.objects.get(pk=op_ids[0])
    now = timezone.now()
    if not force and head.next_attempt_at is not None and head.next_attempt_at > now:
        stats.retry_at = head.next_attempt_at
        stats.remaining = len(op_ids)
        return stats
    own_client = client is None
    try:
        if client is None:
            client = (client_factory or default_client_factory)(account)
    except ReconnectNeeded:
        # The grant was refused just now and the account is paused: not the
        # operation's fault, so no attempt is counted and no backoff set.
        stats.remaining = len(op_ids)
        stats.error = PAUSED
        return stats
    except ProtocolError as exc:
        _defer(head, exc, stats)
        stats.remaining = len(op_ids)
        return stats
    replayer = Replayer(client, account)
    try:
        for position, op_id in enumerate(op_ids):
            op = UpstreamOperation.objects.filter(
                pk=op_id, state=OperationState.PENDING).first()
            if op is None:
                continue
            try:
                state = replayer.apply(op)
            except ProtocolError as exc:
                if exc.temporary and not _refused_too_often(op, exc):
                    _defer(op, exc, stats)
                    stats.remaining = len(op_ids) - position
                    break
                _finish_many([op.pk], OperationState.FAILED, str(exc))
                stats.failed += 1
                log.warning("upstream operation failed",
                            extra={"operation_id": op.pk, "kind": op.kind, "error": str(exc)})
                continue
            if state == OperationState.CONFLICT:
                stats.conflicts += 1
            else:
                stats.done += 1
            if not lease.renew(account.pk, lease_owner):
                stats.remaining = len(op_ids) - position - 1
                stats.error = "lost the account lease"
                break
    finally:
        if own_client:
            client.logout()
    return stats


def due_account_ids(now: datetime | None = None) -> list[int]:
    """Accounts whose oldest pending operation may be tried now (beat's fallback)."""
    now = now or timezone.now()
    heads = (
        UpstreamOperation.objects.filter(state=OperationState.PENDING)
        .values("account_id").annotate(head=Min("id")).values_list("head", flat=True)
    )
    return sorted(set(
        UpstreamOperation.objects.filter(pk__in=list(heads), account__enabled=True,
                                         account__reconnect_needed=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values_list("account_id", flat=True)
    ))


def resume_after_reconnect(account_id: int) -> int:
    """The account's grant is back: its queued operations are due now, whatever backoff
    the failures before the pause left on them. Returns how many wait."""
    return int(_pending(account_id).update(next_attempt_at=None))


def _pending(account_id: int) -> Any:
    return UpstreamOperation.objects.filter(
        account_id=account_id, state=OperationState.PENDING).order_by("id")


def _refused_too_often(op: UpstreamOperation, exc: ProtocolError) -> bool:
    return isinstance(exc, TemporaryServerError) and op.attempts + 1 >= MAX_SERVER_REFUSALS


def _defer(op: UpstreamOperation, exc: ProtocolError, stats: ReplayStats) -> None:
    attempts = op.attempts + 1
    retry_at = timezone.now() + backoff(attempts)
    UpstreamOperation.objects.filter(pk=op.pk).update(
        attempts=attempts, last_error=str(exc)[:2000], next_attempt_at=retry_at)
    stats.retry_at = retry_at
    stats.error = str(exc)
    log.info("upstream operation deferred",
             extra={"operation_id": op.pk, "attempts": attempts, "error": str(exc)})


def _finish_many(op_ids: list[int], state: str, note: str) -> None:
    UpstreamOperation.objects.filter(pk__in=op_ids).update(
        state=state, last_error=note[:2000], finished_at=timezone.now())
