"""The account's storage quota (GETQUOTAROOT), kept in account.sync_progress["quota"].

MailAccount has no quota columns (its model belongs to the accounts app); the sync
engine's own JSON field carries {"used": bytes, "limit": bytes, "checked_at": iso}, and
webmail.sync.engine keeps that key when it clears the live progress after a sync.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import MailAccount
from webmail.protocols.imap import ImapClient

# Above this share of the limit the UI warns the person.
NEAR_LIMIT = 0.9
# A sync that found every folder unchanged asks again only after this long: the usage
# moves with the mail (and a change anywhere makes the sync ask), the limit seldom.
RECHECK_UNCHANGED = timedelta(minutes=15)


def refresh_quota(client: ImapClient, account: MailAccount) -> dict[str, Any] | None:
    """Ask the server and store the answer; None when the server has no quota."""
    quota = client.quota("INBOX")
    if quota is None:
        return None
    value: dict[str, Any] = {
        "used": quota.used_bytes,
        "limit": quota.limit_bytes,
        "checked_at": timezone.now().isoformat(),
    }
    progress = dict(
        MailAccount.objects.filter(pk=account.pk).values_list("sync_progress", flat=True)
        .first() or {}
    )
    progress["quota"] = value
    MailAccount.objects.filter(pk=account.pk).update(sync_progress=progress)
    return value


def quota_due(account: MailAccount) -> bool:
    """Whether a sync in which no folder changed should still ask for the quota."""
    quota = stored_quota(account)
    try:
        checked = datetime.fromisoformat(str((quota or {}).get("checked_at")))
    except ValueError:
        return True
    return bool(timezone.now() - checked > RECHECK_UNCHANGED)


def stored_quota(account: MailAccount) -> dict[str, Any] | None:
    quota = (account.sync_progress or {}).get("quota")
    return quota if isinstance(quota, dict) else None


def near_limit(account: MailAccount) -> bool:
    quota = stored_quota(account)
    if not quota or not quota.get("limit"):
        return False
    return bool(quota["used"] >= NEAR_LIMIT * quota["limit"])
