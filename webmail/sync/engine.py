"""Sync one account: the lease, the status the person sees, and the protocol's engine."""

from __future__ import annotations

import logging

from django.utils import timezone

from accounts.models import MailAccount, Protocol, SyncStatus
from webmail.protocols.errors import ProtocolError
from webmail.sync import lease
from webmail.sync.stats import SyncStats

log = logging.getLogger(__name__)


def sync_account(account_id: int) -> SyncStats:
    """One full sync of an account, holding its lease; raises LeaseBusy if taken.

    Protocol errors are recorded on the account (last_error) and re-raised so the task
    can decide whether to retry.
    """
    account = MailAccount.objects.get(pk=account_id)
    stats = SyncStats(account_id=account.pk, protocol=account.protocol)
    with lease.account_lease(account.pk) as owner:
        _set_status(account.pk, SyncStatus.SYNCING, error=None)
        try:
            # Imported before the clock starts: the first import in a process (the
            # protocol stack, ~0.7 s here) is start-up, not the sync's work.
            from webmail.sync.imap import sync_imap_account
            from webmail.sync.pop3 import sync_pop3_account

            with stats.phase("total"):
                if account.protocol == Protocol.POP3:
                    sync_pop3_account(account, stats, lease_owner=owner)
                else:
                    sync_imap_account(account, stats, lease_owner=owner)
        except ProtocolError as exc:
            stats.errors.append(str(exc))
            _set_status(account.pk, SyncStatus.ERROR, error=str(exc))
            log.warning("sync failed", extra={"account_id": account.pk, "error": str(exc)})
            raise
        _set_status(account.pk, SyncStatus.OK, error="", synced=True, stats=stats)
    log.info("sync done", extra={"account_id": account.pk, **_metrics(stats)})
    return stats


def _metrics(stats: SyncStats) -> dict[str, object]:
    """What the admin and the logs show about the last sync (no contents, no secrets)."""
    return {
        "messages_fetched": stats.messages_fetched,
        "bytes_fetched": stats.bytes_fetched,
        "seconds": stats.seconds.get("total", 0.0),
        "notes": stats.notes[:5],
    }


def _set_status(account_id: int, status: str, *, error: str | None,
                synced: bool = False, stats: SyncStats | None = None) -> None:
    fields: dict[str, object] = {"sync_status": status}
    if error is not None:
        fields["last_error"] = error
    if synced:
        fields["last_sync_at"] = timezone.now()
        # The live progress goes; what the engine measured about the account stays.
        kept = MailAccount.objects.filter(pk=account_id).values_list(
            "sync_progress", flat=True).first() or {}
        progress: dict[str, object] = {"quota": kept["quota"]} if "quota" in kept else {}
        if stats is not None:
            progress["last_sync"] = _metrics(stats)
        fields["sync_progress"] = progress
    MailAccount.objects.filter(pk=account_id).update(**fields)
